// flowtmpl/conditional.hpp: conditional flows, p(x | c) for a context vector c of
// static size C (a time, a label, an observation).
//
//   Conditional<C, Spec>     binds Spec with a context of C components: every layer
//                            that can read a context (Coupling, MaskedAutoregressive,
//                            InverseAutoregressive: their conditioners take c as extra
//                            inputs) does; the others are bound as usual. Spec may be
//                            a layer, compose<...>, Inverse<...> or Flow<Base, ...>.
//   The bound result models ConditionalBijector (forward(x, c), inverse(y, c),
//   log_det(x, c)) or, for a Flow, ConditionalDistribution (log_prob(x, c),
//   sample(rng, c)); the host backend takes a C x N (or C x 1, shared) context batch:
//   log_prob(d, X, Ctx), sample(d, n, seed, Ctx), forward(b, X, Ctx), ...
//   with_context(b, c) (core.hpp) fixes c and gives a plain Bijector.
//   Conditional<C, Spec, Embedding<RawC, Net>>
//                            the same, the context first through a learnable network
//                            (bijectors/embedded_context.hpp): the flow takes the raw
//                            observation (RawC values) and its layers read the
//                            network's C outputs; trained with the flow.
//
//   sinusoidal_embedding<C>(t)  the time embedding of trajectory and diffusion models:
//                            components 2k and 2k+1 are sin(t w_k) and cos(t w_k) with
//                            w_k = 10000^(-2k / C) (Vaswani et al. 2017); C even.
#pragma once

#include <cmath>
#include <type_traits>

#include "bijectors/embedded_context.hpp"
#include "bijectors/inverse.hpp"
#include "chain.hpp"
#include "core.hpp"
#include "distributions/flow_distribution.hpp"

namespace flowtmpl {

namespace detail {
template <class T>
struct is_compose_spec : std::false_type {};
template <class... Ls>
struct is_compose_spec<compose<Ls...>> : std::true_type {};
template <class T>
struct is_inverse_spec : std::false_type {};
template <class Inner>
struct is_inverse_spec<Inverse<Inner>> : std::true_type {
  using inner = Inner;
};
template <class T>
struct is_flow_spec : std::false_type {};
template <class B, class T>
struct is_flow_spec<Flow<B, T>> : std::true_type {
  using base = B;
  using transform = T;
};

template <class Layer, int D, class S, int C, int Position>
consteval auto bind_context_layer();

template <int D, class S, int C, class Indices, class... Layers>
struct compose_bind_context;
template <int D, class S, int C, std::size_t... I, class... Layers>
struct compose_bind_context<D, S, C, std::index_sequence<I...>, Layers...> {
  using type = Chain<typename decltype(bind_context_layer<Layers, D, S, C, int(I)>())::type...>;
};

template <class Layer, int D, class S, int C, int Position>
consteval auto bind_context_layer() {
  if constexpr (requires { typename Layer::template bind_with_context<D, S, C>; }) {
    if constexpr (!spec_accepts_dim<Layer, D>()) {
      return bind_layer<Layer, D, S, Position>();  // reports in words
    } else {
      return std::type_identity<typename Layer::template bind_with_context<D, S, C>>{};
    }
  } else if constexpr (is_compose_spec<Layer>::value) {
    return []<class... Ls>(compose<Ls...>*) {
      return std::type_identity<typename compose_bind_context<D, S, C, std::index_sequence_for<Ls...>, Ls...>::type>{};
    }(static_cast<Layer*>(nullptr));
  } else if constexpr (is_inverse_spec<Layer>::value) {
    using Inner = typename decltype(bind_context_layer<typename is_inverse_spec<Layer>::inner, D, S, C, Position>())::type;
    return std::type_identity<InverseBijector<Inner>>{};
  } else if constexpr (is_flow_spec<Layer>::value) {
    using T = typename decltype(bind_context_layer<typename is_flow_spec<Layer>::transform, D, S, C, Position>())::type;
    return std::type_identity<FlowDistribution<bind_t<typename is_flow_spec<Layer>::base, D, S>, T>>{};
  } else {
    return bind_layer<Layer, D, S, Position>();
  }
}
}  // namespace detail

struct no_embedding {};

namespace detail {
template <class Embed>
struct is_embedding_spec : std::false_type {};
template <int RawC, class Net>
struct is_embedding_spec<Embedding<RawC, Net>> : std::true_type {};

// Spec bound with context C, then (with an embedding) wrapped so that the context
// passes through the embedding network first.
template <class Spec, int D, class S, int C, class Embed>
consteval auto bind_conditional() {
  using Inner = typename decltype(bind_context_layer<Spec, D, S, C, 0>())::type;
  if constexpr (!is_embedding_spec<Embed>::value) {
    return std::type_identity<Inner>{};  // no embedding (or not one: Conditional says so)
  } else {
    using Net = typename Embed::template network<C, S>;
    if constexpr (is_flow_spec<Spec>::value)
      return std::type_identity<FlowDistribution<typename Inner::base_type,
                                                 EmbeddedContextBijector<Net, typename Inner::transform_type>>>{};
    else
      return std::type_identity<EmbeddedContextBijector<Net, Inner>>{};
  }
}
}  // namespace detail

template <int C, class Spec, class Embed = no_embedding>
struct Conditional : std::conditional_t<DistributionSpec<Spec>, distribution_spec, bijector_spec> {
  static_assert(C >= 1, "flowtmpl: Conditional<C, Spec>: the context needs at least one component");
  static_assert(std::is_same_v<Embed, no_embedding> || detail::is_embedding_spec<Embed>::value,
                "flowtmpl: Conditional<C, Spec, E>: the third argument must be an Embedding<RawC, Net> (the "
                "network from the raw observation to the C context components)");
  template <int D>
  static constexpr bool accepts_dim = detail::spec_accepts_dim<Spec, D>();
  template <int D, class S>
  using bind = typename decltype(detail::bind_conditional<Spec, D, S, C, Embed>())::type;
  // the context the bound flow takes: the raw observation's size with an embedding
  static constexpr int context_dim = [] {
    if constexpr (std::is_same_v<Embed, no_embedding>)
      return C;
    else
      return Embed::raw_context_dim;
  }();
};

template <int C, class S>
Eigen::Matrix<S, C, 1> sinusoidal_embedding(S t) {
  static_assert(C >= 2 && C % 2 == 0, "flowtmpl: sinusoidal_embedding<C>: C must be even and at least 2");
  Eigen::Matrix<S, C, 1> e;
  for (int k = 0; k < C / 2; ++k) {
    const double w = std::pow(10000.0, -2.0 * k / C);
    e[2 * k] = S(std::sin(double(t) * w));
    e[2 * k + 1] = S(std::cos(double(t) * w));
  }
  return e;
}

}  // namespace flowtmpl
