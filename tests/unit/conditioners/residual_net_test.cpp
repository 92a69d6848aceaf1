// Tests of flowtmpl/conditioners/residual_net.hpp: ResidualNet<H, Blocks>, nflows's
// ResidualNet as a conditioner.
//   nflows      tests/data/nflows_residual_net.json (tools/reference/
//               residual_net_references.py: nflows's own state_dict, inputs with far-out
//               rows, contexts and outputs) reproduced to 1e-12 by evaluate and
//               evaluate_block, the parameters copied by their nflows names
//   gradients   backward against central differences (Richardson extrapolation of h
//               and h/2) for the input, every parameter and the context, with smooth
//               activations (tanh, silu; relu's derivative is activations_test's), 0 to
//               2 blocks, with and without a context
//   block       evaluate_block and backward_block against the per-sample functions
//   init        identity_start gives the output bias at every input; nflows's small
//               start of each block's last linear map
#include <flowtmpl/conditioners/residual_net.hpp>

#include "support/reference_data.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace residual_net_test {

namespace {
namespace ft = flowtmpl;
using json = nlohmann::json;

using flowtmpl_test::flatten;

template <class Spec, int In, int Out, int C>
void check_nflows_case(const json& c) {
  using Net = typename Spec::template conditioner<In, Out, C, double>;
  INFO("case " << c.at("id").get<std::string>());
  const json& cfg = c.at("config");
  REQUIRE(cfg.at("in_features").get<int>() == In);
  REQUIRE(cfg.at("out_features").get<int>() == Out);
  REQUIRE((cfg.at("context_features").is_null() ? 0 : cfg.at("context_features").get<int>()) == C);
  REQUIRE(cfg.at("hidden_features").get<int>() == Net::hidden_list[0]);
  REQUIRE(cfg.at("num_blocks").get<int>() == Net::hidden_list[1]);
  REQUIRE(cfg.at("activation").get<std::string>() == Net::activation_type::name);
  const json& sd = c.at("state_dict");

  // every parameter by its nflows name, in the state_dict's order, and nothing left over
  Net net;
  std::vector<std::string> names;
  net.for_each_parameter_block([&](const std::string& name, double* p, std::size_t n) {
    INFO("parameter " << name);
    REQUIRE(sd.contains(name));
    const std::vector<double> v = flatten(sd.at(name));
    REQUIRE(v.size() == n);
    std::copy(v.begin(), v.end(), p);
    names.push_back(name);
  });
  std::vector<std::string> want;
  for (auto it = sd.begin(); it != sd.end(); ++it) want.push_back(it.key());
  std::sort(want.begin(), want.end());
  std::vector<std::string> got = names;
  std::sort(got.begin(), got.end());
  CHECK(got == want);

  const auto x = c.at("inputs").get<std::vector<std::vector<double>>>();
  const auto out = c.at("outputs").get<std::vector<std::vector<double>>>();
  std::vector<std::vector<double>> ctx;
  if constexpr (C > 0) ctx = c.at("context").get<std::vector<std::vector<double>>>();
  const Eigen::Index n = Eigen::Index(x.size());
  Eigen::Matrix<double, In, Eigen::Dynamic> X(In, n);
  Eigen::Matrix<double, (C > 0 ? C : 1), Eigen::Dynamic> K((C > 0 ? C : 1), n);
  K.setZero();
  for (Eigen::Index r = 0; r < n; ++r) {
    for (int i = 0; i < In; ++i) X(i, r) = x[std::size_t(r)][std::size_t(i)];
    for (int i = 0; i < C; ++i) K(i, r) = ctx[std::size_t(r)][std::size_t(i)];
  }
  const auto block = net.evaluate_block(X, C > 0 ? &K : nullptr);
  double worst = 0, largest = 0;
  for (Eigen::Index r = 0; r < n; ++r) {
    const Eigen::Matrix<double, In, 1> xr = X.col(r);
    const auto single = net.evaluate(xr, C > 0 ? K.col(r).data() : nullptr);
    for (int o = 0; o < Out; ++o) {
      const double w = out[std::size_t(r)][std::size_t(o)];
      const double scale = std::max(1.0, std::abs(w));
      worst = std::max({worst, std::abs(single[o] - w) / scale, std::abs(block(o, r) - w) / scale});
      largest = std::max(largest, std::abs(w));
    }
  }
  INFO("largest difference from nflows (relative to max(1, |out|)): " << worst << "; largest output " << largest);
  CHECK(worst <= 1e-12);
  CHECK(largest > 10.0);  // the far-out rows reached the network's far range
}

// ---- central differences ------------------------------------------------------------
template <class F>
double central(F&& f, double& v) {
  const double keep = v, h = 1e-3 * std::max(1.0, std::abs(v));
  auto diff = [&](double step) {
    v = keep + step;
    const double up = f();
    v = keep - step;
    const double down = f();
    v = keep;
    return (up - down) / (2 * step);
  };
  return (4 * diff(h / 2) - diff(h)) / 3;  // Richardson: O(h^4)
}

bool near(double got, double want) { return std::abs(got - want) <= 1e-6 * std::max(1.0, std::abs(want)); }

template <class Spec, int In, int Out, int C>
void check_gradients(unsigned seed) {
  using Net = typename Spec::template conditioner<In, Out, C, double>;
  INFO(Net::name << "<" << Net::hidden_list[0] << ", " << Net::hidden_list[1] << "> " << Net::activation_type::name
                 << ", In " << In << ", Out " << Out << ", C " << C);
  ft::philox_stream rng(seed, 0);
  Net net;
  for (auto& v : net.values) v = 1.4 * rng.uniform<double>() - 0.7;
  Eigen::Matrix<double, In, 1> x;
  for (int i = 0; i < In; ++i) x[i] = 2.0 * rng.normal<double>();
  double cv[C > 0 ? C : 1];
  for (int i = 0; i < (C > 0 ? C : 1); ++i) cv[i] = 1.5 * rng.normal<double>();
  Eigen::Matrix<double, Out, 1> g;
  for (int o = 0; o < Out; ++o) g[o] = rng.normal<double>();
  auto loss = [&] { return g.dot(net.evaluate(x, cv)); };

  typename Net::tape tp;
  const auto y = net.evaluate_taped(x, cv, tp);
  CHECK((y.array() == net.evaluate(x, cv).array()).all());
  Net grad;
  double gctx[C > 0 ? C : 1] = {};
  const auto gx = net.backward(tp, g, &grad, gctx);
  // without grad and gctx: the same input cotangent, nothing written
  CHECK((net.backward(tp, g, nullptr, nullptr).array() == gx.array()).all());

  int checked = 0;
  for (int i = 0; i < In; ++i) {
    const double want = central(loss, x[i]);
    INFO("input " << i << ": " << gx[i] << " against " << want);
    CHECK(near(gx[i], want));
    ++checked;
  }
  for (int i = 0; i < C; ++i) {
    const double want = central(loss, cv[i]);
    INFO("context " << i << ": " << gctx[i] << " against " << want);
    CHECK(near(gctx[i], want));
    ++checked;
  }
  for (std::size_t k = 0; k < Net::parameter_count; ++k) {
    const double want = central(loss, net.values[k]);
    INFO("parameter " << ft::detail::message(k) << ": " << grad.values[k] << " against " << want);
    CHECK(near(grad.values[k], want));
    ++checked;
  }
  CHECK(checked == In + C + int(Net::parameter_count));
}

template <class Spec, int In, int Out, int C>
void check_block_against_samples(unsigned seed) {
  using Net = typename Spec::template conditioner<In, Out, C, double>;
  constexpr int CC = C > 0 ? C : 1;
  ft::philox_stream rng(seed, 1);
  Net net;
  for (auto& v : net.values) v = 1.4 * rng.uniform<double>() - 0.7;
  const int n = 37;
  Eigen::Matrix<double, In, Eigen::Dynamic> X(In, n);
  Eigen::Matrix<double, CC, Eigen::Dynamic> K(CC, n);
  Eigen::Matrix<double, Out, Eigen::Dynamic> G(Out, n);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = 2.0 * rng.normal<double>();
  for (Eigen::Index i = 0; i < K.size(); ++i) K.data()[i] = rng.normal<double>();
  for (Eigen::Index i = 0; i < G.size(); ++i) G.data()[i] = rng.normal<double>();

  typename Net::block_tape bt;
  const auto Y = [&] {
    if constexpr (C > 0)
      return net.evaluate_block_taped(X, K, bt);
    else
      return net.evaluate_block_taped(X, bt);
  }();
  const auto Yb = net.evaluate_block(X, C > 0 ? &K : nullptr);
  Net gblock;
  Eigen::Matrix<double, CC, Eigen::Dynamic> GC = Eigen::Matrix<double, CC, Eigen::Dynamic>::Zero(CC, n);
  const auto GX = net.backward_block(bt, G, gblock, C > 0 ? &GC : nullptr);

  Net gsum;
  double worst = 0;
  for (int j = 0; j < n; ++j) {
    const Eigen::Matrix<double, In, 1> xj = X.col(j);
    typename Net::tape tp;
    const auto y = net.evaluate_taped(xj, K.col(j).data(), tp);
    double gc[CC] = {};
    const auto gx = net.backward(tp, G.col(j).eval(), &gsum, gc);
    for (int o = 0; o < Out; ++o)
      worst = std::max({worst, std::abs(y[o] - Y(o, j)), std::abs(y[o] - Yb(o, j))});
    for (int i = 0; i < In; ++i) worst = std::max(worst, std::abs(gx[i] - GX(i, j)));
    for (int i = 0; i < C; ++i) worst = std::max(worst, std::abs(gc[i] - GC(i, j)));
  }
  for (std::size_t k = 0; k < Net::parameter_count; ++k)
    worst = std::max(worst, std::abs(gsum.values[k] - gblock.values[k]) / std::max(1.0, std::abs(gsum.values[k])));
  INFO("largest difference between the block and the per-sample functions: " << worst);
  CHECK(worst <= 1e-12);
}

}  // namespace

