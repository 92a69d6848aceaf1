// flowtmpl/transformers/affine.hpp: affine transformers, y = exp(s) x + t.
//
// BoundedAffine<C = 3.0, Bound = affine_bound::fixed> (also what the spec Affine means
//   as a transformer, in Coupling<Affine, ...>): raw parameters (r, t) per feature,
//   log-scale s = c tanh(r / c), so |s| < c and a large conditioner output cannot
//   overflow the scale (RealNVP, Glow). c = C, or with affine_bound::learnable a trained
//   parameter per feature, c_i = exp(log_bound[i]), starting at C. Identity at
//   (r, t) = (0, 0).
// SoftplusAffine: nflows's MaskedAffineAutoregressiveTransform parameterisation,
//   raw (u, t) per feature, scale = softplus(u) + 1e-3 (torch's softplus: u itself for
//   u > 20), y = scale x + t. Identity at u = log(exp(1 - 1e-3) - 1), t = 0.
// Both: domain R, log dy/dx = log scale, never NaN for finite inputs and parameters
// (exp(s) with |s| < c is finite; softplus(u) + 1e-3 >= 1e-3 > 0).
#pragma once

#include <array>
#include <cmath>
#include <type_traits>

#include "../direction.hpp"
#include "../detail/eigen.hpp"
#include <boost/hana/define_struct.hpp>

#include "../detail/rq_spline.hpp"
#include "transformer.hpp"

