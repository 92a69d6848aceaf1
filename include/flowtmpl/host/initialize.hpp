// flowtmpl/host/initialize.hpp: data-dependent initialisation on the host.
//   initialize(b, X)   for a bound bijector, X (D x N) on its data side
//   initialize(d, X)   for a flow distribution: initialize(d.transform, X)
//   initialize(b, X, Ctx) / initialize(d, X, Ctx)   a conditional flow, with the
//                      context of X (C x N, or C x 1 for all): the layers that read
//                      it evaluate with it on the way
// Every layer that has one (ActNorm: initialize_forward / initialize_inverse) is
// initialised from what reaches it in the normalizing direction (X through the layers
// on its data side), in order from the data side. Copies X once, then evaluates each
// layer once over the whole batch (host/bijector_entry_points.hpp).
#pragma once

#include <cstddef>
#include <utility>

#include "../detail/eigen.hpp"

#include "../bijectors/embedded_context.hpp"
#include "../chain.hpp"
#include "../core.hpp"
#include "batch.hpp"
#include "bijector_entry_points.hpp"
#include "conditional_entry_points.hpp"

namespace flowtmpl {
namespace detail {

// ctx: the context batch of a conditional flow (C x N or C x 1), read by the layers
// that take one; nullptr otherwise.
template <class B, class M, class Ctx>
void init_walk(B& b, bool normalizing, M& batch, const Ctx* ctx) {
  // `batch` enters the layer from its data side (normalizing) or its base side, and
  // leaves it transformed.
  if constexpr (is_chain<B>::value) {
    if (normalizing) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((init_walk(b.template get<B::size - 1 - I>(), true, batch, ctx)), ...);
      }(std::make_index_sequence<B::size>{});
    } else {
      b.for_each_layer([&](auto& layer) { init_walk(layer, false, batch, ctx); });
    }
  } else if constexpr (is_inverse_layer<B>::value) {
    init_walk(b.base, !normalizing, batch, ctx);
  } else if constexpr (is_split_layer<B>::value) {
    // the inner layers see the first half of the rows
    Eigen::Matrix<typename B::scalar_type, B::half, Eigen::Dynamic> head = batch.template topRows<B::half>();
    init_walk(b.inner, normalizing, head, ctx);
    batch.template topRows<B::half>() = head;
  } else if constexpr (is_embedded_context<B>::value) {
    const Eigen::Matrix<typename B::scalar_type, B::embedded_dim, Eigen::Dynamic> E = b.embed_block(*ctx);
    init_walk(b.inner, normalizing, batch, &E);
  } else if constexpr (context_dim_of<B>() > 0) {
    // a layer that reads the context has no data-dependent initialisation of its own
    batch = normalizing ? flowtmpl::inverse(b, batch, *ctx) : flowtmpl::forward(b, batch, *ctx);
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
  detail::init_walk(b, true, batch, static_cast<const batch_t<typename B::scalar_type, 1>*>(nullptr));
}
template <Distribution Dist, class Derived>
  requires detail::is_flow_distribution<Dist>::value
void initialize(Dist& d, const Eigen::MatrixBase<Derived>& xin) {
  initialize(d.transform, xin);
}
// A conditional flow: the data X (D x N) with its context (C x N, or C x 1 for all).
template <ConditionalBijector B, class DX, class DC>
void initialize(B& b, const Eigen::MatrixBase<DX>& xin, const Eigen::MatrixBase<DC>& cin) {
  using S = typename B::scalar_type;
  batch_t<S, B::dim> batch = detail::batch_view<B>(xin, "initialize");
  const Eigen::Matrix<S, B::context_dim, Eigen::Dynamic> ctx = detail::context_view<B>(cin, batch.cols(), "initialize");
  detail::init_walk(b, true, batch, &ctx);
}
template <ConditionalDistribution Dist, class DX, class DC>
  requires detail::is_flow_distribution<Dist>::value
void initialize(Dist& d, const Eigen::MatrixBase<DX>& xin, const Eigen::MatrixBase<DC>& cin) {
  (void)detail::batch_view<Dist>(xin, "initialize");
  (void)detail::context_view<Dist>(cin, xin.cols(), "initialize");
  initialize(d.transform, xin, cin);
}
// Without its context, or with one for a flow that reads none: compile-time errors in
// words (diagnostics.hpp).
template <class F, class DX>
  requires(ConditionalBijector<F> || ConditionalDistribution<F>)
void initialize(F&, const Eigen::MatrixBase<DX>&) {
  (void)sizeof(diagnostic::conditional_flow_called_without_its_context<F>);
}
template <class F, class DX, class DC>
  requires(Bijector<F> || Distribution<F>)
void initialize(F&, const Eigen::MatrixBase<DX>&, const Eigen::MatrixBase<DC>&) {
  (void)sizeof(diagnostic::flow_without_context_given_a_context<F>);
}

}  // namespace flowtmpl
