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
// extra inputs of the first layer (as nflows's ResidualNet and zuko's MLP take it).
// Cost: sum over layers of out x in multiply-adds per sample; evaluate_block does the
// same for a block of samples as matrix-matrix products (host only: it allocates).
// No parameter layout is shared with nflows: an MLP has no nflows counterpart.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include <Eigen/Core>

#include "../errors.hpp"
#include "activations.hpp"
#include "conditioner.hpp"

namespace flowtmpl {

namespace detail {

template <int In, int Out, int C, class S, class Act, int... Hidden>
struct mlp_conditioner {
  static_assert(((Hidden > 0) && ...), "flowtmpl: MLP<hidden...>: every hidden width must be positive");
  using scalar_type = S;
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
      h.noalias() = weight<0>().template leftCols<In>() * x;
      h.noalias() += weight<0>().template rightCols<C>() * Eigen::Map<const Eigen::Matrix<S, C, 1>>(ctx);
      h += bias<0>();
    } else {
      h.noalias() = weight<0>() * x;
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
      next.noalias() = weight<L>() * pre;
      next += bias<L>();
      return from_layer<L + 1>(next);
    }
  }

  // a block of samples, one per column: X is In x n, Ctx is C x n (unused when C = 0)
  template <class XB, class CB>
  Eigen::Matrix<S, Out, Eigen::Dynamic> evaluate_block(const XB& X, const CB* Ctx) const {
    Eigen::Matrix<S, widths[1], Eigen::Dynamic> h(widths[1], X.cols());
    if constexpr (C > 0) {
      h.noalias() = weight<0>().template leftCols<In>() * X;
      h.noalias() += weight<0>().template rightCols<C>() * (*Ctx);
    } else {
      h.noalias() = weight<0>() * X;
    }
    h.colwise() += bias<0>();
    return block_from_layer<1>(h);
  }
  template <int L, class M>
  Eigen::Matrix<S, Out, Eigen::Dynamic> block_from_layer(M& pre) const {
    if constexpr (L == layers) {
      return pre;
    } else {
      pre.array() = Act::apply(pre.array());
      Eigen::Matrix<S, widths[L + 1], Eigen::Dynamic> next(widths[L + 1], pre.cols());
      next.noalias() = weight<L>() * pre;
      next.colwise() += bias<L>();
      return block_from_layer<L + 1>(next);
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

  template <class F>
  void for_each_parameter_block(F&& f) {
    for (int l = 0; l < layers; ++l) {
      const std::size_t nw = std::size_t(widths[l + 1]) * widths[l];
      f(detail::message(l, ".weight"), values.data() + offsets[l], nw);
      f(detail::message(l, ".bias"), values.data() + offsets[l] + nw, std::size_t(widths[l + 1]));
    }
  }
  template <class F>
  void for_each_parameter_block(F&& f) const {
    for (int l = 0; l < layers; ++l) {
      const std::size_t nw = std::size_t(widths[l + 1]) * widths[l];
      f(detail::message(l, ".weight"), values.data() + offsets[l], nw);
      f(detail::message(l, ".bias"), values.data() + offsets[l] + nw, std::size_t(widths[l + 1]));
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
