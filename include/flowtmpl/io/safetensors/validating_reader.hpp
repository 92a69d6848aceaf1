// flowtmpl/io/safetensors/validating_reader.hpp: reading an untrusted safetensors file
// into the values of a flow's parameters, checking everything first.
//
//   header_bounds{max_length, max_items}   what a header may cost before it is parsed
//   header_bounds_for(slots, spec)          the bounds for a file of these tensors:
//                                           max_length 64 KiB + 4 x (spec + names + 96
//                                           bytes per tensor), max_items 16 per tensor
//                                           + 4 per metadata entry (64 entries) + 8
//   loader(where).read<S>(slots, spec, data, size, bounds) -> the values, in the slots'
//                                           order (loader(function, where): messages
//                                           name that function, not load)
// Checked, in order: the length (8 bytes, at most bounds.max_length, inside the input);
// the header's structure before it is parsed, in one pass with no allocation: no
// array or object nested more than 3 deep (the format needs the top-level object, a
// tensor's entry or the metadata, and a shape or data_offsets array) and at most
// bounds.max_items structural characters ('{', '[', ',' and ':' outside strings; a valid
// header has about 13 per tensor and 2 per metadata entry); the header JSON (no NUL
// byte, valid, an object, no duplicate keys at any level); the metadata (format,
// version, dtype, spec == the flow's spec text); every tensor (present, no others,
// dtype the flow's scalar with no conversion, shape, data_offsets two non-negative
// integers inside the data section holding exactly shape x dtype size bytes); that the
// tensors tile the data section (no overlap, no gap, nothing after them); that every
// value is finite. The first failure throws io_error "flowtmpl: load <where>: ..."
// saying what and where.
// Cost: one pass over the header's bytes, then (if the structure passed) one parse and
// one pass over the data; the parsed header (at most max_items values and keys, and the
// header's strings) and the values are held on the heap. A hostile header is refused in
// time linear in its length and memory proportional to max_items.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../errors.hpp"
#include "format.hpp"

namespace flowtmpl {
namespace detail::io {

// What a header may cost before it is parsed (see the file's comment).
struct header_bounds {
  std::uint64_t max_length = max_header_length;  // bytes of JSON
  std::size_t max_items = 0;                     // '{', '[', ',' and ':' outside strings
};
inline constexpr int max_header_nesting = 3;
inline constexpr std::size_t max_metadata_entries = 64;

// The bounds for a file of these tensors and this spec: generous for every file that
// flowtmpl or its exporter writes (their headers are 1 to 4 KB for the flows of the
// tests), proportional to the flow, far below safetensors's own 100 MB.
inline header_bounds header_bounds_for(const std::vector<tensor_slot>& slots, const std::string& spec) {
  std::uint64_t text = spec.size();
  for (const auto& t : slots) text += t.name.size() + 96;
  header_bounds b;
  b.max_length = std::min<std::uint64_t>(max_header_length, 65536 + 4 * text);
  b.max_items = 16 * slots.size() + 4 * max_metadata_entries + 8;
  return b;
}

class loader {
 public:
  explicit loader(std::string where) : prefix_(message("flowtmpl: load ", where, ": ")) {}
  loader(const char* function, std::string where) : prefix_(message("flowtmpl: ", function, ' ', where, ": ")) {}

  [[noreturn]] void fail(const std::string& what) const { throw io_error(prefix_ + what); }

  // The checks of read that need no more than the start of a file: its header length
  // and the structure of the part of the header that `size` bytes hold. A reader of a
  // file runs this on its first chunk, so that a hostile header is refused before the
  // rest is read.
  void check_start(const std::uint8_t* data, std::size_t size, const header_bounds& bounds) const {
    if (size < 8) return;
    const std::uint64_t n = get_le<std::uint64_t>(data);
    check_length(n, bounds);
    check_structure(data + 8, data + 8 + std::size_t(std::min<std::uint64_t>(n, size - 8)), bounds);
  }

  template <class S>
  std::vector<S> read(std::vector<tensor_slot>& slots, const std::string& spec, const std::uint8_t* data,
                      std::size_t size, const header_bounds& bounds) const {
    if (data == nullptr && size != 0) fail("no data (a null pointer)");
    if (size < 8)
      fail(message("the input is ", size, " bytes, shorter than the 8-byte header length that starts a safetensors file"));
    const std::uint64_t n = get_le<std::uint64_t>(data);
    check_length(n, bounds);
    if (n > size - 8)
      fail(message("the header length is ", n, " bytes, but only ", size - 8, " bytes follow the length (truncated?)"));
    const std::size_t header_end = 8 + std::size_t(n);
    const std::uint8_t* payload = data + header_end;
    const std::uint64_t data_size = size - header_end;

    check_structure(data + 8, data + header_end, bounds);
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

  void check_length(std::uint64_t n, const header_bounds& bounds) const {
    if (n > bounds.max_length)
      fail(message("the header length is ", n, " bytes, more than the ", bounds.max_length, " that ",
                   bounds.max_length == max_header_length ? "a safetensors header" : "the header of a file of this flow",
                   " may have (not a file of this flow?)"));
  }

  // The nesting depth and the number of structural characters outside strings, in one
  // pass, before anything is parsed or allocated; the JSON itself is checked by parse.
  void check_structure(const std::uint8_t* first, const std::uint8_t* last, const header_bounds& bounds) const {
    int depth = 0;
    std::size_t items = 0;
    bool in_string = false, escaped = false;
    const std::uint8_t* key_begin = nullptr;  // the latest string at depth 1: a top-level key
    const std::uint8_t* key_end = nullptr;
    const std::uint8_t* string_begin = nullptr;
    for (const std::uint8_t* p = first; p != last; ++p) {
      const std::uint8_t c = *p;
      if (in_string) {
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          in_string = false;
          if (depth == 1) key_begin = string_begin, key_end = p;
        }
        continue;
      }
      if (c == '"') {
        in_string = true;
        string_begin = p + 1;
      } else if (c == '{' || c == '[') {
        ++items;
        if (++depth > max_header_nesting) {
          const std::string in = depth > 2 && key_begin != nullptr
                                     ? message(" (in the entry of ", json_quoted(std::string(key_begin, key_end).substr(0, 80)), ')')
                                     : std::string();
          fail(message("the header nests arrays and objects more than ", max_header_nesting, " deep at byte ",
                       8 + (p - first), " of the file", in,
                       "; a safetensors header has objects of tensors with arrays of integers, no deeper"));
        }
      } else if (c == '}' || c == ']') {
        if (depth > 0) --depth;
      } else if (c == ',' || c == ':') {
        ++items;
      }
      if (items > bounds.max_items)
        fail(message("the header has more than ", bounds.max_items,
                     " JSON values and keys, more than a file of this flow may have (about 13 per tensor and 2 per ",
                     "metadata entry)"));
    }
  }

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
}  // namespace flowtmpl
