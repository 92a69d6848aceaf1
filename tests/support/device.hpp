// tests/support/device.hpp: what the device parity tests (unit/device/, cuda/) share:
// the host path and the device path (the thrust system the test is built for: OMP in
// CI, CUDA with nvcc) on the same flow and the same inputs, compared in units in the
// last place (evaluation) or relative error (gradients).
#pragma once

#include <catch2/catch.hpp>

#include <flowtmpl/device.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "parameters.hpp"

namespace flowtmpl_test {

namespace ft = flowtmpl;
using flowtmpl::direction;

// Distance in representable values between a and b (0 when equal; the largest value
// when either is NaN or they are infinities of different values).
template <class S>
std::int64_t ulp_distance(S a, S b) {
  if (a == b) return 0;
  if (std::isnan(a) || std::isnan(b) || std::isinf(a) || std::isinf(b)) return std::numeric_limits<std::int64_t>::max();
  using I = std::conditional_t<sizeof(S) == 4, std::int32_t, std::int64_t>;
  I ia, ib;
  std::memcpy(&ia, &a, sizeof(S));
  std::memcpy(&ib, &b, sizeof(S));
  // to a monotone integer line: negative floats count down from 0
  auto line = [](I i) -> std::int64_t { return i < 0 ? -std::int64_t(i & std::numeric_limits<I>::max()) : std::int64_t(i); };
  const std::int64_t la = line(ia), lb = line(ib);
  if ((la < 0) != (lb < 0)) {  // opposite signs: |la| + |lb|, saturated (it can exceed int64)
    const std::uint64_t d = std::uint64_t(la < 0 ? -la : la) + std::uint64_t(lb < 0 ? -lb : lb);
    const auto most = std::uint64_t(std::numeric_limits<std::int64_t>::max());
    return d > most ? std::numeric_limits<std::int64_t>::max() : std::int64_t(d);
  }
  return la > lb ? la - lb : lb - la;
}

template <class A, class B>
std::int64_t max_ulp(const A& a, const B& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  std::int64_t m = 0;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      const std::int64_t d = ulp_distance(a(i, j), b(i, j));
      if (d > m) m = d;
    }
  return m;
}

// The evaluation tolerance: 4 units in the last place.
inline constexpr std::int64_t eval_ulp = 4;

// Largest |a - b| / max(|b|, 1): the difference of two evaluations that sum in
// different orders (a value near 0 judged in absolute terms).
template <class A, class B>
double max_rel(const A& a, const B& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  double m = 0;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      const double x = double(a(i, j)), y = double(b(i, j));
      if (!std::isfinite(x) || !std::isfinite(y)) return std::numeric_limits<double>::infinity();
      m = std::max(m, std::abs(x - y) / std::max(std::abs(y), 1.0));
    }
  return m;
}
// The bound for the device against the host's block path (networks as matrix-matrix
// products): rounding of sums taken in another order, through a chain. A sum of n
// products taken in any order is within n eps of the exact sum (relative to the sum of
// the terms' magnitudes), so two orders differ by at most about that much. The deepest
// chain here, NSF, has 8 couplings whose networks sum 4 + 64 + 64 terms per output:
// 8 x 132 = 1056 eps, about 1.3e-4 in float (measured: 2.0e-5 in the sanitizer build,
// clang -O1, below that with g++ -O3) and 2.3e-13 in double.
template <class S>
inline constexpr double reorder_tol = 1100 * double(std::numeric_limits<S>::epsilon());

