// flowtmpl/conditioners/dynamics_mlp.hpp: DynamicsMLP<hidden...>, the network f(z, t, c)
// of a continuous flow's dynamics dz/dt = f (bijectors/continuous.hpp).
//
//   DynamicsMLP<64, 64>                  act::elu between layers (as zuko's CNF)
//   DynamicsMLP<64, 64>::with<act::tanh> another activation with a second derivative
//                                        (elu, tanh, silu, lipswish; relu's is 0, so
//                                        the exact trace's gradient would miss its kinks)
//
// Bound with In = D state inputs, C = E + context inputs (E: the time embedding's
// width, then the user's context) and Out = D outputs:
//   h_0 = [z; embed(t); c], h_l+1 = act(W_l h_l + b_l), f = W_L h_L + b_L
// It is detail::tangent_mlp (conditioners/lipschitz_mlp.hpp) without the spectral
// normalisation: record<K> carries K tangents of z through the layers (the exact trace:
// K = D columns of the identity; Hutchinson: K = 1, the probe), backward<K> sweeps back
// over them with the activations' second derivatives (the gradient of the trace).
// Parameters: per layer "l.weight" [out][in] and "l.bias", no state. reset_parameters
// draws PyTorch Linear's law; init::identity_start zeroes the last layer (f = 0: the
// flow starts as the identity).
#pragma once

#include "lipschitz_mlp.hpp"

namespace flowtmpl {

template <class Act, int... Hidden>
struct DynamicsMLPWith {
  static_assert(act::Activation<Act>, "flowtmpl: DynamicsMLPWith<Act, ...>: Act must be an activation");
  template <int In, int Out, int C, class S>
  using dynamics_network = detail::tangent_mlp<In, Out, C, S, Act, detail::weight_normalisation::none, 1.0, Hidden...>;
};

template <int... Hidden>
struct DynamicsMLP : DynamicsMLPWith<act::elu, Hidden...> {
  template <class Act>
  using with = DynamicsMLPWith<Act, Hidden...>;
};

}  // namespace flowtmpl
