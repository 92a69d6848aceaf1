// flowtmpl/conditioners/made/sequential_block.hpp: the sequential pass of a MADE
// (made/sequential.hpp) over a block of samples, one per column (host only, units sorted
// by degree: what a prepared autoregressive layer's block path runs). At step k the units
// of degree k of every hidden buffer are one matrix product of their contiguous weight
// block with the rows already final, so the D steps together cost about one network
// evaluation, as products over the whole block instead of per-sample vector products.
#pragma once

#include <array>

#include "../../detail/eigen.hpp"

#include "sequential.hpp"

namespace flowtmpl::detail {

template <int D, int M, int C, class S, class Act, made_architecture Arch, made_unit_order Order, class Degrees, int... Hidden>
struct made_sequential_block : made_sequential<D, M, C, S, Act, Arch, Order, Degrees, Hidden...> {
  using Base = made_sequential<D, M, C, S, Act, Arch, Order, Degrees, Hidden...>;
  using Base::bias_data;
  using Base::buffer_width;
  using Base::by_degree;
  using Base::clamp_buffer;
  using Base::linears;
  using Base::n_ctx_terms;
  using Base::n_hidden;
  using Base::n_linear;
  using Base::residual;
  using Base::tables;
  using Base::weight_data;

  using dyn_block = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  struct sequential_block_state {
    std::array<dyn_block, n_hidden> hidden;       // the hidden buffers, width x n
    std::array<dyn_block, n_hidden> activated;    // residual: act() of the stream buffers
    std::array<dyn_block, n_ctx_terms> ctx_term;  // the context contributions, H0 x n
  };
  // Start a sequential pass over n columns; Ctx: the C x n context block (C > 0).
  template <class CB>
  void sequential_block_begin(sequential_block_state& st, Eigen::Index n, const CB* Ctx) const
    requires(by_degree)
  {
    for (int b = 0; b < n_hidden; ++b) {
      st.hidden[b].resize(buffer_width(b), n);
      if (residual && b % 2 == 0) st.activated[b].resize(buffer_width(b), n);
    }
    if constexpr (C > 0) {
      using RM = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      for (int li = 0; li < n_linear; ++li) {
        const made_linear& l = linears[li];
        if (l.role != made_role::context_layer && l.role != made_role::block_context_layer) continue;
        dyn_block& t = st.ctx_term[l.role == made_role::context_layer ? 0 : 1 + l.block];
        t.resize(l.out, n);
        t.noalias() = Eigen::Map<const RM>(weight_data(li), l.out, C) * (*Ctx);
        t.colwise() += Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>(bias_data(li), l.out);
        if (l.role == made_role::context_layer && Base::context_activated) t.array() = Act::apply(t.array());
      }
    } else {
      (void)Ctx;
    }
  }
  // The M raw parameters of feature k of every column into theta (M x n), given rows
  // 0 .. k-1 of X final: call for k = 0, 1, ..., D-1 in this order, setting row k of X
  // between the calls.
  template <class XB, class TB>
  void sequential_block_step(sequential_block_state& st, const XB& X, int k, TB& theta) const
    requires(by_degree)
  {
    const int g = D == 1 ? 0 : k;
    if constexpr (residual)
      step_residual_block(st, X, g);
    else
      step_feedforward_block(st, X, g);
    constexpr int last = n_linear - 1;
    constexpr int lb = n_hidden - 1;
    using RM = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const RM> W(weight_data(last), linears[last].out, linears[last].in);
    const int n_in = tables.end[lb][D == 1 ? 0 : k];
    theta.colwise() = Eigen::Map<const Eigen::Matrix<S, M, 1>>(bias_data(last) + k * M);
    if (n_in > 0) theta.noalias() += W.block(k * M, 0, M, n_in) * st.hidden[lb].topRows(n_in);
  }
  // units of degree g of buffer b over the block: bias + weights x the first n_in rows
  // of in (those of degree <= g) [+ the context term], activated if asked
  template <class In>
  void hidden_group_block(int li, int b, const In& in, int n_in, dyn_block& out, int g, const dyn_block* ctx,
                          bool activate) const {
    b = clamp_buffer(b);
    const int lo = g == 0 ? 0 : tables.end[b][g - 1], hi = tables.end[b][g];
    if (hi == lo) return;
    using RM = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const RM> W(weight_data(li), linears[li].out, linears[li].in);
    auto o = out.middleRows(lo, hi - lo);
    o.colwise() = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>(bias_data(li) + lo, hi - lo);
    if (n_in > 0) o.noalias() += W.block(lo, 0, hi - lo, n_in) * in.topRows(n_in);
    if (ctx) o += ctx->middleRows(lo, hi - lo);
    if (activate) o.array() = Act::apply(o.array());
  }
  template <class XB>
  void step_feedforward_block(sequential_block_state& st, const XB& X, int g) const {
    int b = 0;
    for (int li = 0; li < n_linear - 1; ++li) {
      if (linears[li].role == made_role::context_layer) continue;
      const dyn_block* ctx = (b == 0 && C > 0) ? &st.ctx_term[0] : nullptr;
      if (b == 0)
        hidden_group_block(li, 0, X, g < D ? g : D, st.hidden[0], g, ctx, true);
      else
        hidden_group_block(li, b, st.hidden[clamp_buffer(b - 1)], tables.end[clamp_buffer(b - 1)][g],
                           st.hidden[clamp_buffer(b)], g, ctx, true);
      ++b;
    }
  }
  template <class XB>
  void step_residual_block(sequential_block_state& st, const XB& X, int g) const {
    // act() of the stream rows of degree g, read by the next block's first map
    auto activate_rows = [&](int b) {
      b = clamp_buffer(b);
      const int lo = g == 0 ? 0 : tables.end[b][g - 1], hi = tables.end[b][g];
      st.activated[b].middleRows(lo, hi - lo).array() = Act::apply(st.hidden[b].middleRows(lo, hi - lo).array());
    };
    hidden_group_block(0, 0, X, g < D ? g : D, st.hidden[0], g, C > 0 ? &st.ctx_term[0] : nullptr, false);
    activate_rows(0);
    int li = C > 0 ? 2 : 1;
    for (int blk = 0; blk < (n_hidden - 1) / 2; ++blk) {
      const int tin = clamp_buffer(2 * blk), vb = clamp_buffer(2 * blk + 1), tout = clamp_buffer(2 * blk + 2);
      hidden_group_block(li, vb, st.activated[tin], tables.end[tin][g], st.hidden[vb], g,
                         C > 0 ? &st.ctx_term[1 + blk] : nullptr, true);
      const int l1 = C > 0 ? li + 2 : li + 1;
      hidden_group_block(l1, tout, st.hidden[vb], tables.end[vb][g], st.hidden[tout], g, nullptr, false);
      const int lo = g == 0 ? 0 : tables.end[tout][g - 1], hi = tables.end[tout][g];
      st.hidden[tout].middleRows(lo, hi - lo) += st.hidden[tin].middleRows(lo, hi - lo);
      if (tout < n_hidden - 1) activate_rows(tout);
      li = l1 + 1;
    }
  }
};

}  // namespace flowtmpl::detail
