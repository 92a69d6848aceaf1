// flowtmpl/bijectors/leaky_relu.hpp: LeakyReLU, y_i = x_i for x_i >= 0, a x_i otherwise.
// The slope a (negative_slope, default 0.01) is a fixed setting, not a trained
// parameter; it must be finite and > 0 (validate() says so otherwise). Domain: R in
// both directions; the inverse of y_i < -a max is below -max and gives -inf (with
// a < 1; with a > 1 the forward does, for x_i < -max / a). Structure: diagonal. Log-det: (number of negative x_i) * log a
// (input-dependent). Cost: D compares and multiplies (after prepare(), which computes
// log a once; the per-sample path takes one log per call).
#pragma once

#include <cmath>

#include "elementwise.hpp"

namespace flowtmpl {

namespace detail {
// LeakyReLU after prepare(): log(a) and 1/a computed once, and the fused calls write
// their results directly (no temporary array between Eigen's select and its use).
template <int D, class S>
struct prepared_leaky_relu {
  using scalar_type = S;
  using structure = flowtmpl::structure::diagonal;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::input_dependent;
  static constexpr const char* name = "LeakyReLU (prepared)";
  using vec = Eigen::Matrix<S, D, 1>;
  using arr = Eigen::Array<S, D, 1>;

  S negative_slope, log_negative_slope;

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const {
    vec y;
    y.array() = (x.array() >= S(0)).select(x.array(), negative_slope * x.array());
    return y;
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const {
    vec x;
    x.array() = (y.array() >= S(0)).select(y.array(), y.array() / negative_slope);
    return x;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& x) const {
    return (x.array() >= S(0)).select(arr::Zero(), arr::Constant(log_negative_slope)).sum();
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& x) const { return {forward(x), log_det(x)}; }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const {
    // y and x = f^-1(y) have the same sign pattern
    return {inverse(y), -log_det(y)};
  }
  Eigen::Matrix<S, D, D> jacobian(const vec& x) const {
    return (x.array() >= S(0)).select(arr::Ones(), arr::Constant(negative_slope)).matrix().asDiagonal();
  }
};
}  // namespace detail

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

  FLOWTMPL_HOST_DEVICE arr dlog_dfdx(const arr&) const { return arr::Zero(); }
  detail::prepared_leaky_relu<D, S> prepare() const {
    using std::log;
    return {negative_slope, log(negative_slope)};
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
