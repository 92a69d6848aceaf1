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
//   MADE<h1, ..., hn>::with_degrees<hidden_degrees<d...>, ...>
//                                  the hidden degrees listed, one list per hidden layer
//                                  (each in [0, D-1]; 0 reads the context only), for a
//                                  model trained with nflows's random_mask = True or
//                                  zuko's MaskedMLP; feedforward only
//   MADE<...>[::with_degrees<...>]::with_linear_context
//                                  the context enters the first hidden layer linearly,
//                                  h = act(W x + b + Wc c + bc), as in zuko's MaskedMLP
//                                  (nflows: h = act(W x + b + act(Wc c + bc)))
//
// Degrees (made/layout.hpp): inputs 1..D in natural order; hidden unit u of every hidden
// layer has degree u mod max(1, D-1) + min(1, D-1) (sequential, nflows's random_mask =
// False), or the type's list (with_degrees); output i*M + j (parameter j of feature i, feature-major) has degree i + 1. A
// hidden weight (o, i) is allowed when deg_out(o) >= deg_in(i), an output weight when >,
// so output i depends on inputs < i only, and output 0 is constant. Context weights have
// no mask. The stored weights are the masked ones: reset_parameters and apply_masks()
// zero the disallowed entries, validate() (checked mode) reports a non-zero one.
//
// Parameters in one flat array, named as nflows's state_dict: initial_layer.weight
// [H][D], initial_layer.bias, context_layer.{weight,bias} (with context),
// blocks.b.linear.{weight,bias} (feedforward) or blocks.b.linear_layers.{0,1}.{weight,
// bias} and blocks.b.context_layer.* (residual), final_layer.{weight,bias}; weights
// [out][in] row-major as torch stores them, so a state_dict copies over as it is.
//
// The bound network, detail::made_conditioner, is built in parts under made/:
//   layout.hpp            the linear maps, degrees, masks, hidden buffers; the parameters
//   network.hpp           evaluate(x, c) one sample, evaluate_block(X, C) a block of
//                         samples as matrix-matrix products (host only), and their taped
//                         forms
//   sequential.hpp        the sequential pass that the sequential direction of an
//                         autoregressive layer uses: every hidden unit is computed once,
//                         when the inputs below its degree are final, from the inputs its
//                         mask allows only, so producing all D parameter groups one after
//                         the other costs about one network evaluation (nflows re-runs
//                         the whole network D times; docs/performance.md)
//   sequential_block.hpp  the same over a block of samples (host only, sorted units)
//   backward.hpp          the vector-Jacobian products (conditioners/conditioner.hpp)
//   conditioner.hpp       masks, initialisation, names, parameter walks, sorted_copy()
#pragma once

#include <array>

#include "activations.hpp"
#include "made/conditioner.hpp"

namespace flowtmpl {

// The degrees of one hidden layer's units, in unit order (MADE<...>::with_degrees).
template <int... G>
struct hidden_degrees {
  static constexpr int size = int(sizeof...(G));
  static constexpr std::array<int, sizeof...(G)> values{G...};
};

template <class Act, class Degrees, int... Hidden>
struct MADEWithDegrees {
  static_assert(act::Activation<Act>, "flowtmpl: MADEWith<Act, ...>: Act must be an activation");
  template <int D, int M, int C, class S>
  using conditioner = detail::made_conditioner<D, M, C, S, Act, detail::made_architecture::feedforward,
                                              detail::made_unit_order::natural, Degrees, Hidden...>;
  // the context read linearly with the inputs, as zuko's MaskedMLP reads it (nflows's
  // MADE: through an activated layer of its own)
  using with_linear_context = MADEWithDegrees<Act, detail::made_linear_context<Degrees>, Hidden...>;
};

template <class Act, int... Hidden>
struct MADEWith : MADEWithDegrees<Act, detail::made_sequential_degrees, Hidden...> {
  // the same network with the hidden degrees the type lists, one hidden_degrees<...> per
  // hidden layer (nflows's random_mask = True draws them; zuko's MaskedMLP derives them
  // from its adjacency)
  template <class... Layers>
  using with_degrees = MADEWithDegrees<Act, detail::made_stored_degrees<Layers...>, Hidden...>;
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
  using conditioner = detail::made_conditioner<D, M, C, S, Act, detail::made_architecture::residual,
                                              detail::made_unit_order::natural, detail::made_sequential_degrees, H,
                                              Blocks>;
};
template <int H, int Blocks = 2>
struct ResidualMADE : ResidualMADEWith<act::relu, H, Blocks> {
  template <class Act>
  using with = ResidualMADEWith<Act, H, Blocks>;
};

}  // namespace flowtmpl
