// flowtmpl/conditioners/made.hpp: MADE (Germain et al. 2015), the masked network of
// autoregressive layers, with its masks built from degrees exactly as nflows builds
// them (nflows.transforms.made.MADE; docs/design.md, "Conventions with nflows").
//
//   MADE<h1, ..., hn>              feedforward: h = act(W0 x + b0 [+ act(Wc c + bc)]),
//                                  then act(W h + b) per further hidden layer, then the
//                                  output layer (nflows: hidden_features = h,
//                                  num_blocks = n - 1, use_residual_blocks = False; all
//                                  widths equal there, any widths here)
//   ResidualMADE<h, blocks>        nflows's default: t = W0 x + b0 [+ act(Wc c + bc)];
//                                  per block t += L1(act(L0(act(t)) [+ Wcb c + bcb]));
//                                  output layer on t
//   MADE<...>::with<act::tanh>     another activation (nflows: relu)
//
// Degrees: inputs 1..D in natural order; hidden unit u of every hidden layer has degree
// u mod max(1, D-1) + min(1, D-1) (sequential, nflows's random_mask = False); output
// i*M + j (parameter j of feature i, feature-major) has degree i + 1. A hidden weight
// (o, i) is allowed when deg_out(o) >= deg_in(i), an output weight when >, so output
// i depends on inputs < i only, and output 0 is constant. Context weights have no mask.
// The stored weights are the masked ones: reset_parameters and apply_masks() zero the
// disallowed entries, validate() (checked mode) reports a non-zero one.
//
// Parameters in one flat array, named as nflows's state_dict: initial_layer.weight
// [H][D], initial_layer.bias, context_layer.{weight,bias} (with context),
// blocks.b.linear.{weight,bias} (feedforward) or blocks.b.linear_layers.{0,1}.{weight,
// bias} and blocks.b.context_layer.* (residual), final_layer.{weight,bias}; weights
// [out][in] row-major as torch stores them, so a state_dict copies over as it is.
//
// Evaluation: evaluate(x, c) one sample, evaluate_block(X, C) a block of samples as
// matrix-matrix products (host only); sequential_block_* the sequential pass below over
// a block of samples (host only, sorted units). The sequential direction of an autoregressive
// layer uses sequential_* below: every hidden unit is computed once, when the inputs
// below its degree are final, from the inputs its mask allows only, so producing all
// D parameter groups one after the other costs about one network evaluation (nflows
// re-runs the whole network D times). docs/performance.md has the measurement.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>

#include "../detail/eigen.hpp"

#include "../detail/math.hpp"
#include "../detail/members.hpp"
#include "../errors.hpp"
#include "activations.hpp"
#include "conditioner.hpp"

namespace flowtmpl {

namespace detail {

// degree of hidden unit u for D inputs (nflows, sequential)
constexpr int made_hidden_degree(int u, int D) { return u % (D - 1 > 1 ? D - 1 : 1) + (D - 1 < 1 ? D - 1 : 1); }

// One masked linear map of a MADE: Out x In weights, the degrees of its inputs and
// outputs, and whether the mask is strict (the output layer).
struct made_linear {
  int out, in;
  int in_kind;   // 0: the network's inputs (degrees 1..D), 1: hidden units
  int out_kind;  // 1: hidden units, 2: outputs (degree o / M + 1, strict mask)
  std::size_t offset;
  bool masked;   // false: a context layer
  int block;     // residual block, -1 otherwise
  int role;      // 0 initial, 1 context, 2 block linear 0, 3 block context, 4 block linear 1 / ff linear, 5 final
};

// The rows 0..Out-1 of a masked weight grouped by the largest input degree they may
// read (0..Groups-1): order[begin[L] .. begin[L+1]) are those of L.
template <int Out, int Groups>
struct made_row_groups {
  int order[Out];
  int begin[Groups + 1];
};

// Sorted = true: the same network with the hidden units of every layer permuted into
// ascending degree (sorted_copy()); the function is the same, and the units of one
// degree and the inputs they may read are contiguous, so the sequential pass runs on
// contiguous blocks of the weights (what an autoregressive layer's prepare() uses).
template <int D, int M, int C, class S, class Act, bool Residual, bool Sorted, int... Hidden>
struct made_conditioner {
  static_assert(D >= 1, "flowtmpl: MADE needs at least one feature");
  static_assert(M >= 1, "flowtmpl: MADE needs at least one output per feature");
  static_assert(sizeof...(Hidden) >= 1 && ((Hidden > 0) && ...), "flowtmpl: MADE: hidden widths must be positive");
  using scalar_type = S;
  static constexpr int inputs = D;
  static constexpr int outputs = D * M;
  static constexpr int outputs_per_feature = M;
  static constexpr int context = C;
  static constexpr const char* name = Residual ? "ResidualMADE" : "MADE";

