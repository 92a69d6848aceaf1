// flowtmpl/io/safetensors.hpp: saving and loading the trained parameters of a bound flow
// as a safetensors file (https://github.com/huggingface/safetensors). Not included by
// flowtmpl.hpp: it needs nlohmann-json (<nlohmann/json.hpp>).
//
//   spec_text<Flow>()          the canonical text of the bound type, e.g.
//                              "Flow<DiagonalNormal, Chain<ActNorm, Coupling<Spline[K=4,
//                              B=3,P=11,...], MLP<8>[1->22](act=relu), mask=011>>> dim=3
//                              scalar=double"; built from the types' names and static
//                              shapes only, so it is the same for every compiler
//   save_bytes(f)              the file as bytes
//   load_bytes(f, data, size)  (or a std::span) reads a file into f
//   save(f, path), load(f, path)
//
// Flow is anything flowtmpl::for_each_parameter_tensor walks: a bound Bijector or
// ConditionalBijector, a distribution, a flow distribution (bind_t<Flow<Base, Spec>,
// D, S>). Only trained parameters are saved; fixed settings (a permutation, LUConv's P
// and signs, a LeakyReLU's slope, a Uniform's box) are not, and a loaded flow keeps its
// own. The type-level ones (Permute's order, LUConv's diagonal scheme) are part of the
// spec text and therefore checked.
//
// File: 8 bytes, the little-endian length N of the header; N bytes of JSON (padded
// with spaces so that the data starts at a multiple of 8); the data. The JSON is
//   {"__metadata__":{"format":"flowtmpl","format_version":"1","spec":"<spec_text>",
//                    "dtype":"F32"|"F64"},
//    "<name>":{"dtype":"F32"|"F64","shape":[rows] or [rows,cols],
//              "data_offsets":[begin,end]}, ...}
// with the tensors in the order of for_each_parameter_tensor, contiguous, each its
// values in little-endian order (matrices row-major, [out][in] for network weights).
// Written deterministically: save -> load -> save gives the same bytes. save refuses a
// flow with a non-finite parameter (load would refuse the file).
//
// load validates everything before it changes f (the input is untrusted; on failure f
// is unchanged and io_error says what and where, "flowtmpl: load <path or bytes>: ...").
// Checked: the length, the JSON (an object, no duplicate keys), the metadata (format,
// version, dtype, spec == spec_text<Flow>()), every tensor (present, no others, dtype
// the flow's scalar with no conversion, shape, data_offsets two non-negative integers
// inside the data section holding exactly shape x dtype size bytes), that the tensors
// tile the data section (no overlap, no gap, nothing after them), and that every value
// is finite.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../bijectors/inverse.hpp"
#include "../bijectors/lu_conv.hpp"
#include "../chain.hpp"
#include "../core.hpp"
#include "../detail/members.hpp"
#include "../errors.hpp"
#include "../parameters.hpp"

