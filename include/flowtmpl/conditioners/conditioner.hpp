// flowtmpl/conditioners/conditioner.hpp: what conditioners share.
//
// A conditioner spec (MLP<...>, MADE<...>, ResidualMADE<...>) binds, inside a coupling
// or autoregressive layer, to a network with static shapes. All of its trained
// parameters are one flat std::array `values` (trivially copyable, one memcpy); the
// blocks in it (each layer's weight, stored [out][in] row-major as PyTorch's Linear, and
// its bias) are named by for_each_parameter_block(f), f(name, pointer, size).
//
// Gradients (flowtmpl/differentiable.hpp). A bound conditioner N with inputs In,
// context C and outputs Out also provides
//   N::tape                                  what the backward pass needs of the
//                                            forward one (fixed size, on the stack)
//   evaluate_taped(x, ctx, tape) -> out      evaluate(x, ctx), filling the tape
//   backward(tape, g, grad, gctx) -> gx      for the cotangent g of the outputs: returns
//                                            g^T d out/dx (In values); adds g^T d out/d
//                                            params into *grad (a value of type N;
//                                            skipped when grad is nullptr) and
//                                            g^T d out/dc into gctx[0..C) (when not
//                                            nullptr). MADE's masked weights get no
//                                            gradient: they stay 0.
//
// Initialisation (reset_parameters(rng, scheme, output_bias)):
//   init::identity_start   hidden layers as PyTorch's Linear (weights and biases
//                          uniform in +-1/sqrt(fan_in)), the last layer's weights 0
//                          and its bias = output_bias, the transformer's identity
//                          parameters: the layer starts as the identity map.
//   init::uniform          every layer as PyTorch's Linear, last layer included (its
//                          bias plus output_bias).
#pragma once

#include <cmath>
#include <cstddef>

#include "../detail/eigen.hpp"

#include "../random.hpp"

namespace flowtmpl {

enum class init { identity_start, uniform };

namespace detail {
// Storage options of a row-major [out][in] weight as an Eigen type: a single column
// must be declared column-major (the memory is the same).
constexpr int row_major_options(int cols) { return cols == 1 ? Eigen::ColMajor : Eigen::RowMajor; }

// PyTorch's default Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
template <class S>
void fill_uniform(S* p, std::size_t n, int fan_in, philox_stream& rng) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0;
  for (std::size_t i = 0; i < n; ++i) p[i] = S((2.0 * rng.uniform<double>() - 1.0) * bound);
}
}  // namespace detail

}  // namespace flowtmpl
