// flowtmpl/differentiable.hpp: analytic gradients (vector-Jacobian products) through a
// bound flow, derived by hand per layer and unrolled over the chain at compile time.
//
// A gradient has the type of what it differentiates: the cotangent of the parameters
// of a layer B is a value of type B whose parameters hold the cotangents (its fixed
// settings are ignored). make_gradient(b) gives one with every parameter 0.
//
// A layer B is differentiable when it has, for x, y, g of type vector_t<B>, a scalar
// gld and grad a B&:
//   b.forward_vjp(x, gy, gld, grad) -> vector_t<B>
//       for (y, ld) = (f(x), log|det df/dx|(x)) and the cotangents gy of y and gld of
//       ld: returns the cotangent of x, gy^T df/dx + gld d ld/dx, and adds
//       gy^T df/dtheta + gld d ld/dtheta to grad's parameters.
//   b.inverse_vjp(y, gx, gld, grad) -> vector_t<B>
//       the same for (x, ild) = (f^-1(y), log|det df^-1/dy|(y)).
// A conditional layer takes the context after the input, forward_vjp(x, c, gy, gld,
// grad), and has the same with a last argument gc (a context_t&) into which it adds
// the context's cotangent (both forms are required: a chain asks for the second where
// an embedding network or a caller needs the context's gradient).
// Chains, inverses, with_context bindings, embedded contexts and flow distributions are
// differentiated here from their layers:
//
//   forward_vjp(b, x, gy, gld, grad)    inverse_vjp(b, y, gx, gld, grad)
//       for any DifferentiableBijector; a conditional one takes its context c after x
//       or y, and gc (context_t<B>*, after grad) receives the context's cotangent
//       when not null (through the embedding network, to the raw context, where the
//       flow has one).
//   record<Dir>(b, v, ctx, tape) / backward<Dir>(b, tape, ctx, g, gld, grad [, gctx])
//       the two halves: the pass that fills the tape (tape_t<B, Dir>, a type fixed
//       at compile time: a chain's is the tuple of its layers', a layer's its input),
//       and the reverse sweep over it. Each layer's vjp recomputes what it needs from
//       its input (its network's activations, ...) on the stack.
//   log_prob_vjp(flow, x, w, grad [, gx])     log p(x), adding w d log p(x)/dtheta to
//   log_prob_vjp(flow, x, c, w, grad [, gx [, gc]])  grad (base and transform), for a
//       flow distribution; a conditional one takes its context c after x, and gc
//       receives w d log p(x | c)/dc when not null.
//
// DifferentiableDistribution: a base distribution with
//   d.log_prob_vjp(z, w, grad) -> vector_t   w d log p(z)/dz, adding w d log p/dtheta
// ReparameterizedDistribution: also
//   d.from_noise(eps, t) -> vector_t         the draw for standard normal noise eps at
//                                            temperature t (reparameterisation)
//   d.from_noise_vjp(eps, t, gz, grad)       adds gz^T d from_noise/dtheta to grad
// Models: StandardNormalDistribution, DiagonalNormalDistribution (both);
// UniformDistribution (the first only).
#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "direction.hpp"
#include "detail/eigen.hpp"

#include "bijectors/embedded_context.hpp"
#include "bijectors/inverse.hpp"
#include "chain.hpp"
#include "core.hpp"
#include "parameters.hpp"