namespace flowtmpl {

// What save and load throw: an I/O failure (naming the path) or an invalid input.
struct io_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail::io {

inline constexpr std::uint64_t max_header_length = 100'000'000;  // safetensors's own limit
inline constexpr const char* format_name = "flowtmpl";
inline constexpr const char* format_version = "1";

template <class S>
inline constexpr const char* dtype_name = std::is_same_v<S, float> ? "F32" : "F64";
template <class S>
inline constexpr const char* scalar_name = std::is_same_v<S, float> ? "float" : "double";

template <class Flow>
using scalar_of = std::remove_cvref_t<typename Flow::scalar_type>;

template <class Flow>
concept saveable = detail::has_parameters_to_walk<Flow> && requires { typename Flow::scalar_type; } &&
                   (std::is_same_v<scalar_of<Flow>, float> || std::is_same_v<scalar_of<Flow>, double>);

// ---- the spec text ----------------------------------------------------------------

// A floating-point value in the spec text: the shortest text that reads back to it,
// whatever the locale (detail::message prints "%.9g", which is neither); integers go
// through detail::append_piece.
inline void append_number(std::string& s, double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}

// The activation of a conditioner: T::activation_type where it says, else deduced from
// the template arguments of MLP's and MADE's bound networks (a failed deduction, should
// their parameters change, only leaves the activation out of the text).
template <template <int, int, int, class, class, int...> class M, int A, int B, int C, class S, class Act, int... H>
Act deduce_mlp_activation(const M<A, B, C, S, Act, H...>*);
template <template <int, int, int, class, class, bool, bool, int...> class M, int A, int B, int C, class S, class Act,
          bool R, bool So, int... H>
Act deduce_made_activation(const M<A, B, C, S, Act, R, So, H...>*);

template <class T>
constexpr const char* activation_name() {
  if constexpr (requires { typename T::activation_type; T::activation_type::name; })
    return T::activation_type::name;
  else if constexpr (requires { decltype(deduce_mlp_activation(static_cast<const T*>(nullptr)))::name; })
    return decltype(deduce_mlp_activation(static_cast<const T*>(nullptr)))::name;
  else if constexpr (requires { decltype(deduce_made_activation(static_cast<const T*>(nullptr)))::name; })
    return decltype(deduce_made_activation(static_cast<const T*>(nullptr)))::name;
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

// ---- bytes ------------------------------------------------------------------------

template <class S>
using bits_of = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;

template <class S>
void put_le(std::vector<std::uint8_t>& out, S v) {
  const auto u = std::bit_cast<bits_of<S>>(v);
  for (std::size_t k = 0; k < sizeof(S); ++k) out.push_back(std::uint8_t((u >> (8 * k)) & 0xffu));
}
template <class S>
S get_le(const std::uint8_t* p) {
  bits_of<S> u = 0;
  for (std::size_t k = 0; k < sizeof(S); ++k) u |= bits_of<S>(p[k]) << (8 * k);
  return std::bit_cast<S>(u);
}

// ---- load -------------------------------------------------------------------------

struct tensor_slot {
  std::string name;
  std::size_t rows, cols;  // cols == 0: a vector
  std::uint64_t begin = 0, end = 0;
  std::size_t count() const { return cols == 0 ? rows : rows * cols; }
};

inline std::string shape_text(std::size_t rows, std::size_t cols) {
  return cols == 0 ? message('[', rows, ']') : message('[', rows, ',', cols, ']');
}

// "element 29 (row 3, column 5) is nan": value i of a tensor, row-major, not finite.
template <class S>
std::string non_finite_text(std::size_t i, std::size_t cols, S v) {
  std::string where = message("element ", i);
  if (cols != 0) where += message(" (row ", i / cols, ", column ", i % cols, ')');
  return message(where, " is ", std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
}

// Whether j nests at most `levels` arrays or objects (recursing no deeper than that).
inline bool nests_at_most(const nlohmann::json& j, int levels) {
  if (!j.is_structured()) return true;
  if (levels == 0) return false;
  for (const auto& v : j)
    if (!nests_at_most(v, levels - 1)) return false;
  return true;
}

// A JSON value from the file, for a message: dumped (escaped), cut to a readable length.
// dump recurses once a level, and a header can nest millions deep (parsing and
// destroying do not recurse): a deeper value is described, not dumped.
inline std::string shown(const nlohmann::json& j) {
  constexpr int levels = 8;
  if (!nests_at_most(j, levels)) return message("a JSON ", j.type_name(), " nested more than ", levels, " deep");
  std::string t = j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (t.size() > 120) t = t.substr(0, 117) + "...";
  return t;
}
inline std::string json_quoted(const std::string& name) { return shown(nlohmann::json(name)); }

class loader {
 public:
  explicit loader(std::string where) : prefix_(message("flowtmpl: load ", where, ": ")) {}

  [[noreturn]] void fail(const std::string& what) const { throw io_error(prefix_ + what); }

  template <class S>
  std::vector<S> read(std::vector<tensor_slot>& slots, const std::string& spec, const std::uint8_t* data,
                      std::size_t size) const {
    if (data == nullptr && size != 0) fail("no data (a null pointer)");
    if (size < 8)
      fail(message("the input is ", size, " bytes, shorter than the 8-byte header length that starts a safetensors file"));
    const std::uint64_t n = get_le<std::uint64_t>(data);
    if (n > max_header_length)
      fail(message("the header length is ", n, " bytes, more than the ", max_header_length,
                   " that a safetensors header may have (not a safetensors file?)"));
    if (n > size - 8)
      fail(message("the header length is ", n, " bytes, but only ", size - 8, " bytes follow the length (truncated?)"));
    const std::size_t header_end = 8 + std::size_t(n);
    const std::uint8_t* payload = data + header_end;
    const std::uint64_t data_size = size - header_end;

    const nlohmann::json h = parse(data + 8, data + header_end);
    check_metadata<S>(h, spec);

    // every parameter: its entry, dtype, shape, offsets
    std::unordered_set<std::string> expected;
    for (auto& t : slots) {
      expected.insert(t.name);
      check_tensor<S>(h, t, data_size);
    }
    for (const auto& [key, value] : h.items()) {
      (void)value;
      if (key != "__metadata__" && !expected.contains(key))
        fail(message("tensor ", json_quoted(key), " is not a parameter of this flow (", spec, ")"));
    }
    check_tiling(slots, data_size);

    // the values, all finite
    std::size_t total = 0;
    for (const auto& t : slots) total += t.count();
    std::vector<S> values;
    values.reserve(total);
    for (const auto& t : slots) {
      const std::uint8_t* p = payload + t.begin;
      for (std::size_t i = 0; i < t.count(); ++i, p += sizeof(S)) {
        const S v = get_le<S>(p);
        if (!std::isfinite(v))
          fail(message("tensor ", json_quoted(t.name), ": ", non_finite_text(i, t.cols, v),
                       "; a flow's parameters must be finite"));
        values.push_back(v);
      }
    }
    return values;
  }

 private:
  std::string prefix_;

  nlohmann::json parse(const std::uint8_t* first, const std::uint8_t* last) const {
    // duplicate keys: nlohmann keeps the last one silently; a file must not have any
    std::vector<std::unordered_set<std::string>> open;
    std::string duplicate;
    bool has_duplicate = false;
    auto cb = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
      using E = nlohmann::json::parse_event_t;
      if (ev == E::object_start) {
        open.emplace_back();
      } else if (ev == E::object_end) {
        if (!open.empty()) open.pop_back();
      } else if (ev == E::key && !open.empty() && parsed.is_string()) {
        if (!open.back().insert(parsed.get_ref<const std::string&>()).second && !has_duplicate) {
          has_duplicate = true;
          duplicate = parsed.get<std::string>();
        }
      }
      return true;
    };
    // nlohmann's parser takes a NUL byte for the end of the input and would ignore what
    // follows; JSON has none outside strings (and inside them only escaped)
    if (const void* z = std::memchr(first, 0, std::size_t(last - first)))
      fail(message("the header has a NUL byte at offset ", 8 + (static_cast<const std::uint8_t*>(z) - first),
                   " of the file; JSON text has none"));
    nlohmann::json h;
    try {
      h = nlohmann::json::parse(reinterpret_cast<const char*>(first), reinterpret_cast<const char*>(last), cb);
    } catch (const nlohmann::json::exception& e) {
      fail(message("the header is not valid JSON (", e.what(), ")"));
    }
    if (has_duplicate) fail(message("the header has the key ", json_quoted(duplicate), " twice"));
    if (!h.is_object()) fail(message("the header is a JSON ", h.type_name(), ", not an object"));
    return h;
  }

  template <class S>
  void check_metadata(const nlohmann::json& h, const std::string& spec) const {
    const auto m = h.find("__metadata__");
    if (m == h.end()) fail("the header has no \"__metadata__\" (not a file that flowtmpl saved)");
    if (!m->is_object()) fail(message("\"__metadata__\" is a JSON ", m->type_name(), ", not an object"));
    for (const auto& [key, value] : m->items())
      if (!value.is_string())
        fail(message("\"__metadata__\" entry ", json_quoted(key), " is ", shown(value), "; safetensors metadata values are strings"));
    auto entry = [&](const char* key) -> const std::string& {
      const auto e = m->find(key);
      if (e == m->end()) fail(message("\"__metadata__\" has no ", json_quoted(key), " (not a file that flowtmpl saved)"));
      return e->get_ref<const std::string&>();
    };
    if (const std::string& f = entry("format"); f != format_name)
      fail(message("\"__metadata__\".\"format\" is ", json_quoted(f), ", expected \"", format_name, '"'));
    if (const std::string& v = entry("format_version"); v != format_version)
      fail(message("format_version ", json_quoted(v), " is not supported (this flowtmpl reads version \"", format_version, "\")"));
    if (const std::string& d = entry("dtype"); d != dtype_name<S>) {
      if (d == "F32" || d == "F64")
        fail(message("the file holds ", d, " (", d == "F32" ? "float" : "double", ") parameters, the flow is ", scalar_name<S>,
                     " (", dtype_name<S>, "); flowtmpl does not convert: load into a flow of ",
                     d == "F32" ? "float" : "double"));
      fail(message("\"__metadata__\".\"dtype\" is ", json_quoted(d), ", not F32 or F64"));
    }
    if (const std::string& s = entry("spec"); s != spec)
      fail(message("the file was saved from another flow:\n  file: ", s, "\n  flow: ", spec));
  }

  static bool non_negative_integer(const nlohmann::json& j) {
    return j.is_number_unsigned() || (j.is_number_integer() && j.get<std::int64_t>() >= 0);
  }

  template <class S>
  void check_tensor(const nlohmann::json& h, tensor_slot& t, std::uint64_t data_size) const {
    const std::string name = json_quoted(t.name);
    const auto e = h.find(t.name);
    if (e == h.end())
      fail(message("tensor ", name, " (", dtype_name<S>, ' ', shape_text(t.rows, t.cols), ") is missing"));
    if (!e->is_object()) fail(message("tensor ", name, ": the entry is ", shown(*e), ", not an object"));
    for (const auto& [key, value] : e->items()) {
      (void)value;
      if (key != "dtype" && key != "shape" && key != "data_offsets")
        fail(message("tensor ", name, ": unknown key ", json_quoted(key), " (expected dtype, shape, data_offsets)"));
    }
    auto field = [&](const char* key) -> const nlohmann::json& {
      const auto f = e->find(key);
      if (f == e->end()) fail(message("tensor ", name, " has no \"", key, '"'));
      return *f;
    };
    // dtype
    const nlohmann::json& dt = field("dtype");
    if (!dt.is_string()) fail(message("tensor ", name, ": dtype is ", shown(dt), ", not a string"));
    if (const std::string& d = dt.get_ref<const std::string&>(); d != dtype_name<S>)
      fail(message("tensor ", name, ": dtype ", json_quoted(d), ", the flow's parameters are ", scalar_name<S>, " (",
                   dtype_name<S>, "); flowtmpl does not convert"));
    // shape
    const nlohmann::json& sh = field("shape");
    const std::size_t rank = t.cols == 0 ? 1 : 2;
    bool shape_ok = sh.is_array() && sh.size() == rank;
    if (shape_ok)
      for (const auto& d : sh) shape_ok = shape_ok && non_negative_integer(d);
    if (shape_ok)
      shape_ok = sh[0].get<std::uint64_t>() == t.rows && (rank == 1 || sh[1].get<std::uint64_t>() == t.cols);
    if (!shape_ok)
      fail(message("tensor ", name, ": shape ", shown(sh), ", expected ", shape_text(t.rows, t.cols)));
    // data_offsets
    const nlohmann::json& off = field("data_offsets");
    if (!(off.is_array() && off.size() == 2 && non_negative_integer(off[0]) && non_negative_integer(off[1])))
      fail(message("tensor ", name, ": data_offsets ", shown(off), " is not an array of two non-negative integers"));
    t.begin = off[0].get<std::uint64_t>();
    t.end = off[1].get<std::uint64_t>();
    const std::string range = message("data_offsets [", t.begin, ", ", t.end, ']');
    if (t.end < t.begin) fail(message("tensor ", name, ": ", range, " end before they begin"));
    if (t.end > data_size)
      fail(message("tensor ", name, ": ", range, " reach beyond the data section (", data_size, " bytes)"));
    const std::uint64_t need = std::uint64_t(t.count()) * sizeof(S);
    if (t.end - t.begin != need)
      fail(message("tensor ", name, ": ", range, " hold ", t.end - t.begin, " bytes, shape ", shape_text(t.rows, t.cols),
                   " of ", dtype_name<S>, " needs ", need));
  }

  // The tensors must tile the data section: sorted by offset, each begins where the
  // previous one ends, and the last ends at the end (safetensors's own rule).
  void check_tiling(const std::vector<tensor_slot>& slots, std::uint64_t data_size) const {
    std::vector<const tensor_slot*> order;
    order.reserve(slots.size());
    for (const auto& t : slots) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const tensor_slot* a, const tensor_slot* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    std::uint64_t at = 0;
    const tensor_slot* previous = nullptr;
    for (const tensor_slot* t : order) {
      if (t->begin < at)
        fail(message("tensors ", json_quoted(previous->name), " [", previous->begin, ", ", previous->end, ") and ",
                     json_quoted(t->name), " [", t->begin, ", ", t->end, ") overlap"));
      if (t->begin > at) fail(message("bytes [", at, ", ", t->begin, ") of the data section belong to no tensor"));
      at = t->end;
      previous = t;
    }
    if (at != data_size)
      fail(message("the data section has ", data_size, " bytes, the tensors end at byte ", at,
                   " (bytes that belong to no tensor)"));
  }
};

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

namespace detail::io {
template <class Flow>
void load_into(Flow& f, const std::uint8_t* data, std::size_t size, const std::string& where) {
  using S = scalar_of<Flow>;
  std::vector<tensor_slot> slots;
  for_each_parameter_tensor(std::as_const(f), [&](const std::string& name, const auto*, std::size_t rows, std::size_t cols) {
    slots.push_back(tensor_slot{name, rows, cols});
  });
  const std::vector<S> values = loader(where).read<S>(slots, flowtmpl::spec_text<Flow>(), data, size);
  assign_parameters(f, values.data());  // everything checked; the values are in walk order
}

}  // namespace detail::io

// The parameters of f as a safetensors file; throws io_error if one is not finite (the
// file would not load).
template <class Flow>
  requires detail::io::saveable<Flow>
std::vector<std::uint8_t> save_bytes(const Flow& f) {
  using S = detail::io::scalar_of<Flow>;
  using json = nlohmann::ordered_json;
  json h = json::object();
  json meta = json::object();
  meta["format"] = detail::io::format_name;
  meta["format_version"] = detail::io::format_version;
  meta["spec"] = spec_text<Flow>();
  meta["dtype"] = detail::io::dtype_name<S>;
  h["__metadata__"] = std::move(meta);
  std::uint64_t offset = 0;
  for_each_parameter_tensor(f, [&](const std::string& name, const S* p, std::size_t rows, std::size_t cols) {
    if (h.contains(name)) throw io_error(detail::message("flowtmpl: save: two parameters are named \"", name, '"'));
    const std::size_t k = cols == 0 ? rows : rows * cols;
    for (std::size_t i = 0; i < k; ++i)  // load would refuse the file
      if (!std::isfinite(p[i]))
        throw io_error(detail::message("flowtmpl: save: tensor ", detail::io::json_quoted(name), ": ",
                                       detail::io::non_finite_text(i, cols, p[i]),
                                       "; a flow's parameters must be finite to be saved"));
    json e = json::object();
    e["dtype"] = detail::io::dtype_name<S>;
    e["shape"] = cols == 0 ? json::array({rows}) : json::array({rows, cols});
    e["data_offsets"] = json::array({offset, offset + std::uint64_t(k) * sizeof(S)});
    h[name] = std::move(e);
    offset += std::uint64_t(k) * sizeof(S);
  });
  std::vector<S> values(std::size_t(offset / sizeof(S)));  // the tensors' data, contiguous in walk order
  copy_parameters(f, values.data());
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');  // the data starts at a multiple of 8
  std::vector<std::uint8_t> out;
  out.reserve(8 + header.size() + std::size_t(offset));
  detail::io::put_le(out, std::uint64_t(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  for (const S v : values) detail::io::put_le(out, v);
  return out;
}

// Reads a file that save_bytes wrote (for a flow of the same type) into f; throws
// io_error, leaving f unchanged, if anything about it is wrong.
template <class Flow>
  requires detail::io::saveable<Flow>
void load_bytes(Flow& f, const std::uint8_t* data, std::size_t size) {
  detail::io::load_into(f, data, size, "bytes");
}
template <class Flow>
  requires detail::io::saveable<Flow>
void load_bytes(Flow& f, std::span<const std::uint8_t> bytes) {
  detail::io::load_into(f, bytes.data(), bytes.size(), "bytes");
}

template <class Flow>
  requires detail::io::saveable<Flow>
void save(const Flow& f, const std::string& path) {
  const std::vector<std::uint8_t> bytes = save_bytes(f);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr)
    throw io_error(detail::message("flowtmpl: save ", path, ": cannot open it for writing (", std::strerror(errno), ")"));
  const std::size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
  const int write_errno = errno;
  const bool closed = std::fclose(file) == 0;
  if (written != bytes.size())
    throw io_error(detail::message("flowtmpl: save ", path, ": wrote ", written, " of ", bytes.size(), " bytes (",
                                   std::strerror(write_errno), ")"));
  if (!closed) throw io_error(detail::message("flowtmpl: save ", path, ": closing it failed (", std::strerror(errno), ")"));
}

template <class Flow>
  requires detail::io::saveable<Flow>
void load(Flow& f, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr)
    throw io_error(detail::message("flowtmpl: load ", path, ": cannot open it (", std::strerror(errno), ")"));
  std::vector<std::uint8_t> bytes;
  std::array<std::uint8_t, 65536> chunk;
  for (;;) {
    const std::size_t got = std::fread(chunk.data(), 1, chunk.size(), file);
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
    if (got < chunk.size()) break;
  }
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) throw io_error(detail::message("flowtmpl: load ", path, ": reading it failed (", std::strerror(read_errno), ")"));
  detail::io::load_into(f, bytes.data(), bytes.size(), path);
}

}  // namespace flowtmpl
