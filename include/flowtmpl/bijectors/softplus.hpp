// flowtmpl/bijectors/softplus.hpp: Softplus, y_i = log(1 + exp(x_i)), from R onto (0, inf).
// Forward: max(x, 0) + log1p(exp(-|x|)), finite for every finite x; for x below about
// -104 (float) or -745 (double) y underflows to 0, which the inverse maps to -inf.
// Inverse: x = y + log(-expm1(-y)); domain y > 0; unchecked, y = 0 gives -inf and
// y < 0 NaN, in that component only. Structure: diagonal.
// Log-det: sum_i log sigmoid(x_i) = -sum_i softplus(-x_i), about x_i for x_i < 0 (the
// sum is -inf where the true value is below -max); inverse log-det
// -sum_i log(-expm1(-y_i)). Cost: D exp and D log1p.
#pragma once

#include "elementwise.hpp"

namespace flowtmpl {

template <int D, class S>
struct SoftplusBijector : detail::elementwise<SoftplusBijector<D, S>, D, S> {
  static constexpr const char* name = "Softplus";
  using arr = Eigen::Array<S, D, 1>;

  FLOWTMPL_HOST_DEVICE arr fwd(const arr& x) const { return detail::softplus(x); }
  FLOWTMPL_HOST_DEVICE arr inv(const arr& y) const { return y + (-(-y).expm1()).log(); }
  FLOWTMPL_HOST_DEVICE arr log_dfdx(const arr& x) const { return -detail::softplus(arr(-x)); }
  FLOWTMPL_HOST_DEVICE arr log_dinv(const arr& y) const { return -(-(-y).expm1()).log(); }
  // d/dx [-softplus(-x)] = sigmoid(-x)
  FLOWTMPL_HOST_DEVICE arr dlog_dfdx(const arr& x) const { return detail::sigmoid(arr(-x)); }

  static constexpr interval<S> forward_domain() { return interval<S>::real_line(); }
  static constexpr interval<S> inverse_domain() { return interval<S>::open(S(0), std::numeric_limits<S>::infinity()); }
};

struct Softplus : bijector_spec {
  template <int D, class S>
  using bind = SoftplusBijector<D, S>;
};

}  // namespace flowtmpl