namespace flowtmpl {

namespace detail {

template <class B>
using ctx_arg_t = Eigen::Matrix<typename B::scalar_type, (context_dim_of<B>() > 0 ? context_dim_of<B>() : 1), 1>;

template <class B>
concept leaf_vjp = requires(const B& b, const vector_t<B>& v, typename B::scalar_type g, B& grad) {
  { b.forward_vjp(v, v, g, grad) } -> std::same_as<vector_t<B>>;
  { b.inverse_vjp(v, v, g, grad) } -> std::same_as<vector_t<B>>;
};
// a conditional layer: both forms, without and with the context's cotangent gc
template <class B>
concept leaf_vjp_ctx = requires(const B& b, const vector_t<B>& v, const ctx_arg_t<B>& c, typename B::scalar_type g,
                                B& grad, ctx_arg_t<B>& gc) {
  { b.forward_vjp(v, c, v, g, grad) } -> std::same_as<vector_t<B>>;
  { b.inverse_vjp(v, c, v, g, grad) } -> std::same_as<vector_t<B>>;
  { b.forward_vjp(v, c, v, g, grad, gc) } -> std::same_as<vector_t<B>>;
  { b.inverse_vjp(v, c, v, g, grad, gc) } -> std::same_as<vector_t<B>>;
};

template <class B>
consteval bool differentiable() {
  if constexpr (is_context_bound<B>::value) {
    return differentiable<std::remove_cvref_t<decltype(std::declval<B&>().bijector)>>();
  } else if constexpr (is_embedded_context<B>::value) {
    return differentiable<typename B::inner_type>();
  } else if constexpr (is_chain<B>::value) {
    return []<class... Ls>(Chain<Ls...>*) { return (differentiable<Ls>() && ...); }(static_cast<B*>(nullptr));
  } else if constexpr (is_inverse_layer<B>::value) {
    return differentiable<typename B::base_type>();
  } else if constexpr (is_split_layer<B>::value) {
    return differentiable<typename B::inner_type>();
  } else if constexpr (ConditionalBijector<B>) {
    return leaf_vjp_ctx<B>;
  } else {
    return leaf_vjp<B>;
  }
}

template <class B, direction Dir>
struct tape_of {
  using type = vector_t<B>;
};
template <class... Ls, direction Dir>
struct tape_of<Chain<Ls...>, Dir> {
  using type = std::tuple<typename tape_of<Ls, Dir>::type...>;
};
template <class B, direction Dir>
struct tape_of<InverseBijector<B>, Dir> {
  using type = typename tape_of<B, opposite(Dir)>::type;
};
template <class B, direction Dir>
struct tape_of<context_bound<B>, Dir> {
  using type = typename tape_of<B, Dir>::type;
};
template <class Inner, direction Dir>
struct tape_of<SplitBijector<Inner>, Dir> {
  using type = typename tape_of<Inner, Dir>::type;
};
template <class Net, class B, direction Dir>
struct tape_of<EmbeddedContextBijector<Net, B>, Dir> {
  using type = typename tape_of<B, Dir>::type;
};

}  // namespace detail

// A bound bijector (or conditional bijector) every layer of which has vector-Jacobian
// products.
template <class B>
concept DifferentiableBijector = (Bijector<B> || ConditionalBijector<B>) && detail::differentiable<B>();

// What the pass in direction Dir leaves for the reverse sweep.
template <class B, direction Dir>
using tape_t = typename detail::tape_of<B, Dir>::type;

// A gradient for b: a copy with every parameter 0.
template <class T>
T make_gradient(const T& b) {
  T g = b;
  for_each_parameter(g, [](const std::string&, auto* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) p[i] = 0;
  });
  return g;
}

// Fills the tape; returns {output, log-det} of the pass in direction Dir (the
// forward's log|det df/dx| or the inverse's log|det df^-1/dy|). ctx: the context's
// values (nullptr without one).
template <direction Dir, class B>
FLOWTMPL_HOST_DEVICE value_and_log_det<vector_t<B>, typename B::scalar_type> record(const B& b, const vector_t<B>& v,
                                                               const typename B::scalar_type* ctx,
                                                               tape_t<B, Dir>& tape) {
  using S = typename B::scalar_type;
  if constexpr (is_chain<B>::value) {
    value_and_log_det<vector_t<B>, S> r{v, S(0)};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      auto step = [&]<std::size_t K>(std::integral_constant<std::size_t, K>) {
        const auto s = record<Dir>(b.template get<K>(), r.value, ctx, std::get<K>(tape));
        r.value = s.value;
        r.log_det += s.log_det;
      };
      if constexpr (Dir == direction::forward)
        (step(std::integral_constant<std::size_t, I>{}), ...);
      else
        (step(std::integral_constant<std::size_t, B::size - 1 - I>{}), ...);
    }(std::make_index_sequence<B::size>{});
    return r;
  } else if constexpr (detail::is_context_bound<B>::value) {
    (void)ctx;
    return record<Dir>(b.bijector, v, b.context.data(), tape);
  } else if constexpr (detail::is_embedded_context<B>::value) {
    const auto e = b.embed_values(ctx);
    return record<Dir>(b.inner, v, e.data(), tape);
  } else if constexpr (detail::is_inverse_layer<B>::value) {
    return record<opposite(Dir)>(b.base, v, ctx, tape);
  } else if constexpr (is_split_layer<B>::value) {
    using H = vector_t<typename B::inner_type>;
    const auto r = record<Dir>(b.inner, H(v.template head<B::half>()), ctx, tape);
    value_and_log_det<vector_t<B>, S> out{v, r.log_det};
    out.value.template head<B::half>() = r.value;
    return out;
  } else {
    tape = v;
    if constexpr (ConditionalBijector<B>) {
      const context_t<B> c = Eigen::Map<const context_t<B>>(ctx);
      return Dir == direction::forward ? flowtmpl::forward_and_log_det(b, v, c) : flowtmpl::inverse_and_log_det(b, v, c);
    } else {
      return Dir == direction::forward ? flowtmpl::forward_and_log_det(b, v) : flowtmpl::inverse_and_log_det(b, v);
    }
  }
}

