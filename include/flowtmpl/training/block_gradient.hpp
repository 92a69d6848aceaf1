// flowtmpl/training/block_gradient.hpp: the gradient of log p over a block of samples
// at once, for a flow whose transform has a layer with a conditioner (coupling).
//
// One pass over the chain in the normalizing direction (record_block) evaluates the
// block layer by layer (host/block_path.hpp) and records every leaf layer's input
// block on a tape, and for a layer with a conditioner (its record_block member) the
// conditioner's own tape and outputs, so that the network runs once per step; the
// reverse sweep (backward_block) calls each such leaf's vjp_recorded (the network's
// backward products as matrix-matrix products over the block), a leaf's vjp_block, or,
// for a leaf without either, its per-sample vjp column by column. The per-sample path (log_prob_vjp
// per column, flowtmpl/differentiable.hpp) computes the same sums in another order.
//   detail::block_gradient_ok<F>()   whether flow type F takes this path: a flow
//       distribution with a differentiable base whose transform takes the block path
//       (conditional ones too: the context block goes with the samples, through an
//       embedding network where there is one)
//   detail::log_prob_vjp_block(f, X, w, grad, lp [, Ctx])   log p of the columns of X
//       into lp, adding w d log p / dtheta (summed over the block) to grad
// Memory: the tape holds one D x n block per leaf layer (heap), per block of samples,
// and per conditioned layer its network's activations (two per hidden unit and sample).
#pragma once

#include <any>
#include <cstddef>
#include <utility>
#include <vector>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../bijectors/embedded_context.hpp"
#include "../chain.hpp"
#include "../core.hpp"
#include "../differentiable.hpp"
#include "../host/batch.hpp"
#include "../host/block_path.hpp"
#include "../parameters.hpp"

