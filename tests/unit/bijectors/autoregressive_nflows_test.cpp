// nflows 0.14's MaskedAffineAutoregressiveTransform against flowtmpl, float64 golden
// values in tests/data/maf.json (tests/data/README.md says where they come from).
//
// nflows's forward is the normalizing direction: z_i = scale_i x_i + shift_i with
// (u_i, shift_i) = MADE(x) for feature i, scale = softplus(u) + 1e-3, logabsdet summed
// over the features. As a function that is InverseAutoregressive<SoftplusAffine>'s
// forward (parallel: the conditioner reads the layer's input); in a flow (flowtmpl's
// forward = sampling) the nflows layer is
//   Inverse<InverseAutoregressive<SoftplusAffine, MADE<h, ..., h>>>
// whose inverse() is nflows's forward and whose forward() is nflows's inverse (the
// sequential direction; nflows runs the network D times, flowtmpl's MADE once in its
// sequential pass). The state_dict "autoregressive_net.*" is loaded into .base.made by
// name. Checked, all within 1e-12 absolute: the MADE output (autoregressive_params),
// nflows's forward and inverse per sample and through the host batch API, and the
// sequential direction against apply_naive (nflows's D-pass algorithm).
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/transformers/affine.hpp>

#include "support/reference_data.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <iomanip>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace autoregressive_nflows_test {

using flowtmpl::direction;

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

const json& find_case(const json& data, const std::string& id) {
  for (const auto& c : data.at("cases"))
    if (c.at("id") == id) return c;
  FAIL("no case " << id);
  throw std::logic_error("unreachable");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

using flowtmpl_test::flatten;

// The largest difference per quantity.
struct stats {
  double params = 0, forward = 0, forward_ld = 0, inverse = 0, inverse_ld = 0, batch_forward = 0, batch_forward_ld = 0,
         batch_inverse = 0, batch_inverse_ld = 0, naive = 0, naive_ld = 0, naive_nflows = 0, naive_nflows_ld = 0, prepared = 0,
         prepared_ld = 0;
};

void check_close(double got, double expected, double& worst, const char* what, std::size_t row, int i) {
  const double e = std::abs(got - expected);
  worst = std::max(worst, e);
  INFO(what << ", sample " << row << ", component " << i << ": flowtmpl " << std::setprecision(17) << got
            << ", nflows " << expected << ", difference " << std::setprecision(3) << e << " (tolerance 1e-12)");
  const bool within_tolerance = e <= tol;
  CHECK(within_tolerance);
}

// The made.json test checks masks and degrees in full; here: the names, the degrees and
// that flowtmpl allows exactly what nflows's masks allow.
template <class Made>
void load_made(Made& m, const json& sd, const std::string& prefix) {
  constexpr int D = Made::inputs, M = Made::outputs_per_feature;
  std::set<std::string> consumed;
  m.for_each_parameter_block([&](const std::string& name, double* p, std::size_t n) {
    const std::string key = prefix + name;
    INFO("parameter " << key << " (" << n << " values)");
    REQUIRE(sd.contains(key));
    const std::vector<double> v = flatten(sd.at(key));
    REQUIRE(v.size() == n);
    std::copy(v.begin(), v.end(), p);
    REQUIRE(consumed.insert(key).second);
  });
  REQUIRE(int(consumed.size()) == 2 * Made::n_linear);
  int masks = 0, degrees = 0;
  for (auto it = sd.begin(); it != sd.end(); ++it) {
    const std::string key = it.key();
    const json& value = it.value();
    INFO("state_dict entry " << key);
    REQUIRE(key.rfind(prefix, 0) == 0);
    if (ends_with(key, ".weight") || ends_with(key, ".bias")) {
      CHECK(consumed.count(key) == 1);
      continue;
    }
    const bool is_mask = ends_with(key, ".mask");
    REQUIRE((is_mask || ends_with(key, ".degrees")));
    const std::string layer = key.substr(prefix.size(), key.size() - prefix.size() - (is_mask ? 5 : 8));
    int li = -1;
    for (int j = 0; j < Made::n_linear; ++j)
      if (Made::linear_name(j) == layer) li = j;
    REQUIRE(li >= 0);
    const auto& l = Made::linears[std::size_t(li)];
    REQUIRE(l.masked);
    REQUIRE(value.size() == std::size_t(l.out));
    if (is_mask) {
      ++masks;
      int disagreements = 0;
      for (int o = 0; o < l.out; ++o) {
        REQUIRE(value[std::size_t(o)].size() == std::size_t(l.in));
        for (int i = 0; i < l.in; ++i)
          if ((value[std::size_t(o)][std::size_t(i)].get<double>() == 1.0) != Made::allowed(li, o, i)) ++disagreements;
      }
      CHECK(disagreements == 0);
    } else {
      ++degrees;
      for (int u = 0; u < l.out; ++u) {
        const int expected = l.out_units == flowtmpl::detail::made_units::outputs ? u / M + 1 : flowtmpl::detail::made_hidden_degree(u, D);
        CHECK(Made::degree(l.out_units, u) == value[std::size_t(u)].get<int>());
        CHECK(expected == value[std::size_t(u)].get<int>());
      }
    }
  }
  CHECK(masks == Made::n_linear);
  CHECK(degrees == Made::n_linear);
  // nflows stores the unmasked weights
  CHECK(m.validate() != nullptr);
  m.apply_masks();
  CHECK(m.validate() == nullptr);
}

template <int D>
Eigen::Matrix<double, D, Eigen::Dynamic> rows_to_columns(const json& rows) {
  Eigen::Matrix<double, D, Eigen::Dynamic> m(D, Eigen::Index(rows.size()));
  for (std::size_t j = 0; j < rows.size(); ++j) {
    REQUIRE(rows[j].size() == std::size_t(D));
    for (int i = 0; i < D; ++i) m(i, Eigen::Index(j)) = rows[j][std::size_t(i)].get<double>();
  }
  return m;
}

}  // namespace

