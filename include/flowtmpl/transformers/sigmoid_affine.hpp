// flowtmpl/transformers/sigmoid_affine.hpp: the affine transformer of nflows's affine
// coupling (nflows.transforms.coupling.AffineCouplingTransform), so that parameters
// trained with nflows give the same function.
//
// SigmoidAffine: raw parameters (u, t) per feature, scale a = sigmoid(u + 2) + 1e-3 (in
// (1e-3, 1.001): the layer can only shrink, by at most 1000), y = a x + t, log dy/dx =
// log a; the inverse (y - t) / a. Identity parameters: u = logit(0.999) - 2, t = 0.
// Domain R. nflows lays the coupling's parameters out as all shifts, then all
// unconstrained scales; flowtmpl's couplings are feature-major, (u_i, t_i) per feature:
// the exporter (tools/export) reorders the conditioner's last layer accordingly.
#pragma once

#include <cmath>

#include "../config.hpp"
#include "transformer.hpp"

namespace flowtmpl {

namespace detail {

template <int N, class S>
struct sigmoid_affine_transformer {
  using scalar_type = S;
  static constexpr int features = N;
  static constexpr int params_per_feature = 2;
  static constexpr bool volume_preserving = false;
  static constexpr const char* name = "SigmoidAffine";

  // sigmoid(u + 2) without overflow for either sign, and its derivative s (1 - s)
  FLOWTMPL_HOST_DEVICE static S shifted_sigmoid(S u) {
    using std::exp;
    const S z = u + S(2);
    if (z >= S(0)) return S(1) / (S(1) + exp(-z));
    const S e = exp(z);
    return e / (S(1) + e);
  }
  FLOWTMPL_HOST_DEVICE static S scale(S u) { return shifted_sigmoid(u) + S(1e-3); }
  FLOWTMPL_HOST_DEVICE S forward(int, S x, const S* p, S& ld) const {
    using std::log;
    const S a = scale(p[0]);
    ld = log(a);
    return x * a + p[1];
  }
  FLOWTMPL_HOST_DEVICE S inverse(int, S y, const S* p, S& ld) const {
    using std::log;
    const S a = scale(p[0]);
    ld = -log(a);
    return (y - p[1]) / a;
  }
  // dy/dx = a, dy/du = x da/du, dy/dt = 1; ld = log a: dld/du = (da/du) / a, with
  // da/du = s (1 - s), s = sigmoid(u + 2)
  FLOWTMPL_HOST_DEVICE transformer_derivatives<S> derivatives(int i, S x, const S* p, S* dy_dp, S* dld_dp) const {
    transformer_derivatives<S> r;
    r.value = forward(i, x, p, r.log_det);
    const S s = shifted_sigmoid(p[0]);
    const S a = s + S(1e-3);
    const S da = s * (S(1) - s);
    r.dvalue_dx = a;
    r.dlog_det_dx = S(0);
    dy_dp[0] = x * da;
    dy_dp[1] = S(1);
    dld_dp[0] = da / a;
    dld_dp[1] = S(0);
    return r;
  }
  FLOWTMPL_HOST_DEVICE static void identity_parameters(S* p) {
    p[0] = S(4.906754778648554);  // logit(0.999) - 2: sigmoid(u + 2) + 1e-3 = 1
    p[1] = S(0);
  }
};

}  // namespace detail

struct SigmoidAffine {
  template <int N, class S>
  using transformer = detail::sigmoid_affine_transformer<N, S>;
};

}  // namespace flowtmpl
