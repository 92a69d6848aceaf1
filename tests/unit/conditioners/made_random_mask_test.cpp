// MADE<...>::with_degrees (conditioners/made.hpp: hidden degrees fixed by the type) is
// nflows's MADE(random_mask = True) with the degrees nflows drew: tests/data/
// made_random_mask.json (tools/reference/made_references.py; nflows's state_dict with its
// degree and mask buffers, its inputs, context and outputs). The types below list the
// degrees of that file; the test first checks that they are the file's, then that the
// masks derived from them are nflows's, then evaluate, evaluate_block, the sequential
// pass and the sorted copy against nflows's outputs to 1e-12. The second case has a
// context and a hidden degree list with units that read few inputs.
#include <flowtmpl/conditioners/made.hpp>

#include "support/reference_data.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace made_random_mask_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::doubles;
using json = nlohmann::json;
using ft::hidden_degrees;

constexpr double tol = 1e-12;

// the degrees nflows drew (seed 20261206), as the generator printed them
using made_d4 = ft::MADE<6, 6>::with_degrees<hidden_degrees<3, 3, 2, 1, 1, 2>, hidden_degrees<3, 1, 1, 3, 2, 3>>;
using made_d5 = ft::MADE<7, 7, 7>::with_degrees<hidden_degrees<1, 4, 2, 3, 3, 2, 2>, hidden_degrees<3, 1, 2, 2, 4, 3, 1>,
                                                hidden_degrees<1, 1, 3, 2, 3, 2, 1>>;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

using flowtmpl_test::flatten;

template <class Made>
int linear_index(const std::string& name) {
  for (int li = 0; li < Made::n_linear; ++li)
    if (Made::linear_name(li) == name) return li;
  FAIL("flowtmpl's MADE has no linear map named " << name);
  return -1;
}

template <class Made>
void check_case(const json& c) {
  constexpr int D = Made::inputs, M = Made::outputs_per_feature, C = Made::context;
  INFO("case " << c.at("id").get<std::string>());
  const json& cfg = c.at("config");
  REQUIRE(cfg.at("features").get<int>() == D);
  REQUIRE(cfg.at("output_multiplier").get<int>() == M);
  REQUIRE(cfg.at("random_mask").get<bool>());
  REQUIRE(cfg.at("use_residual_blocks").get<bool>() == false);
  REQUIRE((cfg.at("context_features").is_null() ? 0 : cfg.at("context_features").get<int>()) == C);
  const json& sd = c.at("state_dict");

  // the type's degrees are the file's, and so are the masks derived from them
  int lists = 0;
  for (int li = 0; li < Made::n_linear; ++li) {
    const auto& l = Made::linears[std::size_t(li)];
    if (!l.masked) continue;
    const std::string name = Made::linear_name(li);
    const json& degrees = sd.at(name + ".degrees");
    REQUIRE(degrees.size() == std::size_t(l.out));
    for (int u = 0; u < l.out; ++u) {
      INFO(name << " unit " << u);
      CHECK(Made::degree(l.out_units, u, Made::out_buffer(li)) == degrees[std::size_t(u)].get<int>());
    }
    const json& mask = sd.at(name + ".mask");
    int differ = 0;
    for (int o = 0; o < l.out; ++o)
      for (int i = 0; i < l.in; ++i) differ += (mask[std::size_t(o)][std::size_t(i)].get<double>() == 1.0) != Made::allowed(li, o, i);
    INFO(name << ": " << differ << " mask entries differ from nflows's");
    CHECK(differ == 0);
    ++lists;
  }
  CHECK(lists == int(Made::hidden_list.size()) + 1);

  // nflows's unmasked weights: refused until apply_masks(), then nflows's W * mask
  Made m;
  std::set<std::string> used;
  m.for_each_parameter_block([&](const std::string& name, double* p, std::size_t n) {
    INFO("parameter " << name);
    REQUIRE(sd.contains(name));
    const std::vector<double> v = flatten(sd.at(name));
    REQUIRE(v.size() == n);
    std::copy(v.begin(), v.end(), p);
    used.insert(name);
  });
  for (auto it = sd.begin(); it != sd.end(); ++it)
    if (ends_with(it.key(), ".weight") || ends_with(it.key(), ".bias")) CHECK(used.count(it.key()) == 1);
  CHECK(m.validate() != nullptr);
  m.apply_masks();
  CHECK(m.validate() == nullptr);

  const std::vector<std::vector<double>> x = c.at("inputs").get<std::vector<std::vector<double>>>();
  const std::vector<std::vector<double>> out = c.at("outputs").get<std::vector<std::vector<double>>>();
  std::vector<std::vector<double>> ctx;
  if constexpr (C > 0) ctx = c.at("context").get<std::vector<std::vector<double>>>();
  const Eigen::Index n = Eigen::Index(x.size());
  Eigen::Matrix<double, D, Eigen::Dynamic> X(D, n);
  Eigen::Matrix<double, (C > 0 ? C : 1), Eigen::Dynamic> K((C > 0 ? C : 1), n);
  K.setZero();
  for (Eigen::Index r = 0; r < n; ++r) {
    for (int i = 0; i < D; ++i) X(i, r) = x[std::size_t(r)][std::size_t(i)];
    for (int i = 0; i < C; ++i) K(i, r) = ctx[std::size_t(r)][std::size_t(i)];
  }
  auto check_network = [&](const auto& net, const char* what) {
    INFO(what);
    double worst = 0;
    const auto block = net.evaluate_block(X, C > 0 ? &K : nullptr);
    for (Eigen::Index r = 0; r < n; ++r) {
      const double* cr = C > 0 ? K.col(r).data() : nullptr;
      const Eigen::Matrix<double, D, 1> xr = X.col(r);
      const auto single = net.evaluate(xr, cr);
      typename std::decay_t<decltype(net)>::sequential_state st;
      net.sequential_begin(st, cr);
      for (int k = 0; k < D; ++k) {
        double theta[M];
        net.sequential_step(st, k, theta);
        for (int j = 0; j < M; ++j) {
          const double want = out[std::size_t(r)][std::size_t(k * M + j)];
          worst = std::max({worst, std::abs(single[k * M + j] - want), std::abs(block(k * M + j, r) - want),
                            std::abs(theta[j] - want)});
        }
        st.x[k] = X(k, r);
      }
    }
    INFO("largest difference from nflows: " << worst);
    CHECK(worst <= tol);
  };
  check_network(m, "as loaded");
  const auto sorted = m.sorted_copy();
  CHECK(sorted.validate() == nullptr);
  check_network(sorted, "sorted_copy()");
}

}  // namespace

