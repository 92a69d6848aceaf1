// flowtmpl/conditioners/made/layout.hpp: the layout of a MADE (conditioners/made.hpp),
// all of it known at compile time but the parameter values: its linear maps in storage
// order (what each one is, its shape, its offset in the flat parameter array, the units
// it reads and writes), the degrees of those units and which weights they allow, and the
// hidden buffers of the sequential pass with their units grouped by degree. Holds the
// parameters (`values`) and the views of one linear map's weight and bias in them.
//
// Degrees: inputs 1..D in natural order; hidden unit u of every hidden layer has degree
// u mod max(1, D-1) + min(1, D-1) (sequential, nflows's random_mask = False), or the
// type's list for its layer (made_stored_degrees: any degrees in [0, D-1]); output
// i*M + j (parameter j of feature i, feature-major) has degree i + 1. A hidden weight
// (o, i) is allowed when deg_out(o) >= deg_in(i), an output weight when >, so output
// i depends on inputs < i only, and output 0 is constant. Context weights have no mask.
//
// Hidden buffers (numbered as the sequential pass and the tape number them):
// feedforward, one per hidden layer; residual, buffer 0 the stream t after the initial
// layer, then per block b, 2b+1 its inner units and 2b+2 the stream after it. Units of
// buffer b sorted by degree: tables.order[b][tables.end[b][g-1] .. tables.end[b][g]) are
// the units of degree g, tables.end[b][g] the number of units of degree <= g.
#pragma once

#include <array>
#include <cstddef>

#include "../../detail/eigen.hpp"

#include "../../config.hpp"
#include "../conditioner.hpp"

