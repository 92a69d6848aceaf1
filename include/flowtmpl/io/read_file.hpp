// flowtmpl/io/read_file.hpp: detail::read_whole_file(path, fn), a file's bytes in one
// pass (one buffer, reserved to the file's size where it is known), for the readers
// that parse them (the safetensors load, the IDX reader). A file that cannot be opened
// or read throws io_error "flowtmpl: <fn> <path>: ..." with the system's reason.
// Standard library only.
#pragma once

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "../errors.hpp"
#include "error.hpp"

namespace flowtmpl::detail {

inline std::vector<std::uint8_t> read_whole_file(const std::string& path, const char* fn) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr)
    throw io_error(message("flowtmpl: ", fn, ' ', path, ": cannot open it (", std::strerror(errno), ")"));
  std::vector<std::uint8_t> bytes;
  std::error_code ec;  // a regular file's size, to read it into one buffer
  const std::uintmax_t known = std::filesystem::file_size(path, ec);
  if (!ec && known <= std::numeric_limits<std::size_t>::max() / 2) bytes.reserve(std::size_t(known));
  std::array<std::uint8_t, 65536> chunk;
  for (;;) {
    const std::size_t got = std::fread(chunk.data(), 1, chunk.size(), file);
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
    if (got < chunk.size()) break;
  }
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) throw io_error(message("flowtmpl: ", fn, ' ', path, ": reading it failed (", std::strerror(read_errno), ")"));
  return bytes;
}

}  // namespace flowtmpl::detail
