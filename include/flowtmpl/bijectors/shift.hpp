// flowtmpl/bijectors/shift.hpp: Shift, y = x + shift (a learnable vector).
// Domain: R^D both ways. Structure: identity (J = I). Log-det: zero. Cost: D adds.
// Parameters: shift[D], initially 0.
#pragma once

#include <array>

#include <boost/hana/define_struct.hpp>
#include "../detail/eigen.hpp"

#include "../core.hpp"

namespace flowtmpl {

template <int D, class S>
struct ShiftBijector {
  using scalar_type = S;
  using structure = flowtmpl::structure::identity;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::zero;
  static constexpr const char* name = "Shift";
  using vec = Eigen::Matrix<S, D, 1>;

  BOOST_HANA_DEFINE_STRUCT(ShiftBijector, (std::array<S, D>, shift));

  ShiftBijector() : shift{} {}

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const { return x + Eigen::Map<const vec>(shift.data()); }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const { return y - Eigen::Map<const vec>(shift.data()); }
  FLOWTMPL_HOST_DEVICE S log_det(const vec&) const { return S(0); }
  Eigen::Matrix<S, D, D> jacobian(const vec&) const { return Eigen::Matrix<S, D, D>::Identity(); }
  // gradients (flowtmpl/differentiable.hpp): y = x + shift
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec&, const vec& gy, S, ShiftBijector& grad) const {
    Eigen::Map<vec>(grad.shift.data()) += gy;
    return gy;
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec&, const vec& gx, S, ShiftBijector& grad) const {
    Eigen::Map<vec>(grad.shift.data()) -= gx;
    return gx;
  }
};

struct Shift : bijector_spec {
  template <int D, class S>
  using bind = ShiftBijector<D, S>;
};

}  // namespace flowtmpl
