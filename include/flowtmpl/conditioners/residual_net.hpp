// flowtmpl/conditioners/residual_net.hpp: ResidualNet<H, Blocks>, the residual network
// that nflows's couplings take by default (nflows.nn.nets.ResidualNet), a conditioner of
// coupling layers.
//
//   ResidualNet<64>                       two blocks of 64 units, ReLU (nflows's
//                                         num_blocks = 2, activation = F.relu)
//   ResidualNet<64, 3>::with<act::tanh>   three blocks, another activation
//   ResidualNetWith<Act, H, Blocks>       the same, spelled out
//
// Bound with In inputs, C context inputs (0: none) and Out outputs, on one stream t of
// H units:
//   t = W_i [x; c] + b_i
//   per block k:  q = W1_k act(W0_k act(t) + b0_k) + b1_k
//                 t = t + q                               (C = 0)
//                 t = t + q * sigmoid(Wc_k c + bc_k)      (C > 0: nflows's GLU gate)
//   out = W_f t + b_f
// No activation after the last block nor on the output. This is nflows's ResidualNet in
// eval mode (dropout off) without batch norm, which nflows leaves off by default.
//
// Parameters in one flat array, named and laid out as nflows's state_dict:
//   initial_layer.{weight, bias}                       [H][In + C], [H]
//   per block k: blocks.k.context_layer.{weight, bias} [H][C], [H]   (C > 0 only)
//                blocks.k.linear_layers.{0, 1}.{weight, bias}  [H][H], [H]
//   final_layer.{weight, bias}                         [Out][H], [Out]
// weights [out][in] row-major as torch stores them.
// Initialisation (conditioner.hpp): every linear map as PyTorch's Linear, except each
// block's linear_layers.1, uniform in +-1e-3 as nflows's zero_initialization (a block
// starts near the identity), and the final layer (0 plus the output bias for
// init::identity_start).
// Cost per sample: H (In + C) + Blocks (2 H^2 + H C) + Out H multiply-adds; on the host
// a block of samples runs as matrix-matrix products.
// Gradients (conditioner.hpp): the tape keeps [x; c], the stream before every block and
// after the last, each block's inner pre-activations and, with a context, each block's
// ungated update and its gate.
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

template <int In, int Out, int C, class S, class Act, int H, int Blocks>
struct residual_net_conditioner : parameter_walkers<residual_net_conditioner<In, Out, C, S, Act, H, Blocks>> {
  static_assert(H > 0 && Blocks >= 0, "flowtmpl: ResidualNet<H, Blocks>: H must be positive and Blocks >= 0");
  using scalar_type = S;
  using activation_type = Act;
  static constexpr int inputs = In;
  static constexpr int outputs = Out;
  static constexpr int context = C;
  static constexpr std::array<int, 2> hidden_list{H, Blocks};  // spec_text: ResidualNet<H,Blocks>
  static constexpr const char* name = "ResidualNet";

  // ---- the flat layout: a linear map of r outputs and k inputs is r*k weights, r biases
  static constexpr std::size_t linear_size(int r, int k) { return std::size_t(r) * std::size_t(k) + std::size_t(r); }
  static constexpr std::size_t context_layer_size = C > 0 ? linear_size(H, C) : 0;
  static constexpr std::size_t block_size = context_layer_size + 2 * linear_size(H, H);
  static constexpr std::size_t blocks_offset = linear_size(H, In + C);
  // block k's context layer (C > 0) and its linear_layers.j (j = 0, 1)
  static constexpr std::size_t context_offset(int k) { return blocks_offset + std::size_t(k) * block_size; }
  static constexpr std::size_t linear_offset(int k, int j) {
    return context_offset(k) + context_layer_size + std::size_t(j) * linear_size(H, H);
  }
  static constexpr std::size_t final_offset = blocks_offset + std::size_t(Blocks) * block_size;
  static constexpr std::size_t parameter_count = final_offset + linear_size(Out, H);

  std::array<S, parameter_count> values{};

  static constexpr int CC = C > 0 ? C : 1;
  using in_vec = Eigen::Matrix<S, In, 1>;
  using out_vec = Eigen::Matrix<S, Out, 1>;
  template <int R, int K>
  using weight_t = Eigen::Matrix<S, R, K, row_major_options(K)>;
  template <int R>
  using col = Eigen::Matrix<S, R, 1>;
  template <int R>
  using cols = Eigen::Matrix<S, R, Eigen::Dynamic>;

