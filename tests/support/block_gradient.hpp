// tests/support/block_gradient.hpp: nll_and_gradient's block path (detail::
// log_prob_vjp_block: the conditioners' products over 256 samples at once) against the
// per-sample path (log_prob_vjp per column), shared by tests/unit/training/
// block_gradient*_test.cpp. The two sum the same terms in another order: in double they
// agree to rounding, which is what shows that the block path computes the same gradient.
//
//   same_gradient<F>(tol)              a flow F, 600 samples of its own
//   same_conditional_gradient<F>(tol)  a conditional flow, a context per sample and one
//                                      for all
#pragma once

#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace flowtmpl_test {

template <class F>
std::vector<double> flat(const F& f) {
  std::vector<typename F::scalar_type> v(flowtmpl::parameter_count_v<F>);
  flowtmpl::copy_parameters(f, v.data());
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
  INFO("largest gradient difference " << worst << " at " << flowtmpl::detail::parameter_name(f, at));
  CHECK(worst <= tol);
}

// The two paths on 600 samples (two full blocks and a partial one).
template <class F>
void same_gradient(double tol) {
  using S = typename F::scalar_type;
  static_assert(flowtmpl::detail::block_gradient_ok<F>(), "the block path is taken");
  F f;
  flowtmpl::reset_parameters(f, 11, flowtmpl::init::uniform);
  const auto X = flowtmpl::sample(f, 600, 5);
  F g1 = flowtmpl::make_gradient(f), g2 = flowtmpl::make_gradient(f);
  Eigen::Matrix<S, 1, Eigen::Dynamic> lp1, lp2;
  const double v1 = double(flowtmpl::nll_and_gradient(f, X, g1, &lp1));
  const double v2 = double(flowtmpl::detail::nll_and_gradient_per_sample(f, X, g2, &lp2));
  require_same(f, v1, v2, lp1, lp2, g1, g2, tol);
}

// The same for a conditional flow, a context per sample and one for all.
template <class F>
void same_conditional_gradient(double tol) {
  using S = typename F::scalar_type;
  constexpr int C = F::context_dim;
  static_assert(flowtmpl::detail::block_gradient_ok<F>(), "the block path is taken");
  F f;
  flowtmpl::reset_parameters(f, 12, flowtmpl::init::uniform);
  Eigen::Matrix<S, C, Eigen::Dynamic> Ctx(C, 600);
  flowtmpl::philox_stream rng(6, 0);
  for (Eigen::Index i = 0; i < Ctx.size(); ++i) Ctx.data()[i] = rng.normal<S>();
  const auto X = flowtmpl::sample(f, 600, 5, Ctx);
  for (const bool shared : {false, true}) {
    INFO((shared ? "one context for all" : "a context per sample"));
    const Eigen::Matrix<S, C, Eigen::Dynamic> K = shared ? Eigen::Matrix<S, C, Eigen::Dynamic>(Ctx.col(3)) : Ctx;
    F g1 = flowtmpl::make_gradient(f), g2 = flowtmpl::make_gradient(f);
    Eigen::Matrix<S, 1, Eigen::Dynamic> lp1, lp2;
    const double v1 = double(flowtmpl::nll_and_gradient(f, X, K, g1, &lp1));
    const double v2 = double(flowtmpl::detail::nll_and_gradient_per_sample(f, X, K, g2, &lp2));
    require_same(f, v1, v2, lp1, lp2, g1, g2, tol);
  }
}
}  // namespace flowtmpl_test
