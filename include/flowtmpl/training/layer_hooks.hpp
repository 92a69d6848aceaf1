// flowtmpl/training/layer_hooks.hpp: what training does to a layer between steps.
//   after_optimizer_step(flow, step)
// calls layer.after_optimizer_step(step) on every layer that has one (a residual
// layer: its spectral normalisation's power iteration, and fresh probes for its
// stochastic log-det), through flow distributions, chains, inverses, contexts bound
// with with_context and embedded-context layers. fit (training/fit.hpp) calls it after
// every optimizer step; a hand-written training loop calls it the same way.
#pragma once

#include "../bijectors/embedded_context.hpp"
#include "../bijectors/inverse.hpp"
#include "../chain.hpp"
#include "../core.hpp"
#include "../host/batch.hpp"
#include "../parameters.hpp"

namespace flowtmpl {

template <class B>
void after_optimizer_step(B& b, long step) {
  if constexpr (detail::is_flow_distribution<B>::value) {
    after_optimizer_step(b.transform, step);
  } else if constexpr (is_chain<B>::value) {
    b.for_each_layer([&](auto& layer) { after_optimizer_step(layer, step); });
  } else if constexpr (detail::is_inverse_layer<B>::value) {
    after_optimizer_step(b.base, step);
  } else if constexpr (detail::is_context_bound<B>::value) {
    after_optimizer_step(b.bijector, step);
  } else if constexpr (detail::is_embedded_context<B>::value) {
    after_optimizer_step(b.inner, step);
  } else if constexpr (requires { b.after_optimizer_step(step); }) {
    b.after_optimizer_step(step);
  }
}

}  // namespace flowtmpl
