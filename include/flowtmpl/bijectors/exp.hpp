// flowtmpl/bijectors/exp.hpp: Exp, y_i = exp(x_i).
// Forward domain: R (y overflows to +inf for x above log(max), about 88.7 in float and
// 709.8 in double). Inverse domain: y > 0; unchecked, y = 0 gives -inf and y < 0 NaN,
// in that component only. Structure: diagonal. Log-det: sum_i x_i (input-dependent).
// Cost: D exp (forward) or D log (inverse).
#pragma once

#include "elementwise.hpp"

namespace flowtmpl {

template <int D, class S>
struct ExpBijector : detail::elementwise<ExpBijector<D, S>, D, S> {
  static constexpr const char* name = "Exp";
  using arr = Eigen::Array<S, D, 1>;

  FLOWTMPL_HOST_DEVICE arr fwd(const arr& x) const { return detail::exp(x); }
  FLOWTMPL_HOST_DEVICE arr inv(const arr& y) const { return y.log(); }
  FLOWTMPL_HOST_DEVICE arr log_dfdx(const arr& x) const { return x; }
  FLOWTMPL_HOST_DEVICE arr log_dinv(const arr& y) const { return -y.log(); }
  FLOWTMPL_HOST_DEVICE arr dlog_dfdx(const arr&) const { return arr::Ones(); }

  static constexpr interval<S> forward_domain() { return interval<S>::real_line(); }
  static constexpr interval<S> inverse_domain() { return interval<S>::open(S(0), std::numeric_limits<S>::infinity()); }
};

struct Exp : bijector_spec {
  template <int D, class S>
  using bind = ExpBijector<D, S>;
};

}  // namespace flowtmpl