// The reverse sweep: g is the cotangent of the pass's output, gld of its log-det;
// returns the cotangent of its input and adds the parameters' cotangents into grad,
// and the context's into gctx[0..C) when gctx is not null.
template <direction Dir, class B>
FLOWTMPL_HOST_DEVICE vector_t<B> backward(const B& b, const tape_t<B, Dir>& tape, const typename B::scalar_type* ctx,
                     const vector_t<B>& g, typename B::scalar_type gld, B& grad,
                     typename B::scalar_type* gctx = nullptr) {
  if constexpr (is_chain<B>::value) {
    vector_t<B> c = g;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      auto step = [&]<std::size_t K>(std::integral_constant<std::size_t, K>) {
        c = backward<Dir>(b.template get<K>(), std::get<K>(tape), ctx, c, gld, grad.template get<K>(), gctx);
      };
      if constexpr (Dir == direction::forward)
        (step(std::integral_constant<std::size_t, B::size - 1 - I>{}), ...);
      else
        (step(std::integral_constant<std::size_t, I>{}), ...);
    }(std::make_index_sequence<B::size>{});
    return c;
  } else if constexpr (detail::is_context_bound<B>::value) {
    (void)ctx;
    (void)gctx;  // a fixed context is not differentiated
    return backward<Dir>(b.bijector, tape, b.context.data(), g, gld, grad.bijector);
  } else if constexpr (detail::is_embedded_context<B>::value) {
    // the embedding network again, with a tape; the inner layers' context cotangent
    // goes back through it to the parameters and to the raw context
    using Net = typename B::embedding_type;
    typename Net::tape net_tape;
    const auto e = b.embedding.evaluate_taped(Eigen::Map<const typename B::raw_vec>(ctx), nullptr, net_tape);
    typename B::embedded_vec ge = B::embedded_vec::Zero();
    const vector_t<B> gv = backward<Dir>(b.inner, tape, e.data(), g, gld, grad.inner, ge.data());
    const auto graw = b.embedding.backward(net_tape, ge, &grad.embedding, nullptr);
    if (gctx) Eigen::Map<typename B::raw_vec>(gctx) += graw;
    return gv;
  } else if constexpr (detail::is_inverse_layer<B>::value) {
    return backward<opposite(Dir)>(b.base, tape, ctx, g, gld, grad.base, gctx);
  } else if constexpr (is_split_layer<B>::value) {
    using H = vector_t<typename B::inner_type>;
    vector_t<B> out = g;
    out.template head<B::half>() = backward<Dir>(b.inner, tape, ctx, H(g.template head<B::half>()), gld, grad.inner, gctx);
    return out;
  } else if constexpr (ConditionalBijector<B>) {
    static_assert(detail::leaf_vjp_ctx<B>,
                  "flowtmpl: this conditional layer has no forward_vjp / inverse_vjp members (both forms: (x, c, gy, gld, "
                  "grad) and (x, c, gy, gld, grad, gc), gc the context's cotangent)");
    const context_t<B> c = Eigen::Map<const context_t<B>>(ctx);
    if (gctx) {
      context_t<B> gc = context_t<B>::Zero();
      const vector_t<B> gv = Dir == direction::forward ? b.forward_vjp(tape, c, g, gld, grad, gc)
                                                       : b.inverse_vjp(tape, c, g, gld, grad, gc);
      Eigen::Map<context_t<B>>(gctx) += gc;
      return gv;
    }
    return Dir == direction::forward ? b.forward_vjp(tape, c, g, gld, grad) : b.inverse_vjp(tape, c, g, gld, grad);
  } else {
    (void)gctx;
    if constexpr (!detail::leaf_vjp<B>) {
      (void)sizeof(diagnostic::layer_has_no_vector_jacobian_product<B>);
      return g;
    } else {
      return Dir == direction::forward ? b.forward_vjp(tape, g, gld, grad) : b.inverse_vjp(tape, g, gld, grad);
    }
  }
}

namespace detail {
// Both halves in direction Dir: record into a tape on the stack, sweep it back.
template <direction Dir, class B>
FLOWTMPL_HOST_DEVICE vector_t<B> vjp(const B& b, const vector_t<B>& v, const typename B::scalar_type* ctx, const vector_t<B>& g,
                typename B::scalar_type gld, B& grad, typename B::scalar_type* gctx = nullptr) {
  tape_t<B, Dir> tape;
  record<Dir>(b, v, ctx, tape);
  return backward<Dir>(b, tape, ctx, g, gld, grad, gctx);
}
}  // namespace detail

template <class B>
  requires(Bijector<B>)
FLOWTMPL_HOST_DEVICE vector_t<B> forward_vjp(const B& b, const vector_t<B>& x, const vector_t<B>& gy, typename B::scalar_type gld, B& grad) {
  return detail::vjp<direction::forward>(b, x, nullptr, gy, gld, grad);
}
template <class B>
  requires(Bijector<B>)
