// flowtmpl/bijectors/elementwise.hpp: the shared frame of the elementwise bijectors
// (y_i = g(x_i)): diagonal Jacobian, log-det = sum_i log|g'(x_i)|.
//
// A derived layer D provides, over Eigen arrays of its dimension:
//   fwd(x), inv(y), log_dfdx(x)       g, g^-1, log|g'| elementwise
//   log_dinv(y)  (optional)           log|(g^-1)'(y)| elementwise, where a direct
//                                     formula is better than -log_dfdx(inv(y))
//   dlog_dfdx(x)                      d/dx log|g'(x)| elementwise (for the gradients)
// and gets forward, inverse, log_det, the fused versions, jacobian and the
// vector-Jacobian products (flowtmpl/differentiable.hpp):
//   forward:  gx = gy g'(x) + gld (log g')'(x)
//   inverse:  gy = (gx - gld (log g')'(x)) (g^-1)'(y),  x = g^-1(y)
#pragma once

#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../detail/interval.hpp"
#include "../detail/math.hpp"

namespace flowtmpl::detail {

template <class Derived, int D, class S>
struct elementwise {
  using scalar_type = S;
  using structure = flowtmpl::structure::diagonal;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::input_dependent;
  using vec = Eigen::Matrix<S, D, 1>;
  using arr = Eigen::Array<S, D, 1>;

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const { return self().fwd(x.array()).matrix(); }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const { return self().inv(y.array()).matrix(); }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& x) const { return self().log_dfdx(x.array()).sum(); }

  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& x) const {
    return {forward(x), log_det(x)};
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const {
    const arr x = self().inv(y.array());
    if constexpr (requires { self().log_dinv(y.array()); }) {
      return {x.matrix(), self().log_dinv(y.array()).sum()};
    } else {
      return {x.matrix(), -self().log_dfdx(x).sum()};
    }
  }
  Eigen::Matrix<S, D, D> jacobian(const vec& x) const {
    return detail::exp(self().log_dfdx(x.array())).matrix().asDiagonal();
  }

  // The layer has no parameters: grad is not touched.
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& x, const vec& gy, S gld, Derived&) const {
    const arr xa = x.array();
    return (gy.array() * detail::exp(self().log_dfdx(xa)) + gld * self().dlog_dfdx(xa)).matrix();
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& y, const vec& gx, S gld, Derived&) const {
    const arr x = self().inv(y.array());
    arr dinv;
    if constexpr (requires { self().log_dinv(y.array()); })
      dinv = detail::exp(self().log_dinv(y.array()));
    else
      dinv = detail::exp(arr(-self().log_dfdx(x)));
    return ((gx.array() - gld * self().dlog_dfdx(x)) * dinv).matrix();
  }

 private:
  FLOWTMPL_HOST_DEVICE const Derived& self() const { return static_cast<const Derived&>(*this); }
};

}  // namespace flowtmpl::detail
