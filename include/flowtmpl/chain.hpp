// flowtmpl/chain.hpp: composition of bijectors.
//
//   compose<Specs...>       a spec: the layers applied in the order written in the
//                           sampling (forward) direction: compose<A, B> is x -> B(A(x)).
//                           Each entry is a spec or a bound bijector.
//   Chain<Bs...>            what compose binds to: a trivially copyable value holding
//                           every layer; itself a Bijector.
//   chain(a, b, ...)        a Chain of bound bijectors (or chains).
//
// Structure and log-det kind of a chain are computed at compile time from its layers
// (flowtmpl/structure.hpp). They are used: a layer whose log-det is zero is never asked
// for it; the constant part of the log-det (constant_part()) is the sum of the
// constant layers' constant_log_det(), and the host backend evaluates it once per
// batch call. Cost: the sum of the layers' costs; no allocation, no indirection.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "core.hpp"
#include "shapes.hpp"

namespace flowtmpl {

namespace detail {
template <std::size_t I, class L>
struct chain_leaf {
  [[no_unique_address]] L value;
};
template <class Indices, class... Ls>
struct chain_storage;
template <std::size_t... I, class... Ls>
struct chain_storage<std::index_sequence<I...>, Ls...> : chain_leaf<I, Ls>... {};

template <std::size_t I, class L>
FLOWTMPL_HOST_DEVICE constexpr const L& leaf_get(const chain_leaf<I, L>& leaf) {
  return leaf.value;
}
template <std::size_t I, class L>
FLOWTMPL_HOST_DEVICE constexpr L& leaf_get(chain_leaf<I, L>& leaf) {
  return leaf.value;
}

// Instantiates the diagnostic for the first pair of adjacent layers that disagree in
// dimension or scalar; returns true either way (one mistake, one error).
template <class... Ls>
consteval bool check_adjacent() {
  using T = std::tuple<Ls...>;  // only for type access
  return []<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          using P = std::tuple_element_t<I, T>;
          using N = std::tuple_element_t<I + 1, T>;
          if constexpr (P::dim != N::dim) {
            (void)sizeof(diagnostic::adjacent_layers_have_different_dimensions<int(I), P, N>);
          } else if constexpr (!std::is_same_v<typename P::scalar_type, typename N::scalar_type>) {
            (void)sizeof(diagnostic::adjacent_layers_have_different_scalars<int(I), P, N>);
          }
        }(),
        ...);
    return true;
  }(std::make_index_sequence<sizeof...(Ls) - 1>{});
}

template <class First, class... Rest>
struct first_type {
  using type = First;
};

template <class Acc, class... Ls>
struct fold_structure {
  using type = Acc;
};
template <class Acc, class L, class... Ls>
struct fold_structure<Acc, L, Ls...> {
  using type = typename fold_structure<compose_structure_t<Acc, typename L::structure>, Ls...>::type;
};
}  // namespace detail

template <class... Ls>
class Chain;

template <class T>
struct is_chain : std::false_type {};
template <class... Ls>
struct is_chain<Chain<Ls...>> : std::true_type {};

template <class... Ls>
class Chain {
  static_assert(sizeof...(Ls) >= 1, "flowtmpl: a chain needs at least one layer");
  static_assert(((Bijector<Ls> || ConditionalBijector<Ls>) && ...),
                "flowtmpl: every layer of a Chain must model flowtmpl::Bijector or flowtmpl::ConditionalBijector");
  static_assert(detail::check_adjacent<Ls...>());  // a mismatch is diagnosed inside, in words

 public:
  using first_layer = typename detail::first_type<Ls...>::type;
  using scalar_type = typename first_layer::scalar_type;
  static constexpr int dim = first_layer::dim;
  static constexpr std::size_t size = sizeof...(Ls);
  using structure = typename detail::fold_structure<flowtmpl::structure::identity, Ls...>::type;
  static constexpr flowtmpl::log_det_kind log_det_kind = [] {
    flowtmpl::log_det_kind k = flowtmpl::log_det_kind::zero;
    ((k = compose_log_det_kind(k, Ls::log_det_kind)), ...);
    return k;
  }();
  static constexpr const char* name = "Chain";
  using vec = Eigen::Matrix<scalar_type, dim, 1>;
  using S = scalar_type;
  // A chain with a conditional layer is conditional: every such layer reads the same
  // context c, and the chain takes forward(x, c), inverse(y, c), ...
  static constexpr int context_dim = [] {
    int c = 0;
    ((c = context_dim_of<Ls>() > c ? context_dim_of<Ls>() : c), ...);
    return c;
  }();
  static_assert(((context_dim_of<Ls>() == 0 || context_dim_of<Ls>() == context_dim) && ...),
                "flowtmpl: the conditional layers of a chain read contexts of different sizes");
  using ctx_vec = Eigen::Matrix<S, (context_dim > 0 ? context_dim : 1), 1>;

