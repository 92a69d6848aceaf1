// nll_and_gradient's block path (detail::log_prob_vjp_block: the conditioners' products
// over 256 samples at once) against the per-sample path (log_prob_vjp per column), which
// the central-difference test of training_test.cpp and the per-layer gradient tests
// check on their own. The two sum the same terms in another order: in double they agree
// to rounding, which is what shows that the block path computes the same gradient.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ft = flowtmpl;

namespace {
template <class Step>
using times4 = ft::compose<Step, Step, Step, Step>;
using RealNVP = times4<ft::compose<ft::Coupling<ft::Affine, ft::MLP<32, 32>>, ft::Permute<ft::Reverse>>>;
using Glow = times4<ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Affine, ft::MLP<32, 32>>>>;
using NSF = times4<ft::compose<ft::Coupling<ft::Spline<8, 3.0>, ft::MLP<32, 32>>, ft::Permute<ft::Reverse>>>;
using MAF = times4<ft::compose<ft::MaskedAutoregressive<ft::Affine, ft::MADE<32, 32>>, ft::Permute<ft::Reverse>>>;
// Layers without a block gradient in the middle of ones with: IAF (its density direction
// is sequential), Inverse<Coupling>, a residual MADE, ActNorm / LUConv, a non-standard base.
using Mixed = ft::compose<ft::InverseAutoregressive<ft::Affine, ft::MADE<16, 16>>, ft::Permute<ft::Reverse>,
                          ft::Inverse<ft::Coupling<ft::SoftplusAffine, ft::MLP<16>>>,
                          ft::MaskedAutoregressive<ft::Affine, ft::ResidualMADE<16, 2>>, ft::ActNorm, ft::LUConv,
                          ft::Coupling<ft::Spline<4, 3.0>, ft::MLP<16>, ft::mask::odd>>;

template <class F>
std::vector<double> flat(const F& f) {
  std::vector<typename F::scalar_type> v(ft::parameter_count_v<F>);
  ft::copy_parameters(f, v.data());
  return std::vector<double>(v.begin(), v.end());
}

// The block path (v1, lp1, g1) and the per-sample path (v2, lp2, g2): loss, per-sample
// log densities and every gradient entry within tol (relative, a gradient entry against
// the largest of its own size and 1e-3 of the largest entry).
template <class F, class R>
void require_same(const F& f, double v1, double v2, const R& lp1, const R& lp2, const F& g1, const F& g2, double tol) {
  CHECK(std::abs(v1 - v2) <= tol * std::abs(v2));
  double worst_lp = 0;
  for (Eigen::Index j = 0; j < lp1.size(); ++j)
    worst_lp = std::max(worst_lp, std::abs(double(lp1[j]) - double(lp2[j])) / std::max(1.0, std::abs(double(lp2[j]))));
  INFO("largest log-density difference " << worst_lp);
  CHECK(worst_lp <= tol);
  const auto a = flat(g1), b = flat(g2);
  double scale = 0;
  for (double x : b) scale = std::max(scale, std::abs(x));
  REQUIRE(scale > 0);
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(a[i] - b[i]) / std::max({std::abs(b[i]), 1e-3 * scale});
    if (d > worst) worst = d, at = i;
  }
  INFO("largest gradient difference " << worst << " at " << ft::detail::parameter_name(f, at));
  CHECK(worst <= tol);
}

// The two paths on 600 samples (two full blocks and a partial one).
template <class F>
void same_gradient(double tol) {
  using S = typename F::scalar_type;
  static_assert(ft::detail::block_gradient_ok<F>(), "the block path is taken");
  F f;
  ft::reset_parameters(f, 11, ft::init::uniform);
  const auto X = ft::sample(f, 600, 5);
  F g1 = ft::make_gradient(f), g2 = ft::make_gradient(f);
  Eigen::Matrix<S, 1, Eigen::Dynamic> lp1, lp2;
  const double v1 = double(ft::nll_and_gradient(f, X, g1, &lp1));
  const double v2 = double(ft::detail::nll_and_gradient_per_sample(f, X, g2, &lp2));
  require_same(f, v1, v2, lp1, lp2, g1, g2, tol);
}

