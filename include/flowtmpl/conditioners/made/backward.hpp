// flowtmpl/conditioners/made/backward.hpp: the vector-Jacobian products of a MADE
// (conditioners/made.hpp; the interface is conditioners/conditioner.hpp's): backward for
// one sample on the tape of evaluate_taped, recomputing the activations from the stored
// pre-activations; backward_block for a block of samples (host, feedforward without
// context) as dense matrix-matrix products. The cotangents of the weights that the masks
// forbid are dropped, so they stay 0: per sample the allowed part of each weight row is
// updated through the row groups of mask_rows (one masked copy of the input per degree
// limit, then dense row updates); over a block the dense product is masked through
// allow_table. Cost: about twice a network evaluation.
#pragma once

#include <array>
#include <cstddef>

#include "../../detail/eigen.hpp"

#include "sequential_block.hpp"

namespace flowtmpl::detail {

template <int D, int M, int C, class S, class Act, made_architecture Arch, made_unit_order Order, class Degrees, int... Hidden>
struct made_backward : made_sequential_block<D, M, C, S, Act, Arch, Order, Degrees, Hidden...> {
  using Base = made_sequential_block<D, M, C, S, Act, Arch, Order, Degrees, Hidden...>;
  // where the parameter cotangents go: the values of a network of this type
  using layout_type = made_layout<D, M, C, S, Act, Arch, Order, Degrees, Hidden...>;
  using typename Base::in_vec;
  using typename Base::out_vec;
  using typename Base::tape;
  using typename Base::block_tape;
  using Base::allowed;
  using Base::block_linear;
  using Base::buffer_width;
  using Base::by_degree;
  using Base::clamp_buffer;
  using Base::degree;
  using Base::H0;
  using Base::hidden_list;
  using Base::in_buffer_of;
  using Base::linears;
  using Base::n_hidden;
  using Base::n_linear;
  using Base::out_buffer;
  using Base::residual;
  using Base::tables;
  using Base::tape_offsets;
  template <int I>
  static constexpr made_linear lin = Base::template lin<I>;
  template <int I>
  using weight_t = typename Base::template weight_t<I>;
  template <int R>
  using col_t = Eigen::Matrix<S, R, 1>;

  // g^T d out/dx; g^T d out/dparams into *grad (masked weights get nothing), g^T d out/dc
  // into gctx[0..C) (each skipped when nullptr)
  FLOWTMPL_HOST_DEVICE in_vec backward(const tape& tp, const out_vec& g, layout_type* grad, S* gctx) const {
    constexpr int last = n_linear - 1;
    if (grad) accumulate<last>(*grad, g, buffer<n_hidden - 1>(tp), !residual);  // residual: no activation
    col_t<lin<last>.in> gh;
    gh.noalias() = this->template weight<last>().transpose() * g;
    if constexpr (residual) {
      return backward_blocks<hidden_list[residual ? 1 : 0] - 1>(tp, gh, grad, gctx);
    } else {
      return backward_feedforward<(last - 1 == 1 && C > 0) ? 0 : last - 1>(tp, gh, grad, gctx);
    }
  }

  // Hidden buffer B in the tape.
  template <int B>
  FLOWTMPL_HOST_DEVICE static Eigen::Map<const col_t<buffer_width(B)>> buffer(const tape& tp) {
    return Eigen::Map<const col_t<buffer_width(B)>>(tp.pre.data() + tape_offsets[B]);
  }

  // feedforward: gh is the cotangent of act(pre), pre the output of linear I (hidden
  // layer out_buffer(I))
  template <int I, class G>
  FLOWTMPL_HOST_DEVICE in_vec backward_feedforward(const tape& tp, const G& gh, layout_type* grad, S* gctx) const {
    const auto pre = buffer<out_buffer(I)>(tp);
    const col_t<lin<I>.out> gp = (gh.array() * Act::derivative(pre.array())).matrix();
    if constexpr (I == 0) {
      return backward_initial(tp, gp, grad, gctx);
    } else {
      if (grad) accumulate<I>(*grad, gp, buffer<in_buffer_of(I)>(tp), true);
      col_t<lin<I>.in> gin;
      gin.noalias() = this->template weight<I>().transpose() * gp;
      return backward_feedforward<(I - 1 == 1 && C > 0) ? 0 : I - 1>(tp, gin, grad, gctx);
    }
  }