  // the weight [R][K] at off, and its bias right after it
  template <int R, int K>
  FLOWTMPL_HOST_DEVICE Eigen::Map<const weight_t<R, K>> weight(std::size_t off) const {
    return Eigen::Map<const weight_t<R, K>>(values.data() + off);
  }
  template <int R, int K>
  FLOWTMPL_HOST_DEVICE Eigen::Map<const col<R>> bias(std::size_t off) const {
    return Eigen::Map<const col<R>>(values.data() + off + std::size_t(R) * K);
  }
  // into a gradient: g^T a added to the weight [R][K] at off, the sum of g's columns to its bias
  FLOWTMPL_NO_EXEC_CHECK
  template <int R, int K, class G, class A>
  FLOWTMPL_HOST_DEVICE static void accumulate(residual_net_conditioner& grad, std::size_t off, const G& g, const A& a) {
    Eigen::Map<weight_t<R, K>>(grad.values.data() + off).noalias() += g * a.transpose();
    Eigen::Map<col<R>>(grad.values.data() + off + std::size_t(R) * K) += g.rowwise().sum();
  }

  // What the backward pass needs, for one sample (Mat = col) or a block (Mat = cols).
  template <template <int> class Mat>
  struct tape_of {
    Mat<In + C> xc;                                 // [x; c]
    std::array<Mat<H>, Blocks + 1> stream;          // t before block k, and after the last
    std::array<Mat<H>, Blocks> pre;                 // W0_k act(t) + b0_k
    std::array<Mat<H>, (C > 0 ? Blocks : 0)> ungated;  // q before the gate
    std::array<Mat<H>, (C > 0 ? Blocks : 0)> gate;     // sigmoid(Wc_k c + bc_k)
  };
  using tape = tape_of<col>;
  using block_tape = tape_of<cols>;

  // ---- the evaluation, for one sample or a block: xc is [x; c] (In + C rows). Tp: a
  // tape_of<Mat>* to record into, or nullptr_t.
  FLOWTMPL_NO_EXEC_CHECK
  template <template <int> class Mat, class XC, class Tp = std::nullptr_t>
  FLOWTMPL_HOST_DEVICE Mat<Out> run(const XC& xc, Tp tp = nullptr) const {
    constexpr bool taped = !std::is_same_v<Tp, std::nullptr_t>;
    const auto n = xc.cols();
    Mat<H> t(static_cast<Eigen::Index>(H), n);
    t.noalias() = product(weight<H, In + C>(0), xc);
    t.colwise() += bias<H, In + C>(0);
    for (int k = 0; k < Blocks; ++k) {
      if constexpr (taped) tp->stream[std::size_t(k)] = t;
      const Mat<H> a = Act::apply(t.array()).matrix();
      Mat<H> p(static_cast<Eigen::Index>(H), n);
      p.noalias() = product(weight<H, H>(linear_offset(k, 0)), a);
      p.colwise() += bias<H, H>(linear_offset(k, 0));
      if constexpr (taped) tp->pre[std::size_t(k)] = p;
      p = Act::apply(p.array()).matrix();
      Mat<H> q(static_cast<Eigen::Index>(H), n);
      q.noalias() = product(weight<H, H>(linear_offset(k, 1)), p);
      q.colwise() += bias<H, H>(linear_offset(k, 1));
      if constexpr (C > 0) {
        Mat<H> s(static_cast<Eigen::Index>(H), n);
        s.noalias() = product(weight<H, C>(context_offset(k)), xc.template bottomRows<C>());
        s.colwise() += bias<H, C>(context_offset(k));
        s = (S(1) / (S(1) + (-s.array()).exp())).matrix();
        if constexpr (taped) {
          tp->ungated[std::size_t(k)] = q;
          tp->gate[std::size_t(k)] = s;
        }
        q.array() *= s.array();
      }
      t += q;
    }
    if constexpr (taped) tp->stream[std::size_t(Blocks)] = t;
    Mat<Out> out(static_cast<Eigen::Index>(Out), n);
    out.noalias() = product(weight<Out, H>(final_offset), t);
    out.colwise() += bias<Out, H>(final_offset);
    return out;
  }

