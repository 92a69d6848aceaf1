// flowtmpl/bijectors/sigmoid.hpp: Sigmoid, y_i = 1 / (1 + exp(-x_i)), from R onto (0, 1).
// Forward domain: R. x above about 17 (float) or 37 (double) rounds y to exactly 1, which
// the inverse maps to +inf; below 0, y ~ exp(x) stays non-zero (subnormal at the end)
// down to about -103 (float) or -745 (double) and is exactly 0 beyond, which the inverse
// maps to -inf: the map saturates, it does not give NaN.
// Inverse domain: 0 < y < 1; unchecked, y = 0 or 1 gives -+inf and y outside [0, 1]
// NaN, in that component only. Structure: diagonal. Log-det: sum_i log(s_i (1 - s_i)),
// computed as -(|x| + 2 log1p(exp(-|x|))): finite wherever the true value is above -max,
// i.e. for |x| < max (the sum over components can still overflow to -inf when the
// true sum is below -max).
// Cost: D exp and D log1p.
#pragma once

#include "elementwise.hpp"

namespace flowtmpl {

template <int D, class S>
struct SigmoidBijector : detail::elementwise<SigmoidBijector<D, S>, D, S> {
  static constexpr const char* name = "Sigmoid";
  using arr = Eigen::Array<S, D, 1>;

  FLOWTMPL_HOST_DEVICE arr fwd(const arr& x) const { return detail::sigmoid(x); }
  FLOWTMPL_HOST_DEVICE arr inv(const arr& y) const { return detail::logit(y); }
  FLOWTMPL_HOST_DEVICE arr log_dfdx(const arr& x) const { return detail::log_sigmoid_derivative(x); }
  FLOWTMPL_HOST_DEVICE arr log_dinv(const arr& y) const { return detail::log_logit_derivative(y); }
  FLOWTMPL_HOST_DEVICE arr dlog_dfdx(const arr& x) const { return S(1) - S(2) * detail::sigmoid(x); }

  static constexpr interval<S> forward_domain() { return interval<S>::real_line(); }
  static constexpr interval<S> inverse_domain() { return interval<S>::open(S(0), S(1)); }
};

struct Sigmoid : bijector_spec {
  template <int D, class S>
  using bind = SigmoidBijector<D, S>;
};

}  // namespace flowtmpl
