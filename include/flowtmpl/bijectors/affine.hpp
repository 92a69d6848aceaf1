// flowtmpl/bijectors/affine.hpp: Affine, y = exp(log_scale) * x + shift, elementwise.
// Domain: R^D both ways. Structure: diagonal. Log-det: sum(log_scale), constant.
// Cost: D fused multiply-adds after prepare(). Parameters: log_scale[D], shift[D],
// initially 0 (the identity). As a transformer (Coupling<Affine, ...>) it is
// BoundedAffine<3.0>: see transformers/affine.hpp.
#pragma once

#include <boost/hana/define_struct.hpp>

#include "../transformers/affine.hpp"
#include "affine_family.hpp"

namespace flowtmpl {

template <int D, class S>
struct AffineBijector : detail::affine_ops<AffineBijector<D, S>, D, S> {
  static constexpr const char* name = "Affine";
  BOOST_HANA_DEFINE_STRUCT(AffineBijector, (std::array<S, D>, log_scale), (std::array<S, D>, shift));
  AffineBijector() : log_scale{}, shift{} {}
};

// As a layer: AffineBijector. As the transformer of a coupling or autoregressive
// layer (Coupling<Affine, ...>): BoundedAffine<3.0>, the log-scale bounded by
// 3 tanh(r / 3) (transformers/affine.hpp).
struct Affine : bijector_spec {
  template <int D, class S>
  using bind = AffineBijector<D, S>;
  template <int N, class S>
  using transformer = typename BoundedAffine<>::template transformer<N, S>;
};

}  // namespace flowtmpl
