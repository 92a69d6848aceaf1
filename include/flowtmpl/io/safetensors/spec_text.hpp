// flowtmpl/io/safetensors/spec_text.hpp: the canonical text of a bound flow's type,
// which a saved file records and load compares.
//
//   spec_text<Flow>()   e.g. "Flow<DiagonalNormal, Chain<ActNorm, Coupling<Spline[K=4,
//                       B=3,P=11,...], MLP<8>[1->22](act=relu), mask=011>>> dim=3
//                       scalar=double"
// The names of its layers, distributions, transformers and conditioners with what their
// types fix: network widths, inputs and outputs, context and activation; spline bins,
// bounds and options; coupling masks (1 = transformed); Permute's order; LUConv's
// diagonal scheme; then the dimension, the scalar and the context dimension (if any).
// Built from the types' names and static shapes only, so it is the same for every
// compiler; floating-point values are written as the shortest text that reads back to
// them, whatever the locale.
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include "../../bijectors/inverse.hpp"
#include "../../bijectors/lu_conv.hpp"
#include "../../chain.hpp"
#include "../../core.hpp"
#include "../../detail/members.hpp"
#include "../../detail/rq_spline.hpp"
#include "../../errors.hpp"
#include "../../parameters.hpp"
#include "format.hpp"

namespace flowtmpl {
namespace detail::io {

// A floating-point value in the spec text: the shortest text that reads back to it,
// whatever the locale (detail::message prints "%.9g", which is neither); integers go
// through detail::append_piece.
inline void append_number(std::string& s, double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}

// The activation of a conditioner: T::activation_type (MLP's and MADE's bound networks
// declare it); a network without one gives no activation in the text.
template <class T>
constexpr const char* activation_name() {
  if constexpr (requires { typename T::activation_type; T::activation_type::name; })
    return T::activation_type::name;
  else
    return nullptr;
}

// "Name<hidden...>[in->out](ctx=C, act=relu)": the hidden widths as the spec's template
// arguments (MLP<64, 64>, MADE<64, 64>, ResidualMADE<H, Blocks>), the inputs and
// outputs the layer binds it to; a network of another kind gives its parameter count.
template <class T>
void describe_conditioner(std::string& s) {
  s += T::name;
  constexpr bool known = requires { T::widths; T::layers; } || requires { T::hidden_list; };
  auto list = [&](const auto& values, std::size_t from, std::size_t to) {
    s += '<';
    for (std::size_t i = from; i < to; ++i) {
      if (i > from) s += ',';
      append_piece(s, static_cast<long long>(values[i]));
    }
    s += '>';
  };
  if constexpr (requires { T::widths; T::layers; })
    list(T::widths, 1, std::size_t(T::layers));
  else if constexpr (requires { T::hidden_list; })
    list(T::hidden_list, 0, T::hidden_list.size());
  if constexpr (requires { T::inputs; T::outputs; }) {
    s += '[';
    append_piece(s, static_cast<long long>(T::inputs));
    s += "->";
    append_piece(s, static_cast<long long>(T::outputs));
    s += ']';
  }
  std::string extra;
  auto add = [&](const char* key, auto value) {
    if (!extra.empty()) extra += ", ";
    extra += key;
    extra += '=';
    if constexpr (std::is_same_v<decltype(value), const char*>)
      extra += value;
    else
      append_piece(extra, static_cast<long long>(value));
  };
  if constexpr (requires { T::context; })
    if (T::context > 0) add("ctx", T::context);
  if constexpr (activation_name<T>() != nullptr) add("act", activation_name<T>());
  if constexpr (requires { T::degrees_type::stored; }) {
    if constexpr (T::degrees_type::stored) {  // "degrees=3.3.2/1.2.2": layer by layer, unit by unit
      std::string d;
      for (int b = 0; b < int(T::hidden_list.size()); ++b) {
        if (b > 0) d += '/';
        for (int u = 0; u < T::hidden_list[std::size_t(b)]; ++u) {
          if (u > 0) d += '.';
          append_piece(d, static_cast<long long>(T::degrees_type::template degree<T::inputs>(b, u)));
        }
      }
      add("degrees", d.c_str());
    }
    if constexpr (!T::degrees_type::activated_context) add("ctx_form", "linear");
  }
  if constexpr (!known && requires { T::parameter_count; }) add("params", T::parameter_count);
  if (!extra.empty()) {
    s += '(';
    s += extra;
    s += ')';
  }
}

// "Name[K=.., B=.., P=.., ...]": what the transformer's type fixes.
template <class T>
void describe_transformer(std::string& s) {
  s += T::name;
  s += '[';
  bool first = true;
  auto field = [&](const char* key, auto v) {
    if (!first) s += ',';
    first = false;
    s += key;
    s += '=';
    if constexpr (std::is_floating_point_v<decltype(v)>)
      append_number(s, double(v));
    else
      append_piece(s, static_cast<long long>(v));
  };
  if constexpr (requires { { T::bins } -> std::convertible_to<int>; }) field("K", int(T::bins));
  if constexpr (requires { { T::bound } -> std::convertible_to<double>; }) {
    field("B", double(T::bound));
  } else if constexpr (member_count<T>() == 0 && std::is_default_constructible_v<T> &&
                       requires(const T& t) { { t.bound(0) } -> std::convertible_to<double>; }) {
    field("B", double(T{}.bound(0)));  // a fixed bound, a template argument of the type
  }
  if constexpr (requires { T::domain().lo; T::domain().hi; }) {
    field("lo", double(T::domain().lo));
    field("hi", double(T::domain().hi));
  }
  if constexpr (requires { T::image().lo; T::image().hi; }) {
    if (T::image().lo != T::domain().lo || T::image().hi != T::domain().hi) {
      field("bottom", double(T::image().lo));
      field("top", double(T::image().hi));
    }
  }
  if constexpr (requires { { T::slope } -> std::convertible_to<double>; }) field("slope", double(T::slope));
  field("P", int(T::params_per_feature));
  if constexpr (requires {
                  T::options.min_bin_width;
                  T::options.min_bin_height;
                  T::options.min_derivative;
                  T::options.identity_init;
                }) {
    field("min_w", double(T::options.min_bin_width));
    field("min_h", double(T::options.min_bin_height));
    field("min_d", double(T::options.min_derivative));
    field("id_init", int(T::options.identity_init));
    // options added later appear only when not at their default, so that the texts of
    // files saved before them stay the same
    if constexpr (requires { T::options.knots; })
      if (T::options.knots == spline_knots::as_torch_cpu) field("torch_knots", 1);
    if constexpr (requires { T::options.end_slopes; })
      if (T::options.end_slopes == spline_end_slopes::as_nflows) field("nflows_ends", 1);
    if constexpr (requires { T::options.width_divisor; }) {
      if (T::options.width_divisor != 1.0) field("w_div", double(T::options.width_divisor));
      if (T::options.height_divisor != 1.0) field("h_div", double(T::options.height_divisor));
    }
  }
  s += ']';
}

template <class T>
struct lu_diag_name {
  static constexpr const char* value = nullptr;
};
template <class Diag, int D, class S>
struct lu_diag_name<LUConvBijector<Diag, D, S>> {
  static constexpr const char* value = std::is_same_v<Diag, lu_diag::exp>        ? "exp"
                                       : std::is_same_v<Diag, lu_diag::softplus> ? "softplus"
                                       : std::is_same_v<Diag, lu_diag::raw>      ? "raw"
                                                                                 : "other";
};

template <class T>
concept conditioned_layer = requires { typename T::transformer_type; } &&
                            (requires { typename T::conditioner_type; } || requires { typename T::made_type; });

template <class T>
void describe(std::string& s);

template <class T>
void describe_layer(std::string& s) {
  if constexpr (is_chain<T>::value) {
    s += "Chain<";
    [&]<class... Ls>(Chain<Ls...>*) {
      bool first = true;
      auto one = [&]<class L>(L*) {
        if (!first) s += ", ";
        first = false;
        describe_layer<L>(s);
      };
      (one(static_cast<Ls*>(nullptr)), ...);
    }(static_cast<T*>(nullptr));
    s += '>';
  } else if constexpr (is_inverse_layer<T>::value) {
    s += "Inverse<";
    describe_layer<typename T::base_type>(s);
    s += '>';
  } else if constexpr (is_embedded_context<T>::value) {
    s += "EmbeddedContext<";
    describe_conditioner<typename T::embedding_type>(s);
    s += ", ";
    describe_layer<typename T::inner_type>(s);
    s += '>';
  } else if constexpr (is_context_bound<T>::value) {
    s += "WithContext<";
    describe_layer<std::remove_cvref_t<decltype(std::declval<T&>().bijector)>>(s);
    s += '>';
  } else if constexpr (conditioned_layer<T>) {
    s += T::name;
    s += '<';
    describe_transformer<typename T::transformer_type>(s);
    s += ", ";
    if constexpr (requires { typename T::conditioner_type; })
      describe_conditioner<typename T::conditioner_type>(s);
    else
      describe_conditioner<typename T::made_type>(s);
    if constexpr (requires { T::b_index; T::dim; }) {  // a coupling's mask: 1 = transformed
      s += ", mask=";
      std::string bits(std::size_t(T::dim), '0');
      for (const auto j : T::b_index) bits[std::size_t(j)] = '1';
      s += bits;
    }
    s += '>';
  } else {
    s += T::name;
    if constexpr (lu_diag_name<T>::value != nullptr) {
      s += "[diag=";
      s += lu_diag_name<T>::value;
      s += ']';
    } else if constexpr (std::is_default_constructible_v<T> && requires(const T& t) {
                           t.order;
                           { t.index(0) } -> std::convertible_to<int>;
                         }) {
      // Permute: the order its type fixes (Reverse, Indices<...>, Random<Seed>'s draw)
      const T t{};
      s += '[';
      for (int i = 0; i < T::dim; ++i) {
        if (i > 0) s += ',';
        append_piece(s, static_cast<long long>(t.index(i)));
      }
      s += ']';
    }
  }
}

template <class T>
void describe(std::string& s) {
  if constexpr (flow_distribution_like<T>) {
    s += T::name;
    s += '<';
    s += T::base_type::name;
    s += ", ";
    describe_layer<typename T::transform_type>(s);
    s += '>';
  } else {
    describe_layer<T>(s);
  }
}

}  // namespace detail::io

// The canonical text of a bound flow's type (compiler-independent): the names of its
// layers, distributions, transformers and conditioners with what their types fix
// (network widths, spline bins and bounds, masks, orders), its dimension and scalar.
template <class Flow>
  requires detail::io::saveable<Flow>
std::string spec_text() {
  std::string s;
  detail::io::describe<Flow>(s);
  s += detail::message(" dim=", int(Flow::dim), " scalar=", detail::io::scalar_name<detail::io::scalar_of<Flow>>);
  if constexpr (requires { Flow::context_dim; })
    if (Flow::context_dim > 0) s += detail::message(" context=", int(Flow::context_dim));
  return s;
}

}  // namespace flowtmpl
