// flowtmpl/host/block_path.hpp: the block path of the host backend. Layers with a
// conditioner (Coupling, the autoregressive layers) evaluate a block of samples at once,
// the network as matrix-matrix products (their forward_block / inverse_block members);
// a chain that holds one, or that reads a context, is evaluated layer by layer over a
// block of columns, every other layer of it column by column.
//
//   detail::has_forward_block_v<L, D, S>, has_inverse_block_v<L, D, S>
//                                  whether layer L has the block member (with or
//                                  without a context block)
//   detail::uses_blocks<B>()       whether B (or a layer inside it) takes the block path
//   detail::eval_block<Dir>(b, V, ld, ctx)   V (D x n) through b in direction Dir in
//       place, adding the input-dependent log-dets to ld (1 x n); ctx is the context
//       block (C x n) or nullptr. The constant part of the log-det is not added.
// Cost: one pass per layer over the block; the blocks' temporaries are the callers'.
#pragma once

#include <cstddef>
#include <utility>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../bijectors/embedded_context.hpp"
#include "../chain.hpp"
#include "../core.hpp"
#include "batch.hpp"

namespace flowtmpl {
namespace detail {

template <class L, int D, class S>
inline constexpr bool has_forward_block_v =
    requires(const L& l, Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) {
      l.forward_block(V, ld);
    } ||
    requires(const L& l, Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
             const Eigen::Matrix<S, context_dim_of<L>(), Eigen::Dynamic>& C) { l.forward_block(V, ld, C); };
template <class L, int D, class S>
inline constexpr bool has_inverse_block_v =
    requires(const L& l, Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) {
      l.inverse_block(V, ld);
    } ||
    requires(const L& l, Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
             const Eigen::Matrix<S, context_dim_of<L>(), Eigen::Dynamic>& C) { l.inverse_block(V, ld, C); };

// Whether b (or a layer inside it) evaluates blocks of samples, or reads a context:
// then the host evaluates layer by layer over blocks of columns (eval_block); otherwise
// the whole chain per column, which keeps elementwise chains in registers.
template <class B>
consteval bool uses_blocks() {
  if constexpr (is_chain<B>::value) {
    return []<class... Ls>(Chain<Ls...>*) { return (uses_blocks<Ls>() || ...); }(static_cast<B*>(nullptr));
  } else if constexpr (is_inverse_layer<B>::value) {
    return uses_blocks<typename B::base_type>();
  } else if constexpr (is_split_layer<B>::value) {
    return uses_blocks<typename B::inner_type>();
  } else if constexpr (is_embedded_context<B>::value) {
    return true;
  } else {
    using S = typename B::scalar_type;
    return has_forward_block_v<B, B::dim, S> || has_inverse_block_v<B, B::dim, S> || context_dim_of<B>() > 0;
  }
}

// V (D x n) through b in one direction, in place; the input-dependent log-dets are
// added to ld; Ctx is the context block (C x n) or nullptr.
template <direction Dir, class B, class CtxBlock>
void eval_block(const B& b, Eigen::Matrix<typename B::scalar_type, B::dim, Eigen::Dynamic>& V,
                Eigen::Matrix<typename B::scalar_type, 1, Eigen::Dynamic>& ld, const CtxBlock* Ctx) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim;
  if constexpr (is_chain<B>::value) {
    if constexpr (Dir == direction::forward) {
      b.for_each_layer([&](const auto& layer) { eval_block<direction::forward>(layer, V, ld, Ctx); });
    } else {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((eval_block<direction::inverse>(b.template get<B::size - 1 - I>(), V, ld, Ctx)), ...);
      }(std::make_index_sequence<B::size>{});
    }
  } else if constexpr (is_inverse_layer<B>::value) {
    eval_block<opposite(Dir)>(b.base, V, ld, Ctx);
  } else if constexpr (is_embedded_context<B>::value) {
    const Eigen::Matrix<S, B::embedded_dim, Eigen::Dynamic> E = b.embed_block(*Ctx);
    eval_block<Dir>(b.inner, V, ld, &E);
  } else if constexpr (is_split_layer<B>::value) {
    // the inner chain over the first half of the rows; its constant log-dets are added
    // here when the split's own log-det is not constant (else the caller's constant
    // part holds them)
    Eigen::Matrix<S, B::half, Eigen::Dynamic> head = V.template topRows<B::half>();
    eval_block<Dir>(b.inner, head, ld, Ctx);
    V.template topRows<B::half>() = head;
    if constexpr (B::log_det_kind == flowtmpl::log_det_kind::input_dependent) {
      const S c = detail::constant_part(b.inner);
      ld.array() += Dir == direction::forward ? c : -c;
    }
  } else if constexpr (Dir == direction::forward && has_forward_block_v<B, D, S>) {
    if constexpr (context_dim_of<B>() > 0)
      b.forward_block(V, ld, *Ctx);
    else
      b.forward_block(V, ld);
  } else if constexpr ((Dir == direction::inverse) && has_inverse_block_v<B, D, S>) {
    if constexpr (context_dim_of<B>() > 0)
      b.inverse_block(V, ld, *Ctx);
    else
      b.inverse_block(V, ld);
  } else {
    for (Eigen::Index j = 0; j < V.cols(); ++j) {
      const Eigen::Matrix<S, D, 1> v = V.col(j);
      if constexpr (context_dim_of<B>() > 0) {
        const Eigen::Matrix<S, context_dim_of<B>(), 1> c = Ctx->col(j);
        const auto r = Dir == direction::forward ? flowtmpl::forward_and_log_det(b, v, c) : flowtmpl::inverse_and_log_det(b, v, c);
        V.col(j) = r.value;
        ld[j] += r.log_det + (Dir == direction::forward ? -detail::constant_part(b) : detail::constant_part(b));
      } else {
        const auto r = Dir == direction::forward ? detail::forward_varying(b, v) : detail::inverse_varying(b, v);
        V.col(j) = r.value;
        ld[j] += r.log_det;
      }
    }
  }
}

}  // namespace detail
}  // namespace flowtmpl
