// flowtmpl/conditioners/mlp.hpp: MLP<hidden...>, a fully connected network with static
// weight shapes, the conditioner of coupling layers.
//
//   MLP<64, 64>                  ReLU between layers
//   MLP<64, 64>::with<act::tanh> another activation (act::relu, tanh, silu, elu)
//   MLPWith<Act, 64, 64>         the same, spelled out
//
// Bound with In inputs, C context inputs (0: none) and Out outputs:
//   h_0 = [x; c] (In + C values), h_l+1 = act(W_l h_l + b_l), out = W_L h_L + b_L
// (no activation on the output). Parameters: per layer l, weight [out][in] row-major
// then bias, in one flat array `values`; names "l.weight", "l.bias". Context enters as
// extra inputs of the first layer (as zuko's MLP takes it; nflows's ResidualNet, which
// also gates every block by it, is conditioners/residual_net.hpp).
// Cost: sum over layers of out x in multiply-adds per sample; evaluate_block does the
// same for a block of samples, each layer one fused kernel (detail::dense_rows: bias and
// ReLU in the kernel, row-major activations; host only: it allocates).
// nflows.nn.nets.MLP is this network (its _input_layer is layer 0, _hidden_layers.i
// layer i + 1, _output_layer the last; tools/export maps the names).
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

template <int In, int Out, int C, class S, class Act, int... Hidden>
struct mlp_conditioner : parameter_walkers<mlp_conditioner<In, Out, C, S, Act, Hidden...>> {
  static_assert(((Hidden > 0) && ...), "flowtmpl: MLP<hidden...>: every hidden width must be positive");
  using scalar_type = S;
  using activation_type = Act;
  static constexpr int inputs = In;
  static constexpr int outputs = Out;
  static constexpr int context = C;
  static constexpr int layers = int(sizeof...(Hidden)) + 1;
  static constexpr std::array<int, layers + 1> widths{In + C, Hidden..., Out};
  static constexpr std::array<std::size_t, layers + 1> offsets = [] {
    std::array<std::size_t, layers + 1> o{};
    for (int l = 0; l < layers; ++l) o[l + 1] = o[l] + std::size_t(widths[l + 1]) * (widths[l] + 1);
    return o;
  }();
  static constexpr std::size_t parameter_count = offsets[layers];
  static constexpr const char* name = "MLP";

  std::array<S, parameter_count> values{};

  template <int L>
  using weight_t = Eigen::Matrix<S, widths[L + 1], widths[L], row_major_options(widths[L])>;
  template <int L>
  using bias_t = Eigen::Matrix<S, widths[L + 1], 1>;
  template <int L>
  FLOWTMPL_HOST_DEVICE Eigen::Map<const weight_t<L>> weight() const {
    return Eigen::Map<const weight_t<L>>(values.data() + offsets[L]);
  }
  template <int L>
  FLOWTMPL_HOST_DEVICE Eigen::Map<const bias_t<L>> bias() const {
    return Eigen::Map<const bias_t<L>>(values.data() + offsets[L] + std::size_t(widths[L + 1]) * widths[L]);
  }

  using in_vec = Eigen::Matrix<S, In, 1>;
  using out_vec = Eigen::Matrix<S, Out, 1>;

  // one sample; ctx points to C values (ignored when C = 0)
  FLOWTMPL_HOST_DEVICE out_vec evaluate(const in_vec& x, const S* ctx) const {
    using H = Eigen::Matrix<S, widths[1], 1>;
    H h;
    if constexpr (C > 0) {
      h.noalias() = product(weight<0>().template leftCols<In>(), x);
      h.noalias() += product(weight<0>().template rightCols<C>(), Eigen::Map<const Eigen::Matrix<S, C, 1>>(ctx));
      h += bias<0>();
    } else {
      h.noalias() = product(weight<0>(), x);
      h += bias<0>();
    }
    return from_layer<1>(h);
  }

