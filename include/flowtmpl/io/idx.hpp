// flowtmpl/io/idx.hpp: reading the IDX files of the MNIST and Fashion-MNIST data sets
// (http://yann.lecun.com/exdb/mnist/), decompressed. Not included by flowtmpl.hpp.
//
//   idx_images                          count images of rows x cols bytes: pixels holds
//                                       count*rows*cols values, image-major, each image
//                                       row-major
//   read_idx_images(path)               an image file (magic 0x00000803: unsigned
//                                       bytes, 3 dimensions [count, rows, cols])
//   read_idx_labels(path)               a label file (magic 0x00000801: unsigned bytes,
//                                       1 dimension [count])
//   read_idx_images_bytes(bytes, what)  the same from memory; `what` names the input
//   read_idx_labels_bytes(bytes, what)  in messages
//   check_idx_pair(images, labels, what)  that there is one label per image
//
// File: 4 bytes of magic (0, 0, the element type, the number of dimensions), each
// dimension as a 4-byte big-endian count, then the elements. The input is untrusted:
// every rejection throws io_error (io/error.hpp) with one sentence
// "flowtmpl: <function> <path or what>: ..." saying what is wrong and what was
// expected: the file cannot be read; it is gzip-compressed (as the data sets are
// distributed: decompress it first); it is shorter than its header; the magic is not
// the expected one (a label file given as images, or the reverse, is named as such);
// the elements are not unsigned bytes; a dimension is 0; the header declares more data
// than the file holds (checked before anything is allocated, with no overflow whatever
// the dimensions); bytes follow the data.
// Cost: a file is read once, whole, and its bytes become the result (no copy); its
// header is checked against the file's size after the first 64 KiB, so a file that
// is larger or smaller than its header declares is refused before the rest is read.
// Needs only the standard library.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../errors.hpp"
#include "error.hpp"
#include "read_file.hpp"

namespace flowtmpl::io {

using flowtmpl::io_error;

// count images of rows x cols pixels (in MNIST, 0 is the background and 255 the ink),
// image-major, each image row-major.
struct idx_images {
  std::size_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count*rows*cols
};

namespace detail::idx {

using flowtmpl::detail::message;

inline constexpr std::uint32_t images_magic = 0x00000803, labels_magic = 0x00000801;

inline std::string hex(std::uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, unsigned(v));
  return buf;
}
inline std::string counted(std::uint64_t n, const char* noun) {  // "1 image", "3 images"
  return message(n, ' ', noun, n == 1 ? "" : "s");
}
inline std::uint32_t get_be32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]);
}
inline const char* type_name(std::uint8_t t) {
  switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0b: return "16-bit integer";
    case 0x0c: return "32-bit integer";
    case 0x0d: return "float";
    case 0x0e: return "double";
    default: return "an unknown type";
  }
}

// The dimensions and where the data starts, after checking everything about the
// header against the input's size; the data is then exactly bytes[offset, size).
struct layout {
  std::array<std::size_t, 3> dims{};
  std::size_t offset = 0;
};

// total_size: the input's whole size where `bytes` holds only its start (a file being
// read: its header is checked against the file's size before the rest is read).
inline layout check(std::span<const std::uint8_t> bytes, bool images, const char* fn, const std::string& what,
                    std::size_t total_size = std::numeric_limits<std::size_t>::max()) {
  const std::string prefix = message("flowtmpl: ", fn, ' ', what, ": ");
  const auto fail = [&](const std::string& m) { throw io_error(prefix + m); };
  const char* kind = images ? "an IDX image file" : "an IDX label file";
  const std::uint32_t magic = images ? images_magic : labels_magic;
  const std::size_t rank = images ? 3 : 1, header = 4 + 4 * rank;
  const std::string expected = message("expected magic ", hex(magic, 8), " (unsigned bytes, ", rank,
                                       rank == 1 ? " dimension)" : " dimensions)");
  const std::size_t size = total_size == std::numeric_limits<std::size_t>::max() ? bytes.size() : total_size;
  const std::uint8_t* b = bytes.data();
  if (bytes.size() < std::min(size, header)) return layout{};  // too little of the start to judge (a first chunk holds the header)

  if (size >= 2 && b[0] == 0x1f && b[1] == 0x8b)
    fail("it is gzip-compressed (it starts with the gzip magic 1f 8b), not " + std::string(kind) +
         "; decompress it first, e.g. with gunzip -k");
  if (size < 4) fail(message("it is ", size, " bytes, shorter than the ", header, "-byte header of ", kind));
  const std::uint32_t found = get_be32(b);
  if (found != magic) {
    const std::string m = message("found magic ", hex(found, 8), ": ");
    if (found == (images ? labels_magic : images_magic))
      fail(m + (images ? "this is a label file, not an image file" : "this is an image file, not a label file") + "; " +
           expected);
    if (b[0] != 0 || b[1] != 0) fail(m + "this is not an IDX file; " + expected);
    if (b[2] != 0x08)
      fail(m + "its elements are of type " + hex(b[2], 2) + " (" + type_name(b[2]) +
           "), expected unsigned bytes (type 0x08) in " + kind + "; " + expected);
    fail(m + message("it has ", unsigned(b[3]), " dimensions, expected ", rank, "; ", expected));
  }
  if (size < header) fail(message("it is ", size, " bytes, shorter than the ", header, "-byte header of ", kind));

  layout l;
  l.offset = header;
  std::string shape;  // "3 x 28 x 28"
  bool zero = false;
  for (std::size_t k = 0; k < rank; ++k) {
    l.dims[k] = get_be32(b + 4 + 4 * k);
    shape += message(k == 0 ? "" : " x ", l.dims[k]);
    zero = zero || l.dims[k] == 0;
  }
  if (zero)
    fail("its header declares a zero dimension (" + shape + "), expected " +
         (images ? "at least one image of at least 1 x 1 pixels" : "at least one label"));

  // The data's size, dims[0] * ... * dims[rank-1] (a product past 2^64 - 1 is caught, not
  // wrapped), compared with what the input holds before anything is allocated.
  const std::uint64_t have = size - header, max = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t need = 1;
  bool overflow = false;
  for (std::size_t k = 0; k < rank; ++k) {
    if (need > max / l.dims[k]) overflow = true;
    need = overflow ? need : need * l.dims[k];
  }
  const std::string declared =
      images ? message("its header declares ", counted(l.dims[0], "image"), " of ", l.dims[1], " x ", l.dims[2], " pixels")
             : message("its header declares ", counted(l.dims[0], "label"));
  if (overflow)
    fail(message("it is truncated: ", declared, ", at least 2^64 bytes, but the file is ", size, " bytes"));
  if (need > have)
    fail(message("it is truncated: ", declared, ", expected ", header, " + ", need, " = ",
                 need > max - header ? std::string("at least 2^64") : message(header + need), " bytes, but the file is ",
                 size, " bytes"));
  if (need < have)
    fail(message("it has ", counted(have - need, "trailing byte"), " after the data: ",
                 declared, ", expected ", header, " + ", need, " = ", header + need, " bytes, but the file is ", size,
                 " bytes"));
  return l;
}