TEST_CASE("ResidualNet reproduces nflows's ResidualNet, by its parameter names, to 1e-12", "[conditioners][residual_net]") {
  const json data = flowtmpl_test::load_reference("nflows_residual_net.json");
  const json& cases = data.at("cases");
  REQUIRE(cases.size() == 3);
  check_nflows_case<ft::ResidualNet<8, 2>, 3, 5, 0>(cases[0]);
  check_nflows_case<ft::ResidualNet<6, 1>::with<ft::act::tanh>, 2, 4, 3>(cases[1]);
  check_nflows_case<ft::ResidualNet<5, 3>, 3, 6, 2>(cases[2]);
}

TEST_CASE("ResidualNet's backward against central differences", "[conditioners][residual_net][gradients]") {
  check_gradients<ft::ResidualNet<5, 2>::with<ft::act::tanh>, 3, 4, 0>(1);
  check_gradients<ft::ResidualNet<5, 2>::with<ft::act::tanh>, 3, 4, 2>(2);
  check_gradients<ft::ResidualNet<4, 1>::with<ft::act::silu>, 1, 2, 3>(3);
  check_gradients<ft::ResidualNet<4, 0>::with<ft::act::silu>, 2, 3, 1>(4);
  check_gradients<ft::ResidualNet<3, 3>::with<ft::act::elu>, 2, 2, 0>(5);
}