namespace flowtmpl {

namespace detail {
// sech^2(z) = 4 a / (1 + a)^2 with a = exp(-2 |z|): no overflow, 0 for large |z|.
template <class S>
FLOWTMPL_HOST_DEVICE inline S sech_squared(S z) {
  using std::abs, std::exp;
  const S a = exp(S(-2) * abs(z));
  return S(4) * a / ((S(1) + a) * (S(1) + a));
}
// tanh(z) - z sech^2(z) = (sinh(2z) - 2z) / (2 cosh^2 z) (= c ds/dc for s = c tanh(r/c),
// z = r/c). For |z| < 1/2 by the series of sinh(u) - u, u = 2z, to 8 terms (relative
// truncation error below 1e-16; the direct form cancels there: the value is 2 z^3 / 3
// + O(z^5)); beyond, directly (cancellation at most a factor of 7 at |z| = 1/2).
template <class S>
FLOWTMPL_HOST_DEVICE inline S tanh_minus_z_sech_squared(S z) {
  using std::abs, std::cosh, std::tanh;
  if (abs(z) < S(0.5)) {
    const S u = S(2) * z, u2 = u * u;
    const S series =
        S(1) +
        u2 / S(20) *
            (S(1) +
             u2 / S(42) *
                 (S(1) + u2 / S(72) *
                             (S(1) + u2 / S(110) *
                                         (S(1) + u2 / S(156) * (S(1) + u2 / S(210) * (S(1) + u2 / S(272)))))));
    const S ch = cosh(z);
    return u * u2 / S(6) * series / (S(2) * ch * ch);
  }
  return tanh(z) - z * sech_squared(z);
}

// y = exp(s) x + t with s = c tanh(r / c); Derived gives the bound c of feature i.
template <class Derived, int N, class S>
struct tanh_bounded_affine_ops {
  using scalar_type = S;
  static constexpr int features = N;
  static constexpr int params_per_feature = 2;
  static constexpr bool volume_preserving = false;
  FLOWTMPL_HOST_DEVICE S log_scale(int i, S r) const {
    using std::tanh;
    const S c = static_cast<const Derived&>(*this).bound(i);
    return c * tanh(r / c);
  }
  FLOWTMPL_HOST_DEVICE S forward(int i, S x, const S* p, S& ld) const {
    using std::exp;
    ld = log_scale(i, p[0]);
    return exp(ld) * x + p[1];
  }
  FLOWTMPL_HOST_DEVICE S inverse(int i, S y, const S* p, S& ld) const {
    using std::exp;
    const S s = log_scale(i, p[0]);
    ld = -s;
    return (y - p[1]) * exp(-s);
  }
  // Feature i of a block of samples at once (host: the block path of couplings and MADE
  // layers): v (1 x n) in place, its raw parameters in rows first and first + 1 of theta
  // (the conditioner's output block); the log-dets are added to ld. Eigen's vectorized
  // tanh and exp: the per-sample formulas, within a few ulp of them.
  template <direction Dir, class V, class Theta, class L>
  void apply_row(int i, V&& v, const Theta& theta, Eigen::Index first, L&& ld) const {
    using A = Eigen::Array<S, 1, Eigen::Dynamic>;
    const S c = static_cast<const Derived&>(*this).bound(i);
    // contiguous copies: the rows of a column-major block are strided, and Eigen
    // vectorizes contiguous operands only
    const A r = theta.row(first).array(), t = theta.row(first + 1).array();
    A x = v.array();
    const A s = c * (r / c).tanh();
    if constexpr (Dir == direction::forward) {
      x = s.exp() * x + t;
      ld.array() += s;
    } else {
      x = (x - t) * (-s).exp();
      ld.array() -= s;
    }
    v = x.matrix();
  }
  // The vector-Jacobian product of feature i over a block of samples at once (host: the
  // block gradient of couplings and MADE layers): transformer_vjp<Dir> of every column,
  // with Eigen's vectorized tanh and exp (the per-sample formulas, within a few ulp of
  // them; NaN where the per-sample path gives NaN). v (1 x n): the layer's input row in
  // direction Dir; its raw parameters in rows first and first + 1 of theta; g (1 x n):
  // the cotangents of the output on entry, of the input on return; gld: every sample's
  // log-det cotangent. The parameters' cotangents are added into rows first and
  // first + 1 of gtheta, a learnable bound's into *grad (when grad is not null).
  template <direction Dir, class V, class Theta, class G, class GTheta>
  void vjp_row(int i, const V& v, const Theta& theta, Eigen::Index first, G&& g, S gld, GTheta& gtheta,
               Derived* grad) const {
    using A = Eigen::Array<S, 1, Eigen::Dynamic>;
    const S c = static_cast<const Derived&>(*this).bound(i);
    // contiguous copies, as in apply_row
    const A r = theta.row(first).array(), z = r / c;
    const A s = c * z.tanh(), scale = s.exp();
    const A a = (S(-2) * z.abs()).exp();
    const A ds_dr = S(4) * a / ((S(1) + a) * (S(1) + a));  // sech^2(r / c), as sech_squared
    A gy = g.array();
    A x = v.array();
    if constexpr (Dir == direction::inverse) {
      x = (x - theta.row(first + 1).array()) * (-s).exp();  // the forward's input
      gy = gy / scale;
    }
    // wy dy/dr + wld dld/dr, dy/dr = exp(s) x sech^2, dld/dr = sech^2, (wy, wld) = +-(gy, gld)
    const A gr = gy * (scale * x * ds_dr) + gld * ds_dr;
    if constexpr (Dir == direction::forward) {
      gtheta.row(first).array() += gr;
      gtheta.row(first + 1).array() += gy;
      g = (gy * scale).matrix();
    } else {
      gtheta.row(first).array() -= gr;
      gtheta.row(first + 1).array() -= gy;
      g = gy.matrix();
    }
    if constexpr (requires(const Derived& d, S q, Derived& gd) { d.own_vjp(i, q, &q, q, q, gd); }) {
      if (grad) {
        const S sign = Dir == direction::forward ? S(1) : S(-1);
        for (Eigen::Index col = 0; col < x.cols(); ++col) {
          const S p[2] = {r[col], theta(first + 1, col)};
          static_cast<const Derived&>(*this).own_vjp(i, x[col], p, sign * gy[col], sign * gld, *grad);
        }
      }
    }
  }
  // dy/dx = exp(s), dy/dr = exp(s) x sech^2(r/c), dy/dt = 1; ld = s: dld/dr = sech^2(r/c)
  FLOWTMPL_HOST_DEVICE transformer_derivatives<S> derivatives(int i, S x, const S* p, S* dy_dp, S* dld_dp) const {
    using std::exp;
    transformer_derivatives<S> r;
    r.value = forward(i, x, p, r.log_det);
    const S scale = exp(r.log_det);
    const S ds_dr = sech_squared(p[0] / static_cast<const Derived&>(*this).bound(i));
    r.dvalue_dx = scale;
    r.dlog_det_dx = S(0);
    dy_dp[0] = scale * x * ds_dr;
    dy_dp[1] = S(1);
    dld_dp[0] = ds_dr;
    dld_dp[1] = S(0);
    return r;
  }
  FLOWTMPL_HOST_DEVICE static void identity_parameters(S* p) {
    p[0] = S(0);
    p[1] = S(0);
  }
};

template <int N, class S, double C>
struct bounded_affine_transformer : tanh_bounded_affine_ops<bounded_affine_transformer<N, S, C>, N, S> {
  static_assert(C > 0.0, "flowtmpl: BoundedAffine: the bound C must be positive");
  static constexpr const char* name = "BoundedAffine";
  FLOWTMPL_HOST_DEVICE S bound(int) const { return S(C); }
};

template <int N, class S, double C>
struct learnable_bound_affine_transformer
    : tanh_bounded_affine_ops<learnable_bound_affine_transformer<N, S, C>, N, S> {
  static_assert(C > 0.0, "flowtmpl: BoundedAffine: the bound C must be positive");
  static constexpr const char* name = "BoundedAffine (learnable bound)";
  BOOST_HANA_DEFINE_STRUCT(learnable_bound_affine_transformer, (std::array<S, N>, log_bound));
  learnable_bound_affine_transformer() { log_bound.fill(S(std::log(C))); }

  FLOWTMPL_HOST_DEVICE S bound(int i) const {
    using std::exp;
    return exp(log_bound[i]);
  }
  // grad.log_bound[i] += (wy dy/ds + wld dld/ds) ds/dlog c, with dy/ds = exp(s) x,
  // dld/ds = 1 and ds/dlog c = c ds/dc = c (tanh(z) - z sech^2(z)), z = r / c.
  FLOWTMPL_HOST_DEVICE void own_vjp(int i, S x, const S* p, S wy, S wld,
                                    learnable_bound_affine_transformer& grad) const {
    using std::exp;
    const S c = bound(i);
    const S s = this->log_scale(i, p[0]);
    const S ds_dlogc = c * tanh_minus_z_sech_squared(p[0] / c);
    grad.log_bound[i] += (wy * exp(s) * x + wld) * ds_dlogc;
  }
  const char* validate() const {
    for (int i = 0; i < N; ++i)
      if (!std::isfinite(log_bound[i])) return "log_bound must be finite";
    return nullptr;
  }
};

template <int N, class S>
struct softplus_affine_transformer {
  using scalar_type = S;
  static constexpr int features = N;
  static constexpr int params_per_feature = 2;
  static constexpr bool volume_preserving = false;
  static constexpr const char* name = "SoftplusAffine";
  FLOWTMPL_HOST_DEVICE static S scale(S u) { return torch_softplus(u, S(1)) + S(1e-3); }
  FLOWTMPL_HOST_DEVICE S forward(int, S x, const S* p, S& ld) const {
    using std::log;
    const S a = scale(p[0]);
    ld = log(a);
    return a * x + p[1];
  }
  FLOWTMPL_HOST_DEVICE S inverse(int, S y, const S* p, S& ld) const {
    using std::log;
    const S a = scale(p[0]);
    ld = -log(a);
    return (y - p[1]) / a;
  }
  // dy/dx = a, dy/du = x da/du, dy/dt = 1; ld = log a: dld/du = (da/du) / a, with
  // da/du = sigmoid(u) (1 past torch's threshold 20)
  FLOWTMPL_HOST_DEVICE transformer_derivatives<S> derivatives(int i, S x, const S* p, S* dy_dp, S* dld_dp) const {
    transformer_derivatives<S> r;
    r.value = forward(i, x, p, r.log_det);
    const S a = scale(p[0]);
    const S da = torch_softplus_derivative(p[0], S(1));
    r.dvalue_dx = a;
    r.dlog_det_dx = S(0);
    dy_dp[0] = x * da;
    dy_dp[1] = S(1);
    dld_dp[0] = da / a;
    dld_dp[1] = S(0);
    return r;
  }
  FLOWTMPL_HOST_DEVICE static void identity_parameters(S* p) {
    p[0] = S(0.5397424172369522);  // log(exp(0.999) - 1): softplus(u) + 1e-3 = 1
    p[1] = S(0);
  }
};
}  // namespace detail

// The bound c of BoundedAffine's log-scale: the constant C, or a trained parameter per
// feature starting at C.
enum class affine_bound { fixed, learnable };

template <double C = 3.0, affine_bound Bound = affine_bound::fixed>
struct BoundedAffine {
  template <int N, class S>
  using transformer = std::conditional_t<Bound == affine_bound::learnable,
                                         detail::learnable_bound_affine_transformer<N, S, C>,
                                         detail::bounded_affine_transformer<N, S, C>>;
};

struct SoftplusAffine {
  template <int N, class S>
  using transformer = detail::softplus_affine_transformer<N, S>;
};

}  // namespace flowtmpl