  template <int L, class V>
  FLOWTMPL_HOST_DEVICE out_vec from_layer(V& pre) const {
    if constexpr (L == layers) {
      return pre;
    } else {
      pre = Act::apply(pre.array()).matrix();
      Eigen::Matrix<S, widths[L + 1], 1> next;
      next.noalias() = product(weight<L>(), pre);
      next += bias<L>();
      return from_layer<L + 1>(next);
    }
  }

  // A block of samples, one per column: X is In x n, Ctx is C x n (unused when C = 0).
  // The result is Out x n row-major (a row holds one output for every sample): every
  // layer is dense_rows on row-major activations.
  template <int R>
  using row_block = Eigen::Matrix<S, R, Eigen::Dynamic, Eigen::RowMajor>;
  template <class XB, class CB>
  row_block<Out> evaluate_block(const XB& X, const CB* Ctx) const {
    row_block<In + C> a(In + C, X.cols());
    a.template topRows<In>() = X;
    if constexpr (C > 0) a.template bottomRows<C>() = *Ctx;
    return block_layer<0>(a);
  }
  template <int L>
  row_block<Out> block_layer(const row_block<widths[L]>& a) const {
    constexpr bool last = L == layers - 1;
    constexpr bool fused = !last && std::is_same_v<Act, act::relu>;
    row_block<widths[L + 1]> h(widths[L + 1], a.cols());
    dense_rows<S, fused ? fused_activation::relu : fused_activation::none>(
        values.data() + offsets[L], values.data() + offsets[L] + std::size_t(widths[L + 1]) * widths[L], widths[L + 1],
        widths[L], a.data(), h.data(), a.cols());
    if constexpr (last) {
      return h;
    } else {
      if constexpr (!fused) h.array() = Act::apply(h.array());
      return block_layer<L + 1>(h);
    }
  }

  // ---- gradients (conditioner.hpp): the tape holds the input, the context and every
  // hidden layer's pre-activations
  // hidden layer l's pre-activations start at hidden_offsets[l] in tape::pre (l >= 1)
  static constexpr std::array<std::size_t, layers + 1> hidden_offsets = [] {
    std::array<std::size_t, layers + 1> o{};
    for (int l = 1; l < layers; ++l) o[l + 1] = o[l] + std::size_t(widths[l]);
    return o;
  }();
  struct tape {
    in_vec x;
    Eigen::Matrix<S, (C > 0 ? C : 1), 1> c;
    std::array<S, (hidden_offsets[layers] > 0 ? hidden_offsets[layers] : 1)> pre;
  };

  FLOWTMPL_HOST_DEVICE out_vec evaluate_taped(const in_vec& x, const S* ctx, tape& t) const {
    t.x = x;
    if constexpr (C > 0) t.c = Eigen::Map<const Eigen::Matrix<S, C, 1>>(ctx);
    using H = Eigen::Matrix<S, widths[1], 1>;
    H h;
    if constexpr (C > 0) {
      h.noalias() = product(weight<0>().template leftCols<In>(), x);
      h.noalias() += product(weight<0>().template rightCols<C>(), t.c);
      h += bias<0>();
    } else {
      h.noalias() = product(weight<0>(), x);
      h += bias<0>();
    }
    return taped_from_layer<1>(h, t);
  }
  template <int L, class V>
  FLOWTMPL_HOST_DEVICE out_vec taped_from_layer(V& pre, tape& t) const {
    if constexpr (L == layers) {
      return pre;
    } else {
      Eigen::Map<Eigen::Matrix<S, widths[L], 1>>(t.pre.data() + hidden_offsets[L]) = pre;
      pre = Act::apply(pre.array()).matrix();
      Eigen::Matrix<S, widths[L + 1], 1> next;
      next.noalias() = product(weight<L>(), pre);
      next += bias<L>();
      return taped_from_layer<L + 1>(next, t);
    }
  }