TEST_CASE("MADE::with_degrees is nflows's MADE with random masks", "[reference][made]") {
  const json data = flowtmpl_test::load_reference("made_random_mask.json");
  REQUIRE(data.at("cases").size() == 2);
  check_case<made_d4::conditioner<4, 2, 0, double>>(data.at("cases")[0]);
  check_case<made_d5::conditioner<5, 3, 3, double>>(data.at("cases")[1]);
}

TEST_CASE("MADE::with_degrees: the spec text lists the degrees; sequential degrees are the default",
          "[made]") {
  using sequential = ft::MADE<6, 6>::conditioner<4, 2, 0, double>;
  using listed = ft::MADE<6, 6>::with_degrees<hidden_degrees<1, 2, 3, 1, 2, 3>, hidden_degrees<1, 2, 3, 1, 2, 3>>::
      conditioner<4, 2, 0, double>;
  // the sequential assignment written out gives the same masks
  for (int li = 0; li < sequential::n_linear; ++li)
    for (int o = 0; o < sequential::linears[std::size_t(li)].out; ++o)
      for (int i = 0; i < sequential::linears[std::size_t(li)].in; ++i)
        CHECK(sequential::allowed(li, o, i) == listed::allowed(li, o, i));
  static_assert(!sequential::degrees_type::stored && listed::degrees_type::stored);
}

TEST_CASE("MADE::with_degrees: units of degree 0 read the context only; the sequential pass is the network",
          "[made]") {
  // zuko's MaskedMLP with a context gives such units; nflows never draws them
  using made = ft::MADE<5, 5>::with_degrees<hidden_degrees<0, 1, 2, 0, 3>, hidden_degrees<0, 3, 1, 2, 0>>::conditioner<
      4, 2, 2, double>;
  made m;
  ft::philox_stream rng(7, 0);
  double bias[8] = {};
  m.reset_parameters(rng, ft::init::uniform, bias);
  CHECK(m.validate() == nullptr);
  // a unit of degree 0 reads no input: its row of the first weight is all zero
  for (int i = 0; i < 4; ++i) {
    CHECK(!made::allowed(0, 0, i));
    CHECK(!made::allowed(0, 3, i));
  }
  for (int trial = 0; trial < 20; ++trial) {
    Eigen::Matrix<double, 4, 1> x = Eigen::Matrix<double, 4, 1>::Random();
    const double c[2] = {std::sin(trial + 1.0), std::cos(3.0 * trial)};
    const auto full = m.evaluate(x, c);
    made::sequential_state st;
    m.sequential_begin(st, c);
    for (int k = 0; k < 4; ++k) {
      double theta[2];
      m.sequential_step(st, k, theta);
      for (int j = 0; j < 2; ++j) CHECK(std::abs(theta[j] - full[2 * k + j]) <= 1e-12);
      st.x[k] = x[k];
      // feature k's outputs do not move when the inputs from k on do
      Eigen::Matrix<double, 4, 1> moved = x;
      for (int i = k; i < 4; ++i) moved[i] += 0.5 + i;
      const auto other = m.evaluate(moved, c);
      for (int j = 0; j < 2; ++j) CHECK(other[2 * k + j] == full[2 * k + j]);
    }
    // and feature 0 still sees the context, through the units of degree 0
    const double c2[2] = {c[0] + 1.0, c[1]};
    CHECK(m.evaluate(x, c2).head<2>() != full.head<2>());
  }
}

}  // namespace made_random_mask_test
