// flowtmpl/detail/math.hpp: numerically careful elementwise functions on Eigen arrays,
// shared by the elementwise bijectors, and the networks' product kernels (product here,
// dense_rows in dense_rows.hpp). Each elementwise function returns a plain array (never
// an expression that could outlive its operands). Every one is finite for every finite
// input where the mathematical value is finite, and propagates NaN.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "dense_rows.hpp"
#include "eigen.hpp"

#include "../config.hpp"

namespace flowtmpl::detail {

// W * x for a network layer. A single sample (x a fixed-size vector): Eigen's lazy,
// coefficient-based product, inlined at the fixed sizes (for a 64 x 64 weight its
// general matrix-vector kernel, called out of line with run-time sizes, took most of
// the time of a per-sample log_prob; docs/performance.md). A block of samples: the
// ordinary product (a matrix-matrix kernel).
template <class W, class X>
FLOWTMPL_HOST_DEVICE auto product(const Eigen::MatrixBase<W>& w, const Eigen::MatrixBase<X>& x) {
  if constexpr (X::ColsAtCompileTime == 1)
    return w.derived().lazyProduct(x.derived());
  else
    return w.derived() * x.derived();
}

template <class S>
inline constexpr S log_min_normal_v = sizeof(S) == 4 ? S(-87.33654475) : S(-708.3964185322641);

// exp, elementwise, correct below the normal range too. Eigen 3.4's vectorized exp
// returns a fixed floor (2^-128 in float, 2^-1024 in double) for inputs below about
// log(min), in the components that fill a SIMD packet, and the exact value (a
// subnormal or 0) in the others; those components are recomputed with std::exp, so
// the result is right and the same in every component.
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject exp(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  typename A::PlainObject y = x.exp();
  for (Eigen::Index i = 0; i < y.size(); ++i)
    if (x.coeff(i) < log_min_normal_v<S>) y.coeffRef(i) = std::exp(x.coeff(i));
  return y;
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject softplus(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  return (x > S(0)).select(x, S(0)) + detail::exp(-x.abs()).log1p();
}

// 1 / (1 + exp(-x)) with one exp of a non-positive argument.
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject sigmoid(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  const typename A::PlainObject e = detail::exp(-x.abs());
  return (x >= S(0)).select(S(1) / (S(1) + e), e / (S(1) + e));
}

// log sigmoid'(x) = log(sigmoid(x)) + log(sigmoid(-x)) = -(|x| + 2 log1p(exp(-|x|))).
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject log_sigmoid_derivative(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  return -(x.abs() + S(2) * detail::exp(-x.abs()).log1p());
}

// log(y) - log(1 - y), for y in (0, 1).
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject logit(const Eigen::ArrayBase<A>& y) {
  return y.log() - (-y).log1p();
}

// log|d logit(y)/dy| = -log(y) - log(1 - y).
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject log_logit_derivative(const Eigen::ArrayBase<A>& y) {
  return -(y.log() + (-y).log1p());
}

// Scalar forms, for the per-sample code of layers with a few scalar parameters.
// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
template <class S>
FLOWTMPL_HOST_DEVICE S softplus_scalar(S x) {
  using std::abs, std::exp, std::log1p;
  return (x > S(0) ? x : S(0)) + log1p(exp(-abs(x)));
}
// 1 / (1 + exp(-x)) with one exp of a non-positive argument.
template <class S>
FLOWTMPL_HOST_DEVICE S sigmoid_scalar(S x) {
  using std::abs, std::exp;
  const S e = exp(-abs(x));
  return x >= S(0) ? S(1) / (S(1) + e) : e / (S(1) + e);
}
// x clamped to [lowest, max], the finite numbers; NaN stays NaN.
template <class S>
FLOWTMPL_HOST_DEVICE S clamp_finite(S x) {
  using lim = std::numeric_limits<S>;
  return x > lim::max() ? lim::max() : (x < lim::lowest() ? lim::lowest() : x);
}
// log(exp(p) + exp(q)); NaN if either is NaN, -inf if both are -inf.
template <class S>
FLOWTMPL_HOST_DEVICE S log_add_exp(S p, S q) {
  using std::exp, std::log1p;
  const S hi = p > q ? p : q, lo = p > q ? q : p;
  if (hi == -std::numeric_limits<S>::infinity()) return hi;
  return hi + log1p(exp(lo - hi));
}

template <class S>
inline constexpr S log_max_v = sizeof(S) == 4 ? S(88.72283) : S(709.782712893384);

}  // namespace flowtmpl::detail
