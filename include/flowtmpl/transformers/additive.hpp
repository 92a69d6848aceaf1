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
  FLOWTMPL_HOST_DEVICE static void identity_parameters(S* p) { p[0] = S(0); }
};
}  // namespace detail

struct Additive {
  template <int N, class S>
  using transformer = detail::additive_transformer<N, S>;
};

}  // namespace flowtmpl
