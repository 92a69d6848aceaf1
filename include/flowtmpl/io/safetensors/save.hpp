// flowtmpl/io/safetensors/save.hpp: writing the parameters of a bound flow as a
// safetensors file.
//   save_bytes(f) -> std::vector<std::uint8_t>   the file as bytes
//   save(f, path)                                 the same, written to path
// File: 8 bytes, the little-endian length N of the header; N bytes of JSON (padded
// with spaces so that the data starts at a multiple of 8); the data, the tensors in
// the order of for_each_parameter_tensor, contiguous, each its values in little-endian
// order (matrices row-major). Written deterministically: save -> load -> save gives
// the same bytes. Throws io_error for a non-finite parameter (load would refuse the
// file), two parameters of one name, or a failed open, write or close (with errno's
// text).
#pragma once

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../errors.hpp"
#include "../../parameters.hpp"
#include "format.hpp"
#include "spec_text.hpp"

namespace flowtmpl {

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

namespace detail::io {

// Writes bytes to path; io_error "flowtmpl: <what> <path>: ..." on failure.
inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes, const char* what) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr)
    throw io_error(message("flowtmpl: ", what, ' ', path, ": cannot open it for writing (", std::strerror(errno), ")"));
  const std::size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
  const int write_errno = errno;
  const bool closed = std::fclose(file) == 0;
  if (written != bytes.size())
    throw io_error(message("flowtmpl: ", what, ' ', path, ": wrote ", written, " of ", bytes.size(), " bytes (",
                           std::strerror(write_errno), ")"));
  if (!closed) throw io_error(message("flowtmpl: ", what, ' ', path, ": closing it failed (", std::strerror(errno), ")"));
}

}  // namespace detail::io

template <class Flow>
  requires detail::io::saveable<Flow>
void save(const Flow& f, const std::string& path) {
  detail::io::write_file(path, save_bytes(f), "save");
}

}  // namespace flowtmpl
