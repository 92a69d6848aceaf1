// flowtmpl/io/read_file.hpp: detail::read_whole_file(path, fn), a file's bytes in one
// pass (one buffer, reserved to the file's size where it is known), for the readers
// that parse them (the safetensors load, the IDX reader). A file that cannot be opened
// or read throws io_error "flowtmpl: <fn> <path>: ..." with the system's reason; a file
// of more than max_bytes is refused before it is read (by its size where the system
// knows it, else once that many bytes were read), "... the file is N bytes, more than
// the M bytes <why_at_most>". check_start, if given, sees the bytes once the first
// chunk (up to 64 KiB) is in, and may throw to stop the read there.
// Standard library only.
#pragma once

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "../errors.hpp"
#include "error.hpp"

namespace flowtmpl::detail {

inline std::vector<std::uint8_t> read_whole_file(const std::string& path, const char* fn,
                                                 std::uintmax_t max_bytes = std::numeric_limits<std::uintmax_t>::max(),
                                                 const std::string& why_at_most = "",
                                                 const std::function<void(const std::vector<std::uint8_t>&)>& check_start = {}) {
  auto too_big = [&](std::uintmax_t size, const char* at_least) {
    return io_error(message("flowtmpl: ", fn, ' ', path, ": the file is ", at_least, size, " bytes, more than the ", max_bytes,
                            " bytes ", why_at_most));
  };
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr)
    throw io_error(message("flowtmpl: ", fn, ' ', path, ": cannot open it (", std::strerror(errno), ")"));
  std::vector<std::uint8_t> bytes;
  std::error_code ec;  // a regular file's size, to read it into one buffer
  const std::uintmax_t known = std::filesystem::file_size(path, ec);
  if (!ec && known > max_bytes) {
    std::fclose(file);
    throw too_big(known, "");
  }
  if (!ec && known <= std::numeric_limits<std::size_t>::max() / 2) bytes.reserve(std::size_t(known));
  std::array<std::uint8_t, 65536> chunk;
  for (bool first = true;; first = false) {
    const std::size_t got = std::fread(chunk.data(), 1, chunk.size(), file);
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
    if (bytes.size() > max_bytes) {  // a file that grew, or one without a known size
      std::fclose(file);
      throw too_big(bytes.size(), "at least ");
    }
    if (first && check_start) {
      try {
        check_start(bytes);
      } catch (...) {
        std::fclose(file);
        throw;
      }
    }
    if (got < chunk.size()) break;
  }
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) throw io_error(message("flowtmpl: ", fn, ' ', path, ": reading it failed (", std::strerror(read_errno), ")"));
  return bytes;
}

}  // namespace flowtmpl::detail
