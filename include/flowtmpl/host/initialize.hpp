// flowtmpl/host/initialize.hpp: data-dependent initialisation on the host.
//   initialize(b, X)   for a bound bijector, X (D x N) on its data side
//   initialize(d, X)   for a flow distribution: initialize(d.transform, X)
// Every layer that has one (ActNorm: initialize_forward / initialize_inverse) is
// initialised from what reaches it in the normalizing direction (X through the layers
// on its data side), in order from the data side. Copies X once, then evaluates each
// layer once over the whole batch (host/bijector_entry_points.hpp).
#pragma once

#include <cstddef>
#include <utility>

#include "../detail/eigen.hpp"

#include "../chain.hpp"
#include "../core.hpp"
#include "batch.hpp"
#include "bijector_entry_points.hpp"

namespace flowtmpl {
namespace detail {

template <class B, class M>
void init_walk(B& b, bool normalizing, M& batch) {
  // `batch` enters the layer from its data side (normalizing) or its base side, and
  // leaves it transformed.
  if constexpr (is_chain<B>::value) {
    if (normalizing) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((init_walk(b.template get<B::size - 1 - I>(), true, batch)), ...);
      }(std::make_index_sequence<B::size>{});
    } else {
      b.for_each_layer([&](auto& layer) { init_walk(layer, false, batch); });
    }
  } else if constexpr (is_inverse_of<B>::value) {
    init_walk(b.base, !normalizing, batch);
  } else {
    if (normalizing) {
      if constexpr (requires { b.initialize_inverse(batch); }) b.initialize_inverse(batch);
      batch = flowtmpl::inverse(b, batch);
    } else {
      if constexpr (requires { b.initialize_forward(batch); }) b.initialize_forward(batch);
      batch = flowtmpl::forward(b, batch);
    }
  }
}

}  // namespace detail

// Data-dependent initialisation from data X (D x N, the data side of b): every layer
// that has one (ActNorm) is initialised from what reaches it in the normalizing
// direction, in order from the data side.
template <Bijector B, class Derived>
void initialize(B& b, const Eigen::MatrixBase<Derived>& xin) {
  batch_t<typename B::scalar_type, B::dim> batch = detail::batch_view<B>(xin, "initialize");
  detail::init_walk(b, true, batch);
}
template <Distribution Dist, class Derived>
  requires detail::is_flow_distribution<Dist>::value
void initialize(Dist& d, const Eigen::MatrixBase<Derived>& xin) {
  initialize(d.transform, xin);
}

}  // namespace flowtmpl