// The host's per-sample path (of the prepared form, as both backends evaluate) over
// the columns of X: the reference for layers the host batch path evaluates in blocks.
template <direction Dir, class B>
ft::batch_result<typename B::scalar_type, B::dim> per_sample(const B& b,
                                                             const ft::batch_t<typename B::scalar_type, B::dim>& X) {
  ft::batch_result<typename B::scalar_type, B::dim> out{X, ft::row_t<typename B::scalar_type>(X.cols())};
  const auto p = ft::detail::prepared_for_call(b);
  for (Eigen::Index j = 0; j < X.cols(); ++j) {
    const ft::vector_t<B> x = X.col(j);
    const auto r = Dir == direction::forward ? ft::forward_and_log_det(*p, x) : ft::inverse_and_log_det(*p, x);
    out.values.col(j) = r.value;
    out.log_det[j] = r.log_det;
  }
  return out;
}
template <class F>
ft::row_t<typename F::scalar_type> per_sample_log_prob(const F& f, const ft::batch_t<typename F::scalar_type, F::dim>& X) {
  ft::row_t<typename F::scalar_type> lp(X.cols());
  const auto p = ft::detail::prepared_for_call(f);
  for (Eigen::Index j = 0; j < X.cols(); ++j) lp[j] = p->log_prob(ft::vector_t<F>(X.col(j)));
  return lp;
}
template <class F, class... T>
ft::batch_result<typename F::scalar_type, F::dim> per_sample_draw(const F& f, Eigen::Index n, std::uint64_t seed,
                                                                  const T&... temperature) {
  ft::batch_result<typename F::scalar_type, F::dim> out{ft::batch_t<typename F::scalar_type, F::dim>(F::dim, n),
                                                        ft::row_t<typename F::scalar_type>(n)};
  const auto p = ft::detail::prepared_for_call(f);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j));
    if constexpr (requires { p->sample_and_log_prob(rng, temperature...); }) {
      const auto r = p->sample_and_log_prob(rng, temperature...);
      out.values.col(j) = r.value;
      out.log_det[j] = r.log_det;
    } else {
      const ft::vector_t<F> x = f.sample(rng, temperature...);
      out.values.col(j) = x;
      out.log_det[j] = f.log_prob(x, temperature...);
    }
  }
  return out;
}
template <class B>
constexpr bool host_uses_blocks() {
  if constexpr (requires { typename B::transform_type; })
    return ft::detail::uses_blocks<typename B::transform_type>();
  else if constexpr (ft::Bijector<B>)
    return ft::detail::uses_blocks<B>();
  else
    return false;
}

// a (device) against the host: within 4 ulp of the host's batch result where that is
// the per-sample path, else within 4 ulp of the per-sample reference and within
// reorder_tol of the batch result.
template <class Dev, class Batch, class Ref>
void check_close(bool blocks, const Dev& dev, const Batch& batch, const Ref& ref) {
  using S = std::decay_t<decltype(batch(0, 0))>;
  if (!blocks) {
    CHECK(max_ulp(dev, batch) <= eval_ulp);
  } else {
    CHECK(max_ulp(dev, ref) <= eval_ulp);
    const double rel = max_rel(dev, batch);
    INFO("device against the host's block path: " << rel);
    CHECK(rel <= reorder_tol<S>);
  }
}

inline const char* name(ft::layout o) { return o == ft::layout::columns ? "columns (D x N)" : "rows (N x D)"; }
inline constexpr ft::layout both_layouts[] = {ft::layout::columns, ft::layout::rows};

// n standard normal columns times `scale` plus `shift`, from a stream of its own.
template <class S, int D>
Eigen::Matrix<S, D, Eigen::Dynamic> inputs(Eigen::Index n, std::uint64_t seed, double scale = 1.0, double shift = 0.0) {
  Eigen::Matrix<S, D, Eigen::Dynamic> X(D, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j) + 1000);
    for (int i = 0; i < D; ++i) X(i, j) = S(shift + scale * rng.normal<double>());
  }
  return X;
}
// Uniform in (lo, hi).
template <class S, int D>
Eigen::Matrix<S, D, Eigen::Dynamic> uniform_inputs(Eigen::Index n, std::uint64_t seed, double lo, double hi) {
  Eigen::Matrix<S, D, Eigen::Dynamic> X(D, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j) + 2000);
    for (int i = 0; i < D; ++i) X(i, j) = S(lo + (hi - lo) * rng.uniform<double>());
  }
  return X;
}

// Every parameter uniform in [lo, hi], from the device tests' stream (seed, 7) (not for
// MADE, whose masks must hold: use reset_parameters there).
template <class B>
void randomize_for_device(B& b, std::uint64_t seed, double lo = -0.5, double hi = 0.5) {
  draw_parameters(b, ft::philox_stream(seed, 7), lo, hi);
}