  // residual: gt is the cotangent of the stream after block Bk
  template <int Bk, class G>
  FLOWTMPL_HOST_DEVICE in_vec backward_blocks(const tape& tp, const G& gt_in, layout_type* grad, S* gctx) const {
    if constexpr (Bk < 0) {
      return backward_initial(tp, gt_in, grad, gctx);
    } else {
      constexpr int l0 = block_linear(Bk), lc = l0 + 1, l1 = C > 0 ? l0 + 2 : l0 + 1;
      const auto t = buffer<2 * Bk>(tp);      // the stream into the block
      const auto v = buffer<2 * Bk + 1>(tp);  // the inner pre-activations
      // t_out = t + W1 act(v) + b1, v = W0 act(t) + b0 [+ Wc c + bc]
      if (grad) accumulate<l1>(*grad, gt_in, v, true);
      col_t<H0> gv;
      gv.noalias() = this->template weight<l1>().transpose() * gt_in;
      gv.array() *= Act::derivative(v.array());
      if (grad) accumulate<l0>(*grad, gv, t, true);
      if constexpr (C > 0) {
        if (grad) accumulate<lc>(*grad, gv, Eigen::Map<const Eigen::Matrix<S, C, 1>>(tp.c.data()), false);
        if (gctx) Eigen::Map<Eigen::Matrix<S, C, 1>>(gctx).noalias() += this->template weight<lc>().transpose() * gv;
      }
      col_t<H0> ga;
      ga.noalias() = this->template weight<l0>().transpose() * gv;
      col_t<H0> gt = gt_in;
      gt.array() += ga.array() * Act::derivative(t.array());
      return backward_blocks<Bk - 1>(tp, gt, grad, gctx);
    }
  }

  // gp: the cotangent of the initial layer's output (its sum with the context term)
  template <class G>
  FLOWTMPL_HOST_DEVICE in_vec backward_initial(const tape& tp, const G& gp, layout_type* grad, S* gctx) const {
    const Eigen::Map<const in_vec> x(tp.x.data());
    if (grad) accumulate<0>(*grad, gp, x, false);
    if constexpr (C > 0) {
      const Eigen::Map<const col_t<H0>> cpre(tp.cpre.data());
      if (grad || gctx) {
        col_t<H0> gc = gp;
        if constexpr (Base::context_activated) gc.array() *= Act::derivative(cpre.array());
        if (grad) accumulate<1>(*grad, gc, Eigen::Map<const Eigen::Matrix<S, C, 1>>(tp.c.data()), false);
        if (gctx) Eigen::Map<Eigen::Matrix<S, C, 1>>(gctx).noalias() += this->template weight<1>().transpose() * gc;
      }
    } else {
      (void)gctx;
    }
    in_vec gx;
    gx.noalias() = this->template weight<0>().transpose() * gp;
    return gx;
  }

