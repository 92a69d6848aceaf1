// flowtmpl/bijectors/logit.hpp: Logit, y_i = log(x_i) - log(1 - x_i), from (0, 1) onto R;
// the inverse of Sigmoid, as its own layer (the usual first layer of a flow on the unit
// cube). Forward domain: 0 < x < 1; unchecked, x = 0 or 1 gives -+inf and x outside
// [0, 1] NaN, in that component only. Inverse domain: R (the inverse is Sigmoid and
// saturates as Sigmoid's header describes: to exactly 1 above about 17 (float) / 37
// (double), to exactly 0 below about -103 / -745).
// Structure: diagonal. Log-det: -sum_i (log x_i + log1p(-x_i)). Cost: 2D log.
#pragma once

#include "elementwise.hpp"

namespace flowtmpl {

template <int D, class S>
struct LogitBijector : detail::elementwise<LogitBijector<D, S>, D, S> {
  static constexpr const char* name = "Logit";
  using arr = Eigen::Array<S, D, 1>;

  FLOWTMPL_HOST_DEVICE arr fwd(const arr& x) const { return detail::logit(x); }
  FLOWTMPL_HOST_DEVICE arr inv(const arr& y) const { return detail::sigmoid(y); }
  FLOWTMPL_HOST_DEVICE arr log_dfdx(const arr& x) const { return detail::log_logit_derivative(x); }
  FLOWTMPL_HOST_DEVICE arr log_dinv(const arr& y) const { return detail::log_sigmoid_derivative(y); }
  // d/dx [-log x - log(1 - x)]
  FLOWTMPL_HOST_DEVICE arr dlog_dfdx(const arr& x) const { return (S(1) - x).inverse() - x.inverse(); }

  static constexpr interval<S> forward_domain() { return interval<S>::open(S(0), S(1)); }
  static constexpr interval<S> inverse_domain() { return interval<S>::real_line(); }
};

struct Logit : bijector_spec {
  template <int D, class S>
  using bind = LogitBijector<D, S>;
};

}  // namespace flowtmpl