// forward / inverse (with and without log-det) of b on X and on f(X), host against
// device, in both layouts.
template <class B>
void check_bijector(const B& b, const Eigen::Matrix<typename B::scalar_type, B::dim, Eigen::Dynamic>& X) {
  constexpr bool blocks = host_uses_blocks<B>();
  const auto fwd = ft::forward_and_log_det(b, X);
  const auto inv = ft::inverse_and_log_det(b, fwd.values);
  const auto ref_fwd = per_sample<direction::forward>(b, X);
  const auto ref_inv = per_sample<direction::inverse>(b, fwd.values);
  const ft::device_flow<B> df(b);
  for (const ft::layout order : both_layouts) {
    INFO("layer " << B::name << ", layout " << name(order));
    const auto dx = ft::to_device(X, order);
    const auto dy = ft::to_device(fwd.values, order);
    const auto dfwd = ft::forward_and_log_det(ft::exec::device, df, dx);
    CHECK(dfwd.values.order() == order);
    check_close(blocks, ft::to_host(dfwd.values), fwd.values, ref_fwd.values);
    check_close(blocks, ft::to_host(dfwd.log_det), fwd.log_det, ref_fwd.log_det);
    const auto dinv = ft::inverse_and_log_det(ft::exec::device, df, dy);
    check_close(blocks, ft::to_host(dinv.values), inv.values, ref_inv.values);
    check_close(blocks, ft::to_host(dinv.log_det), inv.log_det, ref_inv.log_det);
    check_close(blocks, ft::to_host(ft::forward(ft::exec::device, df, dx)), ft::forward(b, X), ref_fwd.values);
    check_close(blocks, ft::to_host(ft::inverse(ft::exec::device, df, dy)), ft::inverse(b, fwd.values),
                ref_inv.values);
  }
}

// log_prob on X, sample and sample_and_log_prob (at temperature 1 and, where the base
// has a scale, 0.7), host against device, in both layouts.
template <class F>
void check_distribution(const F& f, const Eigen::Matrix<typename F::scalar_type, F::dim, Eigen::Dynamic>& X,
                        std::uint64_t seed = 42) {
  using S = typename F::scalar_type;
  constexpr bool blocks = host_uses_blocks<F>();
  const ft::device_flow<F> df(f);
  const Eigen::Index n = X.cols();
  const auto lp = ft::log_prob(f, X);
  const auto ref_lp = per_sample_log_prob(f, X);
  const auto drawn = ft::sample_and_log_prob(f, n, seed);
  const auto ref_drawn = per_sample_draw(f, n, seed);
  for (const ft::layout order : both_layouts) {
    INFO("distribution " << F::name << ", layout " << name(order));
    check_close(blocks, ft::to_host(ft::log_prob(ft::exec::device, df, ft::to_device(X, order))), lp, ref_lp);
    const auto d = ft::sample_and_log_prob(ft::exec::device, df, n, seed, order);
    CHECK(d.values.order() == order);
    check_close(blocks, ft::to_host(d.values), drawn.values, ref_drawn.values);
    check_close(blocks, ft::to_host(d.log_det), drawn.log_det, ref_drawn.log_det);
    check_close(blocks, ft::to_host(ft::sample(ft::exec::device, df, n, seed, order)), drawn.values,
                ref_drawn.values);
    if constexpr (ft::detail::can_temper<F>()) {
      const auto hot = ft::sample_and_log_prob(f, n, seed, S(0.7));
      const auto ref_hot = per_sample_draw(f, n, seed, S(0.7));
      const auto dhot = ft::sample_and_log_prob(ft::exec::device, df, n, seed, S(0.7), order);
      check_close(blocks, ft::to_host(dhot.values), hot.values, ref_hot.values);
      check_close(blocks, ft::to_host(dhot.log_det), hot.log_det, ref_hot.log_det);
    }
  }
}

// Relative error of the device gradient against the host's, per parameter, measured
// against max(|host|, |device|, 1e-3 * the largest host entry): an entry near zero is
// judged on the gradient's own scale.
template <class F>
double gradient_rel_error(const F& host_grad, const F& device_grad, double floor = 1e-3) {
  using S = typename F::scalar_type;
  constexpr std::size_t n = ft::parameter_count_v<F>;
  std::vector<S> h(n), d(n);
  ft::copy_parameters(host_grad, h.data());
  ft::copy_parameters(device_grad, d.data());
  double scale = 0;
  for (S v : h) scale = std::max(scale, double(std::abs(v)));
  double worst = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    const double den = std::max({double(std::abs(h[i])), double(std::abs(d[i])), floor * scale});
    if (!std::isfinite(double(d[i]))) return std::numeric_limits<double>::infinity();
    if (den > 0) worst = std::max(worst, std::abs(double(h[i]) - double(d[i])) / den);
  }
  return worst;
}