  // Residual: Hidden = {H, blocks}; feedforward: the hidden widths.
  static constexpr std::array<int, sizeof...(Hidden)> hidden_list{Hidden...};
  static constexpr int H0 = hidden_list[0];
  static constexpr int n_hidden = Residual ? 1 + 2 * hidden_list[1] : int(sizeof...(Hidden));  // hidden buffers
  static constexpr int n_linear = Residual ? (1 + (C > 0) + hidden_list[1] * (2 + (C > 0)) + 1)
                                           : (int(sizeof...(Hidden)) + 1 + (C > 0));

  static constexpr std::array<made_linear, n_linear> linears = [] {
    std::array<made_linear, n_linear> ls{};
    std::size_t off = 0;
    int n = 0;
    auto add = [&](int out, int in, int ik, int ok, bool masked, int block, int role) {
      ls[n++] = made_linear{out, in, ik, ok, off, masked, block, role};
      off += std::size_t(out) * in + std::size_t(out);
    };
    if constexpr (Residual) {
      const int H = hidden_list[0];
      const int B = hidden_list[1];
      add(H, D, 0, 1, true, -1, 0);
      if (C > 0) add(H, C, -1, 1, false, -1, 1);
      for (int b = 0; b < B; ++b) {
        add(H, H, 1, 1, true, b, 2);
        if (C > 0) add(H, C, -1, 1, false, b, 3);
        add(H, H, 1, 1, true, b, 4);
      }
      add(D * M, H, 1, 2, true, -1, 5);
    } else {
      add(hidden_list[0], D, 0, 1, true, -1, 0);
      if (C > 0) add(hidden_list[0], C, -1, 1, false, -1, 1);
      for (std::size_t l = 1; l < hidden_list.size(); ++l) add(hidden_list[l], hidden_list[l - 1], 1, 1, true, int(l) - 1, 4);
      add(D * M, hidden_list[hidden_list.size() - 1], 1, 2, true, -1, 5);
    }
    return ls;
  }();
  static constexpr std::size_t parameter_count =
      linears[n_linear - 1].offset + std::size_t(linears[n_linear - 1].out) * (linears[n_linear - 1].in + 1);

  std::array<S, parameter_count> values{};

  static constexpr int degree(int kind, int unit) {
    return kind == 0 ? unit + 1 : (kind == 1 ? made_hidden_degree(unit, D) : unit / M + 1);
  }
  // whether weight (o, i) of linear map li may be non-zero (in sorted order if Sorted)
  static constexpr bool allowed(int li, int o, int i) {
    const made_linear& l = linears[li];
    if (!l.masked) return true;
    int uo = o, ui = i;
    if constexpr (Sorted) {
      if (l.out_kind == 1) uo = tables.order[clamp_buffer(out_buffer(li))][o];
      if (l.in_kind == 1) ui = tables.order[clamp_buffer(in_buffer_of(li))][i];
    }
    const int dout = degree(l.out_kind, uo), din = degree(l.in_kind, ui);
    return l.out_kind == 2 ? dout > din : dout >= din;
  }

  template <int I>
  static constexpr made_linear lin = linears[I];
  template <int I>
  using weight_t = Eigen::Matrix<S, lin<I>.out, lin<I>.in, row_major_options(lin<I>.in)>;
  template <int I>
  FLOWTMPL_HOST_DEVICE Eigen::Map<const weight_t<I>> weight() const {
    return Eigen::Map<const weight_t<I>>(values.data() + lin<I>.offset);
  }
  template <int I>
  FLOWTMPL_HOST_DEVICE Eigen::Map<const Eigen::Matrix<S, lin<I>.out, 1>> bias() const {
    return Eigen::Map<const Eigen::Matrix<S, lin<I>.out, 1>>(values.data() + lin<I>.offset +
                                                              std::size_t(lin<I>.out) * lin<I>.in);
  }
  FLOWTMPL_HOST_DEVICE S* weight_data(int i) { return values.data() + detail::table<&linears>()[i].offset; }
  FLOWTMPL_HOST_DEVICE const S* weight_data(int i) const { return values.data() + detail::table<&linears>()[i].offset; }
  FLOWTMPL_HOST_DEVICE S* bias_data(int i) {
    const made_linear& l = detail::table<&linears>()[i];
    return weight_data(i) + std::size_t(l.out) * l.in;
  }
  FLOWTMPL_HOST_DEVICE const S* bias_data(int i) const {
    const made_linear& l = detail::table<&linears>()[i];
    return weight_data(i) + std::size_t(l.out) * l.in;
  }

  using in_vec = Eigen::Matrix<S, D, 1>;
  using out_vec = Eigen::Matrix<S, D * M, 1>;

