// flowtmpl/transformers/zuko_affine.hpp: the affine transformer in zuko's
// parameterisation (zuko.transforms.MonotonicAffineTransform, the transformer of zuko's
// MAF and RealNVP), so that parameters trained with zuko give the same function.
//
// ZukoAffine<Slope = 1e-3>: raw parameters (t, a) per feature, in zuko's order (shift,
// then the unconstrained scale). log-scale s = a / (1 + |a / log(Slope)|) (soft clipping:
// |s| < |log Slope|, so the scale lies in (Slope, 1/Slope)), y = x exp(s) + t,
// log dy/dx = s; the inverse (y - t) / exp(s). Domain R. Identity at (0, 0).
#pragma once

#include <cmath>

#include "../config.hpp"
#include "transformer.hpp"
#include "zuko_spline.hpp"

namespace flowtmpl {

namespace detail {

template <int N, class S, double Slope>
struct zuko_affine_transformer {
  static_assert(Slope > 0.0 && Slope < 1.0, "flowtmpl: ZukoAffine<Slope>: the minimum slope must be in (0, 1)");
  using scalar_type = S;
  static constexpr int features = N;
  static constexpr int params_per_feature = 2;
  static constexpr bool volume_preserving = false;
  static constexpr const char* name = "ZukoAffine";
  static constexpr double slope = Slope;

  FLOWTMPL_HOST_DEVICE static S clip() {
    using std::log;
    return S(log(Slope));
  }
  FLOWTMPL_HOST_DEVICE S forward(int, S x, const S* p, S& ld) const {
    using std::exp;
    ld = soft_clip(p[1], clip());
    return x * exp(ld) + p[0];
  }
  FLOWTMPL_HOST_DEVICE S inverse(int, S y, const S* p, S& ld) const {
    using std::exp;
    const S s = soft_clip(p[1], clip());
    ld = -s;
    return (y - p[0]) / exp(s);
  }
  FLOWTMPL_HOST_DEVICE transformer_derivatives<S> derivatives(int, S x, const S* p, S* dy_dp, S* dld_dp) const {
    using std::exp;
    const S s = soft_clip(p[1], clip());
    const S scale = exp(s);
    const S ds = soft_clip_derivative(p[1], clip());
    dy_dp[0] = S(1);
    dld_dp[0] = S(0);
    dy_dp[1] = x * scale * ds;
    dld_dp[1] = ds;
    return {x * scale + p[0], s, scale, S(0)};
  }
  static void identity_parameters(S* p) {
    p[0] = S(0);
    p[1] = S(0);
  }
};

}  // namespace detail

template <double Slope = 1e-3>
struct ZukoAffine {
  template <int N, class S>
  using transformer = detail::zuko_affine_transformer<N, S, Slope>;
};

}  // namespace flowtmpl