// Mean NLL and its gradient on X, host against device, in both layouts and with two
// slot sizes (the host's block, 128, and 37).
template <class F>
void check_gradient(const F& f, const Eigen::Matrix<typename F::scalar_type, F::dim, Eigen::Dynamic>& X) {
  using S = typename F::scalar_type;
  F hg = ft::make_gradient(f);
  Eigen::Matrix<S, 1, Eigen::Dynamic> hlp;
  // the host's per-sample path: the same computation per sample as the device's (the
  // host's nll_and_gradient takes the block path for coupling flows, training tests)
  const S hv = ft::detail::nll_and_gradient_per_sample(f, X, hg, &hlp);
  const ft::device_flow<F> df(f);
  for (const ft::layout order : both_layouts) {
    for (const std::int64_t per : {std::int64_t(ft::detail::host_block), std::int64_t(37)}) {
      INFO("flow " << F::name << ", layout " << name(order) << ", " << per << " samples per slot");
      F dg = ft::make_gradient(f);
      thrust::device_vector<S> dlp;
      ft::device_gradient_options opt;
      opt.samples_per_slot = per;
      const S dv = ft::nll_and_gradient(ft::exec::device, df, ft::to_device(X, order), dg, &dlp, opt);
      // the loss is a reduction over the batch, like the gradient
      CHECK(std::abs(double(dv) - double(hv)) <= 1e-5 * std::abs(double(hv)));
      CHECK(max_ulp(ft::to_host(dlp), hlp) <= eval_ulp);
      // With the host's block per slot the sums run in the host's order; with 37 in
      // another, and an entry that cancels (a sum of terms of both signs) is judged on
      // the scale of the whole gradient.
      const double rel = gradient_rel_error(hg, dg, per == ft::detail::host_block ? 1e-3 : 1.0);
      INFO("largest relative gradient difference " << rel);
      CHECK(rel <= 1e-5);
    }
  }
}

template <class B>
using Flow = ft::FlowDistribution<ft::StandardNormalDistribution<B::dim, typename B::scalar_type>, B>;
template <class B>
using UniformFlow = ft::FlowDistribution<ft::UniformDistribution<B::dim, typename B::scalar_type>, B>;

// The layer on normal inputs (or uniform ones in (lo, hi), for a layer defined there),
// and as the transform of a flow (with a base on the layer's domain): its density, its
// samples and its NLL gradient.
template <class B>
void check_layer(const B& b, double lo = 0, double hi = 0) {
  using S = typename B::scalar_type;
  constexpr Eigen::Index N = 300;  // more than one host block and one slot
  const auto X = lo < hi ? uniform_inputs<S, B::dim>(N, 3, lo, hi) : inputs<S, B::dim>(N, 3, 1.2);
  check_bijector(b, X);
  if (lo < hi) {
    using V = ft::vector_t<B>;
    UniformFlow<B> f{{V::Constant(S(lo)), V::Constant(S(hi))}, b};
    check_distribution(f, ft::forward(b, X));
    check_gradient(f, ft::forward(b, X));
  } else {
    Flow<B> f{{}, b};
    check_distribution(f, ft::forward(b, X));
    check_gradient(f, ft::forward(b, X));
  }
}

template <class Spec, int D = 4>
ft::bind_t<Spec, D, float> random_layer(std::uint64_t seed) {
  ft::bind_t<Spec, D, float> b;
  randomize_for_device(b, seed);
  return b;
}
template <class Spec, int D = 4>
ft::bind_t<Spec, D, float> initialised_layer(std::uint64_t seed) {
  ft::bind_t<Spec, D, float> b;
  ft::reset_parameters(b, seed, ft::init::uniform);
  return b;
}

// n draws of a standard normal and of a uniform base (D = 5), host against device, for
// three seeds (0, an ordinary one, the largest): bitwise equal, in both layouts; and a
// different seed draws different samples (so the comparison can fail).
template <class S>
void check_same_seed_draws(Eigen::Index n) {
  ft::StandardNormalDistribution<5, S> normal;
  ft::UniformDistribution<5, S> uniform;
  const ft::device_flow<decltype(normal)> dn(normal);
  const ft::device_flow<decltype(uniform)> du(uniform);
  for (const std::uint64_t seed : {std::uint64_t(0), std::uint64_t(1234567), ~std::uint64_t(0)}) {
    INFO("seed " << seed);
    const auto hn = ft::sample(normal, n, seed);
    const auto hu = ft::sample(uniform, n, seed);
    CHECK(max_ulp(ft::to_host(ft::sample(ft::exec::device, dn, n, seed)), hn) == 0);
    CHECK(max_ulp(ft::to_host(ft::sample(ft::exec::device, du, n, seed)), hu) == 0);
    CHECK(max_ulp(ft::to_host(ft::sample(ft::exec::device, dn, n, seed, ft::layout::rows)), hn) == 0);
    CHECK(max_ulp(ft::to_host(ft::sample(ft::exec::device, dn, n, seed + 1)), hn) > 0);
  }
}

}  // namespace flowtmpl_test