namespace flowtmpl::detail {

// The two network shapes of nflows's MADE: hidden layers one after the other, or
// residual blocks on one stream of hidden units.
enum class made_architecture { feedforward, residual };

// The order of every hidden layer's units in the parameter array: natural (nflows's, as a
// state_dict stores them) or by_degree (sorted_copy(): the units of one degree, and the
// inputs they may read, are contiguous, so the sequential pass runs on contiguous blocks
// of the weights).
enum class made_unit_order { natural, by_degree };

// What a linear map of a MADE is (its name in nflows's state_dict in quotes).
enum class made_role {
  initial_layer,        // inputs -> the first hidden units ("initial_layer")
  context_layer,        // context -> the first hidden units, unmasked ("context_layer")
  block_first_linear,   // residual block b: act(stream) -> its inner units ("blocks.b.linear_layers.0")
  block_context_layer,  // residual block b: context -> its inner units, unmasked ("blocks.b.context_layer")
  hidden_linear,        // feedforward: hidden layer b -> b + 1 ("blocks.b.linear"); residual: block b's
                        // inner units -> the stream ("blocks.b.linear_layers.1")
  final_layer,          // the last hidden units -> the outputs, strict mask ("final_layer")
};

// The units a linear map reads or writes.
enum class made_units {
  context,  // the context inputs (no degree: the maps that read them have no mask)
  inputs,   // the network's inputs, degrees 1..D
  hidden,   // hidden units, degree made_hidden_degree(u, D)
  outputs,  // the outputs, degree o / M + 1 (strict mask)
};

// degree of hidden unit u for D inputs (nflows, sequential)
constexpr int made_hidden_degree(int u, int D) { return u % (D - 1 > 1 ? D - 1 : 1) + (D - 1 < 1 ? D - 1 : 1); }

// made_linear_context<Degrees>: the same degrees, and the context read linearly with the
// inputs: h = act(W x + b + Wc c + bc) (zuko's MaskedMLP, one first layer over [x; c]),
// where nflows's MADE reads it through a layer of its own, h = act(W x + b + act(Wc c +
// bc)) (activated_context). Feedforward only.
template <class Degrees>
struct made_linear_context : Degrees {
  static constexpr bool activated_context = false;
};

// Where a MADE's hidden degrees come from (the Degrees argument of the parts below):
// made_sequential_degrees, nflows's sequential assignment (made_hidden_degree, the same
// in every layer); made_stored_degrees<hidden_degrees<...>, ...>, one list per hidden
// layer fixed by the type (MADE<...>::with_degrees: nflows's random_mask = True, zuko's
// MaskedMLP). Either way the masks, the tables of the sequential pass and the sorted
// copy are derived from the degrees at compile time.
struct made_sequential_degrees {
  static constexpr bool stored = false;
  static constexpr bool activated_context = true;  // see made_linear_context
  template <int D>
  static constexpr int degree(int, int u) {
    return made_hidden_degree(u, D);
  }
  template <int... Widths>
  static constexpr bool fits() {
    return true;
  }
  template <int D>
  static constexpr bool in_range() {
    return true;
  }
};
template <class... Layers>
struct made_stored_degrees {
  static constexpr bool stored = true;
  static constexpr bool activated_context = true;
  static constexpr int layers = int(sizeof...(Layers));
  // one list per hidden layer, as long as the layer is wide
  template <int... Widths>
  static constexpr bool fits() {
    if constexpr (sizeof...(Widths) != sizeof...(Layers))
      return false;
    else
      return ((Widths == Layers::size) && ...);
  }
  // degree of unit u of hidden layer `layer`
  template <int D>
  static constexpr int degree(int layer, int u) {
    int r = -1, l = 0;
    ((l++ == layer ? (r = Layers::values[std::size_t(u)], 0) : 0), ...);
    return r;
  }
  // every degree in [0, D - 1]: an input-free unit (0, reading the context only) up to
  // the last one any output may read
  template <int D>
  static constexpr bool in_range() {
    bool ok = true;
    ((ok = ok && [] {
        for (int v : Layers::values)
          if (v < 0 || v > D - 1) return false;
        return true;
      }()),
     ...);
    return ok;
  }
};

// One linear map of a MADE: out x in weights (then out biases) at offset in the flat
// parameter array, the units it reads and writes, whether it has a mask (every map but
// the context layers), and its residual block (-1 for none).
struct made_linear {
  int out, in;
  made_units in_units, out_units;
  std::size_t offset;
  bool masked;
  int block;
  made_role role;
};

// The rows 0..Out-1 of a masked weight grouped by the largest input degree they may
// read (0..Groups-1): order[begin[L] .. begin[L+1]) are those of L.
template <int Out, int Groups>
struct made_row_groups {
  int order[Out];
  int begin[Groups + 1];
};

template <int D, int M, int C, class S, class Act, made_architecture Arch, made_unit_order Order, class Degrees, int... Hidden>
struct made_layout {
  static_assert(D >= 1, "flowtmpl: MADE needs at least one feature");
  static_assert(M >= 1, "flowtmpl: MADE needs at least one output per feature");
  static_assert(sizeof...(Hidden) >= 1 && ((Hidden > 0) && ...), "flowtmpl: MADE: hidden widths must be positive");
  static_assert(!Degrees::stored || Arch == made_architecture::feedforward,
                "flowtmpl: MADE<...>::with_degrees: stored degrees are for the feedforward MADE only");
  static_assert(!Degrees::stored || Degrees::template fits<Hidden...>(),
                "flowtmpl: MADE<h1, ..., hn>::with_degrees<hidden_degrees<...>, ...>: one hidden_degrees list per "
                "hidden layer, each with as many degrees as its layer has units");
  static_assert(!Degrees::stored || Degrees::template in_range<D>(),
                "flowtmpl: MADE<...>::with_degrees: every hidden degree must lie in [0, D - 1] for the D features "
                "the layer binds to");
  using degrees_type = Degrees;
  static_assert(Degrees::activated_context || Arch == made_architecture::feedforward,
                "flowtmpl: MADE<...>::with_linear_context: a context read linearly is for the feedforward MADE only");
  static constexpr bool context_activated = Degrees::activated_context;
  using scalar_type = S;
  using activation_type = Act;
  static constexpr int inputs = D;
  static constexpr int outputs = D * M;
  static constexpr int outputs_per_feature = M;
  static constexpr int context = C;
  static constexpr bool residual = Arch == made_architecture::residual;
  static constexpr bool by_degree = Order == made_unit_order::by_degree;
  static constexpr const char* name = residual ? "ResidualMADE" : "MADE";

  // residual: Hidden = {H, blocks}; feedforward: the hidden widths.
  static constexpr std::array<int, sizeof...(Hidden)> hidden_list{Hidden...};
  static constexpr int H0 = hidden_list[0];
  static constexpr int n_hidden = residual ? 1 + 2 * hidden_list[1] : int(sizeof...(Hidden));  // hidden buffers
  static constexpr int n_linear = residual ? (1 + (C > 0) + hidden_list[1] * (2 + (C > 0)) + 1)
                                           : (int(sizeof...(Hidden)) + 1 + (C > 0));

