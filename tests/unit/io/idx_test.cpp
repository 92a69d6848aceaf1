// flowtmpl/io/idx.hpp: MNIST-style IDX files written here (into a temporary directory
// of this process, removed at exit) read back exactly, from files and from bytes, and
// every kind of bad input rejected with an io_error that names the function and the
// input and says what is wrong: a missing file, gzip, short headers, truncated data,
// trailing bytes, wrong magics (label files as images and the reverse), other element
// types, zero and huge dimensions, and image and label counts that differ.
#include <flowtmpl/io/idx.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

namespace idx_test {

namespace {

namespace ft = flowtmpl;
using Catch::Contains;
using bytes_t = std::vector<std::uint8_t>;

void put_be32(bytes_t& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::uint8_t((v >> shift) & 0xffu));
}

// An IDX file: the magic, the dimensions (big-endian), then the data.
bytes_t idx_file(std::uint32_t magic, std::initializer_list<std::uint32_t> dims, const bytes_t& data) {
  bytes_t out;
  put_be32(out, magic);
  for (const std::uint32_t d : dims) put_be32(out, d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// 3 images of 2 x 3 pixels: pixel j of image i is 40*i + 7*j + 1 (0 and 255 included).
bytes_t pixel_data() {
  bytes_t p;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 6; ++j) p.push_back(std::uint8_t(40 * i + 7 * j + 1));
  p[4] = 0;
  p[17] = 255;
  return p;
}
const bytes_t label_data = {7, 0, 9};

bytes_t images_file() { return idx_file(0x00000803, {3, 2, 3}, pixel_data()); }
bytes_t labels_file() { return idx_file(0x00000801, {3}, label_data); }

// A directory of this process's own, removed when the test program exits.
struct temp_dir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("flowtmpl_idx_test_" + std::to_string(::getpid()));
  temp_dir() { std::filesystem::create_directories(path); }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
const std::filesystem::path& dir() {
  static const temp_dir d;
  return d.path;
}

// Writes bytes to a file of the temporary directory; returns its path.
std::string write_file(const std::string& name, const bytes_t& bytes) {
  const std::string path = (dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(out.good());
  return path;
}

ft::io::idx_images images_of(const bytes_t& b) { return ft::io::read_idx_images_bytes(std::span<const std::uint8_t>(b), "imgs"); }
bytes_t labels_of(const bytes_t& b) { return ft::io::read_idx_labels_bytes(std::span<const std::uint8_t>(b), "lbls"); }

}  // namespace

TEST_CASE("idx: a valid image file and its labels read back exactly", "[io][idx]") {
  const bytes_t pixels = pixel_data();
  const std::string ipath = write_file("images-idx3-ubyte", images_file());
  const std::string lpath = write_file("labels-idx1-ubyte", labels_file());

  const ft::io::idx_images a = ft::io::read_idx_images(ipath);
  CHECK(a.count == 3);
  CHECK(a.rows == 2);
  CHECK(a.cols == 3);
  REQUIRE(a.pixels.size() == 18);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t r = 0; r < 2; ++r)
      for (std::size_t c = 0; c < 3; ++c) {
        const std::size_t k = (i * 2 + r) * 3 + c;  // image-major, each image row-major
        CHECK(int(a.pixels[k]) == int(pixels[k]));
      }
  CHECK(int(a.pixels[0]) == 1);
  CHECK(int(a.pixels[4]) == 0);
  CHECK(int(a.pixels[1 * 6 + 1 * 3 + 2]) == 40 + 7 * 5 + 1);  // image 1, row 1, column 2
  CHECK(int(a.pixels[17]) == 255);

  const bytes_t labels = ft::io::read_idx_labels(lpath);
  CHECK(labels == label_data);
  REQUIRE_NOTHROW(ft::io::check_idx_pair(a, labels, "test set"));

  // the same from bytes
  const ft::io::idx_images b = images_of(images_file());
  CHECK(b.count == 3);
  CHECK(b.rows == 2);
  CHECK(b.cols == 3);
  CHECK(b.pixels == pixels);
  CHECK(labels_of(labels_file()) == label_data);

  // a single 1 x 1 image and a single label
  const ft::io::idx_images one = images_of(idx_file(0x00000803, {1, 1, 1}, {42}));
  CHECK(one.count == 1);
  CHECK(one.pixels == bytes_t{42});
  CHECK(labels_of(idx_file(0x00000801, {1}, {5})) == bytes_t{5});
}

TEST_CASE("idx: a missing or unreadable file is rejected, naming the function and the path", "[io][idx]") {
  const std::string missing = (dir() / "no_such_file-idx3-ubyte").string();
  REQUIRE_THROWS_AS(ft::io::read_idx_images(missing), ft::io_error);
  REQUIRE_THROWS_WITH(ft::io::read_idx_images(missing), Contains("flowtmpl: read_idx_images " + missing + ": cannot open it"));
  REQUIRE_THROWS_WITH(ft::io::read_idx_labels(missing), Contains("flowtmpl: read_idx_labels " + missing + ": cannot open it"));
  // a directory: it cannot be opened or cannot be read, depending on the C library
  REQUIRE_THROWS_WITH(ft::io::read_idx_labels(dir().string()), Contains("flowtmpl: read_idx_labels " + dir().string() + ": "));
}

TEST_CASE("idx: a gzip-compressed file is rejected, saying to decompress it", "[io][idx]") {
  const bytes_t gz = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  const std::string path = write_file("t10k-labels-idx1-ubyte.gz", gz);
  REQUIRE_THROWS_WITH(ft::io::read_idx_labels(path), Contains("flowtmpl: read_idx_labels " + path + ": it is gzip-compressed"));
  REQUIRE_THROWS_WITH(ft::io::read_idx_labels(path), Contains("decompress it first, e.g. with gunzip -k"));
  REQUIRE_THROWS_WITH(ft::io::read_idx_images(path), Contains("gzip-compressed"));
  REQUIRE_THROWS_WITH(images_of(bytes_t{0x1f, 0x8b}), Contains("flowtmpl: read_idx_images_bytes imgs: it is gzip-compressed"));
}

TEST_CASE("idx: a file shorter than its header is rejected", "[io][idx]") {
  REQUIRE_THROWS_WITH(images_of({}), Contains("it is 0 bytes, shorter than the 16-byte header of an IDX image file"));
  REQUIRE_THROWS_WITH(images_of({0, 0, 8}), Contains("it is 3 bytes, shorter than the 16-byte header"));
  const bytes_t full = images_file();
  REQUIRE_THROWS_WITH(images_of(bytes_t(full.begin(), full.begin() + 15)), Contains("it is 15 bytes, shorter than the 16-byte header"));
  const bytes_t lab = labels_file();
  REQUIRE_THROWS_WITH(labels_of(bytes_t(lab.begin(), lab.begin() + 6)), Contains("it is 6 bytes, shorter than the 8-byte header of an IDX label file"));
}

TEST_CASE("idx: truncated data is rejected with the expected and actual sizes", "[io][idx]") {
  bytes_t full = images_file();  // 16 + 18 = 34 bytes
  full.pop_back();
  const std::string p1 = write_file("short_by_one-idx3-ubyte", full);
  REQUIRE_THROWS_WITH(ft::io::read_idx_images(p1), Contains("flowtmpl: read_idx_images " + p1 + ": it is truncated"));
  REQUIRE_THROWS_WITH(ft::io::read_idx_images(p1), Contains("its header declares 3 images of 2 x 3 pixels, expected 16 + 18 = 34 bytes, but the file is 33 bytes"));
  const bytes_t header_only(full.begin(), full.begin() + 16);
  REQUIRE_THROWS_WITH(images_of(header_only), Contains("expected 16 + 18 = 34 bytes, but the file is 16 bytes"));

  bytes_t lab = labels_file();
  lab.pop_back();
  REQUIRE_THROWS_WITH(labels_of(lab), Contains("it is truncated: its header declares 3 labels, expected 8 + 3 = 11 bytes, but the file is 10 bytes"));
  REQUIRE_THROWS_WITH(labels_of(bytes_t(lab.begin(), lab.begin() + 8)), Contains("but the file is 8 bytes"));
}

TEST_CASE("idx: trailing bytes after the data are rejected, counted", "[io][idx]") {
  bytes_t full = images_file();
  full.push_back(0);
  const std::string path = write_file("trailing-idx3-ubyte", full);
  REQUIRE_THROWS_WITH(ft::io::read_idx_images(path), Contains("it has 1 trailing byte after the data"));
  REQUIRE_THROWS_WITH(ft::io::read_idx_images(path), Contains("expected 16 + 18 = 34 bytes, but the file is 35 bytes"));
  for (int k = 0; k < 4; ++k) full.push_back(1);
  REQUIRE_THROWS_WITH(images_of(full), Contains("it has 5 trailing bytes after the data"));
  bytes_t lab = labels_file();
  lab.push_back(3);
  REQUIRE_THROWS_WITH(labels_of(lab), Contains("flowtmpl: read_idx_labels_bytes lbls: it has 1 trailing byte"));
}

TEST_CASE("idx: a wrong magic is rejected, saying which was found", "[io][idx]") {
  // not IDX at all (a zip file's magic)
  REQUIRE_THROWS_WITH(images_of({'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
                      Contains("found magic 0x504b0304: this is not an IDX file; expected magic 0x00000803"));
  // other element types
  REQUIRE_THROWS_WITH(images_of(idx_file(0x00000d03, {1, 1, 1}, {0, 0, 0, 0})),
                      Contains("found magic 0x00000d03: its elements are of type 0x0d (float), expected unsigned bytes (type 0x08)"));
  REQUIRE_THROWS_WITH(labels_of(idx_file(0x00000901, {1}, {0})), Contains("its elements are of type 0x09 (signed byte)"));
  REQUIRE_THROWS_WITH(labels_of(idx_file(0x00004201, {1}, {0})), Contains("(an unknown type)"));
  // other numbers of dimensions
  REQUIRE_THROWS_WITH(images_of(idx_file(0x00000804, {1, 1, 1, 1}, {0})),
                      Contains("found magic 0x00000804: it has 4 dimensions, expected 3; expected magic 0x00000803"));
  REQUIRE_THROWS_WITH(labels_of(idx_file(0x00000802, {1, 1}, {0})), Contains("it has 2 dimensions, expected 1"));
}

TEST_CASE("idx: a label file given as images, and the reverse, are named as such", "[io][idx]") {
  const std::string ipath = write_file("as_labels-idx3-ubyte", images_file());
  const std::string lpath = write_file("as_images-idx1-ubyte", labels_file());
  REQUIRE_THROWS_WITH(ft::io::read_idx_images(lpath), Contains("found magic 0x00000801: this is a label file, not an image file"));
  REQUIRE_THROWS_WITH(ft::io::read_idx_labels(ipath), Contains("found magic 0x00000803: this is an image file, not a label file"));
  REQUIRE_THROWS_WITH(ft::io::read_idx_labels(ipath), Contains("expected magic 0x00000801 (unsigned bytes, 1 dimension)"));
}

TEST_CASE("idx: a zero dimension is rejected", "[io][idx]") {
  REQUIRE_THROWS_WITH(images_of(idx_file(0x00000803, {0, 28, 28}, {})),
                      Contains("its header declares a zero dimension (0 x 28 x 28), expected at least one image"));
  REQUIRE_THROWS_WITH(images_of(idx_file(0x00000803, {3, 0, 3}, {})), Contains("a zero dimension (3 x 0 x 3)"));
  REQUIRE_THROWS_WITH(images_of(idx_file(0x00000803, {3, 2, 0}, {})), Contains("a zero dimension (3 x 2 x 0)"));
  REQUIRE_THROWS_WITH(labels_of(idx_file(0x00000801, {0}, {})), Contains("a zero dimension (0), expected at least one label"));
}

TEST_CASE("idx: huge declared dimensions are refused before allocating, without overflow", "[io][idx]") {
  constexpr std::uint32_t m = 0xffffffffu;
  REQUIRE_THROWS_WITH(images_of(idx_file(0x00000803, {m, m, m}, {1, 2, 3})),
                      Contains("it is truncated: its header declares 4294967295 images of 4294967295 x 4294967295 pixels, at least 2^64 bytes, but the file is 19 bytes"));
  REQUIRE_THROWS_WITH(images_of(idx_file(0x00000803, {m, m, 1}, {})),
                      Contains("expected 16 + 18446744065119617025 = 18446744065119617041 bytes, but the file is 16 bytes"));
  REQUIRE_THROWS_WITH(images_of(idx_file(0x00000803, {m, 1, 1}, {})), Contains("expected 16 + 4294967295 = 4294967311 bytes"));
  REQUIRE_THROWS_WITH(labels_of(idx_file(0x00000801, {m}, {})), Contains("declares 4294967295 labels, expected 8 + 4294967295 = 4294967303 bytes"));
  const std::string path = write_file("huge-idx3-ubyte", idx_file(0x00000803, {m, m, m}, {}));
  REQUIRE_THROWS_WITH(ft::io::read_idx_images(path), Contains("flowtmpl: read_idx_images " + path + ": it is truncated"));
}

TEST_CASE("idx: check_idx_pair requires one label per image", "[io][idx]") {
  const ft::io::idx_images a = images_of(images_file());
  REQUIRE_NOTHROW(ft::io::check_idx_pair(a, label_data, "train"));
  REQUIRE_THROWS_AS(ft::io::check_idx_pair(a, bytes_t{1, 2}, "train"), ft::io_error);
  REQUIRE_THROWS_WITH(ft::io::check_idx_pair(a, bytes_t{1, 2}, "train"),
                      Contains("flowtmpl: check_idx_pair train: there are 3 images but 2 labels, expected one label per image"));
  REQUIRE_THROWS_WITH(ft::io::check_idx_pair(a, bytes_t{1, 2, 3, 4}, "train"), Contains("there are 3 images but 4 labels"));
}

TEST_CASE("idx: every rejection is one line", "[io][idx]") {
  const std::vector<bytes_t> bad = {{}, {0x1f, 0x8b, 0, 0}, idx_file(0x00000801, {3}, label_data), idx_file(0x00000803, {2, 2, 2}, {}),
                                    idx_file(0x00000803, {0, 2, 2}, {})};
  for (const bytes_t& b : bad) {
    try {
      images_of(b);
      FAIL("no exception");
    } catch (const ft::io_error& e) {
      const std::string w = e.what();
      CHECK(w.rfind("flowtmpl: read_idx_images_bytes imgs: ", 0) == 0);
      CHECK(w.find('\n') == std::string::npos);
    }
  }
}

}  // namespace idx_test
