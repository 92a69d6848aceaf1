// flowtmpl/conditioners/made/sequential.hpp: the sequential pass of a MADE
// (conditioners/made.hpp) for one sample, what the sequential direction of an
// autoregressive layer runs. sequential_begin computes the context terms once; then
// sequential_step(k) gives the M parameters of feature k once the inputs x_0 .. x_k-1 are
// final. Every hidden unit is computed once, at the step where the inputs below its
// degree become final, from the inputs its mask allows only, so producing all D
// parameter groups one after the other costs about one network evaluation (nflows
// re-runs the whole network D times; docs/performance.md has the measurement). With the
// units in natural order every unit is a dot product over its allowed inputs; sorted by
// degree (made_unit_order::by_degree, sorted_copy()), the units of one degree and the
// inputs they read are contiguous and each step is one product of a contiguous weight
// block. Runs on both sides (device included); no allocation.
#pragma once

#include "../../detail/eigen.hpp"

#include "network.hpp"

namespace flowtmpl::detail {

template <int D, int M, int C, class S, class Act, made_architecture Arch, made_unit_order Order, class Degrees, int... Hidden>
struct made_sequential : made_network<D, M, C, S, Act, Arch, Order, Degrees, Hidden...> {
  using Base = made_network<D, M, C, S, Act, Arch, Order, Degrees, Hidden...>;
  using Base::bias_data;
  using Base::by_degree;
  using Base::H0;
  using Base::linears;
  using Base::max_width;
  using Base::n_ctx_terms;
  using Base::n_hidden;
  using Base::n_linear;
  using Base::residual;
  using Base::tables;
  using Base::weight_data;

  // The work buffers of one sequential pass (on the stack; no allocation).
  struct sequential_state {
    S x[D];                            // the inputs fixed so far
    S hidden[n_hidden][max_width()];   // hidden values computed so far
    S ctx_term[n_ctx_terms][H0];       // context contributions, computed once
  };

  // Start a sequential pass: the context terms are computed here, once.
  FLOWTMPL_HOST_DEVICE void sequential_begin(sequential_state& st, const S* ctx) const {
    for (int i = 0; i < D; ++i) st.x[i] = S(0);
    if constexpr (C > 0) {
      for (int li = 0; li < n_linear; ++li) {
        const made_linear& l = detail::table<&linears>()[li];
        if (l.role != made_role::context_layer && l.role != made_role::block_context_layer) continue;
        const int slot = l.role == made_role::context_layer ? 0 : 1 + l.block;
        const S* w = weight_data(li);
        const S* bb = bias_data(li);
        for (int o = 0; o < l.out; ++o) {
          S acc = bb[o];
          for (int i = 0; i < C; ++i) acc += w[std::size_t(o) * C + i] * ctx[i];
          st.ctx_term[slot][o] =
              l.role == made_role::context_layer && Base::context_activated ? Act::scalar(acc) : acc;
        }
      }
    } else {
      (void)ctx;
    }
  }

  // The M raw parameters of feature k, given st.x[0 .. k-1] final: call for k = 0, 1,
  // ..., D-1 in this order, setting st.x[k] between the calls.
  FLOWTMPL_HOST_DEVICE void sequential_step(sequential_state& st, int k, S* theta) const {
    // hidden units of degree k become final now (at k = 0 those of degree 0, which read
    // no input: stored degrees may have them; for D = 1 all have degree 0)
    const int g = D == 1 ? 0 : k;
    if constexpr (residual)
      step_residual(st, g);
    else
      step_feedforward(st, g);
    // outputs of feature k (degree k + 1) read the hidden units of degree <= k
    constexpr int last = n_linear - 1;
    constexpr int lb = n_hidden - 1;
    const S* w = weight_data(last);
    const S* bb = bias_data(last);
    const int n_in = detail::table<&tables>().end[lb][D == 1 ? 0 : k];
    const S* h = st.hidden[lb];
    if constexpr (by_degree) {
      using RM = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      const Eigen::Map<const RM> W(w, detail::table<&linears>()[last].out, detail::table<&linears>()[last].in);
      Eigen::Map<Eigen::Matrix<S, M, 1>> th(theta);
      th = Eigen::Map<const Eigen::Matrix<S, M, 1>>(bb + k * M);
      if (n_in > 0)
        th.noalias() += W.block(k * M, 0, M, n_in) * Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>(h, n_in);
      return;
    } else {
      for (int j = 0; j < M; ++j) {
        const int o = k * M + j;
        S acc = bb[o];
        const S* row = w + std::size_t(o) * detail::table<&linears>()[last].in;
        for (int q = 0; q < n_in; ++q) acc += row[detail::table<&tables>().order[lb][q]] * h[detail::table<&tables>().order[lb][q]];
        theta[j] = acc;
      }
    }
  }