  // ---- whole-network evaluation, for one sample (N = 1 columns) or a block -------
  // Works on any matrix type with H0 rows; Mat<R> makes the R-row buffer type. Tp: a
  // tape* to record the pre-activations into (one sample), a block_tape* (a block), or
  // nullptr_t.
  FLOWTMPL_NO_EXEC_CHECK
  template <template <int> class Mat, class XB, class CB, class Tp = std::nullptr_t>
  FLOWTMPL_HOST_DEVICE Mat<D * M> run(const XB& X, const CB* Ctx, Tp tp = nullptr) const {
    constexpr int ctx0 = C > 0 ? 1 : -1;
    Mat<H0> t(int(H0), X.cols());
    t.noalias() = product(weight<0>(), X);
    t.colwise() += bias<0>();
    if constexpr (C > 0) {
      Mat<H0> c(int(H0), X.cols());
      c.noalias() = product(weight<ctx0>(), (*Ctx));
      c.colwise() += bias<ctx0>();
      if constexpr (!std::is_same_v<Tp, std::nullptr_t>) Eigen::Map<col_t<H0>>(tp->cpre.data()) = c;
      t.array() += Act::apply(c.array());
    }
    record<0>(tp, t);
    if constexpr (Residual) {
      return run_blocks<Mat, (C > 0 ? 2 : 1)>(t, Ctx, tp);
    } else {
      t.array() = Act::apply(t.array());
      return run_feedforward<Mat, (C > 0 ? 2 : 1)>(t, tp);
    }
  }
  FLOWTMPL_NO_EXEC_CHECK
  template <template <int> class Mat, int I, class T, class Tp>
  FLOWTMPL_HOST_DEVICE Mat<D * M> run_feedforward(const T& h, Tp tp) const {
    if constexpr (lin<I>.role == 5) {
      Mat<D * M> out(D * M, h.cols());
      out.noalias() = product(weight<I>(), h);
      out.colwise() += bias<I>();
      return out;
    } else {
      Mat<lin<I>.out> next(int(lin<I>.out), h.cols());
      next.noalias() = product(weight<I>(), h);
      next.colwise() += bias<I>();
      record<out_buffer(I)>(tp, next);
      next.array() = Act::apply(next.array());
      return run_feedforward<Mat, I + 1>(next, tp);
    }
  }
  FLOWTMPL_NO_EXEC_CHECK
  template <template <int> class Mat, int I, class T, class CB, class Tp>
  FLOWTMPL_HOST_DEVICE Mat<D * M> run_blocks(T& t, const CB* Ctx, Tp tp) const {
    if constexpr (lin<I>.role == 5) {
      Mat<D * M> out(D * M, t.cols());
      out.noalias() = product(weight<I>(), t);
      out.colwise() += bias<I>();
      return out;
    } else {
      // block: u = L1(act(L0(act(t)) [+ ctx])); t += u
      Mat<H0> a(int(H0), t.cols());
      a.array() = Act::apply(t.array());
      Mat<H0> v(int(H0), t.cols());
      v.noalias() = product(weight<I>(), a);
      v.colwise() += bias<I>();
      constexpr int next = C > 0 ? I + 2 : I + 1;
      if constexpr (C > 0) {
        v.noalias() += product(weight<I + 1>(), (*Ctx));
        v.colwise() += bias<I + 1>();
      }
      record<2 * lin<I>.block + 1>(tp, v);
      v.array() = Act::apply(v.array());
      t.noalias() += product(weight<next>(), v);
      t.colwise() += bias<next>();
      record<2 * lin<I>.block + 2>(tp, t);
      return run_blocks<Mat, next + 1>(t, Ctx, tp);
    }
  }
  // hidden buffer B's values into the tape (when there is one)
  template <int B, class Tp, class V>
  FLOWTMPL_HOST_DEVICE static void record(Tp tp, const V& v) {
    if constexpr (std::is_same_v<Tp, block_tape*>) {
      tp->pre[B] = v;
    } else if constexpr (!std::is_same_v<Tp, std::nullptr_t>) {
      Eigen::Map<col_t<buffer_width(B)>>(tp->pre.data() + tape_offsets[B]) = v;
    } else {
      (void)tp;
      (void)v;
    }
  }

  template <int R>
  using col_t = Eigen::Matrix<S, R, 1>;
  template <int R>
  using block_t = Eigen::Matrix<S, R, Eigen::Dynamic>;

  // one sample; ctx points to C values (ignored when C = 0)
  FLOWTMPL_HOST_DEVICE out_vec evaluate(const in_vec& x, const S* ctx) const {
    if constexpr (C > 0) {
      const Eigen::Map<const Eigen::Matrix<S, C, 1>> c(ctx);
      return run<col_t>(x, &c);
    } else {
      return run<col_t>(x, static_cast<const in_vec*>(nullptr));
    }
  }
  // A block of samples, one per column. The feedforward network without context runs
  // every layer through dense_rows (row-major activations, the masked zeros multiplied as
  // stored) and returns D*M x n row-major; the others run as matrix products (run).
  template <class XB, class CB>
  auto evaluate_block(const XB& X, const CB* Ctx) const {
    if constexpr (!Residual && C == 0) {
      (void)Ctx;
      const Eigen::Matrix<S, D, Eigen::Dynamic, Eigen::RowMajor> a = X;
      return dense_block<0>(a);
    } else {
      return run<block_t>(X, Ctx);
    }
  }
  template <int I, class A>
  Eigen::Matrix<S, D * M, Eigen::Dynamic, Eigen::RowMajor> dense_block(const A& a) const {
    constexpr bool last = I == n_linear - 1;
    constexpr bool fused = !last && std::is_same_v<Act, act::relu>;
    Eigen::Matrix<S, lin<I>.out, Eigen::Dynamic, Eigen::RowMajor> h(lin<I>.out, a.cols());
    dense_rows<S, fused>(weight_data(I), bias_data(I), lin<I>.out, lin<I>.in, a.data(), h.data(), a.cols());
    if constexpr (last) {
      return h;
    } else {
      if constexpr (!fused) h.array() = Act::apply(h.array());
      return dense_block<I + 1>(h);
    }
  }

