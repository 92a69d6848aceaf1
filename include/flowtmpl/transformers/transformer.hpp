// flowtmpl/transformers/transformer.hpp: what transformers share (the Transformer and
// TransformerSpec concepts themselves are in flowtmpl/concepts.hpp). A transformer is the
// monotone elementwise map y_i = tau(x_i; theta_i) that a conditioner parameterises in
// a coupling or autoregressive layer; theta_i, the raw parameters of feature i, are
// params_per_feature consecutive outputs of the conditioner (feature-major: feature i
// owns outputs [i P, (i + 1) P)). The transformer is applied in the layer's forward
// (sampling) direction.
//
// A transformer spec T (Additive, Affine, SoftplusAffine, Spline<K>, BoundedSpline<K>)
// has a member alias template `transformer<N, S>`: the bound transformer for N
// transformed features. The bound transformer provides
//   scalar_type, features (= N), params_per_feature, name
//   volume_preserving        true when log|dy/dx| = 0 for all inputs and parameters
//   forward(i, x, p, ld)     y = tau(x; p) for feature i, ld = log dy/dx
//   inverse(i, y, p, ld)     x = tau^-1(y; p), ld = log dx/dy
//   identity_parameters(p)   writes raw parameters for which tau is the identity
//                            (static; used by the identity start of the conditioners)
//   domain()                 (optional, static) the interval of x and y, if not R
// It may hold trained parameters of its own (Affine with a learnable bound), declared
// with BOOST_HANA_DEFINE_STRUCT like any layer's.
//
// Gradients (flowtmpl/differentiable.hpp): a bound transformer also provides
//   derivatives(i, x, p, dy_dp, dld_dp) -> transformer_derivatives<S>
//       at x (in its forward direction): y = tau(x; p), ld = log tau'(x; p), dy/dx and
//       d ld/dx, and writes dy/dp_k and d ld/dp_k into dy_dp[k], dld_dp[k], k < P.
//   own_vjp(i, x, p, wy, wld, grad)   (only with parameters of its own) adds
//       wy dy/dw + wld d ld/dw for its own parameters w into grad (a value of its type).
// transformer_forward_vjp / transformer_inverse_vjp below turn these into the
// vector-Jacobian products of either direction (the inverse's by implicit
// differentiation at x = tau^-1(y): dx/dy = 1 / tau', dx/dp = -(dy/dp) / tau').
#pragma once

#include <concepts>

#include "../concepts.hpp"
#include "../config.hpp"
#include "../direction.hpp"
#include "../detail/eigen.hpp"

namespace flowtmpl {

template <class S>
struct transformer_derivatives {
  S value;        // tau(x; p)
  S log_det;      // log tau'(x; p)
  S dvalue_dx;    // tau'(x; p)
  S dlog_det_dx;  // d/dx log tau'(x; p)
};

namespace detail {
// Forward direction, y = tau(x; p), ld = log tau'(x; p), with cotangents gy, gld:
// returns gx; adds the parameters' cotangents into gp[0..P) and (when grad is not
// nullptr) the transformer's own into *grad.
template <class T, class S>
FLOWTMPL_HOST_DEVICE S transformer_forward_vjp(const T& t, int i, S x, const S* p, S gy, S gld, S* gp, T* grad) {
  S dy[T::params_per_feature], dl[T::params_per_feature];
  const transformer_derivatives<S> d = t.derivatives(i, x, p, dy, dl);
  for (int k = 0; k < T::params_per_feature; ++k) gp[k] += gy * dy[k] + gld * dl[k];
  if constexpr (requires { t.own_vjp(i, x, p, gy, gld, *grad); })
    if (grad) t.own_vjp(i, x, p, gy, gld, *grad);
  return gy * d.dvalue_dx + gld * d.dlog_det_dx;
}
// Inverse direction, x = tau^-1(y; p), ld = -log tau'(x; p), with cotangents gx, gld:
// returns gy, adds into gp and *grad as above.
template <class T, class S>
FLOWTMPL_HOST_DEVICE S transformer_inverse_vjp(const T& t, int i, S y, const S* p, S gx, S gld, S* gp, T* grad) {
  S unused;
  const S x = t.inverse(i, y, p, unused);
  S dy[T::params_per_feature], dl[T::params_per_feature];
  const transformer_derivatives<S> d = t.derivatives(i, x, p, dy, dl);
  const S gy = (gx - gld * d.dlog_det_dx) / d.dvalue_dx;
  for (int k = 0; k < T::params_per_feature; ++k) gp[k] -= gy * dy[k] + gld * dl[k];
  if constexpr (requires { t.own_vjp(i, x, p, gy, gld, *grad); })
    if (grad) t.own_vjp(i, x, p, -gy, -gld, *grad);
  return gy;
}

// transformer_forward_vjp for direction::forward, transformer_inverse_vjp for
// direction::inverse (v: x or y, g: the cotangent of the result).
template <direction Dir, class T, class S>
FLOWTMPL_HOST_DEVICE S transformer_vjp(const T& t, int i, S v, const S* p, S g, S gld, S* gp, T* grad) {
  if constexpr (Dir == direction::forward)
    return transformer_forward_vjp(t, i, v, p, g, gld, gp, grad);
  else
    return transformer_inverse_vjp(t, i, v, p, g, gld, gp, grad);
}

// t.forward for direction::forward, t.inverse for direction::inverse.
template <direction Dir, class T, class S>
FLOWTMPL_HOST_DEVICE S transformer_apply(const T& t, int i, S v, const S* p, S& ld) {
  if constexpr (Dir == direction::forward)
    return t.forward(i, v, p, ld);
  else
    return t.inverse(i, v, p, ld);
}

// Feature i of a block of samples (host: the block paths of coupling and autoregressive
// layers): v (1 x n) in place, its raw parameters in rows first .. first + P - 1 of
// theta (either storage order), its log-dets added to acc (1 x n). The transformer's row form
// (apply_row, vectorized over the block) where it has one, else per column; either way
// each column's log-dets are summed feature by feature, as the per-sample path sums them.
template <direction Dir, class T, class V, class Theta, class L>
void transform_row(const T& t, int i, V&& v, const Theta& theta, Eigen::Index first, L& acc) {
  using S = typename T::scalar_type;
  if constexpr (requires { t.template apply_row<Dir>(i, v, theta, first, acc); }) {
    t.template apply_row<Dir>(i, v, theta, first, acc);
  } else {
    for (Eigen::Index col = 0; col < v.cols(); ++col) {
      S th[T::params_per_feature];
      for (int q = 0; q < T::params_per_feature; ++q) th[q] = theta(first + q, col);
      S l;
      v(col) = transformer_apply<Dir>(t, i, S(v(col)), th, l);
      acc[col] += l;
    }
  }
}
}  // namespace detail

}  // namespace flowtmpl