  FLOWTMPL_HOST_DEVICE in_vec backward(const tape& t, const out_vec& g, mlp_conditioner* grad, S* gctx) const {
    return backward_layer<layers - 1>(t, g, grad, gctx);
  }
  // g: the cotangent of layer L's output (its pre-activation for L < layers - 1)
  template <int L, class G>
  FLOWTMPL_HOST_DEVICE in_vec backward_layer(const tape& t, const G& g, mlp_conditioner* grad, S* gctx) const {
    if constexpr (L == 0) {
      if (grad) {
        Eigen::Map<weight_t<0>> gw(grad->values.data() + offsets[0]);
        gw.template leftCols<In>().noalias() += g * t.x.transpose();
        if constexpr (C > 0) gw.template rightCols<C>().noalias() += g * t.c.transpose();
        Eigen::Map<bias_t<0>>(grad->values.data() + offsets[0] + std::size_t(widths[1]) * widths[0]) += g;
      }
      if constexpr (C > 0)
        if (gctx) Eigen::Map<Eigen::Matrix<S, C, 1>>(gctx).noalias() += weight<0>().template rightCols<C>().transpose() * g;
      in_vec gx;
      gx.noalias() = weight<0>().template leftCols<In>().transpose() * g;
      return gx;
    } else {
      const Eigen::Map<const Eigen::Matrix<S, widths[L], 1>> pre(t.pre.data() + hidden_offsets[L]);
      if (grad) {
        const Eigen::Matrix<S, widths[L], 1> a = Act::apply(pre.array()).matrix();
        Eigen::Map<weight_t<L>>(grad->values.data() + offsets[L]).noalias() += g * a.transpose();
        Eigen::Map<bias_t<L>>(grad->values.data() + offsets[L] + std::size_t(widths[L + 1]) * widths[L]) += g;
      }
      Eigen::Matrix<S, widths[L], 1> ga;
      ga.noalias() = weight<L>().transpose() * g;
      ga.array() *= Act::derivative(pre.array());
      return backward_layer<L - 1>(t, ga, grad, gctx);
    }
  }

  // ---- gradients for a block of samples (host; training.hpp's nll_and_gradient). The
  // taped pass is evaluate_block's (every layer one dense_rows over row-major
  // activations, so its outputs are evaluate_block's bits), keeping each hidden layer's
  // pre-activations and activations; the reverse pass is matrix-matrix products over
  // the block. The context block (C x n) after the inputs when C > 0.
  using dynamic_rows = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  struct block_tape {
    row_block<In + C> x;  // the inputs, then the context
    // pre[l], act[l]: hidden layer l's pre-activations and activations (widths[l] x n),
    // l = 1 .. layers - 1
    std::array<dynamic_rows, layers> pre, act;
  };
  template <class XB>
  row_block<Out> evaluate_block_taped(const XB& X, block_tape& t) const
    requires(C == 0)
  {
    t.x = X;
    return block_taped_layer<0>(t.x.data(), t);
  }
  template <class XB, class CB>
  row_block<Out> evaluate_block_taped(const XB& X, const CB& Ctx, block_tape& t) const
    requires(C > 0)
  {
    t.x.resize(In + C, X.cols());
    t.x.template topRows<In>() = X;
    t.x.template bottomRows<C>() = Ctx;
    return block_taped_layer<0>(t.x.data(), t);
  }
  // layer L on its input a (widths[L] x n row-major, n = t.x.cols())
  template <int L>
  row_block<Out> block_taped_layer(const S* a, block_tape& t) const {
    const Eigen::Index n = t.x.cols();
    const S* w = values.data() + offsets[L];
    const S* b = w + std::size_t(widths[L + 1]) * widths[L];
    if constexpr (L == layers - 1) {
      row_block<Out> out(Out, n);
      dense_rows<S, fused_activation::none>(w, b, widths[L + 1], widths[L], a, out.data(), n);
      return out;
    } else {
      dynamic_rows& pre = t.pre[L + 1];
      dynamic_rows& act = t.act[L + 1];
      pre.resize(widths[L + 1], n);
      dense_rows<S, fused_activation::none>(w, b, widths[L + 1], widths[L], a, pre.data(), n);
      act.resize(widths[L + 1], n);
      act.array() = Act::apply(pre.array());
      return block_taped_layer<L + 1>(act.data(), t);
    }
  }
  // G: the outputs' cotangents (Out x n). Adds the parameters' cotangents, summed over
  // the block, into grad, and the context's (C x n) into *GC when given; returns the
  // inputs' (In x n).
  using context_block = Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic>;
  template <class GB>
  Eigen::Matrix<S, In, Eigen::Dynamic> backward_block(const block_tape& t, const GB& G, mlp_conditioner& grad,
                                                      context_block* GC = nullptr) const {
    if constexpr (std::is_same_v<GB, row_block<Out>>)
      return backward_block_layer<layers - 1>(t, G, grad, GC);
    else
      return backward_block_layer<layers - 1>(t, row_block<Out>(G), grad, GC);
  }
  // g: the cotangents of layer L's output (row-major)
  template <int L, class G>
  Eigen::Matrix<S, In, Eigen::Dynamic> backward_block_layer(const block_tape& t, const G& g, mlp_conditioner& grad,
                                                            context_block* GC) const {
    Eigen::Map<weight_t<L>> gw(grad.values.data() + offsets[L]);
    Eigen::Map<bias_t<L>> gb(grad.values.data() + offsets[L] + std::size_t(widths[L + 1]) * widths[L]);
    gb += g.rowwise().sum();
    if constexpr (L == 0) {
      gw.noalias() += g * t.x.transpose();
      // the inputs' and the context's cotangents: one product over the whole first layer
      row_block<In + C> gin(In + C, g.cols());
      gin.noalias() = weight<0>().transpose() * g;
      if constexpr (C > 0) {
        if (GC) *GC += gin.template bottomRows<C>();
        return gin.template topRows<In>();
      } else {
        (void)GC;
        return gin;
      }
    } else {
      gw.noalias() += g * t.act[L].transpose();
      row_block<widths[L]> ga(widths[L], g.cols());
      ga.noalias() = weight<L>().transpose() * g;
      ga.array() *= Act::derivative(t.pre[L].array());
      return backward_block_layer<L - 1>(t, ga, grad, GC);
    }
  }

