// flowtmpl/io/safetensors/format.hpp: what the safetensors save and load share.
//
//   io_error                      what save and load throw: an I/O failure (naming the
//                                 path) or an invalid input
//   detail::io::saveable<Flow>    what can be saved: a type that for_each_parameter_tensor
//                                 walks, of scalar float or double
//   format_name, format_version, dtype_name<S> ("F32" / "F64"), scalar_name<S>,
//   max_header_length (100'000'000 bytes, safetensors's own limit)
//   put_le(out, v) / get_le<S>(p) a scalar or length as little-endian bytes (by its bits,
//                                 whatever the host's byte order)
//   tensor_slot                   a parameter tensor of the flow: name, shape, and where
//                                 the file holds it
//   shape_text, non_finite_text, shown, json_quoted   values as text for messages:
//                                 JSON dumped escaped and cut to 120 characters, a value
//                                 nested more than 8 deep described instead of dumped
// Needs nlohmann-json (<nlohmann/json.hpp>).
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../errors.hpp"
#include "../error.hpp"
#include "../../parameters.hpp"

namespace flowtmpl {

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

}  // namespace detail::io
}  // namespace flowtmpl
