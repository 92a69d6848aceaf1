// flowtmpl/conditioners/made/network.hpp: evaluating a whole MADE (conditioners/made.hpp)
// at once: one sample (evaluate, evaluate_taped) or a block of samples, one per column
// (evaluate_block, evaluate_block_taped; host only). Each linear map is one product of
// its stored (masked) weight with the previous units, so the cost is the dense network's:
// sum over the maps of out x in multiply-adds per sample.
//
// The tape (for backward, made/backward.hpp) holds the input, the context, the context
// layer's pre-activations and every hidden buffer (numbered as in made/layout.hpp):
// feedforward, hidden layer b's pre-activations; residual, the stream after the initial
// layer and after every block, and every block's inner pre-activations.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

#include "../../detail/eigen.hpp"

#include "../../detail/math.hpp"
#include "../activations.hpp"
#include "layout.hpp"

namespace flowtmpl::detail {

template <int D, int M, int C, class S, class Act, made_architecture Arch, made_unit_order Order, class Degrees, int... Hidden>
struct made_network : made_layout<D, M, C, S, Act, Arch, Order, Degrees, Hidden...> {
  using Base = made_layout<D, M, C, S, Act, Arch, Order, Degrees, Hidden...>;
  using typename Base::in_vec;
  using typename Base::out_vec;
  using Base::buffer_width;
  using Base::H0;
  using Base::n_hidden;
  using Base::n_linear;
  using Base::out_buffer;
  using Base::residual;
  template <int I>
  static constexpr made_linear lin = Base::template lin<I>;
  template <int R>
  using col_t = Eigen::Matrix<S, R, 1>;
  template <int R>
  using block_t = Eigen::Matrix<S, R, Eigen::Dynamic>;

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
  // the tape of a block of samples (feedforward: evaluate_block_taped)
  struct block_tape {
    Eigen::Matrix<S, D, Eigen::Dynamic> x;
    Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic> c;               // the context block
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> cpre;             // its linear's output
    std::array<Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>, n_hidden> pre;  // per hidden buffer
  };

  // one sample; ctx points to C values (ignored when C = 0)
  FLOWTMPL_HOST_DEVICE out_vec evaluate(const in_vec& x, const S* ctx) const {
    if constexpr (C > 0) {
      const Eigen::Map<const Eigen::Matrix<S, C, 1>> c(ctx);
      return run<col_t>(x, &c);
    } else {
      return run<col_t>(x, static_cast<const in_vec*>(nullptr));
    }
  }
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

  // A block of samples, one per column. The feedforward network without context runs
  // every layer through dense_rows (row-major activations, the masked zeros multiplied as
  // stored) and returns D*M x n row-major; the others run as matrix products (run).
  template <class XB, class CB>
  auto evaluate_block(const XB& X, const CB* Ctx) const {
    if constexpr (!residual && C == 0) {
      (void)Ctx;
      const Eigen::Matrix<S, D, Eigen::Dynamic, Eigen::RowMajor> a = X;
      return dense_block<0>(a);
    } else {
      return run<block_t>(X, Ctx);
    }
  }
  // The feedforward network without context: evaluate_block's kernels (so its bits),
  // every hidden layer's pre-activations kept
  template <class XB>
  Eigen::Matrix<S, D * M, Eigen::Dynamic> evaluate_block_taped(const XB& X, block_tape& t) const
    requires(C == 0 && !residual)
  {
    t.x = X;
    const Eigen::Matrix<S, D, Eigen::Dynamic, Eigen::RowMajor> a = X;
    return dense_block_taped<0>(a, t);
  }
  template <class XB, class CB>
  Eigen::Matrix<S, D * M, Eigen::Dynamic> evaluate_block_taped(const XB& X, const CB& Ctx, block_tape& t) const
    requires(C > 0 && !residual)
  {
    t.x = X;
    t.c = Ctx;
    return run<block_t>(t.x, &t.c, &t);
  }

