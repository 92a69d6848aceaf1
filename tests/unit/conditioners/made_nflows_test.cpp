// flowtmpl's MADE conditioners against nflows 0.14's nflows.transforms.made.MADE, float64
// golden values in tests/data/made.json (tests/data/README.md says where they come from).
//
// Per case: the nflows state_dict is loaded by name through the conditioner's
// for_each_parameter_block (every name it asks for must be there with the right size,
// and every *.weight / *.bias of the state_dict must be used). nflows stores the
// unmasked weights with their masks and degrees as buffers; flowtmpl builds its masks
// from degrees, so the test checks that flowtmpl's degrees are the stored ones, that
// flowtmpl allows exactly the weights nflows's masks allow, and that after
// apply_masks() the masked-out weights are 0 and validate() passes. Then the outputs
// (feature-major in both) of evaluate() per sample, of evaluate_block() on all samples,
// and of the sequential pass (sequential_step for k = 0 .. D-1 with x_k set between the
// steps), all within 1e-12 absolute.
#include <flowtmpl/conditioners/made.hpp>

#include "support/reference_data.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace made_nflows_test {

namespace {

using json = nlohmann::json;
constexpr double tol = 1e-12;

json load(const std::string& file) {
  const std::string path = std::string(FLOWTMPL_TEST_DATA_DIR) + "/" + file;
  std::ifstream in(path);
  INFO("reading " << path);
  REQUIRE(in.good());
  return json::parse(in);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

using flowtmpl_test::flatten;

struct stats {
  double evaluate = 0, block = 0, sequential = 0;
  int cases = 0;
};

void check_close(double got, double expected, double& worst, const char* what, std::size_t row, int o) {
  const double e = std::abs(got - expected);
  worst = std::max(worst, e);
  INFO(what << ", sample " << row << ", output " << o << ": flowtmpl " << std::setprecision(17) << got << ", nflows "
            << expected << ", difference " << std::setprecision(3) << e << " (tolerance 1e-12)");
  const bool within_tolerance = e <= tol;
  CHECK(within_tolerance);
}

// The linear map of Made that nflows calls `name` ("initial_layer", "blocks.0.linear", ...).
template <class Made>
int linear_index(const std::string& name) {
  for (int li = 0; li < Made::n_linear; ++li)
    if (Made::linear_name(li) == name) return li;
  FAIL("flowtmpl's MADE has no linear map named " << name);
  return -1;
}

// Loads the state_dict (keys `prefix` + flowtmpl's names) into m as stored (unmasked).
template <class Made>
void load_state_dict(Made& m, const json& sd, const std::string& prefix) {
  std::set<std::string> consumed;
  int blocks = 0;
  m.for_each_parameter_block([&](const std::string& name, double* p, std::size_t n) {
    const std::string key = prefix + name;
    INFO("parameter " << key << " (" << n << " values)");
    REQUIRE(sd.contains(key));
    const std::vector<double> v = flatten(sd.at(key));
    REQUIRE(v.size() == n);
    if (ends_with(name, ".weight")) {  // [out][in]
      const auto& l = Made::linears[std::size_t(linear_index<Made>(name.substr(0, name.size() - 7)))];
      REQUIRE(sd.at(key).size() == std::size_t(l.out));
      REQUIRE(sd.at(key)[0].size() == std::size_t(l.in));
    }
    std::copy(v.begin(), v.end(), p);
    REQUIRE(consumed.insert(key).second);
    ++blocks;
  });
  REQUIRE(blocks == 2 * Made::n_linear);
  for (auto it = sd.begin(); it != sd.end(); ++it) {
    const std::string key = it.key();
    if (!(ends_with(key, ".weight") || ends_with(key, ".bias"))) continue;
    INFO("state_dict entry " << key << " must be loaded");
    CHECK(consumed.count(key) == 1);
  }
}

// nflows's masks and degrees against flowtmpl's; m holds the unmasked weights of sd.
template <class Made>
void check_masks_and_degrees(Made& m, const json& sd, const std::string& prefix) {
  constexpr int D = Made::inputs, M = Made::outputs_per_feature;
  std::set<int> masks_seen, degrees_seen;
  int forbidden_nonzero = 0;  // unmasked weights that nflows's mask zeroes
  for (auto it = sd.begin(); it != sd.end(); ++it) {
    const std::string key = it.key();
    const json& value = it.value();
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string name = key.substr(prefix.size());
    if (ends_with(name, ".degrees")) {
      const int li = linear_index<Made>(name.substr(0, name.size() - 8));
      const auto& l = Made::linears[std::size_t(li)];
      INFO("degrees " << key);
      REQUIRE(l.masked);
      REQUIRE(value.size() == std::size_t(l.out));
      for (int u = 0; u < l.out; ++u) {
        const int nflows_degree = value[std::size_t(u)].get<int>();
        // flowtmpl's degree of unit u, and the rule it stands for
        const int expected = l.out_units == flowtmpl::detail::made_units::outputs ? u / M + 1 : flowtmpl::detail::made_hidden_degree(u, D);
        INFO("unit " << u << ": nflows's degree " << nflows_degree << ", flowtmpl's " << Made::degree(l.out_units, u));
        CHECK(Made::degree(l.out_units, u) == nflows_degree);
        CHECK(expected == nflows_degree);
      }
      REQUIRE(degrees_seen.insert(li).second);
    } else if (ends_with(name, ".mask")) {
      const int li = linear_index<Made>(name.substr(0, name.size() - 5));
      const auto& l = Made::linears[std::size_t(li)];
      INFO("mask " << key);
      REQUIRE(l.masked);
      REQUIRE(value.size() == std::size_t(l.out));
      const json& w = sd.at(prefix + Made::linear_name(li) + ".weight");
      int disagreements = 0;
      for (int o = 0; o < l.out; ++o) {
        REQUIRE(value[std::size_t(o)].size() == std::size_t(l.in));
        for (int i = 0; i < l.in; ++i) {
          const double mk = value[std::size_t(o)][std::size_t(i)].get<double>();
          REQUIRE((mk == 0.0 || mk == 1.0));
          if ((mk == 1.0) != Made::allowed(li, o, i)) ++disagreements;
          if (mk == 0.0 && w[std::size_t(o)][std::size_t(i)].get<double>() != 0.0) ++forbidden_nonzero;
        }
      }
      INFO(disagreements << " entries where flowtmpl's mask differs from nflows's");
      CHECK(disagreements == 0);
      REQUIRE(masks_seen.insert(li).second);
    }
  }
  // every masked linear map has both buffers in the state_dict
  int masked = 0;
  for (const auto& l : Made::linears) masked += l.masked ? 1 : 0;
  CHECK(int(masks_seen.size()) == masked);
  CHECK(int(degrees_seen.size()) == masked);

  // nflows stores the unmasked weights: validate() sees the forbidden non-zero ones
  // until apply_masks() zeroes them; then each weight is nflows's W * mask.
  REQUIRE(forbidden_nonzero > 0);
  CHECK(m.validate() != nullptr);
  m.apply_masks();
  CHECK(m.validate() == nullptr);
  for (auto it = sd.begin(); it != sd.end(); ++it) {
    const std::string key = it.key();
    const json& value = it.value();
    if (key.rfind(prefix, 0) != 0 || !ends_with(key, ".mask")) continue;
    const std::string layer = key.substr(prefix.size(), key.size() - prefix.size() - 5);
    const int li = linear_index<Made>(layer);
    const auto& l = Made::linears[std::size_t(li)];
    const json& w = sd.at(prefix + layer + ".weight");
    const double* ours = m.weight_data(li);
    int wrong = 0;
    for (int o = 0; o < l.out; ++o)
      for (int i = 0; i < l.in; ++i) {
        const double expected = w[std::size_t(o)][std::size_t(i)].get<double>() *
                                value[std::size_t(o)][std::size_t(i)].get<double>();
        if (ours[std::size_t(o) * std::size_t(l.in) + std::size_t(i)] != expected) ++wrong;
      }
    INFO(key << ": " << wrong << " weights differ from nflows's W * mask after apply_masks()");
    CHECK(wrong == 0);
  }
}

// nflows's outputs (rows of D M, feature-major) from evaluate, evaluate_block and the
// sequential pass.
template <class Made>
void check_outputs(const Made& m, const json& inputs, const json& outputs, stats& st) {
  constexpr int D = Made::inputs, M = Made::outputs_per_feature;
  REQUIRE(inputs.size() == outputs.size());
  REQUIRE(!inputs.empty());
  const std::size_t n = inputs.size();
  Eigen::Matrix<double, D, Eigen::Dynamic> X(D, Eigen::Index(n));
  for (std::size_t r = 0; r < n; ++r) {
    REQUIRE(inputs[r].size() == std::size_t(D));
    REQUIRE(outputs[r].size() == std::size_t(D * M));
    for (int i = 0; i < D; ++i) X(i, Eigen::Index(r)) = inputs[r][std::size_t(i)].get<double>();
  }
  // one sample at a time
  for (std::size_t r = 0; r < n; ++r) {
    const Eigen::Matrix<double, D, 1> x = X.col(Eigen::Index(r));
    const auto out = m.evaluate(x, nullptr);
    for (int o = 0; o < D * M; ++o)
      check_close(out[o], outputs[r][std::size_t(o)].get<double>(), st.evaluate, "evaluate", r, o);
  }
  // all samples as one block
  const auto block = m.evaluate_block(X, static_cast<const Eigen::Matrix<double, 1, Eigen::Dynamic>*>(nullptr));
  REQUIRE(block.rows() == D * M);
  REQUIRE(block.cols() == Eigen::Index(n));
  for (std::size_t r = 0; r < n; ++r)
    for (int o = 0; o < D * M; ++o)
      check_close(block(o, Eigen::Index(r)), outputs[r][std::size_t(o)].get<double>(), st.block, "evaluate_block",
                  r, o);
  // the sequential pass: feature k's parameters from x_0 .. x_k-1
  for (std::size_t r = 0; r < n; ++r) {
    typename Made::sequential_state s;
    m.sequential_begin(s, nullptr);
    for (int k = 0; k < D; ++k) {
      double theta[M];
      m.sequential_step(s, k, theta);
      for (int j = 0; j < M; ++j)
        check_close(theta[j], outputs[r][std::size_t(k * M + j)].get<double>(), st.sequential, "sequential_step", r,
                    k * M + j);
      s.x[k] = X(k, Eigen::Index(r));
    }
  }
}

// The flowtmpl type of each case, and the nflows configuration it stands for.
struct expected_config {
  int features, hidden, blocks, multiplier;
  bool residual;
};

template <class Made>
void check_case(const json& c, const expected_config& e, stats& st) {
  INFO("case " << c.at("id").get<std::string>());
  const json& cfg = c.at("config");
  // the case is what the flowtmpl type says
  REQUIRE(cfg.at("features").get<int>() == e.features);
  REQUIRE(cfg.at("hidden_features").get<int>() == e.hidden);
  REQUIRE(cfg.at("num_blocks").get<int>() == e.blocks);
  REQUIRE(cfg.at("output_multiplier").get<int>() == e.multiplier);
  REQUIRE(cfg.at("use_residual_blocks").get<bool>() == e.residual);
  REQUIRE(cfg.at("random_mask").get<bool>() == false);
  REQUIRE(cfg.at("context_features").is_null());
  REQUIRE(c.at("context").is_null());
  REQUIRE(cfg.at("activation") == "relu");
  REQUIRE(cfg.at("dropout_probability").get<double>() == 0.0);
  REQUIRE(cfg.at("use_batch_norm").get<bool>() == false);
  REQUIRE(Made::inputs == e.features);
  REQUIRE(Made::outputs_per_feature == e.multiplier);
  REQUIRE(Made::context == 0);
  if (e.residual) {
    REQUIRE(Made::hidden_list.size() == 2);
    REQUIRE(Made::hidden_list[0] == e.hidden);
    REQUIRE(Made::hidden_list[1] == e.blocks);
  } else {
    // nflows's feedforward MADE: the initial layer and num_blocks hidden layers, all
    // hidden_features wide
    REQUIRE(Made::hidden_list.size() == std::size_t(e.blocks + 1));
    for (int h : Made::hidden_list) REQUIRE(h == e.hidden);
  }
  // inputs have degrees 1 .. D
  REQUIRE(c.at("input_degrees").size() == std::size_t(Made::inputs));
  for (int i = 0; i < Made::inputs; ++i)
    CHECK(c.at("input_degrees")[std::size_t(i)].get<int>() == Made::degree(flowtmpl::detail::made_units::inputs, i));

  Made m;
  load_state_dict(m, c.at("state_dict"), "");
  check_masks_and_degrees(m, c.at("state_dict"), "");
  check_outputs(m, c.at("inputs"), c.at("outputs"), st);
  // The copy with the hidden units sorted by degree (what an autoregressive layer's
  // prepare() uses) is the same network.
  {
    INFO("sorted_copy()");
    const auto sorted = m.sorted_copy();
    CHECK(sorted.validate() == nullptr);
    check_outputs(sorted, c.at("inputs"), c.at("outputs"), st);
  }
  ++st.cases;
}

}  // namespace

TEST_CASE("nflows MADE is flowtmpl's MADE / ResidualMADE with the same state_dict", "[reference][made]") {
  const json data = load("made.json");
  REQUIRE(data.at("meta").at("dtype") == "float64");
  const json& cases = data.at("cases");
  stats st;
  for (const auto& c : cases) {
    const std::string id = c.at("id").get<std::string>();
    if (id == "made_0") {
      check_case<flowtmpl::ResidualMADE<8, 2>::conditioner<3, 2, 0, double>>(c, {3, 8, 2, 2, true}, st);
    } else if (id == "made_1") {
      check_case<flowtmpl::MADE<10, 10, 10>::conditioner<4, 3, 0, double>>(c, {4, 10, 2, 3, false}, st);
    } else {
      FAIL("made.json case " << id << " has no flowtmpl type in this test");
    }
  }
  REQUIRE(st.cases == int(cases.size()));
  REQUIRE(st.cases == 2);
  INFO("largest differences: evaluate " << std::setprecision(3) << st.evaluate << ", evaluate_block " << st.block
                                        << ", sequential " << st.sequential);
  const bool all_within_tolerance = std::max({st.evaluate, st.block, st.sequential}) <= tol;
  CHECK(all_within_tolerance);
}

}  // namespace made_nflows_test
