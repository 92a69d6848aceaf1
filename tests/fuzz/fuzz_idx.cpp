// tests/fuzz/fuzz_idx.cpp: libFuzzer target of the IDX reader (io/idx.hpp): every input
// is fed to read_idx_images_bytes and to read_idx_labels_bytes.
// Asserted for every input:
//   - each call returns or throws flowtmpl::io_error ("flowtmpl: ..."), nothing else;
//   - an image file read: count, rows, cols >= 1, the input is exactly the 16-byte
//     header plus count*rows*cols bytes, pixels.size() == count*rows*cols, and the
//     header's big-endian dimensions and the pixels are the input's bytes;
//   - a label file read: the input is exactly the 8-byte header plus one byte per
//     label, and the labels are those bytes;
//   - no input is read as both (their magics differ).
#include <flowtmpl/io/idx.hpp>

#include "fuzz_contract.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace {

constexpr const char* target = "idx";

std::uint64_t be32(const std::uint8_t* p) {
  return std::uint64_t(p[0]) << 24 | std::uint64_t(p[1]) << 16 | std::uint64_t(p[2]) << 8 | std::uint64_t(p[3]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  flowtmpl::io::idx_images images;
  const bool read_images = flowtmpl_fuzz::returns_or_io_error(
      target, [&] { images = flowtmpl::io::read_idx_images_bytes(bytes, "fuzz input"); });
  if (read_images) {
    if (images.count == 0 || images.rows == 0 || images.cols == 0)
      flowtmpl_fuzz::finding(target, "read_idx_images_bytes returned a zero dimension");
    std::uint64_t n = 0;  // count*rows*cols, and a finding where that passes 2^64
    if (__builtin_mul_overflow(std::uint64_t(images.count), std::uint64_t(images.rows), &n) ||
        __builtin_mul_overflow(n, std::uint64_t(images.cols), &n))
      flowtmpl_fuzz::finding(target, "read_idx_images_bytes returned dimensions whose product passes 2^64");
    if (size < 16 || be32(data + 4) != images.count || be32(data + 8) != images.rows || be32(data + 12) != images.cols)
      flowtmpl_fuzz::finding(target, "read_idx_images_bytes returned dimensions that are not the header's");
    if (images.pixels.size() != n) flowtmpl_fuzz::finding(target, "pixels.size() != count*rows*cols");
    if (size != 16 + n) flowtmpl_fuzz::finding(target, "read_idx_images_bytes accepted an input not of 16 + count*rows*cols bytes");
    if (!std::equal(images.pixels.begin(), images.pixels.end(), data + 16))
      flowtmpl_fuzz::finding(target, "the pixels are not the input's bytes after the header");
  }
  std::vector<std::uint8_t> labels;
  const bool read_labels = flowtmpl_fuzz::returns_or_io_error(
      target, [&] { labels = flowtmpl::io::read_idx_labels_bytes(bytes, "fuzz input"); });
  if (read_labels) {
    if (size < 8 || labels.empty() || be32(data + 4) != labels.size() || size != 8 + labels.size())
      flowtmpl_fuzz::finding(target, "read_idx_labels_bytes returned a count that is not the header's and the input's");
    if (!std::equal(labels.begin(), labels.end(), data + 8))
      flowtmpl_fuzz::finding(target, "the labels are not the input's bytes after the header");
  }
  if (read_images && read_labels) flowtmpl_fuzz::finding(target, "one input was read as an image file and as a label file");
  return 0;
}