  // Adds g h^T into linear I's weight in grad (the masked entries get nothing) and g into
  // its bias; h = act(v) if activate, else v.
  template <int I, class G, class V>
  FLOWTMPL_HOST_DEVICE static void accumulate(layout_type& grad, const G& g, const V& v, bool activate) {
    constexpr made_linear l = lin<I>;
    S* w = grad.values.data() + l.offset;
    col_t<l.in> h;
    if constexpr (l.in_units == made_units::hidden) {
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

  // ---- a block of samples (host: training.hpp), feedforward --------------------------
  // G: the outputs' cotangents; the parameters' into grad, the context's (C x n) into
  // *GC when given; returns the inputs'.
  using context_block = Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic>;
  template <class GB>
  Eigen::Matrix<S, D, Eigen::Dynamic> backward_block(const block_tape& t, const GB& G, layout_type& grad,
                                                     context_block* GC = nullptr) const
    requires(!residual)
  {
    constexpr int last = n_linear - 1;
    accumulate_block<last>(grad, G, Act::apply(t.pre[n_hidden - 1].array()).matrix());
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> gh(lin<last>.in, G.cols());
    gh.noalias() = this->template weight<last>().transpose() * G;
    return backward_block_layer<(last - 1 == 1 && C > 0) ? 0 : last - 1>(t, gh, grad, GC);
  }
  // gh: the cotangent of act(pre) of linear I's output (linear 1 reads the context
  // when C > 0: the sweep goes from linear 2 to linear 0)
  template <int I>
  Eigen::Matrix<S, D, Eigen::Dynamic> backward_block_layer(const block_tape& t,
                                                          Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& gh,
                                                          layout_type& grad, context_block* GC) const {
    gh.array() *= Act::derivative(t.pre[out_buffer(I)].array());
    if constexpr (I == 0) {
      accumulate_block<0>(grad, gh, t.x);
      if constexpr (C > 0) {
        // the initial layer's output is W0 x + b0 + act(W1 c + b1) (or + W1 c + b1: linear context)
        Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> gc = gh;
        if constexpr (Base::context_activated) gc.array() *= Act::derivative(t.cpre.array());
        accumulate_block<1>(grad, gc, t.c);
        if (GC) GC->noalias() += this->template weight<1>().transpose() * gc;
      } else {
        (void)GC;
      }
      Eigen::Matrix<S, D, Eigen::Dynamic> gx(D, gh.cols());
      gx.noalias() = this->template weight<0>().transpose() * gh;
      return gx;
    } else {
      accumulate_block<I>(grad, gh, Act::apply(t.pre[in_buffer_of(I)].array()).matrix());
      Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> gin(lin<I>.in, gh.cols());
      gin.noalias() = this->template weight<I>().transpose() * gh;
      return backward_block_layer<(I - 1 == 1 && C > 0) ? 0 : I - 1>(t, gin, grad, GC);
    }
  }
  template <int I, class G, class H>
  static void accumulate_block(layout_type& grad, const G& g, const H& h) {
    constexpr made_linear l = lin<I>;
    S* w = grad.values.data() + l.offset;
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> dw(l.out, l.in);
    dw.noalias() = g * h.transpose();
    for (int o = 0; o < l.out; ++o)
      for (int i = 0; i < l.in; ++i)
        if (allow_table<I>[std::size_t(o) * l.in + i]) w[std::size_t(o) * l.in + i] += dw(o, i);
    Eigen::Map<col_t<l.out>>(w + std::size_t(l.out) * l.in) += g.rowwise().sum();
  }

  // ---- the masks as tables ----------------------------------------------------------
  // allow_table<I>: allowed(I, o, i) for every weight (o, i) of linear I, row-major.
  template <int I>
  static constexpr std::array<bool, std::size_t(lin<I>.out) * lin<I>.in> allow_table = [] {
    std::array<bool, std::size_t(lin<I>.out) * lin<I>.in> a{};
    for (int o = 0; o < lin<I>.out; ++o)
      for (int i = 0; i < lin<I>.in; ++i) a[std::size_t(o) * lin<I>.in + i] = allowed(I, o, i);
    return a;
  }();
  // Weight (o, i) of the masked linear I is allowed (allowed(I, o, i)) when
  // mask_degrees<I>[i] <= L for the limit L = mask_limit(I, o) of row o; mask_rows<I>
  // lists the rows by limit (in storage order, sorted if by_degree).
  template <int I>
  static constexpr std::array<int, lin<I>.in> mask_degrees = [] {
    std::array<int, lin<I>.in> d{};
    for (int i = 0; i < lin<I>.in; ++i)
      d[i] = degree(lin<I>.in_units,
                    (by_degree && lin<I>.in_units == made_units::hidden) ? tables.order[clamp_buffer(in_buffer_of(I))][i]
                                                                          : i,
                    clamp_buffer(in_buffer_of(I)));
    return d;
  }();
  static constexpr int mask_limit(int li, int o) {
    const made_linear& l = linears[li];
    const int u = (by_degree && l.out_units == made_units::hidden) ? tables.order[clamp_buffer(out_buffer(li))][o] : o;
    return degree(l.out_units, u, clamp_buffer(out_buffer(li))) - (l.out_units == made_units::outputs ? 1 : 0);
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
};

}  // namespace flowtmpl::detail