namespace flowtmpl {
namespace detail {

// Whether every leaf of B has a per-sample vjp (with its context where it reads one).
template <class B>
consteval bool block_vjp_ok() {
  if constexpr (is_chain<B>::value) {
    return []<class... Ls>(Chain<Ls...>*) { return (block_vjp_ok<Ls>() && ...); }(static_cast<B*>(nullptr));
  } else if constexpr (is_inverse_layer<B>::value) {
    return block_vjp_ok<typename B::base_type>();
  } else if constexpr (is_split_layer<B>::value) {
    return block_vjp_ok<typename B::inner_type>();
  } else if constexpr (is_embedded_context<B>::value) {
    return block_vjp_ok<typename B::inner_type>();
  } else if constexpr (is_context_bound<B>::value) {
    return false;
  } else if constexpr (ConditionalBijector<B>) {
    return leaf_vjp_ctx<B>;
  } else {
    return leaf_vjp<B>;
  }
}
template <class B>
using context_block_of = Eigen::Matrix<typename B::scalar_type, (context_dim_of<B>() > 0 ? context_dim_of<B>() : 1),
                                       Eigen::Dynamic>;
template <class B, direction Dir>
inline constexpr bool has_vjp_block_v =
    requires(const B& b, const Eigen::Matrix<typename B::scalar_type, B::dim, Eigen::Dynamic>& V,
             Eigen::Matrix<typename B::scalar_type, B::dim, Eigen::Dynamic>& G, typename B::scalar_type gld, B& grad) {
      b.template vjp_block<Dir>(V, G, gld, grad);
    } ||
    requires(const B& b, const Eigen::Matrix<typename B::scalar_type, B::dim, Eigen::Dynamic>& V,
             const context_block_of<B>& K, Eigen::Matrix<typename B::scalar_type, B::dim, Eigen::Dynamic>& G,
             typename B::scalar_type gld, B& grad, context_block_of<B>* GK) {
      b.template vjp_block<Dir>(V, K, G, gld, grad, GK);
    };

// Whether nll_and_gradient takes the block path for flow type F.
template <class F>
consteval bool block_gradient_ok() {
  if constexpr (is_flow_distribution<F>::value && DifferentiableDistribution<typename F::base_type>)
    return uses_blocks<typename F::transform_type>() && block_vjp_ok<typename F::transform_type>();
  else
    return false;
}

template <class S, int D>
using sample_block = Eigen::Matrix<S, D, Eigen::Dynamic>;

// The tape of record_block: every leaf's input block in evaluation order, and beside
// it the leaf's record (its record_block's result) or nothing.
template <class S, int D>
struct block_tape_list {
  std::vector<sample_block<S, D>> inputs;
  std::vector<std::any> records;
};

// Whether leaf B records its network in direction Dir (record_block / vjp_recorded).
template <class B, direction Dir>
inline constexpr bool has_record_block_v =
    requires(const B& b, sample_block<typename B::scalar_type, B::dim>& V,
             Eigen::Matrix<typename B::scalar_type, 1, Eigen::Dynamic>& ld, const context_block_of<B>* K) {
      b.template record_block<Dir>(V, ld, K);
    };
template <class B, direction Dir>
using record_of = decltype(std::declval<const B&>().template record_block<Dir>(
    std::declval<sample_block<typename B::scalar_type, B::dim>&>(),
    std::declval<Eigen::Matrix<typename B::scalar_type, 1, Eigen::Dynamic>&>(),
    std::declval<const context_block_of<B>*>()));

// The context block a leaf reads: Ctx when it has a context, else none.
template <class B, class CtxBlock>
const context_block_of<B>* leaf_context(const CtxBlock* Ctx) {
  if constexpr (context_dim_of<B>() > 0)
    return Ctx;
  else
    return static_cast<const context_block_of<B>*>(nullptr);
}

// The pass in direction Dir over V (in place), adding the varying log-dets to ld and
// pushing every leaf's input block (and record) onto tape, in evaluation order; Ctx:
// the context block of a conditional B (C x n), else nullptr.
template <direction Dir, class B, class CtxBlock>
void record_block(const B& b, sample_block<typename B::scalar_type, B::dim>& V,
                  Eigen::Matrix<typename B::scalar_type, 1, Eigen::Dynamic>& ld,
                  block_tape_list<typename B::scalar_type, B::dim>& tape, const CtxBlock* Ctx) {
  if constexpr (is_chain<B>::value) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      if constexpr (Dir == direction::forward)
        (record_block<direction::forward>(b.template get<I>(), V, ld, tape, Ctx), ...);
      else
        (record_block<direction::inverse>(b.template get<B::size - 1 - I>(), V, ld, tape, Ctx), ...);
    }(std::make_index_sequence<B::size>{});
  } else if constexpr (is_inverse_layer<B>::value) {
    record_block<opposite(Dir)>(b.base, V, ld, tape, Ctx);
  } else if constexpr (is_embedded_context<B>::value) {
    const context_block_of<typename B::inner_type> E = b.embed_block(*Ctx);
    record_block<Dir>(b.inner, V, ld, tape, &E);
  } else if constexpr (has_record_block_v<B, Dir>) {
    tape.inputs.push_back(V);
    tape.records.emplace_back(b.template record_block<Dir>(V, ld, leaf_context<B>(Ctx)));
  } else {
    tape.inputs.push_back(V);
    tape.records.emplace_back();
    eval_block<Dir>(b, V, ld, Ctx);
  }
}

