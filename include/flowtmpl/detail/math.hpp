// flowtmpl/detail/math.hpp: numerically careful elementwise functions on Eigen arrays,
// shared by the elementwise bijectors. Each returns a plain array (never an expression
// that could outlive its operands). Every one is finite for every finite input
// where the mathematical value is finite, and propagates NaN.
#pragma once

#include <Eigen/Core>

#include "../config.hpp"

namespace flowtmpl::detail {

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
template <class A>
typename A::PlainObject softplus(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  return (x > S(0)).select(x, S(0)) + (-x.abs()).exp().log1p();
}

// 1 / (1 + exp(-x)) with one exp of a non-positive argument.
template <class A>
typename A::PlainObject sigmoid(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  const typename A::PlainObject e = (-x.abs()).exp();
  return (x >= S(0)).select(S(1) / (S(1) + e), e / (S(1) + e));
}

// log sigmoid'(x) = log(sigmoid(x)) + log(sigmoid(-x)) = -(|x| + 2 log1p(exp(-|x|))).
template <class A>
typename A::PlainObject log_sigmoid_derivative(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  return -(x.abs() + S(2) * (-x.abs()).exp().log1p());
}

// log(y) - log(1 - y), for y in (0, 1).
template <class A>
typename A::PlainObject logit(const Eigen::ArrayBase<A>& y) {
  return y.log() - (-y).log1p();
}

// log|d logit(y)/dy| = -log(y) - log(1 - y).
template <class A>
typename A::PlainObject log_logit_derivative(const Eigen::ArrayBase<A>& y) {
  return -(y.log() + (-y).log1p());
}

template <class S>
inline constexpr S log_max_v = sizeof(S) == 4 ? S(88.72283) : S(709.782712893384);

}  // namespace flowtmpl::detail