TEST_CASE("nflows MaskedAffineAutoregressiveTransform is Inverse<InverseAutoregressive<SoftplusAffine, MADE>>",
          "[reference][autoregressive][made]") {
  const json data = load("maf.json");
  REQUIRE(data.at("meta").at("dtype") == "float64");
  REQUIRE(data.at("cases").size() == 1);  // a new case needs its own flowtmpl type here
  const json& c = find_case(data, "affine_feedforward");
  REQUIRE(c.at("class") == "MaskedAffineAutoregressiveTransform");
  const json& cfg = c.at("config");
  REQUIRE(cfg.at("features").get<int>() == 4);
  REQUIRE(cfg.at("hidden_features").get<int>() == 9);
  REQUIRE(cfg.at("num_blocks").get<int>() == 1);
  REQUIRE(cfg.at("use_residual_blocks").get<bool>() == false);

  constexpr int D = 4;
  using Spec = flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::SoftplusAffine, flowtmpl::MADE<9, 9>>>;
  using Layer = flowtmpl::bind_t<Spec, D, double>;
  using Made = typename Layer::base_type::made_type;
  static_assert(Made::outputs_per_feature == 2 && Made::inputs == D);
  static_assert(Made::n_linear == 3);  // initial_layer, blocks.0.linear, final_layer

  Layer layer;
  load_made(layer.base.made, c.at("state_dict"), "autoregressive_net.");
  CHECK(layer.validate() == nullptr);

  stats st;
  const json& inputs = c.at("inputs");
  const std::size_t n = inputs.size();
  REQUIRE(n > 0);
  REQUIRE(c.at("autoregressive_params").size() == n);
  REQUIRE(c.at("outputs").size() == n);
  REQUIRE(c.at("logabsdet").size() == n);
  const auto X = rows_to_columns<D>(inputs);

  // The raw MADE output, feature-major (u_i, shift_i).
  for (std::size_t r = 0; r < n; ++r) {
    const Eigen::Matrix<double, D, 1> x = X.col(Eigen::Index(r));
    const auto theta = layer.base.made.evaluate(x, nullptr);
    REQUIRE(c.at("autoregressive_params")[r].size() == std::size_t(2 * D));
    for (int o = 0; o < 2 * D; ++o)
      check_close(theta[o], c.at("autoregressive_params")[r][std::size_t(o)].get<double>(), st.params,
                  "autoregressive_params", r, o);
  }

  // nflows's forward (normalizing) = the layer's inverse, per sample.
  for (std::size_t r = 0; r < n; ++r) {
    const Eigen::Matrix<double, D, 1> x = X.col(Eigen::Index(r));
    const auto z = layer.inverse_and_log_det(x);
    for (int i = 0; i < D; ++i)
      check_close(z.value[i], c.at("outputs")[r][std::size_t(i)].get<double>(), st.forward, "outputs", r, i);
    check_close(z.log_det, c.at("logabsdet")[r].get<double>(), st.forward_ld, "logabsdet", r, -1);
  }

  // nflows's inverse (sampling, D passes there) = the layer's forward, per sample.
  const json& inv_in = c.at("inverse_inputs");
  const std::size_t m = inv_in.size();
  REQUIRE(m > 0);
  REQUIRE(c.at("inverse_outputs").size() == m);
  REQUIRE(c.at("inverse_logabsdet").size() == m);
  const auto Y = rows_to_columns<D>(inv_in);
  for (std::size_t r = 0; r < m; ++r) {
    const Eigen::Matrix<double, D, 1> y = Y.col(Eigen::Index(r));
    const auto x = layer.forward_and_log_det(y);
    for (int i = 0; i < D; ++i)
      check_close(x.value[i], c.at("inverse_outputs")[r][std::size_t(i)].get<double>(), st.inverse,
                  "inverse_outputs", r, i);
    check_close(x.log_det, c.at("inverse_logabsdet")[r].get<double>(), st.inverse_ld, "inverse_logabsdet", r, -1);

    // The sequential pass against nflows's algorithm (D full network evaluations), and
    // that against nflows's numbers.
    const auto seq = layer.base.apply<direction::inverse>(y, nullptr);
    const auto naive = layer.base.apply_naive<direction::inverse>(y, nullptr);
    for (int i = 0; i < D; ++i) {
      check_close(seq.value[i], naive.value[i], st.naive, "sequential pass vs apply_naive", r, i);
      check_close(naive.value[i], c.at("inverse_outputs")[r][std::size_t(i)].get<double>(), st.naive_nflows,
                  "apply_naive vs inverse_outputs", r, i);
    }
    check_close(seq.log_det, naive.log_det, st.naive_ld, "sequential pass vs apply_naive log-det", r, -1);
    check_close(naive.log_det, c.at("inverse_logabsdet")[r].get<double>(), st.naive_nflows_ld,
                "apply_naive vs inverse_logabsdet", r, -1);
  }

  // The prepared layer (the MADE's hidden units sorted by degree, what the host
  // evaluates): the same numbers.
  {
    const auto prepared = layer.prepare();
    CHECK(prepared.validate() == nullptr);
    for (std::size_t r = 0; r < n; ++r) {
      const Eigen::Matrix<double, D, 1> x = X.col(Eigen::Index(r));
      const auto z = prepared.inverse_and_log_det(x);
      for (int i = 0; i < D; ++i)
        check_close(z.value[i], c.at("outputs")[r][std::size_t(i)].get<double>(), st.prepared, "prepared outputs",
                    r, i);
      check_close(z.log_det, c.at("logabsdet")[r].get<double>(), st.prepared_ld, "prepared logabsdet", r, -1);
    }
    for (std::size_t r = 0; r < m; ++r) {
      const Eigen::Matrix<double, D, 1> y = Y.col(Eigen::Index(r));
      const auto x = prepared.forward_and_log_det(y);
      for (int i = 0; i < D; ++i)
        check_close(x.value[i], c.at("inverse_outputs")[r][std::size_t(i)].get<double>(), st.prepared,
                    "prepared inverse_outputs", r, i);
      check_close(x.log_det, c.at("inverse_logabsdet")[r].get<double>(), st.prepared_ld,
                  "prepared inverse_logabsdet", r, -1);
      const auto seq = prepared.base.apply<direction::inverse>(y, nullptr);
      const auto naive = prepared.base.apply_naive<direction::inverse>(y, nullptr);
      for (int i = 0; i < D; ++i)
        check_close(seq.value[i], naive.value[i], st.naive, "prepared: sequential pass vs apply_naive", r, i);
      check_close(seq.log_det, naive.log_det, st.naive_ld, "prepared: sequential pass vs apply_naive log-det", r, -1);
    }
  }

  // The host batch API: the normalizing direction goes through the block path (the
  // MADE on all samples as matrix products), the sampling direction per column.
  {
    const auto z = flowtmpl::inverse_and_log_det(layer, X);
    REQUIRE(z.values.cols() == Eigen::Index(n));
    for (std::size_t r = 0; r < n; ++r) {
      for (int i = 0; i < D; ++i)
        check_close(z.values(i, Eigen::Index(r)), c.at("outputs")[r][std::size_t(i)].get<double>(), st.batch_forward,
                    "host inverse_and_log_det values", r, i);
      check_close(z.log_det[Eigen::Index(r)], c.at("logabsdet")[r].get<double>(), st.batch_forward_ld,
                  "host inverse_and_log_det log_det", r, -1);
    }
    const auto x = flowtmpl::forward_and_log_det(layer, Y);
    REQUIRE(x.values.cols() == Eigen::Index(m));
    for (std::size_t r = 0; r < m; ++r) {
      for (int i = 0; i < D; ++i)
        check_close(x.values(i, Eigen::Index(r)), c.at("inverse_outputs")[r][std::size_t(i)].get<double>(),
                    st.batch_inverse, "host forward_and_log_det values", r, i);
      check_close(x.log_det[Eigen::Index(r)], c.at("inverse_logabsdet")[r].get<double>(), st.batch_inverse_ld,
                  "host forward_and_log_det log_det", r, -1);
    }
  }

  INFO("largest differences: autoregressive_params " << std::setprecision(3) << st.params << ", outputs "
                                                     << st.forward << ", logabsdet " << st.forward_ld
                                                     << ", inverse_outputs " << st.inverse << ", inverse_logabsdet "
                                                     << st.inverse_ld << ", host outputs " << st.batch_forward
                                                     << ", host logabsdet " << st.batch_forward_ld
                                                     << ", host inverse_outputs " << st.batch_inverse
                                                     << ", host inverse_logabsdet " << st.batch_inverse_ld
                                                     << ", sequential vs naive " << st.naive << " / " << st.naive_ld
                                                     << ", naive vs nflows " << st.naive_nflows << " / "
                                                     << st.naive_nflows_ld << ", prepared " << st.prepared << " / "
                                                     << st.prepared_ld);
  const bool all_within_tolerance =
      std::max({st.params, st.forward, st.forward_ld, st.inverse, st.inverse_ld, st.batch_forward,
                st.batch_forward_ld, st.batch_inverse, st.batch_inverse_ld, st.naive, st.naive_ld, st.naive_nflows,
                st.naive_nflows_ld, st.prepared, st.prepared_ld}) <= tol;
  CHECK(all_within_tolerance);
}

}  // namespace autoregressive_nflows_test