// The reverse sweep: G holds the cotangents of the pass's output on entry and of its
// input on return; gld is the cotangent of every sample's log-det; next counts down the
// tape's leaves; Ctx the context block as in record_block, and the context's cotangents
// added into *GC when GC is not null.
template <direction Dir, class B, class CtxBlock>
void backward_block(const B& b, const block_tape_list<typename B::scalar_type, B::dim>& tape, std::size_t& next,
                    sample_block<typename B::scalar_type, B::dim>& G, typename B::scalar_type gld, B& grad,
                    const CtxBlock* Ctx, CtxBlock* GC) {
  using S = typename B::scalar_type;
  if constexpr (is_chain<B>::value) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      if constexpr (Dir == direction::forward)
        (backward_block<direction::forward>(b.template get<B::size - 1 - I>(), tape, next, G, gld,
                                            grad.template get<B::size - 1 - I>(), Ctx, GC),
         ...);
      else
        (backward_block<direction::inverse>(b.template get<I>(), tape, next, G, gld, grad.template get<I>(), Ctx, GC),
         ...);
    }(std::make_index_sequence<B::size>{});
  } else if constexpr (is_inverse_layer<B>::value) {
    backward_block<opposite(Dir)>(b.base, tape, next, G, gld, grad.base, Ctx, GC);
  } else if constexpr (is_embedded_context<B>::value) {
    // the embedding again with a tape; the layers' context cotangents back through it
    using E_t = context_block_of<typename B::inner_type>;
    typename B::embedding_type::block_tape net_tape;
    const E_t E = b.embedding.evaluate_block_taped(*Ctx, net_tape);
    E_t GE = E_t::Zero(E.rows(), E.cols());
    backward_block<Dir>(b.inner, tape, next, G, gld, grad.inner, &E, &GE);
    const auto graw = b.embedding.backward_block(net_tape, GE, grad.embedding);
    if (GC) *GC += graw;
  } else if constexpr (is_split_layer<B>::value) {
    // the inner chain's pass again over the first half of the rows, with a tape of its
    // own (the outer tape holds blocks of the outer dimension), then its reverse sweep
    using Inner = typename B::inner_type;
    const auto& V = tape.inputs[--next];
    sample_block<S, B::half> head = V.template topRows<B::half>();
    Eigen::Matrix<S, 1, Eigen::Dynamic> ld = Eigen::Matrix<S, 1, Eigen::Dynamic>::Zero(V.cols());
    block_tape_list<S, Inner::dim> inner_tape;
    record_block<Dir>(b.inner, head, ld, inner_tape, Ctx);
    std::size_t inner_next = inner_tape.inputs.size();
    sample_block<S, B::half> gh = G.template topRows<B::half>();
    backward_block<Dir>(b.inner, inner_tape, inner_next, gh, gld, grad.inner, Ctx, GC);
    G.template topRows<B::half>() = gh;
  } else if constexpr (has_record_block_v<B, Dir>) {
    const auto& V = tape.inputs[--next];
    const auto& rec = std::any_cast<const record_of<B, Dir>&>(tape.records[next]);
    if constexpr (context_dim_of<B>() > 0) {
      b.template vjp_recorded<Dir>(V, rec, G, gld, grad, Ctx, GC);
    } else {
      (void)GC;
      b.template vjp_recorded<Dir>(V, rec, G, gld, grad, leaf_context<B>(Ctx),
                                   static_cast<context_block_of<B>*>(nullptr));
    }
  } else {
    const auto& V = tape.inputs[--next];
    if constexpr (context_dim_of<B>() > 0) {
      if constexpr (has_vjp_block_v<B, Dir>) {
        b.template vjp_block<Dir>(V, *Ctx, G, gld, grad, GC);
      } else {
        for (Eigen::Index j = 0; j < V.cols(); ++j) {
          const context_t<B> c = Ctx->col(j);
          context_t<B> gc = context_t<B>::Zero();
          G.col(j) = vjp<Dir>(b, vector_t<B>(V.col(j)), c.data(), vector_t<B>(G.col(j)), gld, grad, gc.data());
          if (GC) GC->col(j) += gc;
        }
      }
    } else {
      (void)Ctx;
      (void)GC;
      if constexpr (has_vjp_block_v<B, Dir>) {
        b.template vjp_block<Dir>(V, G, gld, grad);
      } else {
        for (Eigen::Index j = 0; j < V.cols(); ++j)
          G.col(j) = vjp<Dir>(b, vector_t<B>(V.col(j)), static_cast<const S*>(nullptr), vector_t<B>(G.col(j)), gld, grad);
      }
    }
  }
}

// log p of the columns of X into lp, adding w d log p / dtheta (summed over the block)
// into grad; Ctx: the context block of a conditional flow (C x n), else nullptr; GX,
// when not null: w d log p / dx of every column.
template <class F, class XB, class CtxBlock = context_block_of<F>>
void log_prob_vjp_block(const F& f, const XB& X, typename F::scalar_type w, F& grad, typename F::scalar_type* lp,
                        const CtxBlock* Ctx = nullptr,
                        sample_block<typename F::scalar_type, F::dim>* GX = nullptr) {
  using S = typename F::scalar_type;
  constexpr int D = F::dim;
  const Eigen::Index n = X.cols();
  sample_block<S, D> V = X;
  Eigen::Matrix<S, 1, Eigen::Dynamic> ld = Eigen::Matrix<S, 1, Eigen::Dynamic>::Zero(n);
  block_tape_list<S, D> tape;
  record_block<direction::inverse>(f.transform, V, ld, tape, Ctx);
  const S c = constant_part(f.transform);
  sample_block<S, D> G(D, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    const typename F::vec z = V.col(j);
    lp[j] = f.base.log_prob(z) + (ld[j] - c);
    G.col(j) = f.base.log_prob_vjp(z, w, grad.base);
  }
  std::size_t next = tape.inputs.size();
  backward_block<direction::inverse>(f.transform, tape, next, G, w, grad.transform, Ctx,
                                     static_cast<CtxBlock*>(nullptr));
  if (GX) *GX = std::move(G);
}

}  // namespace detail
}  // namespace flowtmpl