TEST_CASE("ResidualNet's block functions equal the per-sample ones", "[conditioners][residual_net]") {
  check_block_against_samples<ft::ResidualNet<8, 2>, 3, 5, 0>(6);
  check_block_against_samples<ft::ResidualNet<6, 2>::with<ft::act::tanh>, 2, 4, 3>(7);
  check_block_against_samples<ft::ResidualNet<1, 1>, 1, 1, 1>(8);
}

TEST_CASE("ResidualNet's initialisation", "[conditioners][residual_net]") {
  using Net = ft::ResidualNet<16, 2>::conditioner<3, 4, 2, double>;
  const double bias[4] = {0.5, -1.0, 2.0, 0.0};
  Net net;
  ft::philox_stream rng(9, 0);
  net.reset_parameters(rng, ft::init::identity_start, bias);
  // identity_start: the output is the bias whatever the input and context
  const Eigen::Vector3d x(3.0, -2.0, 0.7);
  const double c[2] = {1.0, -4.0};
  const auto y = net.evaluate(x, c);
  for (int o = 0; o < 4; ++o) CHECK(y[o] == bias[o]);
  // each block's linear_layers.1 in +-1e-3 and not all 0 (nflows's zero_initialization);
  // the initial layer as PyTorch's Linear: +-1/sqrt(5)
  std::set<std::string> seen;
  net.for_each_parameter_block([&](const std::string& name, double* p, std::size_t n) {
    double largest = 0;
    for (std::size_t i = 0; i < n; ++i) largest = std::max(largest, std::abs(p[i]));
    INFO(name << ": largest " << largest);
    if (name.find("linear_layers.1") != std::string::npos) {
      CHECK(largest <= 1e-3);
      CHECK(largest > 1e-4);
    } else if (name.rfind("initial_layer", 0) == 0) {
      CHECK(largest <= 1.0 / std::sqrt(5.0));
      CHECK(largest > 0.2);
    }
    seen.insert(name);
  });
  CHECK(seen.size() == 2 + 2 * 6 + 2);
  // init::uniform moves the output away from the bias
  net.reset_parameters(rng, ft::init::uniform, bias);
  CHECK((net.evaluate(x, c) - Eigen::Vector4d(0.5, -1.0, 2.0, 0.0)).cwiseAbs().maxCoeff() > 1e-2);
}

}  // namespace residual_net_test
