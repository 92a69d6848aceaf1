// flowtmpl/bijectors/logit_preprocessing.hpp: LogitPreprocessing<Alpha>, RealNVP's map of
// dequantized image data into R (Dinh et al. 2017, section 4.1):
//
//   y_i = logit(s_i),   s_i = Alpha + (1 - 2 Alpha) v_i
//
// Written as the first layer on the data side of an image flow
// (Inverse<compose<LogitPreprocessing<>, Squeeze, ...>>), so that log_prob of v
// includes its Jacobian and bits_per_dim (dequantization.hpp) needs nothing more.
// Alpha in [0, 0.5) keeps s away from 0 and 1, where the logit is steep.
// Forward domain: the v with 0 < s < 1, that is -Alpha / (1 - 2 Alpha) < v <
// (1 - Alpha) / (1 - 2 Alpha), which holds [0, 1] for Alpha > 0 (and (0, 1) for
// Alpha = 0); outside, NaN or +-inf in that component only. Inverse domain: R (the
// sigmoid saturates as Sigmoid's header says).
// Structure: diagonal. Log-det: sum_i log(1 - 2 Alpha) - log s_i - log(1 - s_i).
// Parameters: none. Cost: 2D log.
#pragma once

#include <cmath>

#include "elementwise.hpp"

namespace flowtmpl {

template <int D, class S, double Alpha>
struct LogitPreprocessingBijector : detail::elementwise<LogitPreprocessingBijector<D, S, Alpha>, D, S> {
  static constexpr const char* name = "LogitPreprocessing";
  using arr = Eigen::Array<S, D, 1>;
  static constexpr S alpha = S(Alpha);
  static constexpr S width = S(1 - 2 * Alpha);

  FLOWTMPL_HOST_DEVICE static arr s_of(const arr& v) { return alpha + width * v; }
  FLOWTMPL_HOST_DEVICE arr fwd(const arr& v) const { return detail::logit(s_of(v)); }
  FLOWTMPL_HOST_DEVICE arr inv(const arr& y) const { return (detail::sigmoid(y) - alpha) / width; }
  FLOWTMPL_HOST_DEVICE arr log_dfdx(const arr& v) const {
    using std::log;
    return detail::log_logit_derivative(s_of(v)) + log(width);
  }
  FLOWTMPL_HOST_DEVICE arr log_dinv(const arr& y) const {
    using std::log;
    return detail::log_sigmoid_derivative(y) - log(width);
  }
  // d/dv [-log s - log(1 - s)] = width ((1 - s)^-1 - s^-1)
  FLOWTMPL_HOST_DEVICE arr dlog_dfdx(const arr& v) const {
    const arr s = s_of(v);
    return width * ((S(1) - s).inverse() - s.inverse());
  }

  static constexpr interval<S> forward_domain() {
    return interval<S>::open(S(-Alpha / (1 - 2 * Alpha)), S((1 - Alpha) / (1 - 2 * Alpha)));
  }
  static constexpr interval<S> inverse_domain() { return interval<S>::real_line(); }
};

template <double Alpha = 0.05>
struct LogitPreprocessing : bijector_spec {
  static_assert(Alpha >= 0 && Alpha < 0.5, "flowtmpl: LogitPreprocessing<Alpha>: Alpha must be in [0, 0.5)");
  template <int D, class S>
  using bind = LogitPreprocessingBijector<D, S, Alpha>;
};

}  // namespace flowtmpl
