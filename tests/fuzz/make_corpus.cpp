// tests/fuzz/make_corpus.cpp: writes the fuzz targets' seed corpus,
// tests/fuzz/corpus/<target>/, from the library's own writers (save_bytes,
// save_checkpoint), hand-made IDX bytes, two files of tests/data, and hostile variants
// of each (what the readers must refuse). Run once after a change of the formats or of
// the fuzzed flow types:
//   cmake --build <build> --target fuzz_make_corpus && <build>/.../fuzz_make_corpus <repository root>
// It overwrites the files it names and leaves the others (saved reproducers) alone.
// Deterministic: the same files every run.
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/checkpoint.hpp>
#include <flowtmpl/io/safetensors.hpp>
#include <flowtmpl/training.hpp>

#include "fuzz_contract.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace ft = flowtmpl;
using bytes = std::vector<std::uint8_t>;
using ordered = nlohmann::ordered_json;

fs::path out_root;
int written = 0;

void write_seed(const std::string& target, const std::string& name, const bytes& b) {
  const fs::path dir = out_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  if (!out) throw std::runtime_error("make_corpus: cannot write " + (dir / name).string());
  ++written;
}

bytes read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("make_corpus: cannot read " + p.string());
  return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put_le64(bytes& out, std::uint64_t v) {
  for (int k = 0; k < 8; ++k) out.push_back(std::uint8_t(v >> (8 * k)));
}
std::uint64_t get_le64(const bytes& b) {
  std::uint64_t v = 0;
  for (int k = 0; k < 8; ++k) v |= std::uint64_t(b[std::size_t(k)]) << (8 * k);
  return v;
}

