// flowtmpl/bijectors/scale.hpp: Scale, y = exp(log_scale) * x, elementwise.
// The scale is kept positive by its log parameterisation. Domain: R^D both ways (a
// log_scale above log(max) overflows the scale to inf: keep parameters finite and
// moderate). Structure: diagonal. Log-det: sum(log_scale), constant. Cost: D multiplies
// after prepare(), D exp + D multiplies per sample otherwise.
// Parameters: log_scale[D], initially 0 (the identity).
#pragma once

#include <boost/hana/define_struct.hpp>

#include "affine_family.hpp"

namespace flowtmpl {

template <int D, class S>
struct ScaleBijector : detail::affine_ops<ScaleBijector<D, S>, D, S> {
  static constexpr const char* name = "Scale";
  BOOST_HANA_DEFINE_STRUCT(ScaleBijector, (std::array<S, D>, log_scale));
  ScaleBijector() : log_scale{} {}
};

struct Scale : bijector_spec {
  template <int D, class S>
  using bind = ScaleBijector<D, S>;
};

}  // namespace flowtmpl
