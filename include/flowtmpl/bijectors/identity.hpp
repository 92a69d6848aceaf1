// flowtmpl/bijectors/identity.hpp: Identity, y = x.
// Domain: all of R^D. Structure: identity. Log-det: zero. Cost: nothing.
#pragma once

#include "../detail/eigen.hpp"

#include "../core.hpp"

namespace flowtmpl {

template <int D, class S>
struct IdentityBijector {
  using scalar_type = S;
  using structure = flowtmpl::structure::identity;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::zero;
  static constexpr const char* name = "Identity";
  using vec = Eigen::Matrix<S, D, 1>;

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const { return x; }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const { return y; }
  FLOWTMPL_HOST_DEVICE S log_det(const vec&) const { return S(0); }
  Eigen::Matrix<S, D, D> jacobian(const vec&) const { return Eigen::Matrix<S, D, D>::Identity(); }
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec&, const vec& gy, S, IdentityBijector&) const { return gy; }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec&, const vec& gx, S, IdentityBijector&) const { return gx; }
};

struct Identity : bijector_spec {
  template <int D, class S>
  using bind = IdentityBijector<D, S>;
};

}  // namespace flowtmpl