  // units of degree g of buffer b: out_u = b_u + sum over the inputs of degree <= g
  FLOWTMPL_HOST_DEVICE void hidden_group(int li, int b, const S* in, int in_buffer, S* out, int g, const S* ctx,
                                         bool activate, bool activate_inputs) const {
    const made_linear& l = detail::table<&linears>()[li];
    const S* w = weight_data(li);
    const S* bb = bias_data(li);
    const int lo = g == 0 ? 0 : detail::table<&tables>().end[b][g - 1], hi = detail::table<&tables>().end[b][g];
    if constexpr (by_degree) {
      // contiguous: units [lo, hi) read inputs [0, n_in)
      if (hi == lo) return;
      using RM = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      using V = Eigen::Matrix<S, Eigen::Dynamic, 1, 0, max_width(), 1>;
      const Eigen::Map<const RM> W(w, l.out, l.in);
      const int n_in = in_buffer < 0 ? (g < D ? g : D) : detail::table<&tables>().end[in_buffer][g];
      V acc = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>(bb + lo, hi - lo);
      if (n_in > 0) {
        const Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>> x(in, n_in);
        if (activate_inputs) {
          V a = x;  // bounded size: no heap allocation for the activation's result
          a = Act::apply(a.array()).matrix();
          acc.noalias() += W.block(lo, 0, hi - lo, n_in) * a;
        } else {
          acc.noalias() += W.block(lo, 0, hi - lo, n_in) * x;
        }
      }
      if (ctx) acc += Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>(ctx + lo, hi - lo);
      Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, 1>> o(out + lo, hi - lo);
      if (activate)
        o = Act::apply(acc.array()).matrix();
      else
        o = acc;
      return;
    } else {
      for (int q = lo; q < hi; ++q) {
        const int u = detail::table<&tables>().order[b][q];
        S acc = bb[u];
        const S* row = w + std::size_t(u) * l.in;
        if (in_buffer < 0) {
          for (int i = 0; i < g && i < D; ++i) acc += row[i] * in[i];  // inputs of degree i + 1 <= g
        } else {
          const int n_in = detail::table<&tables>().end[in_buffer][g];
          for (int p = 0; p < n_in; ++p) {
            const int i = detail::table<&tables>().order[in_buffer][p];
            acc += row[i] * (activate_inputs ? Act::scalar(in[i]) : in[i]);
          }
        }
        if (ctx) acc += ctx[u];
        out[u] = activate ? Act::scalar(acc) : acc;
      }
    }
  }
  FLOWTMPL_HOST_DEVICE void step_feedforward(sequential_state& st, int g) const {
    int b = 0;
    for (int li = 0; li < n_linear - 1; ++li) {
      if (detail::table<&linears>()[li].role == made_role::context_layer) continue;
      const S* ctx = (b == 0 && C > 0) ? st.ctx_term[0] : nullptr;
      hidden_group(li, b, b == 0 ? st.x : st.hidden[b - 1], b - 1, st.hidden[b], g, ctx, true, false);
      ++b;
    }
  }
  FLOWTMPL_HOST_DEVICE void step_residual(sequential_state& st, int g) const {
    hidden_group(0, 0, st.x, -1, st.hidden[0], g, C > 0 ? st.ctx_term[0] : nullptr, false, false);
    int li = C > 0 ? 2 : 1;
    for (int blk = 0; blk < (n_hidden - 1) / 2; ++blk) {
      const int tin = 2 * blk, vb = 2 * blk + 1, tout = 2 * blk + 2;
      hidden_group(li, vb, st.hidden[tin], tin, st.hidden[vb], g, C > 0 ? st.ctx_term[1 + blk] : nullptr, true, true);
      const int l1 = C > 0 ? li + 2 : li + 1;
      hidden_group(l1, tout, st.hidden[vb], vb, st.hidden[tout], g, nullptr, false, false);
      const int lo = g == 0 ? 0 : detail::table<&tables>().end[tout][g - 1], hi = detail::table<&tables>().end[tout][g];
      for (int q = lo; q < hi; ++q) {
        const int u = by_degree ? q : detail::table<&tables>().order[tout][q];
        st.hidden[tout][u] += st.hidden[tin][u];
      }
      li = l1 + 1;
    }
  }
};

}  // namespace flowtmpl::detail