  static constexpr std::array<made_linear, n_linear> linears = [] {
    using U = made_units;
    using R = made_role;
    std::array<made_linear, n_linear> ls{};
    std::size_t off = 0;
    int n = 0;
    constexpr int no_block = -1;
    auto add = [&](int out, int in, U reads, U writes, int block, R role) {
      ls[n++] = made_linear{out, in, reads, writes, off, reads != U::context, block, role};
      off += std::size_t(out) * in + std::size_t(out);
    };
    if constexpr (residual) {
      const int H = hidden_list[0];
      const int B = hidden_list[1];
      add(H, D, U::inputs, U::hidden, no_block, R::initial_layer);
      if (C > 0) add(H, C, U::context, U::hidden, no_block, R::context_layer);
      for (int b = 0; b < B; ++b) {
        add(H, H, U::hidden, U::hidden, b, R::block_first_linear);
        if (C > 0) add(H, C, U::context, U::hidden, b, R::block_context_layer);
        add(H, H, U::hidden, U::hidden, b, R::hidden_linear);
      }
      add(D * M, H, U::hidden, U::outputs, no_block, R::final_layer);
    } else {
      add(hidden_list[0], D, U::inputs, U::hidden, no_block, R::initial_layer);
      if (C > 0) add(hidden_list[0], C, U::context, U::hidden, no_block, R::context_layer);
      for (std::size_t l = 1; l < hidden_list.size(); ++l)
        add(hidden_list[l], hidden_list[l - 1], U::hidden, U::hidden, int(l) - 1, R::hidden_linear);
      add(D * M, hidden_list[hidden_list.size() - 1], U::hidden, U::outputs, no_block, R::final_layer);
    }
    return ls;
  }();
  static constexpr std::size_t parameter_count =
      linears[n_linear - 1].offset + std::size_t(linears[n_linear - 1].out) * (linears[n_linear - 1].in + 1);

  std::array<S, parameter_count> values{};

  // ---- views of one linear map's parameters -----------------------------------------
  // lin<I>: linears[I] as a variable of its own, whose members device code may read
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

  // ---- hidden buffers ---------------------------------------------------------------
  static constexpr int buffer_width(int b) { return residual ? hidden_list[0] : hidden_list[std::size_t(b)]; }
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
          if (Degrees::template degree<D>(b, u) == g) t.order[b][n++] = u;
        t.end[b][g] = n;
      }
    }
    return t;
  }();
  // the context terms of a sequential pass: the context layer's, then one per residual block
  static constexpr int n_ctx_terms = C > 0 ? (residual ? 1 + hidden_list[residual ? 1 : 0] : 1) : 1;

  // a buffer index in [0, n_hidden) (the callers only ask for hidden buffers; the
  // clamp tells the compiler so)
  static constexpr int clamp_buffer(int b) { return b < 0 ? 0 : (b >= n_hidden ? n_hidden - 1 : b); }
  // the hidden buffer a linear map writes (its out units) and reads (its in units)
  static constexpr int out_buffer(int li) {
    const made_linear& l = linears[li];
    if (l.out_units != made_units::hidden) return 0;
    if (!residual) {
      int b = 0;
      for (int j = 0; j < li; ++j)
        if (linears[j].role != made_role::context_layer) ++b;
      return l.role == made_role::context_layer ? 0 : b;
    }
    if (l.role == made_role::initial_layer || l.role == made_role::context_layer) return 0;
    return l.role == made_role::hidden_linear ? 2 * l.block + 2 : 2 * l.block + 1;
  }
  static constexpr int in_buffer_of(int li) {
    const made_linear& l = linears[li];
    if (l.in_units != made_units::hidden) return 0;
    if (l.role == made_role::final_layer) return n_hidden - 1;
    if (!residual) return out_buffer(li) - 1;
    return l.role == made_role::block_first_linear ? 2 * l.block : 2 * l.block + 1;
  }
  // the first linear map of residual block b (its context layer follows when C > 0, then
  // its second linear map)
  static constexpr int block_linear(int b) { return (C > 0 ? 2 : 1) + b * (C > 0 ? 3 : 2); }

  // ---- degrees and masks ------------------------------------------------------------
  // the degree of a unit (a hidden unit of hidden buffer `buffer`)
  static constexpr int degree(made_units units, int unit, int buffer = 0) {
    return units == made_units::inputs
               ? unit + 1
               : (units == made_units::hidden ? Degrees::template degree<D>(buffer, unit) : unit / M + 1);
  }
  // whether weight (o, i) of linear map li may be non-zero (in sorted order if by_degree)
  static constexpr bool allowed(int li, int o, int i) {
    const made_linear& l = linears[li];
    if (!l.masked) return true;
    int uo = o, ui = i;
    if constexpr (by_degree) {
      if (l.out_units == made_units::hidden) uo = tables.order[clamp_buffer(out_buffer(li))][o];
      if (l.in_units == made_units::hidden) ui = tables.order[clamp_buffer(in_buffer_of(li))][i];
    }
    const int dout = degree(l.out_units, uo, clamp_buffer(out_buffer(li)));
    const int din = degree(l.in_units, ui, clamp_buffer(in_buffer_of(li)));
    return l.out_units == made_units::outputs ? dout > din : dout >= din;
  }
};

}  // namespace flowtmpl::detail