  // The cotangent of [x; c] for the outputs' g; the parameters' added into *grad (when
  // not nullptr).
  FLOWTMPL_NO_EXEC_CHECK
  template <template <int> class Mat, class G>
  FLOWTMPL_HOST_DEVICE Mat<In + C> back(const tape_of<Mat>& tp, const G& g, residual_net_conditioner* grad) const {
    if (grad) accumulate<Out, H>(*grad, final_offset, g, tp.stream[std::size_t(Blocks)]);
    Mat<H> gt(static_cast<Eigen::Index>(H), g.cols());
    gt.noalias() = weight<Out, H>(final_offset).transpose() * g;
    // the context's cotangent through the blocks' gates (C > 0)
    Mat<CC> gc = Mat<CC>::Zero(int(CC), g.cols());
    for (int k = Blocks - 1; k >= 0; --k) {
      const auto K = std::size_t(k);
      Mat<H> gq = gt;
      if constexpr (C > 0) {
        // d(q * s)/dq = s; d/ds = q, and ds = s (1 - s) d(Wc c + bc)
        const Mat<H> gs = (gt.array() * tp.ungated[K].array() * tp.gate[K].array() * (S(1) - tp.gate[K].array())).matrix();
        gq.array() *= tp.gate[K].array();
        if (grad) accumulate<H, C>(*grad, context_offset(k), gs, tp.xc.template bottomRows<C>());
        gc.noalias() += weight<H, C>(context_offset(k)).transpose() * gs;
      }
      if (grad) accumulate<H, H>(*grad, linear_offset(k, 1), gq, Act::apply(tp.pre[K].array()).matrix());
      Mat<H> gp(static_cast<Eigen::Index>(H), g.cols());
      gp.noalias() = weight<H, H>(linear_offset(k, 1)).transpose() * gq;
      gp.array() *= Act::derivative(tp.pre[K].array());
      if (grad) accumulate<H, H>(*grad, linear_offset(k, 0), gp, Act::apply(tp.stream[K].array()).matrix());
      Mat<H> ga(static_cast<Eigen::Index>(H), g.cols());
      ga.noalias() = weight<H, H>(linear_offset(k, 0)).transpose() * gp;
      gt.array() += ga.array() * Act::derivative(tp.stream[K].array());
    }
    if (grad) accumulate<H, In + C>(*grad, 0, gt, tp.xc);
    Mat<In + C> gxc(static_cast<Eigen::Index>(In + C), g.cols());
    gxc.noalias() = weight<H, In + C>(0).transpose() * gt;
    if constexpr (C > 0) gxc.template bottomRows<C>() += gc;
    return gxc;
  }

  // ---- one sample; ctx points to C values (ignored when C = 0) -------------------------
  FLOWTMPL_HOST_DEVICE static col<In + C> joined(const in_vec& x, const S* ctx) {
    col<In + C> xc;
    xc.template topRows<In>() = x;
    if constexpr (C > 0) xc.template bottomRows<C>() = Eigen::Map<const Eigen::Matrix<S, C, 1>>(ctx);
    return xc;
  }
  FLOWTMPL_HOST_DEVICE out_vec evaluate(const in_vec& x, const S* ctx) const { return run<col>(joined(x, ctx)); }
  FLOWTMPL_HOST_DEVICE out_vec evaluate_taped(const in_vec& x, const S* ctx, tape& t) const {
    t.xc = joined(x, ctx);
    return run<col>(t.xc, &t);
  }
  FLOWTMPL_HOST_DEVICE in_vec backward(const tape& t, const out_vec& g, residual_net_conditioner* grad, S* gctx) const {
    const col<In + C> gxc = back<col>(t, g, grad);
    if constexpr (C > 0)
      if (gctx) Eigen::Map<Eigen::Matrix<S, C, 1>>(gctx) += gxc.template bottomRows<C>();
    return gxc.template topRows<In>();
  }