  void reset_parameters(philox_stream& rng, init scheme, const S* output_bias) {
    for (int l = 0; l < layers; ++l) {
      S* w = values.data() + offsets[l];
      const std::size_t nw = std::size_t(widths[l + 1]) * widths[l];
      const bool last = l == layers - 1;
      if (last && scheme == init::identity_start) {
        for (std::size_t i = 0; i < nw + std::size_t(widths[l + 1]); ++i) w[i] = S(0);
      } else {
        fill_uniform(w, nw + std::size_t(widths[l + 1]), widths[l], rng);
      }
      if (last)
        for (int o = 0; o < Out; ++o) w[nw + std::size_t(o)] += output_bias[o];
    }
  }

  // for parameter_walkers: "l.weight" (widths[l+1] x widths[l], row-major) and "l.bias"
  // for every layer l
  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    for (int l = 0; l < layers; ++l) {
      const std::size_t nw = std::size_t(widths[l + 1]) * widths[l];
      f(detail::message(l, ".weight"), self.values.data() + offsets[l], std::size_t(widths[l + 1]), std::size_t(widths[l]));
      f(detail::message(l, ".bias"), self.values.data() + offsets[l] + nw, std::size_t(widths[l + 1]), std::size_t(0));
    }
  }
};

}  // namespace detail

template <class Act, int... Hidden>
struct MLPWith {
  static_assert(act::Activation<Act>, "flowtmpl: MLPWith<Act, ...>: Act must be an activation (flowtmpl::act::relu, "
                                      "tanh, silu, elu, or a type with name and scalar(v))");
  template <int In, int Out, int C, class S>
  using conditioner = detail::mlp_conditioner<In, Out, C, S, Act, Hidden...>;
};

template <int... Hidden>
struct MLP : MLPWith<act::relu, Hidden...> {
  template <class Act>
  using with = MLPWith<Act, Hidden...>;
};

}  // namespace flowtmpl
