// flowtmpl/bijectors/affine_family.hpp: what Scale, Affine and ActNorm share, the map
// y = scale * x + shift with scale = exp(log_scale) > 0, evaluated after scale and its
// reciprocal were computed once (prepare()).
#pragma once

#include <array>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../detail/math.hpp"

namespace flowtmpl::detail {

template <int D, class S>
using cmap = Eigen::Map<const Eigen::Array<S, D, 1>>;

template <int D, class S>
struct prepared_affine {
  using scalar_type = S;
  using structure = flowtmpl::structure::diagonal;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::constant;
  static constexpr const char* name = "Affine (prepared)";
  using vec = Eigen::Matrix<S, D, 1>;

  std::array<S, D> scale, inv_scale, shift;
  S log_det_value;

  static prepared_affine from(const std::array<S, D>& log_scale, const std::array<S, D>* shift_or_null) {
    prepared_affine p;
    const cmap<D, S> ls(log_scale.data());
    Eigen::Map<Eigen::Array<S, D, 1>>(p.scale.data()) = detail::exp(ls);
    Eigen::Map<Eigen::Array<S, D, 1>>(p.inv_scale.data()) = detail::exp(-ls);
    if (shift_or_null)
      p.shift = *shift_or_null;
    else
      p.shift.fill(S(0));
    p.log_det_value = ls.sum();
    return p;
  }

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const {
    return (x.array() * cmap<D, S>(scale.data()) + cmap<D, S>(shift.data())).matrix();
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const {
    return ((y.array() - cmap<D, S>(shift.data())) * cmap<D, S>(inv_scale.data())).matrix();
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec&) const { return log_det_value; }
  FLOWTMPL_HOST_DEVICE S constant_log_det() const { return log_det_value; }
  Eigen::Matrix<S, D, D> jacobian(const vec&) const { return cmap<D, S>(scale.data()).matrix().asDiagonal(); }
};

// y = exp(log_scale) * x + shift, written for a layer with members log_scale and shift.
template <class Derived, int D, class S>
struct affine_ops {
  using scalar_type = S;
  using structure = flowtmpl::structure::diagonal;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::constant;
  using vec = Eigen::Matrix<S, D, 1>;

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const {
    return (x.array() * detail::exp(ls()) + sh()).matrix();
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const {
    return ((y.array() - sh()) * detail::exp(-ls())).matrix();
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec&) const { return constant_log_det(); }
  FLOWTMPL_HOST_DEVICE S constant_log_det() const { return ls().sum(); }
  Eigen::Matrix<S, D, D> jacobian(const vec&) const { return detail::exp(ls()).matrix().asDiagonal(); }

  // gradients (flowtmpl/differentiable.hpp). Forward: gx = gy e^s, d/ds = gy x e^s + gld,
  // d/dshift = gy. Inverse, x = (y - shift) e^-s, ild = -sum s: gy = gx e^-s,
  // d/ds = -gx x - gld, d/dshift = -gx e^-s.
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& x, const vec& gy, S gld, Derived& grad) const {
    using A = Eigen::Array<S, D, 1>;
    const A e = detail::exp(ls());
    const A gxa = gy.array() * e;
    Eigen::Map<A>(grad.log_scale.data()) += gxa * x.array() + gld;
    if constexpr (requires { grad.shift; }) Eigen::Map<A>(grad.shift.data()) += gy.array();
    return gxa.matrix();
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& y, const vec& gx, S gld, Derived& grad) const {
    using A = Eigen::Array<S, D, 1>;
    const A ei = detail::exp(-ls());
    const A x = (y.array() - sh()) * ei;
    const A gya = gx.array() * ei;
    Eigen::Map<A>(grad.log_scale.data()) -= gx.array() * x + gld;
    if constexpr (requires { grad.shift; }) Eigen::Map<A>(grad.shift.data()) -= gya;
    return gya.matrix();
  }

  // The same over a block (training.hpp's block path): V (D x n) the input of direction
  // Forward, G the output's cotangents on entry and the input's on return, gld every
  // sample's log-det cotangent; the parameters' cotangents summed over the columns.
  template <direction Dir>
  void vjp_block(const Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld,
                 Derived& grad) const {
    using A = Eigen::Array<S, D, 1>;
    const S n = S(V.cols());
    if constexpr (Dir == direction::forward) {
      if constexpr (requires { grad.shift; }) Eigen::Map<A>(grad.shift.data()) += G.array().rowwise().sum();
      G.array().colwise() *= detail::exp(ls());  // gx = gy e^s
      Eigen::Map<A>(grad.log_scale.data()) += (G.array() * V.array()).rowwise().sum() + n * gld;
    } else {
      const A ei = detail::exp(-ls());
      const Eigen::Array<S, D, Eigen::Dynamic> X = (V.array().colwise() - sh()).colwise() * ei;
      Eigen::Map<A>(grad.log_scale.data()) -= (G.array() * X).rowwise().sum() + n * gld;
      G.array().colwise() *= ei;  // gy = gx e^-s
      if constexpr (requires { grad.shift; }) Eigen::Map<A>(grad.shift.data()) -= G.array().rowwise().sum();
    }
  }

  prepared_affine<D, S> prepare() const {
    const auto& d = static_cast<const Derived&>(*this);
    if constexpr (requires { d.shift; })
      return prepared_affine<D, S>::from(d.log_scale, &d.shift);
    else
      return prepared_affine<D, S>::from(d.log_scale, nullptr);
  }

 private:
  FLOWTMPL_HOST_DEVICE cmap<D, S> ls() const { return cmap<D, S>(static_cast<const Derived&>(*this).log_scale.data()); }
  FLOWTMPL_HOST_DEVICE auto sh() const {
    const auto& d = static_cast<const Derived&>(*this);
    if constexpr (requires { d.shift; })
      return cmap<D, S>(d.shift.data());
    else
      return Eigen::Array<S, D, 1>::Zero();
  }
};

}  // namespace flowtmpl::detail