  // ---- the evaluation, for one sample (N = 1 columns) or a block -------------------
  // Works on any matrix type with H0 rows; Mat<R> makes the R-row buffer type. Tp: a
  // tape* to record the pre-activations into (one sample), a block_tape* (a block), or
  // nullptr_t.
  FLOWTMPL_NO_EXEC_CHECK
  template <template <int> class Mat, class XB, class CB, class Tp = std::nullptr_t>
  FLOWTMPL_HOST_DEVICE Mat<D * M> run(const XB& X, const CB* Ctx, Tp tp = nullptr) const {
    constexpr int ctx0 = C > 0 ? 1 : -1;
    Mat<H0> t(int(H0), X.cols());
    t.noalias() = product(this->template weight<0>(), X);
    t.colwise() += this->template bias<0>();
    if constexpr (C > 0) {
      Mat<H0> c(int(H0), X.cols());
      c.noalias() = product(this->template weight<ctx0>(), (*Ctx));
      c.colwise() += this->template bias<ctx0>();
      if constexpr (std::is_same_v<Tp, block_tape*>)
        tp->cpre = c;
      else if constexpr (!std::is_same_v<Tp, std::nullptr_t>)
        Eigen::Map<col_t<H0>>(tp->cpre.data()) = c;
      if constexpr (Base::context_activated)
        t.array() += Act::apply(c.array());
      else
        t += c;
    }
    record<0>(tp, t);
    if constexpr (residual) {
      return run_blocks<Mat, (C > 0 ? 2 : 1)>(t, Ctx, tp);
    } else {
      t.array() = Act::apply(t.array());
      return run_feedforward<Mat, (C > 0 ? 2 : 1)>(t, tp);
    }
  }
  FLOWTMPL_NO_EXEC_CHECK
  template <template <int> class Mat, int I, class T, class Tp>
  FLOWTMPL_HOST_DEVICE Mat<D * M> run_feedforward(const T& h, Tp tp) const {
    if constexpr (lin<I>.role == made_role::final_layer) {
      Mat<D * M> out(D * M, h.cols());
      out.noalias() = product(this->template weight<I>(), h);
      out.colwise() += this->template bias<I>();
      return out;
    } else {
      Mat<lin<I>.out> next(int(lin<I>.out), h.cols());
      next.noalias() = product(this->template weight<I>(), h);
      next.colwise() += this->template bias<I>();
      record<out_buffer(I)>(tp, next);
      next.array() = Act::apply(next.array());
      return run_feedforward<Mat, I + 1>(next, tp);
    }
  }
  FLOWTMPL_NO_EXEC_CHECK
  template <template <int> class Mat, int I, class T, class CB, class Tp>
  FLOWTMPL_HOST_DEVICE Mat<D * M> run_blocks(T& t, const CB* Ctx, Tp tp) const {
    if constexpr (lin<I>.role == made_role::final_layer) {
      Mat<D * M> out(D * M, t.cols());
      out.noalias() = product(this->template weight<I>(), t);
      out.colwise() += this->template bias<I>();
      return out;
    } else {
      // block: u = L1(act(L0(act(t)) [+ ctx])); t += u
      Mat<H0> a(int(H0), t.cols());
      a.array() = Act::apply(t.array());
      Mat<H0> v(int(H0), t.cols());
      v.noalias() = product(this->template weight<I>(), a);
      v.colwise() += this->template bias<I>();
      constexpr int next = C > 0 ? I + 2 : I + 1;
      if constexpr (C > 0) {
        v.noalias() += product(this->template weight<I + 1>(), (*Ctx));
        v.colwise() += this->template bias<I + 1>();
      }
      record<2 * lin<I>.block + 1>(tp, v);
      v.array() = Act::apply(v.array());
      t.noalias() += product(this->template weight<next>(), v);
      t.colwise() += this->template bias<next>();
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

  // dense_block with linear I's output recorded as hidden buffer out_buffer(I) (the
  // feedforward network without context)
  template <int I, class A>
  Eigen::Matrix<S, D * M, Eigen::Dynamic, Eigen::RowMajor> dense_block_taped(const A& a, block_tape& t) const {
    Eigen::Matrix<S, lin<I>.out, Eigen::Dynamic, Eigen::RowMajor> h(lin<I>.out, a.cols());
    dense_rows<S, fused_activation::none>(this->weight_data(I), this->bias_data(I), lin<I>.out, lin<I>.in, a.data(),
                                          h.data(), a.cols());
    if constexpr (I == n_linear - 1) {
      return h;
    } else {
      t.pre[out_buffer(I)] = h;
      h.array() = Act::apply(h.array());
      return dense_block_taped<I + 1>(h, t);
    }
  }
  // the feedforward network without context over a block, from linear I on: a (lin<I>.in
  // x n, row-major) the activated units it reads
  template <int I, class A>
  Eigen::Matrix<S, D * M, Eigen::Dynamic, Eigen::RowMajor> dense_block(const A& a) const {
    constexpr bool last = I == n_linear - 1;
    constexpr bool fused = !last && std::is_same_v<Act, act::relu>;
    Eigen::Matrix<S, lin<I>.out, Eigen::Dynamic, Eigen::RowMajor> h(lin<I>.out, a.cols());
    dense_rows<S, fused ? fused_activation::relu : fused_activation::none>(
        this->weight_data(I), this->bias_data(I), lin<I>.out, lin<I>.in, a.data(), h.data(), a.cols());
    if constexpr (last) {
      return h;
    } else {
      if constexpr (!fused) h.array() = Act::apply(h.array());
      return dense_block<I + 1>(h);
    }
  }
};

}  // namespace flowtmpl::detail
