// flowtmpl/io/safetensors/load.hpp: reading a file that save wrote into a bound flow
// of the same type.
//   load_bytes(f, data, size) / load_bytes(f, span)   from memory
//   load(f, path)                                     from a file (read whole, in
//                                                     64 KiB chunks)
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
  const std::vector<std::uint8_t> bytes = detail::read_whole_file(path, "load");
  detail::io::load_into(f, bytes.data(), bytes.size(), path);
}

}  // namespace flowtmpl