// The same for a conditional flow, a context per sample and one for all.
template <class F>
void same_conditional_gradient(double tol) {
  using S = typename F::scalar_type;
  constexpr int C = F::context_dim;
  static_assert(ft::detail::block_gradient_ok<F>(), "the block path is taken");
  F f;
  ft::reset_parameters(f, 12, ft::init::uniform);
  Eigen::Matrix<S, C, Eigen::Dynamic> Ctx(C, 600);
  ft::philox_stream rng(6, 0);
  for (Eigen::Index i = 0; i < Ctx.size(); ++i) Ctx.data()[i] = rng.normal<S>();
  const auto X = ft::sample(f, 600, 5, Ctx);
  for (const bool shared : {false, true}) {
    INFO((shared ? "one context for all" : "a context per sample"));
    const Eigen::Matrix<S, C, Eigen::Dynamic> K = shared ? Eigen::Matrix<S, C, Eigen::Dynamic>(Ctx.col(3)) : Ctx;
    F g1 = ft::make_gradient(f), g2 = ft::make_gradient(f);
    Eigen::Matrix<S, 1, Eigen::Dynamic> lp1, lp2;
    const double v1 = double(ft::nll_and_gradient(f, X, K, g1, &lp1));
    const double v2 = double(ft::detail::nll_and_gradient_per_sample(f, X, K, g2, &lp2));
    require_same(f, v1, v2, lp1, lp2, g1, g2, tol);
  }
}
// conditional: couplings (MLP reading the context) and MAF (MADE reading it), with and
// without an embedding network, and a layer without a block gradient between them
using CondNSF = ft::compose<ft::Coupling<ft::Spline<8, 3.0>, ft::MLP<32, 32>>, ft::Permute<ft::Reverse>,
                            ft::MaskedAutoregressive<ft::Spline<4, 3.0>, ft::MADE<32, 32>>, ft::Permute<ft::Reverse>,
                            ft::InverseAutoregressive<ft::Affine, ft::MADE<16>>,
                            ft::Coupling<ft::Affine, ft::MLP<16>::with<ft::act::tanh>>>;
}  // namespace

TEST_CASE("block gradient: RealNVP, Glow, NSF, MAF and a mixed chain, double, agree with the per-sample path",
          "[training][gradient]") {
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, RealNVP>, 8, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, Glow>, 8, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, NSF>, 8, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, MAF>, 8, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::DiagonalNormal, Mixed>, 4, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, RealNVP>, 2, double>>(1e-10);
}

TEST_CASE("block gradient: conditional flows, with and without an embedding, agree with the per-sample path",
          "[training][gradient][conditional]") {
  same_conditional_gradient<ft::bind_t<ft::Conditional<3, ft::Flow<ft::StandardNormal, CondNSF>>, 5, double>>(1e-10);
  same_conditional_gradient<
      ft::bind_t<ft::Conditional<3, ft::Flow<ft::StandardNormal, CondNSF>, ft::Embedding<6, ft::MLP<16>>>, 5, double>>(
      1e-10);
  same_conditional_gradient<ft::bind_t<ft::Conditional<2, ft::Flow<ft::StandardNormal, MAF>>, 4, float>>(1e-2);
}

TEST_CASE("block gradient: float agrees with the per-sample path to float rounding of sums over a block",
          "[training][gradient]") {
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, RealNVP>, 8, float>>(1e-2);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, MAF>, 8, float>>(1e-2);
}

TEST_CASE("block gradient: a flow without a conditioner keeps the per-sample path", "[training]") {
  STATIC_REQUIRE(!ft::detail::block_gradient_ok<ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::ActNorm, ft::LUConv>>, 4, double>>());
  STATIC_REQUIRE(ft::detail::block_gradient_ok<ft::bind_t<ft::Flow<ft::StandardNormal, RealNVP>, 4, double>>());
}