// A safetensors file split into its header text and data section, and put together again
// (the header padded with spaces to a multiple of 8, as save_bytes does).
struct parts {
  std::string header;
  bytes data;
};
parts split(const bytes& file) {
  const std::size_t n = std::size_t(get_le64(file));
  return parts{std::string(file.begin() + 8, file.begin() + 8 + std::ptrdiff_t(n)),
               bytes(file.begin() + 8 + std::ptrdiff_t(n), file.end())};
}
bytes join(std::string header, const bytes& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  bytes out;
  put_le64(out, header.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}
// The file with its header JSON changed by edit(ordered_json&).
template <class Edit>
bytes edited(const bytes& file, Edit edit) {
  parts p = split(file);
  ordered h = ordered::parse(p.header);
  edit(h);
  return join(h.dump(), p.data);
}
// The file with its header text changed by edit(std::string&) (what JSON cannot express).
template <class Edit>
bytes edited_text(const bytes& file, Edit edit) {
  parts p = split(file);
  edit(p.header);
  return join(p.header, p.data);
}
void replace_first(std::string& s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  if (at == std::string::npos) throw std::runtime_error("make_corpus: \"" + from + "\" not found in a header");
  s.replace(at, from.size(), to);
}
// The first tensor's name other than "__metadata__", in the header's order.
std::string first_tensor(const bytes& file) {
  const ordered h = ordered::parse(split(file).header);
  for (const auto& [key, value] : h.items())
    if (key != "__metadata__") return key;
  throw std::runtime_error("make_corpus: a header without tensors");
}

// Hostile variants of a valid safetensors file, each breaking one rule of
// validating_reader.hpp; those named in `which` are written.
void hostile_safetensors(const std::string& target, const bytes& valid, std::size_t scalar_size,
                         const std::vector<std::string>& which) {
  const std::string t0 = first_tensor(valid);
  auto write = [&](const std::string& t, const std::string& name, const bytes& b) {
    if (std::find(which.begin(), which.end(), name) != which.end()) write_seed(t, name, b);
  };
  {
    bytes b = valid;  // the header length is the whole input
    const std::uint64_t n = b.size();
    for (int k = 0; k < 8; ++k) b[std::size_t(k)] = std::uint8_t(n >> (8 * k));
    write(target, "header_length_past_input", b);
  }
  {
    bytes b = valid;  // 2^63: past safetensors's 100 MB limit and past any input
    for (int k = 0; k < 8; ++k) b[std::size_t(k)] = k == 7 ? 0x80 : 0x00;
    write(target, "header_length_huge", b);
  }
  write(target, "nested_brackets", join(std::string(3000, '[') + std::string(3000, ']'), {}));
  write(target, "nested_in_metadata", edited_text(valid, [](std::string& h) {
          replace_first(h, "\"format\":", "\"deep\":" + std::string(400, '[') + std::string(400, ']') + ",\"format\":");
        }));
  write(target, "duplicate_key", edited_text(valid, [&](std::string& h) {
          const auto at = h.find("\"" + t0 + "\"");
          const auto end = h.find('}', at);
          const std::string entry = h.substr(at, end + 1 - at);
          h.insert(at, entry + ",");
        }));
  write(target, "nul_in_header", edited_text(valid, [](std::string& h) { replace_first(h, "\"format\"", std::string("\"form\0t\"", 8)); }));
  write(target, "wrong_dtype", edited(valid, [&](ordered& h) {
          const char* other = scalar_size == 4 ? "F64" : "F32";
          h["__metadata__"]["dtype"] = other;
          for (auto& [key, value] : h.items())
            if (key != "__metadata__") value["dtype"] = other;
        }));
  write(target, "overlapping_offsets", edited(valid, [&](ordered& h) {
          std::string second;
          for (const auto& [key, value] : h.items())
            if (key != "__metadata__" && key != t0 && second.empty()) second = key;
          h[second]["data_offsets"] = h[t0]["data_offsets"];
        }));
  write(target, "offsets_not_integers", edited(valid, [&](ordered& h) { h[t0]["data_offsets"] = ordered::array({-8, 1.5}); }));
  write(target, "offsets_huge", edited(valid, [&](ordered& h) {
          h[t0]["data_offsets"] = ordered::array({std::numeric_limits<std::uint64_t>::max() - 3, std::numeric_limits<std::uint64_t>::max()});
        }));
  write(target, "metadata_not_strings", edited(valid, [](ordered& h) { h["__metadata__"]["format_version"] = 1; }));
  {
    parts p = split(valid);  // the first value nan
    const std::uint64_t nan_bits = scalar_size == 4 ? 0x7fc00000u : 0x7ff8000000000000u;
    for (std::size_t k = 0; k < scalar_size; ++k) p.data[k] = std::uint8_t(nan_bits >> (8 * k));
    write(target, "nan_value", join(p.header, p.data));
  }
  {
    parts p = split(valid);  // 8 bytes after the last tensor
    p.data.insert(p.data.end(), 8, 0);
    write(target, "trailing_bytes", join(p.header, p.data));
  }
}

void safetensors_corpus() {
  flowtmpl_fuzz::LoadFlow f;
  ft::reset_parameters(f, 3);
  const bytes valid = ft::save_bytes(f);
  write_seed("safetensors_load", "valid_seed3", valid);
  ft::reset_parameters(f, 4, ft::init::identity_start);
  write_seed("safetensors_load", "valid_seed4", ft::save_bytes(f));
  hostile_safetensors("safetensors_load", valid, sizeof(double),
                      {"header_length_past_input", "header_length_huge", "nested_brackets", "nested_in_metadata",
                       "duplicate_key", "nul_in_header", "wrong_dtype", "overlapping_offsets", "offsets_not_integers",
                       "offsets_huge", "metadata_not_strings", "nan_value", "trailing_bytes"});
}

void zuko_corpus(const fs::path& repository) {
  const fs::path data = repository / "tests" / "data";
  const bytes random = read(data / "zuko_nsf_random_f32.safetensors");
  write_seed("zuko_import", "zuko_nsf_random_f32.safetensors", random);
  write_seed("zuko_import", "zuko_nsf_trained_f32.safetensors", read(data / "zuko_nsf_trained_f32.safetensors"));
  write_seed("zuko_import", "cpp_type_not_string", edited(random, [](ordered& h) { h["__metadata__"]["cpp_type"] = ordered::array({1}); }));
  write_seed("zuko_import", "f64_file", edited(random, [](ordered& h) { h["__metadata__"]["dtype"] = "F64"; }));
  write_seed("zuko_import", "truncated_half", bytes(random.begin(), random.begin() + std::ptrdiff_t(random.size() / 2)));
  write_seed("zuko_import", "missing_tensor", edited(random, [&](ordered& h) { h.erase(first_tensor(random)); }));
  write_seed("zuko_import", "unknown_tensor_key", edited(random, [&](ordered& h) { h[first_tensor(random)]["strides"] = ordered::array({1}); }));
  write_seed("zuko_import", "shape_swapped", edited(random, [&](ordered& h) {
          for (auto& [key, value] : h.items())
            if (key != "__metadata__" && value["shape"].size() == 2) {
              std::swap(value["shape"][0], value["shape"][1]);
              if (value["shape"][0] != value["shape"][1]) break;
            }
        }));
}

// Hand-made IDX files: 4 bytes of magic, big-endian dimensions, the bytes.
bytes idx(std::uint32_t magic, const std::vector<std::uint32_t>& dims, std::size_t payload) {
  bytes b;
  auto be32 = [&](std::uint32_t v) {
    for (int k = 3; k >= 0; --k) b.push_back(std::uint8_t(v >> (8 * k)));
  };
  be32(magic);
  for (const auto d : dims) be32(d);
  for (std::size_t i = 0; i < payload; ++i) b.push_back(std::uint8_t(i * 37 + 11));
  return b;
}

void idx_corpus() {
  const std::uint32_t images = 0x00000803, labels = 0x00000801;
  write_seed("idx", "images_2x3x4", idx(images, {2, 3, 4}, 24));
  write_seed("idx", "images_1x1x1", idx(images, {1, 1, 1}, 1));
  write_seed("idx", "labels_5", idx(labels, {5}, 5));
  write_seed("idx", "labels_1", idx(labels, {1}, 1));
  write_seed("idx", "gzip_magic", bytes{0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03});
  write_seed("idx", "images_truncated", idx(images, {2, 3, 4}, 23));
  write_seed("idx", "images_trailing_byte", idx(images, {2, 3, 4}, 25));
  write_seed("idx", "images_huge_dimensions", idx(images, {0xffffffffu, 0xffffffffu, 0xffffffffu}, 8));
  write_seed("idx", "images_product_2_to_64", idx(images, {1u << 22, 1u << 21, 1u << 21}, 8));  // 2^64 bytes: wraps to 0
  write_seed("idx", "images_zero_dimension", idx(images, {3, 0, 4}, 0));
  write_seed("idx", "images_float_type", idx(0x00000d03, {1, 2, 2}, 16));
  write_seed("idx", "images_two_dimensions", idx(0x00000802, {2, 2}, 4));
  write_seed("idx", "labels_header_short", idx(labels, {}, 2));
  write_seed("idx", "not_idx", bytes{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0});
}

// Checkpoints of a short fit of CheckpointFlow: with adam and a validation set (a best
// epoch, moments), with sgd and momentum, and the hostile variants.
void checkpoint_corpus() {
  using F = flowtmpl_fuzz::CheckpointFlow;
  Eigen::Matrix<float, 2, Eigen::Dynamic> train(2, 48), valid(2, 16);
  for (Eigen::Index j = 0; j < train.cols(); ++j) {
    ft::philox_stream rng(5, std::uint64_t(j));
    const float a = rng.normal<float>();
    train.col(j) << a, 0.5f * a * a + 0.3f * rng.normal<float>();
  }
  for (Eigen::Index j = 0; j < valid.cols(); ++j) {
    ft::philox_stream rng(6, std::uint64_t(j));
    const float a = rng.normal<float>();
    valid.col(j) << a, 0.5f * a * a + 0.3f * rng.normal<float>();
  }
  const fs::path tmp = fs::temp_directory_path() / "flowtmpl_fuzz_make_corpus.safetensors";
  auto checkpoint_at = [&](ft::optimizer_kind kind, long step, bool with_valid) {
    F flow;
    ft::reset_parameters(flow, 9);
    ft::fit_options opt;
    opt.epochs = 3;
    opt.batch_size = 16;  // 3 steps per epoch
    opt.seed = 2;
    opt.optimizer = kind;
    opt.quiet = true;
    opt.max_steps = step;
    opt.checkpoint_every = step;
    bytes file;
    opt.on_checkpoint = [&](const ft::fit_state& s) {
      ft::save_checkpoint(flow, s, tmp.string());
      file = read(tmp);
    };
    if (with_valid)
      (void)ft::fit(flow, train, valid, opt);
    else
      (void)ft::fit(flow, train, opt);
    fs::remove(tmp);
    if (file.empty()) throw std::runtime_error("make_corpus: fit wrote no checkpoint");
    return file;
  };
  const bytes adam = checkpoint_at(ft::optimizer_kind::adam, 7, true);
  write_seed("checkpoint_load", "adam_step7_valid", adam);
  write_seed("checkpoint_load", "sgd_step4", checkpoint_at(ft::optimizer_kind::sgd, 4, false));
  auto meta = [&](const char* name, const char* key, const ordered& value) {
    write_seed("checkpoint_load", name, edited(adam, [&](ordered& h) { h["__metadata__"][key] = value; }));
  };
  meta("counter_negative", "step", "-1");
  meta("counter_past_2_to_64", "epoch", "18446744073709551616");
  meta("counter_past_int", "best_epoch", "4294967297");
  meta("counter_not_decimal", "batch_size", "0x10");
  meta("loss_nan", "epoch_loss", "nan");
  meta("loss_list_trailing_comma", "train_loss", "0x1p+0,");
  meta("loss_list_empty_item", "valid_loss", "0x1p+0,,0x1p+1");
  write_seed("checkpoint_load", "missing_counter", edited(adam, [](ordered& h) { h["__metadata__"].erase("seed"); }));
  {
    F flow;
    ft::reset_parameters(flow, 9);
    write_seed("checkpoint_load", "parameter_file_not_checkpoint", ft::save_bytes(flow));
  }
  hostile_safetensors("checkpoint_load", adam, sizeof(double),
                      {"header_length_past_input", "duplicate_key", "overlapping_offsets", "nan_value"});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_corpus <repository root>  (writes <root>/tests/fuzz/corpus/<target>/)\n";
    return 2;
  }
  const fs::path repository = argv[1];
  out_root = repository / "tests" / "fuzz" / "corpus";
  try {
    safetensors_corpus();
    zuko_corpus(repository);
    idx_corpus();
    checkpoint_corpus();
  } catch (const std::exception& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
  std::cout << "fuzz_make_corpus: wrote " << written << " files under " << out_root.string() << '\n';
  return 0;
}