// The bytes of the file at path, its header checked against the file's size (where the
// system knows it) as soon as the first chunk is in: a file whose size disagrees with
// its header is refused before the rest is read.
inline std::vector<std::uint8_t> read_checked(const std::string& path, bool images, const char* fn) {
  std::error_code ec;
  const std::uintmax_t known = std::filesystem::file_size(path, ec);
  return flowtmpl::detail::read_whole_file(path, fn, std::numeric_limits<std::uintmax_t>::max(), "",
                                           [&](const std::vector<std::uint8_t>& start) {
                                             if (!ec && known <= std::numeric_limits<std::size_t>::max() - 1)
                                               (void)check(start, images, fn, path, std::size_t(known));
                                           });
}

inline idx_images images_from(const layout& l, std::vector<std::uint8_t> pixels) {
  return idx_images{l.dims[0], l.dims[1], l.dims[2], std::move(pixels)};
}

}  // namespace detail::idx

// The images of an IDX image file held in memory; `what` names it in messages.
inline idx_images read_idx_images_bytes(std::span<const std::uint8_t> bytes, const std::string& what) {
  const auto l = detail::idx::check(bytes, true, "read_idx_images_bytes", what);
  return detail::idx::images_from(l, std::vector<std::uint8_t>(bytes.begin() + std::ptrdiff_t(l.offset), bytes.end()));
}

// The labels of an IDX label file held in memory; `what` names it in messages.
inline std::vector<std::uint8_t> read_idx_labels_bytes(std::span<const std::uint8_t> bytes, const std::string& what) {
  const auto l = detail::idx::check(bytes, false, "read_idx_labels_bytes", what);
  return std::vector<std::uint8_t>(bytes.begin() + std::ptrdiff_t(l.offset), bytes.end());
}

// The images of the (decompressed) IDX image file at path, e.g. t10k-images-idx3-ubyte.
inline idx_images read_idx_images(const std::string& path) {
  std::vector<std::uint8_t> bytes = detail::idx::read_checked(path, true, "read_idx_images");
  const auto l = detail::idx::check(bytes, true, "read_idx_images", path);
  bytes.erase(bytes.begin(), bytes.begin() + std::ptrdiff_t(l.offset));
  return detail::idx::images_from(l, std::move(bytes));
}

// The labels of the (decompressed) IDX label file at path, e.g. t10k-labels-idx1-ubyte.
inline std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  std::vector<std::uint8_t> bytes = detail::idx::read_checked(path, false, "read_idx_labels");
  const auto l = detail::idx::check(bytes, false, "read_idx_labels", path);
  bytes.erase(bytes.begin(), bytes.begin() + std::ptrdiff_t(l.offset));
  return bytes;
}

// Throws io_error unless there is exactly one label per image; `what` names the pair.
inline void check_idx_pair(const idx_images& images, const std::vector<std::uint8_t>& labels, const std::string& what) {
  if (images.count != labels.size())
    throw io_error(flowtmpl::detail::message("flowtmpl: check_idx_pair ", what, ": there are ", detail::idx::counted(images.count, "image"),
                                             " but ", detail::idx::counted(labels.size(), "label"),
                                             ", expected one label per image"));
}

}  // namespace flowtmpl::io