  // ---- the sequential evaluation -------------------------------------------------
  // Hidden buffers: feedforward, one per hidden layer; residual, b = 0 the stream t
  // after the initial layer, then per block 2b+1 = act(L0(act(t)) + ctx), 2b+2 = t after
  // the block. Units of every buffer sorted by degree: order[b][end[b][g-1] ..
  // end[b][g]) are the units of degree g, end[b][g] the number of units of degree <= g.
  static constexpr int buffer_width(int b) { return Residual ? hidden_list[0] : hidden_list[std::size_t(b)]; }
  static constexpr int max_width() {
    int w = 1;
    for (int b = 0; b < n_hidden; ++b) w = buffer_width(b) > w ? buffer_width(b) : w;
    return w;
  }
  struct unit_tables {
    int order[n_hidden][max_width()];
    int end[n_hidden][D + 1];
  };
  static constexpr unit_tables tables = [] {
    unit_tables t{};
    for (int b = 0; b < n_hidden; ++b) {
      int n = 0;
      for (int g = 0; g <= D; ++g) {
        for (int u = 0; u < buffer_width(b); ++u)
          if (made_hidden_degree(u, D) == g) t.order[b][n++] = u;
        t.end[b][g] = n;
      }
    }
    return t;
  }();
  static constexpr int n_ctx_terms = C > 0 ? (Residual ? 1 + hidden_list[Residual ? 1 : 0] : 1) : 1;

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
        if (l.role != 1 && l.role != 3) continue;
        const int slot = l.role == 1 ? 0 : 1 + l.block;
        const S* w = weight_data(li);
        const S* bb = bias_data(li);
        for (int o = 0; o < l.out; ++o) {
          S acc = bb[o];
          for (int i = 0; i < C; ++i) acc += w[std::size_t(o) * C + i] * ctx[i];
          st.ctx_term[slot][o] = l.role == 1 ? Act::scalar(acc) : acc;
        }
      }
    } else {
      (void)ctx;
    }
  }

  // The M raw parameters of feature k, given st.x[0 .. k-1] final: call for k = 0, 1,
  // ..., D-1 in this order, setting st.x[k] between the calls.
  FLOWTMPL_HOST_DEVICE void sequential_step(sequential_state& st, int k, S* theta) const {
    // hidden units of degree k become final now (for D = 1 all have degree 0)
    if (D == 1 || k >= 1) {
      const int g = D == 1 ? 0 : k;
      if constexpr (Residual)
        step_residual(st, g);
      else
        step_feedforward(st, g);
    }
    // outputs of feature k (degree k + 1) read the hidden units of degree <= k
    constexpr int last = n_linear - 1;
    constexpr int lb = n_hidden - 1;
    const S* w = weight_data(last);
    const S* bb = bias_data(last);
    const int n_in = detail::table<&tables>().end[lb][D == 1 ? 0 : k];
    const S* h = st.hidden[lb];
    if constexpr (Sorted) {
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
    if constexpr (Sorted) {
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
      if (detail::table<&linears>()[li].role == 1) continue;
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
        const int u = Sorted ? q : detail::table<&tables>().order[tout][q];
        st.hidden[tout][u] += st.hidden[tin][u];
      }
      li = l1 + 1;
    }
  }

  // ---- the sequential evaluation over a block of samples (host, sorted units) ------
  // sequential_step for n samples at once, one per column: at step k the units of
  // degree k of every hidden buffer are one matrix product of their contiguous weight
  // block with the rows already final, so the D steps together cost about one network
  // evaluation, as products over the whole block instead of per-sample vector products.
  using dyn_block = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  struct sequential_block_state {
    std::array<dyn_block, n_hidden> hidden;       // the hidden buffers, width x n
    std::array<dyn_block, n_hidden> activated;    // residual: act() of the stream buffers
    std::array<dyn_block, n_ctx_terms> ctx_term;  // the context contributions, H0 x n
  };
  // Start a sequential pass over n columns; Ctx: the C x n context block (C > 0).
  template <class CB>
  void sequential_block_begin(sequential_block_state& st, Eigen::Index n, const CB* Ctx) const
    requires(Sorted)
  {
    for (int b = 0; b < n_hidden; ++b) {
      st.hidden[b].resize(buffer_width(b), n);
      if (Residual && b % 2 == 0) st.activated[b].resize(buffer_width(b), n);
    }
    if constexpr (C > 0) {
      using RM = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      for (int li = 0; li < n_linear; ++li) {
        const made_linear& l = linears[li];
        if (l.role != 1 && l.role != 3) continue;
        dyn_block& t = st.ctx_term[l.role == 1 ? 0 : 1 + l.block];
        t.resize(l.out, n);
        t.noalias() = Eigen::Map<const RM>(weight_data(li), l.out, C) * (*Ctx);
        t.colwise() += Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>(bias_data(li), l.out);
        if (l.role == 1) t.array() = Act::apply(t.array());
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
    requires(Sorted)
  {
    if (D == 1 || k >= 1) {
      const int g = D == 1 ? 0 : k;
      if constexpr (Residual)
        step_residual_block(st, X, g);
      else
        step_feedforward_block(st, X, g);
    }
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
      if (linears[li].role == 1) continue;
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

  using sorted_type = made_conditioner<D, M, C, S, Act, Residual, true, Hidden...>;
  // The same network with the hidden units of every layer in ascending degree.
  sorted_type sorted_copy() const
    requires(!Sorted)
  {
    sorted_type r;
    for (int li = 0; li < n_linear; ++li) {
      const made_linear& l = linears[li];
      const int* out_order = l.out_kind == 1 ? tables.order[out_buffer(li)] : nullptr;
      const int* in_order = l.in_kind == 1 ? tables.order[in_buffer_of(li)] : nullptr;
      const S* src = weight_data(li);
      S* dst = r.weight_data(li);
      for (int o = 0; o < l.out; ++o) {
        const int so = out_order ? out_order[o] : o;
        const S* srow = src + std::size_t(so) * l.in;
        S* drow = dst + std::size_t(o) * l.in;
        if (in_order)
          for (int i = 0; i < l.in; ++i) drow[i] = srow[in_order[i]];
        else
          for (int i = 0; i < l.in; ++i) drow[i] = srow[i];
        r.bias_data(li)[o] = bias_data(li)[so];
      }
    }
    return r;
  }
  // a buffer index in [0, n_hidden) (the callers only ask for hidden buffers; the
  // clamp tells the compiler so)
  static constexpr int clamp_buffer(int b) { return b < 0 ? 0 : (b >= n_hidden ? n_hidden - 1 : b); }
  // the hidden buffer a linear map writes (its out units) and reads (its in units)
  static constexpr int out_buffer(int li) {
    if (linears[li].out_kind != 1) return 0;
    if (!Residual) {
      int b = 0;
      for (int j = 0; j < li; ++j)
        if (linears[j].role != 1) ++b;
      return linears[li].role == 1 ? 0 : b;
    }
    const made_linear& l = linears[li];
    if (l.role == 0 || l.role == 1) return 0;
    return l.role == 4 ? 2 * l.block + 2 : 2 * l.block + 1;
  }
  static constexpr int in_buffer_of(int li) {
    const made_linear& l = linears[li];
    if (l.in_kind != 1) return 0;
    if (!Residual) return l.role == 5 ? n_hidden - 1 : out_buffer(li) - 1;
    if (l.role == 5) return n_hidden - 1;
    return l.role == 2 ? 2 * l.block : 2 * l.block + 1;
  }

  // ---- gradients (conditioner.hpp) -----------------------------------------------
  // The tape holds the input, the context, the context layer's pre-activations and
  // every hidden buffer (numbered as in the sequential pass): feedforward, hidden layer
  // b's pre-activations; residual, the stream t after the initial layer (buffer 0) and
  // after block b (2b + 2), and block b's inner pre-activations (2b + 1). Backward
  // recomputes the activations from them.
  static constexpr std::array<std::size_t, n_hidden + 1> tape_offsets = [] {
    std::array<std::size_t, n_hidden + 1> o{};
    for (int b = 0; b < n_hidden; ++b) o[b + 1] = o[b] + std::size_t(buffer_width(b));
    return o;
  }();
  struct tape {
    std::array<S, D> x;
    std::array<S, (C > 0 ? C : 1)> c;
    std::array<S, (C > 0 ? H0 : 1)> cpre;
    std::array<S, tape_offsets[n_hidden]> pre;
  };

  // evaluate(x, ctx) (the same code, so bitwise the same), filling the tape
  FLOWTMPL_HOST_DEVICE out_vec evaluate_taped(const in_vec& x, const S* ctx, tape& tp) const {
    Eigen::Map<in_vec>(tp.x.data()) = x;
    if constexpr (C > 0) {
      const Eigen::Map<const Eigen::Matrix<S, C, 1>> c(ctx);
      Eigen::Map<Eigen::Matrix<S, C, 1>>(tp.c.data()) = c;
      return run<col_t>(x, &c, &tp);
    } else {
      return run<col_t>(x, static_cast<const in_vec*>(nullptr), &tp);
    }
  }

  // g^T d out/dx; g^T d out/dparams into *grad (masked weights get nothing), g^T d out/dc
  // into gctx[0..C) (each skipped when nullptr)
  FLOWTMPL_HOST_DEVICE in_vec backward(const tape& tp, const out_vec& g, made_conditioner* grad, S* gctx) const {
    constexpr int last = n_linear - 1;
    if (grad) accumulate<last>(*grad, g, buffer<n_hidden - 1>(tp), !Residual);  // residual: no activation
    col_t<lin<last>.in> gh;
    gh.noalias() = weight<last>().transpose() * g;
    if constexpr (Residual) {
      return backward_blocks<hidden_list[Residual ? 1 : 0] - 1>(tp, gh, grad, gctx);
    } else {
      return backward_feedforward<(last - 1 == 1 && C > 0) ? 0 : last - 1>(tp, gh, grad, gctx);
    }
  }

  // the first linear map of residual block b (its context layer follows when C > 0, then
  // its second linear map)
  static constexpr int block_linear(int b) { return (C > 0 ? 2 : 1) + b * (C > 0 ? 3 : 2); }

  // Hidden buffer B in the tape.
  template <int B>
  FLOWTMPL_HOST_DEVICE static Eigen::Map<const col_t<buffer_width(B)>> buffer(const tape& tp) {
    return Eigen::Map<const col_t<buffer_width(B)>>(tp.pre.data() + tape_offsets[B]);
  }

  // feedforward: gh is the cotangent of act(pre), pre the output of linear I (hidden
  // layer out_buffer(I))
  template <int I, class G>
  FLOWTMPL_HOST_DEVICE in_vec backward_feedforward(const tape& tp, const G& gh, made_conditioner* grad, S* gctx) const {
    const auto pre = buffer<out_buffer(I)>(tp);
    const col_t<lin<I>.out> gp = (gh.array() * Act::derivative(pre.array())).matrix();
    if constexpr (I == 0) {
      return backward_initial(tp, gp, grad, gctx);
    } else {
      if (grad) accumulate<I>(*grad, gp, buffer<in_buffer_of(I)>(tp), true);
      col_t<lin<I>.in> gin;
      gin.noalias() = weight<I>().transpose() * gp;
      return backward_feedforward<(I - 1 == 1 && C > 0) ? 0 : I - 1>(tp, gin, grad, gctx);
    }
  }

  // residual: gt is the cotangent of the stream after block Bk
  template <int Bk, class G>
  FLOWTMPL_HOST_DEVICE in_vec backward_blocks(const tape& tp, const G& gt_in, made_conditioner* grad, S* gctx) const {
    if constexpr (Bk < 0) {
      return backward_initial(tp, gt_in, grad, gctx);
    } else {
      constexpr int l0 = block_linear(Bk), lc = l0 + 1, l1 = C > 0 ? l0 + 2 : l0 + 1;
      const auto t = buffer<2 * Bk>(tp);      // the stream into the block
      const auto v = buffer<2 * Bk + 1>(tp);  // the inner pre-activations
      // t_out = t + W1 act(v) + b1, v = W0 act(t) + b0 [+ Wc c + bc]
      if (grad) accumulate<l1>(*grad, gt_in, v, true);
      col_t<H0> gv;
      gv.noalias() = weight<l1>().transpose() * gt_in;
      gv.array() *= Act::derivative(v.array());
      if (grad) accumulate<l0>(*grad, gv, t, true);
      if constexpr (C > 0) {
        if (grad) accumulate<lc>(*grad, gv, Eigen::Map<const Eigen::Matrix<S, C, 1>>(tp.c.data()), false);
        if (gctx) Eigen::Map<Eigen::Matrix<S, C, 1>>(gctx).noalias() += weight<lc>().transpose() * gv;
      }
      col_t<H0> ga;
      ga.noalias() = weight<l0>().transpose() * gv;
      col_t<H0> gt = gt_in;
      gt.array() += ga.array() * Act::derivative(t.array());
      return backward_blocks<Bk - 1>(tp, gt, grad, gctx);
    }
  }

  // gp: the cotangent of the initial layer's output (its sum with the context term)
  template <class G>
  FLOWTMPL_HOST_DEVICE in_vec backward_initial(const tape& tp, const G& gp, made_conditioner* grad, S* gctx) const {
    const Eigen::Map<const in_vec> x(tp.x.data());
    if (grad) accumulate<0>(*grad, gp, x, false);
    if constexpr (C > 0) {
      const Eigen::Map<const col_t<H0>> cpre(tp.cpre.data());
      if (grad || gctx) {
        const col_t<H0> gc = (gp.array() * Act::derivative(cpre.array())).matrix();
        if (grad) accumulate<1>(*grad, gc, Eigen::Map<const Eigen::Matrix<S, C, 1>>(tp.c.data()), false);
        if (gctx) Eigen::Map<Eigen::Matrix<S, C, 1>>(gctx).noalias() += weight<1>().transpose() * gc;
      }
    } else {
      (void)gctx;
    }
    in_vec gx;
    gx.noalias() = weight<0>().transpose() * gp;
    return gx;
  }

  // Adds g h^T into linear I's weight in grad (the masked entries get nothing) and g into
  // its bias; h = act(v) if activate, else v.
  template <int I, class G, class V>
  FLOWTMPL_HOST_DEVICE static void accumulate(made_conditioner& grad, const G& g, const V& v, bool activate) {
    constexpr made_linear l = lin<I>;
    S* w = grad.values.data() + l.offset;
    col_t<l.in> h;
    if constexpr (l.in_kind == 1) {
      if (activate)
        h = Act::apply(v.array()).matrix();
      else
        h = v;
    } else {
      h = v;
    }
    if constexpr (!l.masked) {
      Eigen::Map<weight_t<I>>(w).noalias() += g * h.transpose();
    } else {
      // the rows that may read the inputs of degree <= L take g_o times h with the other
      // inputs zeroed: one masked copy of h per L, then dense row updates
      using row_t = Eigen::Matrix<S, 1, l.in>;
      const made_row_groups<l.out, D + 1>& rows = detail::table<&mask_rows<I>>();
      const auto& degrees = detail::table<&mask_degrees<I>>();
      for (int L = 0; L <= D; ++L) {
        if (rows.begin[L] == rows.begin[L + 1]) continue;
        row_t hm;
        for (int i = 0; i < l.in; ++i) hm[i] = degrees[i] <= L ? h[i] : S(0);
        for (int q = rows.begin[L]; q < rows.begin[L + 1]; ++q) {
          const int o = rows.order[q];
          const S go = g[o];
          S* row = w + std::size_t(o) * l.in;
          if (go - go == S(0)) {
            Eigen::Map<row_t>(row) += go * hm;
          } else {  // inf or NaN times the zeros would not be 0
            for (int i = 0; i < l.in; ++i)
              if (degrees[i] <= L) row[i] += go * h[i];
          }
        }
      }
    }
    Eigen::Map<col_t<l.out>>(w + std::size_t(l.out) * l.in) += g;
  }
  // ---- gradients for a block of samples (host: training.hpp), feedforward without
  // context: the products over the block as dense matrix-matrix products, the weight
  // cotangents that the masks forbid dropped (they stay 0, as in backward()).
  struct block_tape {
    Eigen::Matrix<S, D, Eigen::Dynamic> x;
    std::array<Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>, n_hidden> pre;  // per hidden buffer
  };
  template <class XB>
  Eigen::Matrix<S, D * M, Eigen::Dynamic> evaluate_block_taped(const XB& X, block_tape& t) const
    requires(C == 0 && !Residual)
  {
    t.x = X;
    return run<block_t>(t.x, static_cast<const in_vec*>(nullptr), &t);
  }
  template <class GB>
  Eigen::Matrix<S, D, Eigen::Dynamic> backward_block(const block_tape& t, const GB& G, made_conditioner& grad) const
    requires(C == 0 && !Residual)
  {
    constexpr int last = n_linear - 1;
    accumulate_block<last>(grad, G, Act::apply(t.pre[n_hidden - 1].array()).matrix());
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> gh(lin<last>.in, G.cols());
    gh.noalias() = weight<last>().transpose() * G;
    return backward_block_layer<last - 1>(t, gh, grad);
  }
  // gh: the cotangent of act(pre) of linear I's output
  template <int I>
  Eigen::Matrix<S, D, Eigen::Dynamic> backward_block_layer(const block_tape& t,
                                                          Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& gh,
                                                          made_conditioner& grad) const {
    gh.array() *= Act::derivative(t.pre[out_buffer(I)].array());
    if constexpr (I == 0) {
      accumulate_block<0>(grad, gh, t.x);
      Eigen::Matrix<S, D, Eigen::Dynamic> gx(D, gh.cols());
      gx.noalias() = weight<0>().transpose() * gh;
      return gx;
    } else {
      accumulate_block<I>(grad, gh, Act::apply(t.pre[in_buffer_of(I)].array()).matrix());
      Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> gin(lin<I>.in, gh.cols());
      gin.noalias() = weight<I>().transpose() * gh;
      return backward_block_layer<I - 1>(t, gin, grad);
    }
  }
  template <int I, class G, class H>
  static void accumulate_block(made_conditioner& grad, const G& g, const H& h) {
    constexpr made_linear l = lin<I>;
    S* w = grad.values.data() + l.offset;
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> dw(l.out, l.in);
    dw.noalias() = g * h.transpose();
    for (int o = 0; o < l.out; ++o)
      for (int i = 0; i < l.in; ++i)
        if (allow_table<I>[std::size_t(o) * l.in + i]) w[std::size_t(o) * l.in + i] += dw(o, i);
    Eigen::Map<col_t<l.out>>(w + std::size_t(l.out) * l.in) += g.rowwise().sum();
  }
  template <int I>
  static constexpr std::array<bool, std::size_t(lin<I>.out) * lin<I>.in> allow_table = [] {
    std::array<bool, std::size_t(lin<I>.out) * lin<I>.in> a{};
    for (int o = 0; o < lin<I>.out; ++o)
      for (int i = 0; i < lin<I>.in; ++i) a[std::size_t(o) * lin<I>.in + i] = allowed(I, o, i);
    return a;
  }();

  // Masks as degrees: weight (o, i) of the masked linear I is allowed (allowed(I, o, i))
  // when mask_degrees<I>[i] <= L for the limit L of row o; mask_rows<I> lists the rows
  // by limit (in storage order, sorted if Sorted).
  template <int I>
  static constexpr std::array<int, lin<I>.in> mask_degrees = [] {
    std::array<int, lin<I>.in> d{};
    for (int i = 0; i < lin<I>.in; ++i)
      d[i] = degree(lin<I>.in_kind, (Sorted && lin<I>.in_kind == 1) ? tables.order[clamp_buffer(in_buffer_of(I))][i] : i);
    return d;
  }();
  static constexpr int mask_limit(int li, int o) {
    const made_linear& l = linears[li];
    const int u = (Sorted && l.out_kind == 1) ? tables.order[clamp_buffer(out_buffer(li))][o] : o;
    return degree(l.out_kind, u) - (l.out_kind == 2 ? 1 : 0);
  }
  template <int I>
  static constexpr made_row_groups<lin<I>.out, D + 1> mask_rows = [] {
    made_row_groups<lin<I>.out, D + 1> r{};
    int n = 0;
    for (int L = 0; L <= D; ++L) {
      r.begin[L] = n;
      for (int o = 0; o < lin<I>.out; ++o)
        if (mask_limit(I, o) == L) r.order[n++] = o;
    }
    r.begin[D + 1] = n;
    return r;
  }();

  // ---- masks and initialisation ---------------------------------------------------
  void apply_masks() {
    for (int li = 0; li < n_linear; ++li) {
      const made_linear& l = linears[li];
      for (int o = 0; o < l.out; ++o)
        for (int i = 0; i < l.in; ++i)
          if (!allowed(li, o, i)) weight_data(li)[std::size_t(o) * l.in + i] = S(0);
    }
  }
  const char* validate() const {
    for (int li = 0; li < n_linear; ++li) {
      const made_linear& l = linears[li];
      for (int o = 0; o < l.out; ++o)
        for (int i = 0; i < l.in; ++i)
          if (!allowed(li, o, i) && weight_data(li)[std::size_t(o) * l.in + i] != S(0))
            return "a MADE weight that its mask forbids is not zero (call apply_masks())";
    }
    return nullptr;
  }
  void reset_parameters(philox_stream& rng, init scheme, const S* output_bias) {
    for (int li = 0; li < n_linear; ++li) {
      const made_linear& l = linears[li];
      const std::size_t n = std::size_t(l.out) * l.in + std::size_t(l.out);
      if (l.role == 5 && scheme == init::identity_start) {
        for (std::size_t i = 0; i < n; ++i) weight_data(li)[i] = S(0);
      } else {
        fill_uniform(weight_data(li), n, l.in, rng);
      }
      if (l.role == 5)
        for (int o = 0; o < l.out; ++o) bias_data(li)[o] += output_bias[o];
    }
    apply_masks();
  }

  static std::string linear_name(int li) {
    const made_linear& l = linears[li];
    switch (l.role) {
      case 0: return "initial_layer";
      case 1: return "context_layer";
      case 2: return message("blocks.", l.block, ".linear_layers.0");
      case 3: return message("blocks.", l.block, ".context_layer");
      case 4: return Residual ? message("blocks.", l.block, ".linear_layers.1") : message("blocks.", l.block, ".linear");
      default: return "final_layer";
    }
  }
  // "<linear>.weight" (out x in, row-major, as torch stores it) and "<linear>.bias"
  template <class F>
  void for_each_parameter_tensor(F&& f) {
    walk_tensors(*this, f);
  }
  template <class F>
  void for_each_parameter_tensor(F&& f) const {
    walk_tensors(*this, f);
  }
  template <class F>
  void for_each_parameter_block(F&& f) {
    detail::for_each_member_block(*this, std::string(), f);
  }
  template <class F>
  void for_each_parameter_block(F&& f) const {
    detail::for_each_member_block(*this, std::string(), f);
  }

 private:
  template <class Self, class F>
  static void walk_tensors(Self& self, F& f) {
    for (int li = 0; li < n_linear; ++li) {
      f(message(linear_name(li), ".weight"), self.weight_data(li), std::size_t(linears[li].out), std::size_t(linears[li].in));
      f(message(linear_name(li), ".bias"), self.bias_data(li), std::size_t(linears[li].out), std::size_t(0));
    }
  }
};

}  // namespace detail

template <class Act, int... Hidden>
struct MADEWith {
  static_assert(act::Activation<Act>, "flowtmpl: MADEWith<Act, ...>: Act must be an activation");
  template <int D, int M, int C, class S>
  using conditioner = detail::made_conditioner<D, M, C, S, Act, false, false, Hidden...>;
};
template <int... Hidden>
struct MADE : MADEWith<act::relu, Hidden...> {
  template <class Act>
  using with = MADEWith<Act, Hidden...>;
};

template <class Act, int H, int Blocks>
struct ResidualMADEWith {
  static_assert(H > 0 && Blocks >= 1, "flowtmpl: ResidualMADE<H, Blocks>: H > 0 and at least one block");
  template <int D, int M, int C, class S>
  using conditioner = detail::made_conditioner<D, M, C, S, Act, true, false, H, Blocks>;
};
template <int H, int Blocks = 2>
struct ResidualMADE : ResidualMADEWith<act::relu, H, Blocks> {
  template <class Act>
  using with = ResidualMADEWith<Act, H, Blocks>;
};

}  // namespace flowtmpl
