// flowtmpl/io/safetensors/load.hpp: reading a file that save wrote into a bound flow
// of the same type.
//   load_bytes(f, data, size) / load_bytes(f, span)   from memory
//   load(f, path)                                     from a file (read whole, in
//                                                     64 KiB chunks; a file larger
//                                                     than any file of this flow can
//                                                     be is refused before it is read)
// Everything is validated before f changes (io/safetensors/validating_reader.hpp); on
// failure f is unchanged and io_error says what and where ("flowtmpl: load <path or
// bytes>: ...").
#pragma once

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../../errors.hpp"
#include "../../parameters.hpp"
#include "../read_file.hpp"
#include "format.hpp"
#include "spec_text.hpp"
#include "validating_reader.hpp"

namespace flowtmpl {
namespace detail::io {

template <class Flow>
std::vector<tensor_slot> slots_of(const Flow& f) {
  std::vector<tensor_slot> slots;
  for_each_parameter_tensor(f, [&](const std::string& name, const auto*, std::size_t rows, std::size_t cols) {
    slots.push_back(tensor_slot{name, rows, cols});
  });
  return slots;
}

// The most bytes a file of these tensors can have: the length, the largest header
// allowed and the data.
template <class S>
std::uint64_t max_file_size(const std::vector<tensor_slot>& slots, const header_bounds& bounds) {
  std::uint64_t data = 0;
  for (const auto& t : slots) data += std::uint64_t(t.count()) * sizeof(S);
  return 8 + bounds.max_length + data;
}

template <class Flow>
void load_into(Flow& f, const std::uint8_t* data, std::size_t size, const std::string& where) {
  using S = scalar_of<Flow>;
  std::vector<tensor_slot> slots = slots_of(std::as_const(f));
  const std::string spec = flowtmpl::spec_text<Flow>();
  const std::vector<S> values = loader(where).read<S>(slots, spec, data, size, header_bounds_for(slots, spec));
  assign_parameters(f, values.data());  // everything checked; the values are in walk order
}

}  // namespace detail::io

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
void load(Flow& f, const std::string& path) {
  // a file larger than any file of this flow is refused before it is read
  const auto slots = detail::io::slots_of(std::as_const(f));
  const auto bounds = detail::io::header_bounds_for(slots, flowtmpl::spec_text<Flow>());
  const std::vector<std::uint8_t> bytes =
      detail::read_whole_file(path, "load", detail::io::max_file_size<detail::io::scalar_of<Flow>>(slots, bounds),
                              "that a file of this flow's parameters may have (not a file of this flow?)",
                              [&](const std::vector<std::uint8_t>& start) {
                                detail::io::loader(path).check_start(start.data(), start.size(), bounds);
                              });
  detail::io::load_into(f, bytes.data(), bytes.size(), path);
}

}  // namespace flowtmpl