FLOWTMPL_HOST_DEVICE vector_t<B> inverse_vjp(const B& b, const vector_t<B>& y, const vector_t<B>& gx, typename B::scalar_type gld, B& grad) {
  return detail::vjp<direction::inverse>(b, y, nullptr, gx, gld, grad);
}
template <class B, class Ctx>
  requires(ConditionalBijector<B>)
FLOWTMPL_HOST_DEVICE vector_t<B> forward_vjp(const B& b, const vector_t<B>& x, const Eigen::MatrixBase<Ctx>& c,
                                             const vector_t<B>& gy, typename B::scalar_type gld, B& grad,
                                             context_t<B>* gc = nullptr) {
  return detail::vjp<direction::forward>(
      b, x, detail::checked_context<typename B::scalar_type, B::context_dim, B>(c, "forward_vjp").data(), gy, gld, grad,
      gc ? gc->data() : nullptr);
}
template <class B, class Ctx>
  requires(ConditionalBijector<B>)
FLOWTMPL_HOST_DEVICE vector_t<B> inverse_vjp(const B& b, const vector_t<B>& y, const Eigen::MatrixBase<Ctx>& c,
                                             const vector_t<B>& gx, typename B::scalar_type gld, B& grad,
                                             context_t<B>* gc = nullptr) {
  return detail::vjp<direction::inverse>(
      b, y, detail::checked_context<typename B::scalar_type, B::context_dim, B>(c, "inverse_vjp").data(), gx, gld, grad,
      gc ? gc->data() : nullptr);
}

// A base distribution with gradients of its log density (see the top of this header);
// ReparameterizedDistribution: one that also draws from standard normal noise
// (what reverse-KL training differentiates through).
template <class T>
concept DifferentiableDistribution =
    Distribution<T> && requires(const T& d, const vector_t<T>& z, typename T::scalar_type w, T& grad) {
      { d.log_prob_vjp(z, w, grad) } -> std::same_as<vector_t<T>>;
    };
template <class T>
concept ReparameterizedDistribution =
    DifferentiableDistribution<T> && requires(const T& d, const vector_t<T>& z, typename T::scalar_type w, T& grad) {
      { d.from_noise(z, w) } -> std::same_as<vector_t<T>>;
      d.from_noise_vjp(z, w, z, grad);
    };

namespace detail {
// log p(x) of a flow distribution, adding w d log p(x)/dtheta into grad; ctx: the
// context's C values for a conditional flow, else nullptr; *gx = w d log p(x)/dx when
// gx is not null; w d log p(x)/dc added into gctx[0..C) when gctx is not null.
template <class F>
FLOWTMPL_HOST_DEVICE typename F::scalar_type log_prob_vjp_at(const F& f, const typename F::vec& x,
                                                             const typename F::scalar_type* ctx,
                                                             typename F::scalar_type w, F& grad, typename F::vec* gx,
                                                             typename F::scalar_type* gctx = nullptr) {
  using B = typename F::transform_type;
  tape_t<B, direction::inverse> tape;
  const auto r = record<direction::inverse>(f.transform, x, ctx, tape);
  const auto lz = f.base.log_prob(r.value);
  const typename F::vec gz = f.base.log_prob_vjp(r.value, w, grad.base);
  const typename F::vec g = backward<direction::inverse>(f.transform, tape, ctx, gz, w, grad.transform, gctx);
  if (gx) *gx = g;
  return lz + r.log_det;
}
}  // namespace detail

// log p(x) of a flow distribution, adding w d log p(x)/dtheta into grad (a value of the
// flow's type; its base's and transform's parameters). If gx is not null,
// *gx = w d log p(x)/dx. A conditional flow takes its context c after x; if gc is not
// null, w d log p(x | c)/dc is added into *gc.
template <class F>
  requires(Distribution<F>)
FLOWTMPL_HOST_DEVICE typename F::scalar_type log_prob_vjp(const F& f, const typename F::vec& x,
                                                          typename F::scalar_type w, F& grad,
                                                          typename F::vec* gx = nullptr) {
  return detail::log_prob_vjp_at(f, x, nullptr, w, grad, gx);
}
template <class F, class Ctx>
  requires(ConditionalDistribution<F>)
FLOWTMPL_HOST_DEVICE typename F::scalar_type log_prob_vjp(const F& f, const typename F::vec& x,
                                                          const Eigen::MatrixBase<Ctx>& c, typename F::scalar_type w,
                                                          F& grad, typename F::vec* gx = nullptr,
                                                          context_t<F>* gc = nullptr) {
  return detail::log_prob_vjp_at(
      f, x, detail::checked_context<typename F::scalar_type, F::context_dim, F>(c, "log_prob_vjp").data(), w, grad, gx,
      gc ? gc->data() : nullptr);
}

}  // namespace flowtmpl