  // ---- a block of samples, one per column (host): X is In x n, Ctx C x n --------------
  template <class XB, class CB>
  static cols<In + C> joined_block(const XB& X, const CB* Ctx) {
    cols<In + C> xc(static_cast<Eigen::Index>(In + C), X.cols());
    xc.template topRows<In>() = X;
    if constexpr (C > 0) xc.template bottomRows<C>() = *Ctx;
    return xc;
  }
  // Out x n, row-major (a row holds one output for every sample), as MLP's
  template <class XB, class CB>
  Eigen::Matrix<S, Out, Eigen::Dynamic, Eigen::RowMajor> evaluate_block(const XB& X, const CB* Ctx) const {
    return run<cols>(joined_block(X, Ctx));
  }
  template <class XB>
  cols<Out> evaluate_block_taped(const XB& X, block_tape& t) const
    requires(C == 0)
  {
    t.xc = X;
    return run<cols>(t.xc, &t);
  }
  template <class XB, class CB>
  cols<Out> evaluate_block_taped(const XB& X, const CB& Ctx, block_tape& t) const
    requires(C > 0)
  {
    t.xc = joined_block(X, &Ctx);
    return run<cols>(t.xc, &t);
  }
  // G: the outputs' cotangents (Out x n). Adds the parameters' cotangents, summed over
  // the block, into grad, and the context's (C x n) into *GC when given; returns the
  // inputs' (In x n).
  using context_block = cols<CC>;
  template <class GB>
  cols<In> backward_block(const block_tape& t, const GB& G, residual_net_conditioner& grad,
                          context_block* GC = nullptr) const {
    const cols<In + C> gxc = back<cols>(t, cols<Out>(G), &grad);
    if constexpr (C > 0)
      if (GC) *GC += gxc.template bottomRows<C>();
    return gxc.template topRows<In>();
  }

  // ---- initialisation and names ---------------------------------------------------------
  // each block's linear_layers.1 starts uniform in +-this (nflows's zero_initialization)
  static constexpr double zero_initialization_bound = 1e-3;
  void reset_parameters(philox_stream& rng, init scheme, const S* output_bias) {
    fill_uniform(values.data(), linear_size(H, In + C), In + C, rng);
    for (int k = 0; k < Blocks; ++k) {
      if constexpr (C > 0) fill_uniform(values.data() + context_offset(k), linear_size(H, C), C, rng);
      fill_uniform(values.data() + linear_offset(k, 0), linear_size(H, H), H, rng);
      S* w = values.data() + linear_offset(k, 1);
      for (std::size_t i = 0; i < linear_size(H, H); ++i)
        w[i] = S((2.0 * rng.uniform<double>() - 1.0) * zero_initialization_bound);
    }
    S* last = values.data() + final_offset;
    if (scheme == init::identity_start) {
      for (std::size_t i = 0; i < linear_size(Out, H); ++i) last[i] = S(0);
    } else {
      fill_uniform(last, linear_size(Out, H), H, rng);
    }
    for (int o = 0; o < Out; ++o) last[std::size_t(Out) * H + std::size_t(o)] += output_bias[o];
  }

  // for parameter_walkers: nflows's state_dict names (see the top of this header)
  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    auto linear = [&](const std::string& base, std::size_t off, int r, int k) {
      f(base + ".weight", self.values.data() + off, std::size_t(r), std::size_t(k));
      f(base + ".bias", self.values.data() + off + std::size_t(r) * std::size_t(k), std::size_t(r), std::size_t(0));
    };
    linear("initial_layer", 0, H, In + C);
    for (int k = 0; k < Blocks; ++k) {
      const std::string b = detail::message("blocks.", k, ".");
      if constexpr (C > 0) linear(b + "context_layer", context_offset(k), H, C);
      linear(b + "linear_layers.0", linear_offset(k, 0), H, H);
      linear(b + "linear_layers.1", linear_offset(k, 1), H, H);
    }
    linear("final_layer", final_offset, Out, H);
  }
};

}  // namespace detail

template <class Act, int H, int Blocks = 2>
struct ResidualNetWith {
  static_assert(act::Activation<Act>, "flowtmpl: ResidualNetWith<Act, ...>: Act must be an activation "
                                      "(flowtmpl::act::relu, tanh, silu, elu, or a type with name and scalar(v))");
  static_assert(H > 0 && Blocks >= 0, "flowtmpl: ResidualNet<H, Blocks>: H must be positive and Blocks >= 0");
  template <int In, int Out, int C, class S>
  using conditioner = detail::residual_net_conditioner<In, Out, C, S, Act, H, Blocks>;
};

template <int H, int Blocks = 2>
struct ResidualNet : ResidualNetWith<act::relu, H, Blocks> {
  template <class Act>
  using with = ResidualNetWith<Act, H, Blocks>;
};

}  // namespace flowtmpl
