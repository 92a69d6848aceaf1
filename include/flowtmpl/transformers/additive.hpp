// flowtmpl/transformers/additive.hpp: Additive, the transformer of NICE (Dinh et al.
// 2014): y = x + t with one raw parameter t per feature. Volume preserving: a coupling
// with it has a zero log-det (log_det_kind::zero). Domain R. Identity at t = 0.
#pragma once

#include "transformer.hpp"

namespace flowtmpl {

namespace detail {
template <int N, class S>
struct additive_transformer {
  using scalar_type = S;
  static constexpr int features = N;
  static constexpr int params_per_feature = 1;
  static constexpr bool volume_preserving = true;
  static constexpr const char* name = "Additive";
  FLOWTMPL_HOST_DEVICE S forward(int, S x, const S* p, S& ld) const {
    ld = S(0);
    return x + p[0];
  }
  FLOWTMPL_HOST_DEVICE S inverse(int, S y, const S* p, S& ld) const {
    ld = S(0);
    return y - p[0];
  }
  // dy/dx = 1, dy/dt = 1, ld = 0
  FLOWTMPL_HOST_DEVICE transformer_derivatives<S> derivatives(int i, S x, const S* p, S* dy_dp, S* dld_dp) const {
    transformer_derivatives<S> r;
    r.value = forward(i, x, p, r.log_det);
    r.dvalue_dx = S(1);
    r.dlog_det_dx = S(0);
    dy_dp[0] = S(1);
    dld_dp[0] = S(0);
    return r;
  }
  FLOWTMPL_HOST_DEVICE static void identity_parameters(S* p) { p[0] = S(0); }
};
}  // namespace detail

struct Additive {
  template <int N, class S>
  using transformer = detail::additive_transformer<N, S>;
};

}  // namespace flowtmpl