  Chain() = default;
  FLOWTMPL_HOST_DEVICE explicit Chain(const Ls&... layers) : layers_{{layers}...} {}

  template <std::size_t I>
  FLOWTMPL_HOST_DEVICE constexpr const auto& get() const {
    return detail::leaf_get<I>(layers_);
  }
  template <std::size_t I>
  FLOWTMPL_HOST_DEVICE constexpr auto& get() {
    return detail::leaf_get<I>(layers_);
  }

  // Calls f(layer) for each layer in forward order (f(std::integral_constant<I>, layer)
  // if f takes two arguments).
  template <class F>
  constexpr void for_each_layer(F&& f) const {
    each(std::forward<F>(f), std::make_index_sequence<size>{});
  }
  template <class F>
  constexpr void for_each_layer(F&& f) {
    each_mut(std::forward<F>(f), std::make_index_sequence<size>{});
  }

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const
    requires(context_dim == 0)
  {
    return fwd(x, std::make_index_sequence<size>{});
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const
    requires(context_dim == 0)
  {
    vec v = y;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((v = get<size - 1 - I>().inverse(v)), ...);
    }(std::make_index_sequence<size>{});
    return v;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& x) const
    requires(context_dim == 0)
  {
    return forward_and_log_det(x).log_det;
  }

  // ---- conditional chains: the same with a context --------------------------------
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec forward(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    return forward_and_log_det(x, detail::checked_context<S, context_dim, Chain>(c, "forward")).value;
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    return inverse_and_log_det(y, detail::checked_context<S, context_dim, Chain>(c, "inverse")).value;
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE S log_det(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    return forward_and_log_det(x, detail::checked_context<S, context_dim, Chain>(c, "log_det")).log_det;
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    auto r = forward_varying(x, detail::checked_context<S, context_dim, Chain>(c, "forward_and_log_det"));
    r.log_det += constant_part();
    return r;
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    auto r = inverse_varying(y, detail::checked_context<S, context_dim, Chain>(c, "inverse_and_log_det"));
    r.log_det -= constant_part();
    return r;
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_varying(const vec& x, const ctx_vec& c) const
    requires(context_dim > 0)
  {
    value_and_log_det<vec, S> r{x, S(0)};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (step_forward_ctx(get<I>(), r, c), ...);
    }(std::make_index_sequence<size>{});
    return r;
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_varying(const vec& y, const ctx_vec& c) const
    requires(context_dim > 0)
  {
    value_and_log_det<vec, S> r{y, S(0)};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (step_inverse_ctx(get<size - 1 - I>(), r, c), ...);
    }(std::make_index_sequence<size>{});
    return r;
  }

  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& x) const
    requires(context_dim == 0)
  {
    auto r = forward_varying(x);
    r.log_det += constant_part();
    return r;
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const
    requires(context_dim == 0)
  {
    auto r = inverse_varying(y);
    r.log_det -= constant_part();
    return r;
  }

  // Sum of constant_log_det() over the constant layers.
  FLOWTMPL_HOST_DEVICE S constant_part() const {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      S c(0);
      ((c += detail::constant_part(get<I>())), ...);
      return c;
    }(std::make_index_sequence<size>{});
  }
  FLOWTMPL_HOST_DEVICE S constant_log_det() const
    requires(log_det_kind != flowtmpl::log_det_kind::input_dependent && context_dim == 0)
  {
    return constant_part();
  }

