// flowtmpl/conditioners/made/conditioner.hpp: made_conditioner, the bound MADE
// (conditioners/made.hpp): the parts in made/layout.hpp, network.hpp, sequential.hpp,
// sequential_block.hpp and backward.hpp (each deriving from the one before; only the
// layout holds data, so the network is one flat array of parameters, trivially copyable
// and standard-layout), and here what concerns the parameters as a whole: the masks
// (apply_masks, validate), the start (reset_parameters), nflows's state_dict names and
// the walks over them, and the copy with every hidden layer's units sorted by degree.
#pragma once

#include <cstddef>
#include <string>

#include "../../detail/members.hpp"
#include "../../errors.hpp"
#include "../conditioner.hpp"
#include "backward.hpp"

namespace flowtmpl::detail {

template <int D, int M, int C, class S, class Act, made_architecture Arch, made_unit_order Order, class Degrees, int... Hidden>
struct made_conditioner : made_backward<D, M, C, S, Act, Arch, Order, Degrees, Hidden...>,
                          parameter_walkers<made_conditioner<D, M, C, S, Act, Arch, Order, Degrees, Hidden...>> {
  using Base = made_backward<D, M, C, S, Act, Arch, Order, Degrees, Hidden...>;
  using Base::allowed;
  using Base::bias_data;
  using Base::by_degree;
  using Base::in_buffer_of;
  using Base::linears;
  using Base::n_linear;
  using Base::out_buffer;
  using Base::residual;
  using Base::tables;
  using Base::weight_data;

  // The same network with the hidden units of every layer in ascending degree: the same
  // function, with a faster sequential pass (what an autoregressive layer's prepare()
  // uses).
  using sorted_type = made_conditioner<D, M, C, S, Act, Arch, made_unit_order::by_degree, Degrees, Hidden...>;
  sorted_type sorted_copy() const
    requires(!by_degree)
  {
    sorted_type r;
    for (int li = 0; li < n_linear; ++li) {
      const made_linear& l = linears[li];
      const int* out_order = l.out_units == made_units::hidden ? tables.order[out_buffer(li)] : nullptr;
      const int* in_order = l.in_units == made_units::hidden ? tables.order[in_buffer_of(li)] : nullptr;
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
      const bool final_layer = l.role == made_role::final_layer;
      if (final_layer && scheme == init::identity_start) {
        for (std::size_t i = 0; i < n; ++i) weight_data(li)[i] = S(0);
      } else {
        fill_uniform(weight_data(li), n, l.in, rng);
      }
      if (final_layer)
        for (int o = 0; o < l.out; ++o) bias_data(li)[o] += output_bias[o];
    }
    apply_masks();
  }

  // ---- names ------------------------------------------------------------------------
  static std::string linear_name(int li) {
    const made_linear& l = linears[li];
    switch (l.role) {
      case made_role::initial_layer: return "initial_layer";
      case made_role::context_layer: return "context_layer";
      case made_role::block_first_linear: return message("blocks.", l.block, ".linear_layers.0");
      case made_role::block_context_layer: return message("blocks.", l.block, ".context_layer");
      case made_role::hidden_linear:
        return residual ? message("blocks.", l.block, ".linear_layers.1") : message("blocks.", l.block, ".linear");
      case made_role::final_layer: break;
    }
    return "final_layer";
  }
  // for parameter_walkers: "<linear>.weight" (out x in, row-major, as torch stores it)
  // and "<linear>.bias" of every linear map, in storage order
  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    for (int li = 0; li < n_linear; ++li) {
      f(message(linear_name(li), ".weight"), self.weight_data(li), std::size_t(linears[li].out), std::size_t(linears[li].in));
      f(message(linear_name(li), ".bias"), self.bias_data(li), std::size_t(linears[li].out), std::size_t(0));
    }
  }
};

}  // namespace flowtmpl::detail
