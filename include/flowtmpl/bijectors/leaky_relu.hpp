// flowtmpl/bijectors/leaky_relu.hpp: LeakyReLU, y_i = x_i for x_i >= 0, a x_i otherwise.
// The slope a (negative_slope, default 0.01) is a fixed setting, not a trained
// parameter; it must be finite and > 0 (validate() says so otherwise). Domain: R in
// both directions. Structure: diagonal. Log-det: (number of negative x_i) * log a
// (input-dependent). Cost: D compares and multiplies.
#pragma once

#include <cmath>

#include "elementwise.hpp"

namespace flowtmpl {

template <int D, class S>
struct LeakyReLUBijector : detail::elementwise<LeakyReLUBijector<D, S>, D, S> {
  static constexpr const char* name = "LeakyReLU";
  using arr = Eigen::Array<S, D, 1>;

  S negative_slope = S(0.01);

  LeakyReLUBijector() = default;
  FLOWTMPL_HOST_DEVICE explicit LeakyReLUBijector(S slope) : negative_slope(slope) {}

  FLOWTMPL_HOST_DEVICE arr fwd(const arr& x) const { return (x >= S(0)).select(x, negative_slope * x); }
  FLOWTMPL_HOST_DEVICE arr inv(const arr& y) const { return (y >= S(0)).select(y, y / negative_slope); }
  FLOWTMPL_HOST_DEVICE arr log_dfdx(const arr& x) const {
    using std::log;
    return (x >= S(0)).select(arr::Zero(), arr::Constant(log(negative_slope)));
  }

  const char* validate() const {
    return (std::isfinite(negative_slope) && negative_slope > S(0)) ? nullptr
                                                                     : "negative_slope must be finite and > 0";
  }
};

struct LeakyReLU : bijector_spec {
  template <int D, class S>
  using bind = LeakyReLUBijector<D, S>;
};

}  // namespace flowtmpl