  // Output and the sum of the input-dependent layers' log-dets only.
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_varying(const vec& x) const
    requires(context_dim == 0)
  {
    value_and_log_det<vec, S> r{x, S(0)};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (step_forward(get<I>(), r), ...);
    }(std::make_index_sequence<size>{});
    return r;
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_varying(const vec& y) const
    requires(context_dim == 0)
  {
    value_and_log_det<vec, S> r{y, S(0)};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (step_inverse(get<size - 1 - I>(), r), ...);
    }(std::make_index_sequence<size>{});
    return r;
  }

  // Every layer prepared (flowtmpl::prepare).
  auto prepare() const {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return Chain<decltype(flowtmpl::prepare(get<I>()))...>(flowtmpl::prepare(get<I>())...);
    }(std::make_index_sequence<size>{});
  }

 private:
  template <class L>
  FLOWTMPL_HOST_DEVICE static void step_forward_ctx(const L& layer, value_and_log_det<vec, S>& r, const ctx_vec& c) {
    if constexpr (ConditionalBijector<L>) {
      const auto s = flowtmpl::forward_and_log_det(layer, r.value, c);
      r.value = s.value;
      r.log_det += s.log_det - detail::constant_part(layer);
    } else {
      step_forward(layer, r);
    }
  }
  template <class L>
  FLOWTMPL_HOST_DEVICE static void step_inverse_ctx(const L& layer, value_and_log_det<vec, S>& r, const ctx_vec& c) {
    if constexpr (ConditionalBijector<L>) {
      const auto s = flowtmpl::inverse_and_log_det(layer, r.value, c);
      r.value = s.value;
      r.log_det += s.log_det + detail::constant_part(layer);
    } else {
      step_inverse(layer, r);
    }
  }
  template <class L>
  FLOWTMPL_HOST_DEVICE static void step_forward(const L& layer, value_and_log_det<vec, S>& r) {
    if constexpr (L::log_det_kind == flowtmpl::log_det_kind::input_dependent || requires { layer.forward_varying(r.value); }) {
      const auto s = detail::forward_varying(layer, r.value);
      r.value = s.value;
      r.log_det += s.log_det;
    } else {
      r.value = layer.forward(r.value);
    }
  }
  // Folds (not recursion) in both directions, so that the whole chain inlines into the
  // caller's loop.
  template <class L>
  FLOWTMPL_HOST_DEVICE static void step_inverse(const L& layer, value_and_log_det<vec, S>& r) {
    if constexpr (L::log_det_kind == flowtmpl::log_det_kind::input_dependent ||
                  requires { layer.inverse_varying(r.value); }) {
      const auto s = detail::inverse_varying(layer, r.value);
      r.value = s.value;
      r.log_det += s.log_det;
    } else {
      r.value = layer.inverse(r.value);
    }
  }
  template <std::size_t... I>
  FLOWTMPL_HOST_DEVICE vec fwd(const vec& x, std::index_sequence<I...>) const {
    vec v = x;
    ((v = get<I>().forward(v)), ...);
    return v;
  }
  template <class F, std::size_t... I>
  constexpr void each(F&& f, std::index_sequence<I...>) const {
    (call(f, std::integral_constant<std::size_t, I>{}, get<I>()), ...);
  }
  template <class F, std::size_t... I>
  constexpr void each_mut(F&& f, std::index_sequence<I...>) {
    (call(f, std::integral_constant<std::size_t, I>{}, get<I>()), ...);
  }
  template <class F, class Idx, class L>
  static constexpr void call(F& f, Idx idx, L& layer) {
    if constexpr (std::is_invocable_v<F&, Idx, L&>) {
      f(idx, layer);
    } else {
      f(layer);
    }
  }

  [[no_unique_address]] detail::chain_storage<std::index_sequence_for<Ls...>, Ls...> layers_;
};

// A chain of bound bijectors: chain(a, b) applies a, then b.
template <class... Bs>
  requires((Bijector<Bs> || ConditionalBijector<Bs>) && ...)
FLOWTMPL_HOST_DEVICE auto chain(const Bs&... layers) {
  return Chain<Bs...>(layers...);
}

namespace detail {
template <int D, class S, class Indices, class... Layers>
struct compose_bind;
template <int D, class S, std::size_t... I, class... Layers>
struct compose_bind<D, S, std::index_sequence<I...>, Layers...> {
  using type = Chain<typename decltype(detail::bind_layer<Layers, D, S, int(I)>())::type...>;
};
}  // namespace detail

// compose<Specs...>: see the top of this header; bound to a shape, or with a layer that
// needs one (Squeeze, Split, ...), each layer is bound to the shape that reaches it
// (shapes.hpp).
template <class... Layers>
struct compose : bijector_spec {
  static_assert(sizeof...(Layers) >= 1, "flowtmpl: compose<...> needs at least one layer");

  template <int D>
  static constexpr bool accepts_dim = D >= 1;

  static constexpr bool shape_aware = true;
  static constexpr bool needs_shape = (detail::needs_shape<Layers>() || ...);

  template <class Shape, class S, int Position>
  static consteval auto bind_shape() {
    return std::type_identity<
        typename detail::chain_of<typename detail::shape_fold<Shape, S, 0, Layers...>::layers>::type>{};
  }
  template <class Shape>
  using output_shape = typename detail::output_fold<Shape, Layers...>::type;

 private:
  template <int D, class S>
  static consteval auto bind_dim() {
    if constexpr (needs_shape && D >= 1)
      return bind_shape<features<D>, S, 0>();
    else
      return std::type_identity<typename detail::compose_bind<D, S, std::index_sequence_for<Layers...>, Layers...>::type>{};
  }

 public:
  template <int D, class S>
  using bind = typename decltype(bind_dim<D, S>())::type;
};

}  // namespace flowtmpl
