// flowtmpl/bijectors/tanh.hpp: Tanh, y_i = tanh(x_i), from R onto (-1, 1).
// Forward domain: R; |x| above about 9 (float) or 19 (double) rounds y to exactly +-1,
// which the inverse maps to +-inf: saturation, not NaN. Inverse: atanh(y); domain
// -1 < y < 1; unchecked, y = +-1 gives +-inf and |y| > 1 NaN, in that component only.
// Structure: diagonal. Log-det: sum_i log(1 - tanh(x_i)^2), computed as
// 2 (log 2 - |x| - log1p(exp(-2|x|))): finite for |x| < max / 2 (beyond, the true value,
// about -2|x|, is below -max and the log-det is -inf); inverse log-det
// -sum_i (log1p(-|y|) + log1p(|y|)). Cost: D tanh, D exp and D log1p.
#pragma once

#include "elementwise.hpp"

namespace flowtmpl {

template <int D, class S>
struct TanhBijector : detail::elementwise<TanhBijector<D, S>, D, S> {
  static constexpr const char* name = "Tanh";
  using arr = Eigen::Array<S, D, 1>;

  FLOWTMPL_HOST_DEVICE arr fwd(const arr& x) const { return x.tanh(); }
  FLOWTMPL_HOST_DEVICE arr inv(const arr& y) const { return y.atanh(); }
  FLOWTMPL_HOST_DEVICE arr log_dfdx(const arr& x) const {
    return S(2) * (S(0.693147180559945309417232121458) - x.abs() - detail::exp(arr(S(-2) * x.abs())).log1p());
  }
  FLOWTMPL_HOST_DEVICE arr log_dinv(const arr& y) const { return -((-y.abs()).log1p() + y.abs().log1p()); }
  // d/dx log(1 - tanh(x)^2)
  FLOWTMPL_HOST_DEVICE arr dlog_dfdx(const arr& x) const { return S(-2) * x.tanh(); }

  static constexpr interval<S> forward_domain() { return interval<S>::real_line(); }
  static constexpr interval<S> inverse_domain() { return interval<S>::open(S(-1), S(1)); }
};

struct Tanh : bijector_spec {
  template <int D, class S>
  using bind = TanhBijector<D, S>;
};

}  // namespace flowtmpl
