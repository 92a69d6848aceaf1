// flowtmpl/io/safetensors.hpp: round trips (bytes and files, float and double, bitwise
// parameters and log_prob), the header's structure, the spec text, and the rejection of
// every kind of damaged or mismatched input (truncations, bit flips, edited headers and
// data), with the flow unchanged after every failed load.
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/safetensors.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

namespace safetensors_test {

namespace {

namespace ft = flowtmpl;
using Catch::Contains;
using bytes_t = std::vector<std::uint8_t>;

template <class S>
using big_t = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<8>>,
                                                                  ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>,
                         3, S>;
using Big = big_t<double>;
using BigF = big_t<float>;
// small enough to load a few thousand times under the sanitizers
using Small = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::ActNorm>, 2, float>;

// Random parameters: the networks from reset_parameters(init::uniform) (MADE's masked
// weights stay 0), everything else uniform in [-0.5, 0.5].
template <class F>
F random_flow(std::uint64_t seed) {
  using S = typename F::scalar_type;
  F f;
  ft::reset_parameters(f.transform, seed, ft::init::uniform);
  ft::philox_stream rng(seed, 12345);
  ft::for_each_parameter(f, [&](const std::string& name, auto* p, std::size_t k) {
    if (name.find("conditioner.") != std::string::npos || name.find("made.") != std::string::npos) return;
    for (std::size_t i = 0; i < k; ++i) p[i] = S(rng.uniform<double>() - 0.5);
  });
  return f;
}

// The parameters' bytes, for bitwise comparisons (-0 and 0 differ, as they should).
template <class F>
bytes_t parameter_bits(const F& f) {
  bytes_t out;
  ft::for_each_parameter(f, [&](const std::string&, const auto* p, std::size_t k) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(p);
    out.insert(out.end(), b, b + k * sizeof(*p));
  });
  return out;
}

std::uint64_t header_length(const bytes_t& b) {
  std::uint64_t n = 0;
  for (int k = 0; k < 8; ++k) n |= std::uint64_t(b[std::size_t(k)]) << (8 * k);
  return n;
}
nlohmann::ordered_json header_of(const bytes_t& b) {
  const std::size_t n = std::size_t(header_length(b));
  return nlohmann::ordered_json::parse(b.begin() + 8, b.begin() + 8 + std::ptrdiff_t(n));
}
// The file with its header replaced by `text` (the data kept as it is).
bytes_t with_header_text(const bytes_t& b, const std::string& text) {
  const std::size_t n = std::size_t(header_length(b));
  bytes_t out;
  const std::uint64_t m = text.size();
  for (int k = 0; k < 8; ++k) out.push_back(std::uint8_t(m >> (8 * k)));
  out.insert(out.end(), text.begin(), text.end());
  out.insert(out.end(), b.begin() + 8 + std::ptrdiff_t(n), b.end());
  return out;
}
bytes_t with_header(const bytes_t& b, const std::function<void(nlohmann::ordered_json&)>& edit) {
  auto h = header_of(b);
  edit(h);
  return with_header_text(b, h.dump());
}
std::size_t data_start(const bytes_t& b) { return 8 + std::size_t(header_length(b)); }

// The first n bytes of b in a heap block of exactly n bytes (none for n = 0: a null
// pointer), so that AddressSanitizer reports a read past the input's end; a vector's
// capacity may be larger than its size, and reading a truncated prefix of a whole file
// in place would not be caught.
struct exact_bytes {
  std::unique_ptr<std::uint8_t[]> block;
  std::size_t size;
  exact_bytes(const bytes_t& b, std::size_t n) : block(n == 0 ? nullptr : new std::uint8_t[n]), size(n) {
    if (n != 0) std::memcpy(block.get(), b.data(), n);
  }
  explicit exact_bytes(const bytes_t& b) : exact_bytes(b, b.size()) {}
};
template <class F>
void load_exact(F& f, const exact_bytes& e) {
  ft::load_bytes(f, e.block.get(), e.size);
}

// load_bytes must throw io_error whose message starts with the prefix and contains
// every piece, and leave the flow as it was.
template <class F>
void expect_rejected(const bytes_t& bytes, const std::vector<std::string>& pieces, std::uint64_t seed = 5) {
  F f = random_flow<F>(seed);
  const bytes_t before = parameter_bits(f);
  bool thrown = false;
  try {
    load_exact(f, exact_bytes(bytes));
  } catch (const ft::io_error& e) {
    thrown = true;
    const std::string what = e.what();
    INFO(what);
    CHECK(what.rfind("flowtmpl: load bytes: ", 0) == 0);
    for (const auto& p : pieces) CHECK_THAT(what, Contains(p));
  }
  CHECK(thrown);
  CHECK(parameter_bits(f) == before);
}

template <class F>
Eigen::Matrix<typename F::scalar_type, F::dim, 1> point(int j) {
  Eigen::Matrix<typename F::scalar_type, F::dim, 1> x;
  for (int i = 0; i < F::dim; ++i) x[i] = typename F::scalar_type(0.37 * (i + 1) - 0.61 * j + 0.05 * i * j);
  return x;
}

std::string temp_path(const char* tag) {
  static int counter = 0;
  return (std::filesystem::temp_directory_path() /
          ("flowtmpl_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + tag + ".safetensors"))
      .string();
}

template <class F>
void check_round_trip(std::uint64_t seed) {
  const F a = random_flow<F>(seed);
  const bytes_t bytes = ft::save_bytes(a);
  F b;  // the identity start: different parameters
  REQUIRE(parameter_bits(b) != parameter_bits(a));
  ft::load_bytes(b, bytes.data(), bytes.size());
  CHECK(parameter_bits(b) == parameter_bits(a));
  for (int j = 0; j < 8; ++j) {
    const auto x = point<F>(j);
    const auto la = a.log_prob(x), lb = b.log_prob(x);
    CHECK(std::isfinite(la));
    CHECK(std::memcmp(&la, &lb, sizeof la) == 0);  // identical, not close
  }
  // save -> load -> save: the same bytes
  CHECK(ft::save_bytes(b) == bytes);
  // the span overload
  F c;
  ft::load_bytes(c, std::span<const std::uint8_t>(bytes));
  CHECK(parameter_bits(c) == parameter_bits(a));
}

}  // namespace

TEST_CASE("safetensors: round trip through bytes, double and float", "[io]") {
  check_round_trip<Big>(1);
  check_round_trip<Big>(2);
  check_round_trip<BigF>(3);
  check_round_trip<Small>(4);
  // another seed, another file
  CHECK(ft::save_bytes(random_flow<Big>(1)) != ft::save_bytes(random_flow<Big>(2)));
}

TEST_CASE("safetensors: bare bijectors, flows without parameters, conditional flows", "[io]") {
  // a bound bijector, not a distribution
  using L = ft::bind_t<ft::compose<ft::LUConv, ft::ActNorm>, 4, double>;
  L a;
  double v = 0.1;
  ft::for_each_parameter(a, [&](const std::string&, double* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i, v += 0.01) p[i] = v;
  });
  const bytes_t bytes = ft::save_bytes(a);
  L b;
  ft::load_bytes(b, bytes.data(), bytes.size());
  CHECK(parameter_bits(b) == parameter_bits(a));
  CHECK(header_of(bytes).contains("0.lower_entries"));

  // no parameters at all: a header with the metadata alone, no data
  using N = ft::bind_t<ft::compose<ft::Permute<ft::Reverse>, ft::Exp>, 3, float>;
  const bytes_t nb = ft::save_bytes(N{});
  CHECK(nb.size() == data_start(nb));
  CHECK(header_of(nb).size() == 1);
  N n;
  ft::load_bytes(n, nb.data(), nb.size());

  // D = 1 LUConv: empty triangles, zero-sized tensors
  using One = ft::bind_t<ft::LUConv, 1, double>;
  One o;
  o.diag[0] = 0.25;
  o.bias[0] = -1.5;
  const bytes_t ob = ft::save_bytes(o);
  const auto oh = header_of(ob);
  CHECK(oh["lower_entries"]["shape"] == nlohmann::ordered_json::array({0}));
  CHECK(oh["lower_entries"]["data_offsets"] == nlohmann::ordered_json::array({0, 0}));
  One o2;
  ft::load_bytes(o2, ob.data(), ob.size());
  CHECK(o2.diag[0] == 0.25);
  CHECK(o2.bias[0] == -1.5);

  // a conditional flow: the context width is in the spec and the conditioner's inputs
  using C = ft::bind_t<ft::Conditional<2, ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, ft::MLP<4>>>>>, 3, double>;
  const std::string cs = ft::spec_text<C>();
  CHECK_THAT(cs, Contains("context=2"));
  CHECK_THAT(cs, Contains("ctx=2"));
  C c1;
  ft::reset_parameters(c1, 9, ft::init::uniform);
  const bytes_t cb = ft::save_bytes(c1);
  C c2;
  ft::load_bytes(c2, cb.data(), cb.size());
  CHECK(parameter_bits(c2) == parameter_bits(c1));
}

TEST_CASE("safetensors: file round trip through a temporary path", "[io]") {
  const Big a = random_flow<Big>(11);
  const std::string path = temp_path("big");
  ft::save(a, path);
  CHECK(std::filesystem::file_size(path) == ft::save_bytes(a).size());
  Big b;
  ft::load(b, path);
  CHECK(parameter_bits(b) == parameter_bits(a));
  // saving again over the same path gives the same file
  ft::save(b, path);
  Big c;
  ft::load(c, path);
  CHECK(parameter_bits(c) == parameter_bits(a));
  std::filesystem::remove(path);

  const BigF af = random_flow<BigF>(12);
  const std::string pf = temp_path("bigf");
  ft::save(af, pf);
  BigF bf;
  ft::load(bf, pf);
  CHECK(parameter_bits(bf) == parameter_bits(af));

  // a load error names the path
  Big d;
  try {
    ft::load(d, pf);  // a float file into a double flow
    FAIL("no exception");
  } catch (const ft::io_error& e) {
    CHECK_THAT(std::string(e.what()), Contains("flowtmpl: load " + pf + ": "));
  }
  std::filesystem::remove(pf);
}

TEST_CASE("safetensors: I/O failures name the path", "[io]") {
  const Small a = random_flow<Small>(1);
  const std::string missing_dir = (std::filesystem::temp_directory_path() / "flowtmpl_no_such_dir_4711" / "x.safetensors").string();
  try {
    ft::save(a, missing_dir);
    FAIL("no exception");
  } catch (const ft::io_error& e) {
    CHECK_THAT(std::string(e.what()), Contains("flowtmpl: save " + missing_dir + ": cannot open it for writing"));
  }
  Small b = random_flow<Small>(2);
  const bytes_t before = parameter_bits(b);
  try {
    ft::load(b, missing_dir);
    FAIL("no exception");
  } catch (const ft::io_error& e) {
    CHECK_THAT(std::string(e.what()), Contains("flowtmpl: load " + missing_dir + ": cannot open it"));
  }
  CHECK(parameter_bits(b) == before);
}

TEST_CASE("safetensors: the header's structure", "[io]") {
  const Big a = random_flow<Big>(21);
  const bytes_t bytes = ft::save_bytes(a);
  const std::uint64_t n = header_length(bytes);
  CHECK((8 + n) % 8 == 0);  // the data starts at a multiple of 8
  const std::string text(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(n));
  CHECK(text.front() == '{');
  CHECK(text.size() - (text.find_last_not_of(' ') + 1) < 8);  // padded with fewer than 8 spaces
  const auto h = header_of(bytes);

  // metadata first, all strings
  REQUIRE(h.begin().key() == "__metadata__");
  const auto& m = h["__metadata__"];
  CHECK(m["format"] == "flowtmpl");
  CHECK(m["format_version"] == "1");
  CHECK(m["dtype"] == "F64");
  CHECK(m["spec"] == ft::spec_text<Big>());
  for (const auto& [k, v] : m.items()) CHECK(v.is_string());

  // the tensors in walk order, contiguous, covering the data section
  std::vector<std::string> names;
  std::vector<std::size_t> sizes;
  ft::for_each_parameter_tensor(a, [&](const std::string& name, const double*, std::size_t rows, std::size_t cols) {
    names.push_back(name);
    sizes.push_back(cols == 0 ? rows : rows * cols);
  });
  REQUIRE(h.size() == names.size() + 1);
  std::uint64_t at = 0;
  std::size_t i = 0;
  for (auto it = std::next(h.begin()); it != h.end(); ++it, ++i) {
    CHECK(it.key() == names[i]);
    const auto& e = it.value();
    CHECK(e.size() == 3);
    CHECK(e["dtype"] == "F64");
    CHECK(e["data_offsets"][0].get<std::uint64_t>() == at);
    at += sizes[i] * 8;
    CHECK(e["data_offsets"][1].get<std::uint64_t>() == at);
  }
  CHECK(bytes.size() == 8 + n + at);

  // an MLP weight is [out, in] (torch's layout): coupling at D = 3 conditions on 1
  // component, transforms 2 with 3K - 1 = 11 spline parameters each
  CHECK(h["transform.2.conditioner.0.weight"]["shape"] == nlohmann::ordered_json::array({8, 1}));
  CHECK(h["transform.2.conditioner.0.bias"]["shape"] == nlohmann::ordered_json::array({8}));
  CHECK(h["transform.2.conditioner.1.weight"]["shape"] == nlohmann::ordered_json::array({22, 8}));
  CHECK(h["transform.3.made.initial_layer.weight"]["shape"] == nlohmann::ordered_json::array({8, 3}));
  CHECK(h["base.mean"]["shape"] == nlohmann::ordered_json::array({3}));

  // the data: little-endian values in row-major order
  const auto& w = a.transform.get<2>().conditioner;
  const auto off = h["transform.2.conditioner.1.weight"]["data_offsets"][0].get<std::size_t>();
  for (std::size_t k = 0; k < 22 * 8; ++k) {
    std::uint64_t u = 0;
    for (int b = 0; b < 8; ++b) u |= std::uint64_t(bytes[data_start(bytes) + off + 8 * k + std::size_t(b)]) << (8 * b);
    double v;
    std::memcpy(&v, &u, 8);
    const std::size_t o = k / 8, in = k % 8;
    CHECK(v == w.weight<1>()(Eigen::Index(o), Eigen::Index(in)));
  }

  // float: F32, 4 bytes a value
  const bytes_t fb = ft::save_bytes(random_flow<BigF>(22));
  const auto fh = header_of(fb);
  CHECK(fh["__metadata__"]["dtype"] == "F32");
  CHECK(fh["transform.2.conditioner.1.weight"]["dtype"] == "F32");
  const auto fo = fh["transform.2.conditioner.1.weight"]["data_offsets"];
  CHECK(fo[1].get<std::uint64_t>() - fo[0].get<std::uint64_t>() == 22 * 8 * 4);
}

TEST_CASE("safetensors: spec_text", "[io]") {
  CHECK(ft::spec_text<Small>() == "Flow<DiagonalNormal, ActNorm> dim=2 scalar=float");
  CHECK(ft::spec_text<Big>() ==
        "Flow<DiagonalNormal, Chain<ActNorm, LUConv[diag=exp], "
        "Coupling<Spline[K=4,B=3,P=11,min_w=0.001,min_h=0.001,min_d=0.001,id_init=0], MLP<8>[1->22](act=relu), mask=011>, "
        "MaskedAutoregressive<BoundedAffine[B=3,P=2], MADE<8>[3->6](act=relu)>>> dim=3 scalar=double");
  CHECK(ft::spec_text<BigF>() == ft::spec_text<Big>().substr(0, ft::spec_text<Big>().size() - 6) + "float");
  using Inv = ft::bind_t<ft::compose<ft::Inverse<ft::ActNorm>, ft::Permute<ft::Reverse>>, 3, double>;
  CHECK(ft::spec_text<Inv>() == "Chain<Inverse<ActNorm>, Permute[2,1,0]> dim=3 scalar=double");
  CHECK(ft::spec_text<ft::bind_t<ft::DiagonalNormal, 3, double>>() == "DiagonalNormal dim=3 scalar=double");
  using Res = ft::bind_t<ft::compose<ft::InverseAutoregressive<ft::SoftplusAffine, ft::ResidualMADE<16, 2>::with<ft::act::tanh>>,
                                     ft::Coupling<ft::BoundedSpline<3>, ft::MLP<4, 5>, ft::mask::even>>,
                         4, float>;
  CHECK(ft::spec_text<Res>() ==
        "Chain<InverseAutoregressive<SoftplusAffine[P=2], ResidualMADE<16,2>[4->8](act=tanh)>, "
        "Coupling<BoundedSpline[K=3,lo=0,hi=1,P=10,min_w=0.001,min_h=0.001,min_d=0.001,id_init=0], MLP<4,5>[2->20](act=relu), "
        "mask=1010>> dim=4 scalar=float");

  // the transformers of issue 17: a new spline option shows only when not at its default
  using Zuko = ft::bind_t<ft::compose<ft::Coupling<ft::ZukoSpline<8>, ft::MLP<4>>, ft::Coupling<ft::ZukoAffine<>, ft::MLP<4>>,
                                      ft::Coupling<ft::IntervalSpline<2, -1.0, 2.0, 0.5, 4.0>, ft::MLP<4>>>,
                          2, double>;
  CHECK(ft::spec_text<Zuko>() ==
        "Chain<Coupling<ZukoSpline[K=8,B=5,slope=0.001,P=23], MLP<4>[1->23](act=relu), mask=01>, "
        "Coupling<ZukoAffine[slope=0.001,P=2], MLP<4>[1->2](act=relu), mask=01>, "
        "Coupling<IntervalSpline[K=2,lo=-1,hi=2,bottom=0.5,top=4,P=7,min_w=0.001,min_h=0.001,min_d=0.001,id_init=0], "
        "MLP<4>[1->7](act=relu), mask=01>> dim=2 scalar=double");
  using Nflows = ft::bind_t<ft::Coupling<ft::Spline<4, 3.0,
                                                    ft::spline_options{.identity_init = true,
                                                                       .knots = ft::spline_knots::as_torch_cpu,
                                                                       .end_slopes = ft::spline_end_slopes::as_nflows}>,
                                         ft::MLP<4>>,
                            2, double>;
  CHECK(ft::spec_text<Nflows>() ==
        "Coupling<Spline[K=4,B=3,P=11,min_w=0.001,min_h=0.001,min_d=0.001,id_init=1,torch_knots=1,nflows_ends=1], "
        "MLP<4>[1->11](act=relu), mask=01> dim=2 scalar=double");

  // nflows's sqrt(hidden_features) division and nflows's affine coupling transformer
  using Divided = ft::bind_t<ft::Coupling<ft::Spline<4, 3.0, ft::spline_options{.width_divisor = 8.0, .height_divisor = 8.0}>,
                                          ft::MLP<4>>,
                             2, double>;
  CHECK(ft::spec_text<Divided>() ==
        "Coupling<Spline[K=4,B=3,P=11,min_w=0.001,min_h=0.001,min_d=0.001,id_init=0,w_div=8,h_div=8], "
        "MLP<4>[1->11](act=relu), mask=01> dim=2 scalar=double");
  CHECK(ft::spec_text<ft::bind_t<ft::Coupling<ft::SigmoidAffine, ft::MLP<4>>, 2, double>>() ==
        "Coupling<SigmoidAffine[P=2], MLP<4>[1->2](act=relu), mask=01> dim=2 scalar=double");

  // a MADE with listed hidden degrees gives them
  using Listed = ft::bind_t<ft::MaskedAutoregressive<ft::Affine, ft::MADE<3>::with_degrees<ft::hidden_degrees<1, 2, 0>>>,
                            3, double>;
  CHECK(ft::spec_text<Listed>() ==
        "MaskedAutoregressive<BoundedAffine[B=3,P=2], MADE<3>[3->6](act=relu, degrees=1.2.0)> dim=3 scalar=double");

  // zuko's form of the context
  using Linear = ft::bind_t<ft::Conditional<2, ft::MaskedAutoregressive<ft::Affine, ft::MADE<3>::with_linear_context>>, 3,
                            double>;
  CHECK(ft::spec_text<Linear>() ==
        "MaskedAutoregressive<BoundedAffine[B=3,P=2], MADE<3>[3->6](ctx=2, act=relu, ctx_form=linear)> dim=3 "
        "scalar=double context=2");

  // different architectures, different texts
  using D3 = std::tuple<
      Big, BigF, ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<16>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<5>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4, 5.0>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<8>::with<ft::act::tanh>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<8>, ft::mask::even>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConvT<ft::lu_diag::softplus>, ft::Coupling<ft::Spline<4>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<8>>, ft::InverseAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::SoftplusAffine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8, 8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::Affine, ft::ResidualMADE<8, 2>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 4, double>,
      ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::LUConv, ft::ActNorm, ft::Coupling<ft::Spline<4>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::Inverse<ft::LUConv>, ft::Coupling<ft::Spline<4>, ft::MLP<8>>, ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>, 3, double>,
      ft::bind_t<ft::compose<ft::Permute<ft::Random<1>>>, 8, double>, ft::bind_t<ft::compose<ft::Permute<ft::Random<2>>>, 8, double>,
      ft::bind_t<ft::compose<ft::Permute<ft::Reverse>>, 8, double>,
      ft::bind_t<ft::compose<ft::Coupling<ft::ZukoSpline<8>, ft::MLP<4>>>, 2, double>,
      ft::bind_t<ft::compose<ft::Coupling<ft::ZukoSpline<8, 3.0>, ft::MLP<4>>>, 2, double>,
      ft::bind_t<ft::compose<ft::Coupling<ft::ZukoSpline<8, 5.0, 1e-2>, ft::MLP<4>>>, 2, double>,
      ft::bind_t<ft::compose<ft::Coupling<ft::BoundedSpline<2, -1.0, 2.0>, ft::MLP<4>>>, 2, double>,
      ft::bind_t<ft::compose<ft::Coupling<ft::IntervalSpline<2, -1.0, 2.0, 0.5, 4.0>, ft::MLP<4>>>, 2, double>,
      ft::bind_t<ft::compose<ft::Coupling<ft::Spline<4, 3.0, ft::spline_options{.knots = ft::spline_knots::as_torch_cpu}>, ft::MLP<4>>>, 2, double>,
      ft::bind_t<ft::compose<ft::Coupling<ft::Spline<4>, ft::MLP<4>>>, 2, double>,
      ft::bind_t<ft::MaskedAutoregressive<ft::Affine, ft::MADE<3>>, 3, double>,
      ft::bind_t<ft::MaskedAutoregressive<ft::SigmoidAffine, ft::MADE<3>>, 3, double>,
      ft::bind_t<ft::Conditional<2, ft::MaskedAutoregressive<ft::Affine, ft::MADE<3>>>, 3, double>,
      ft::bind_t<ft::Conditional<2, ft::MaskedAutoregressive<ft::Affine, ft::MADE<3>::with_linear_context>>, 3, double>,
      ft::bind_t<ft::compose<ft::Coupling<ft::Spline<4, 3.0, ft::spline_options{.width_divisor = 8.0}>, ft::MLP<4>>>, 2, double>,
      ft::bind_t<ft::compose<ft::Coupling<ft::Spline<4, 3.0, ft::spline_options{.height_divisor = 8.0}>, ft::MLP<4>>>, 2, double>,
      ft::bind_t<ft::MaskedAutoregressive<ft::Affine, ft::MADE<3>::with_degrees<ft::hidden_degrees<1, 2, 1>>>, 3, double>,
      ft::bind_t<ft::MaskedAutoregressive<ft::Affine, ft::MADE<3>::with_degrees<ft::hidden_degrees<1, 2, 2>>>, 3, double>>;
  std::vector<std::string> texts;
  [&]<class... T>(std::tuple<T...>*) { (texts.push_back(ft::spec_text<T>()), ...); }(static_cast<D3*>(nullptr));
  for (std::size_t i = 0; i < texts.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      INFO(texts[i]);
      INFO(texts[j]);
      CHECK(texts[i] != texts[j]);
    }
}

// Every proper prefix of a saved file, each in a block of exactly its length.
template <class F>
void check_every_truncation(std::uint64_t seed) {
  const bytes_t file = ft::save_bytes(random_flow<F>(seed));
  F f = random_flow<F>(seed + 1);
  const bytes_t before = parameter_bits(f);
  std::size_t rejected = 0, unprefixed = 0;
  for (std::size_t len = 0; len < file.size(); ++len) {
    try {
      load_exact(f, exact_bytes(file, len));
    } catch (const ft::io_error& e) {
      ++rejected;
      unprefixed += std::string(e.what()).rfind("flowtmpl: load bytes: ", 0) != 0;
    }
  }
  CHECK(rejected == file.size());
  CHECK(unprefixed == 0);
  CHECK(parameter_bits(f) == before);
}

TEST_CASE("safetensors: every truncation is rejected", "[io]") {
  check_every_truncation<Small>(31);
  check_every_truncation<BigF>(33);
  // a truncation inside the data and inside the header, by message
  const bytes_t big = ft::save_bytes(random_flow<BigF>(33));
  expect_rejected<BigF>(bytes_t(big.begin(), big.end() - 4),
                        {"tensor \"transform.3.made.final_layer.bias\": data_offsets [", "reach beyond the data section"});
  expect_rejected<BigF>(bytes_t(big.begin(), big.begin() + 100), {"the header length is", "only 92 bytes follow"});
  expect_rejected<BigF>(bytes_t(big.begin(), big.begin() + 7), {"the input is 7 bytes, shorter than the 8-byte header length"});
  expect_rejected<BigF>(bytes_t{}, {"the input is 0 bytes"});
  Big f;
  CHECK_THROWS_AS(ft::load_bytes(f, std::span<const std::uint8_t>()), ft::io_error);
}

// What one flipped bit of a file that save_bytes wrote may do:
//
// - In the 8-byte length or the JSON header: the load is rejected, always. Another
//   length either exceeds the input or moves the start of the data section, and the
//   tensors must tile the data section exactly. In the JSON, every key the writer puts
//   there is required (a changed key is a missing one or a duplicate, and an unknown
//   tensor is an error too); every value is compared exactly (format, version, spec,
//   dtypes, shapes, offsets; "240" -> "24 ", a digit 0 flipped to a space, is another
//   number); the only whitespace is the padding after the closing brace, where a flipped
//   space (0x20) is neither whitespace again (tab, LF and CR are two bits away) nor
//   anything else JSON allows there. A header that still loads would have to mean the
//   same as the saved one, and no single flip gives one; so the test requires that
//   none loads (and, should that ever change, that one which loads gives exactly the
//   saved parameters). Only the "__metadata__" entries that flowtmpl does not write are
//   ignored, and a flip cannot create one without breaking a required key.
// - In the data: only the flipped element's value changes. The file has no checksum (nor
//   has safetensors), so a flip that leaves the value finite cannot be detected: that
//   load must succeed with exactly the saved parameters but that one bit. A flip that
//   makes the value inf or nan (an exponent bit of a value whose exponent is all ones
//   but one, like 1.5) must be rejected, naming the tensor and the element.
// Either way a rejected load leaves the flow as it was.
template <class F>
void check_header_flips(const F& a, const F& f, std::size_t stride, int& rejected, int& loaded) {
  const bytes_t good = ft::save_bytes(a);
  const bytes_t a_bits = parameter_bits(a), f_bits = parameter_bits(f);
  int unprefixed = 0, changed = 0;
  for (std::size_t byte = 0; byte < data_start(good); byte += stride)
    for (int bit = 0; bit < 8; ++bit) {
      bytes_t b = good;
      b[byte] ^= std::uint8_t(1u << bit);
      F g = f;
      try {
        load_exact(g, exact_bytes(b));
        ++loaded;
        changed += parameter_bits(g) != a_bits;
      } catch (const ft::io_error& e) {
        ++rejected;
        unprefixed += std::string(e.what()).rfind("flowtmpl: load bytes: ", 0) != 0;
        changed += parameter_bits(g) != f_bits;
      }
    }
  CHECK(unprefixed == 0);
  CHECK(changed == 0);
}

// The tensor that holds data byte k and the index of its element there.
template <class F>
std::pair<std::string, std::size_t> element_at(const F& a, std::size_t k) {
  using S = typename F::scalar_type;
  std::pair<std::string, std::size_t> found;
  std::size_t at = 0;
  ft::for_each_parameter(a, [&](const std::string& name, const S*, std::size_t size) {
    if (k >= at && k < at + size * sizeof(S)) found = {name, (k - at) / sizeof(S)};
    at += size * sizeof(S);
  });
  return found;
}

// Every bit of the data bytes `which` (counted from the start of the data section).
template <class F>
void check_data_flips(const F& a, const F& f, const std::vector<std::size_t>& which, int& rejected, int& loaded) {
  using S = typename F::scalar_type;
  const bytes_t good = ft::save_bytes(a);
  const std::size_t start = data_start(good);
  const bytes_t a_bits = parameter_bits(a), f_bits = parameter_bits(f);
  REQUIRE(bytes_t(good.begin() + std::ptrdiff_t(start), good.end()) == a_bits);  // the data is the parameters, in order
  for (const std::size_t k : which)
    for (int bit = 0; bit < 8; ++bit) {
      const std::size_t byte = start + k;
      bytes_t expected = a_bits;
      expected[k] ^= std::uint8_t(1u << bit);
      S v;
      std::memcpy(&v, expected.data() + k / sizeof(S) * sizeof(S), sizeof(S));
      bytes_t b = good;
      b[byte] ^= std::uint8_t(1u << bit);
      F g = f;
      try {
        load_exact(g, exact_bytes(b));
        ++loaded;
        if (!std::isfinite(v) || parameter_bits(g) != expected) {
          INFO("data byte " << k << " bit " << bit << ": value " << v);
          CHECK(std::isfinite(v));
          CHECK(parameter_bits(g) == expected);
        }
      } catch (const ft::io_error& e) {
        ++rejected;
        const auto [name, index] = element_at(a, k);
        const std::string what = e.what();
        const char* kind = std::isnan(v) ? " is nan" : (v > 0 ? " is inf" : " is -inf");
        if (std::isfinite(v) || what.find("tensor \"" + name + "\": element " + std::to_string(index)) == std::string::npos ||
            what.find(kind) == std::string::npos || parameter_bits(g) != f_bits) {
          INFO("data byte " << k << " bit " << bit << ": value " << v << ": " << what);
          CHECK_FALSE(std::isfinite(v));
          CHECK_THAT(what, Contains("tensor \"" + name + "\": element " + std::to_string(index)) && Contains(kind));
          CHECK(parameter_bits(g) == f_bits);
        }
      }
    }
}

TEST_CASE("safetensors: a flipped bit is rejected, or changes that one value if it stays finite", "[io]") {
  // the small flow: every bit of the file
  Small a = random_flow<Small>(41);
  a.base.mean[0] = 1.5f;  // exponent 0x7f: flipping its top bit gives a NaN
  const Small f = random_flow<Small>(42);
  int header_rejected = 0, header_loaded = 0, data_rejected = 0, data_loaded = 0;
  check_header_flips(a, f, 1, header_rejected, header_loaded);
  std::vector<std::size_t> all(ft::parameter_count_v<Small> * sizeof(float));
  for (std::size_t k = 0; k < all.size(); ++k) all[k] = k;
  check_data_flips(a, f, all, data_rejected, data_loaded);
  const bytes_t good = ft::save_bytes(a);
  INFO("small: header flips " << header_rejected << " rejected, " << header_loaded << " loaded; data flips " << data_rejected
                              << " rejected, " << data_loaded << " loaded");
  CHECK(std::size_t(header_rejected + header_loaded) == 8 * data_start(good));
  CHECK(std::size_t(data_rejected + data_loaded) == 8 * (good.size() - data_start(good)));
  CHECK(header_loaded == 0);
  CHECK(data_rejected > 0);  // base.mean[0] = 1.5's top exponent bit at least
  CHECK(data_loaded > 0);

  // the big flow (double): every bit of every 5th header byte, of every 37th data byte
  // and of the value 1.5 at transform.0.log_scale[1]
  Big big = random_flow<Big>(43);
  big.transform.get<0>().log_scale[1] = 1.5;  // exponent 0x3ff: flipping its top bit gives a NaN
  const Big h = random_flow<Big>(44);
  std::vector<std::size_t> sample;
  for (std::size_t k = 0; k < ft::parameter_count_v<Big> * sizeof(double); k += 37) sample.push_back(k);
  std::size_t at = 0;
  ft::for_each_parameter(big, [&](const std::string& name, const double*, std::size_t size) {
    if (name == "transform.0.log_scale")
      for (std::size_t b = 0; b < 8; ++b) sample.push_back(at + 8 + b);
    at += size * sizeof(double);
  });
  int big_header_rejected = 0, big_header_loaded = 0, big_data_rejected = 0, big_data_loaded = 0;
  check_header_flips(big, h, 5, big_header_rejected, big_header_loaded);
  check_data_flips(big, h, sample, big_data_rejected, big_data_loaded);
  INFO("big: header flips " << big_header_rejected << " rejected, " << big_header_loaded << " loaded; data flips "
                            << big_data_rejected << " rejected, " << big_data_loaded << " loaded");
  CHECK(big_header_loaded == 0);
  CHECK(big_header_rejected > 2000);
  CHECK(big_data_rejected > 0);
  CHECK(big_data_loaded > 400);
}

TEST_CASE("safetensors: a file of another architecture is rejected, naming both specs", "[io]") {
  using Other = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<16>>,
                                                                    ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>,
                           3, double>;
  const bytes_t bytes = ft::save_bytes(random_flow<Big>(51));
  expect_rejected<Other>(bytes, {"saved from another flow", "file: " + ft::spec_text<Big>(), "flow: " + ft::spec_text<Other>()});
  // the small flow into the big one and back
  expect_rejected<Big>(ft::save_bytes(random_flow<Small>(52)), {"F32", "float", "does not convert"});
  using SmallD = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::ActNorm>, 2, double>;
  expect_rejected<Big>(ft::save_bytes(SmallD{}), {"another flow", ft::spec_text<SmallD>(), ft::spec_text<Big>()});
}

TEST_CASE("safetensors: a double file into a float flow is rejected, not converted", "[io]") {
  const bytes_t bytes = ft::save_bytes(random_flow<Big>(61));
  expect_rejected<BigF>(bytes, {"the file holds F64 (double) parameters, the flow is float (F32)", "does not convert"});
  // a float file into a double flow
  expect_rejected<Big>(ft::save_bytes(random_flow<BigF>(62)), {"the file holds F32 (float)", "the flow is double (F64)"});
  // one tensor's dtype edited (the metadata still F64)
  const std::string t = "transform.1.diag";
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[t]["dtype"] = "F32"; }),
                       {"tensor \"transform.1.diag\": dtype \"F32\"", "double (F64)", "does not convert"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[t]["dtype"] = "BF16"; }), {"transform.1.diag", "\"BF16\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[t]["dtype"] = 64; }), {"transform.1.diag", "dtype is 64, not a string"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h["__metadata__"]["dtype"] = "I32"; }), {"\"dtype\" is \"I32\", not F32 or F64"});
}

TEST_CASE("safetensors: edited shapes and offsets are rejected", "[io]") {
  const bytes_t bytes = ft::save_bytes(random_flow<Big>(71));
  const std::string w = "transform.2.conditioner.1.weight";  // [22, 8]
  const auto h0 = header_of(bytes);
  const auto begin = h0[w]["data_offsets"][0].get<std::uint64_t>();
  const auto end = h0[w]["data_offsets"][1].get<std::uint64_t>();
  const std::uint64_t data_size = bytes.size() - data_start(bytes);
  using J = nlohmann::ordered_json;

  // shapes
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["shape"] = J::array({8, 22}); }),
                       {"tensor \"" + w + "\": shape [8,22], expected [22,8]"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["shape"] = J::array({176}); }), {"shape [176], expected [22,8]"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["shape"] = J::array({22, 8, 1}); }), {"shape [22,8,1]"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["shape"] = J::array({22, -8}); }), {"shape [22,-8]"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["shape"] = J::array({22.0, 8}); }), {"shape [22.0,8]"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["shape"] = "22x8"; }), {"shape \"22x8\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h["base.mean"]["shape"] = J::array({4}); }),
                       {"tensor \"base.mean\": shape [4], expected [3]"});

  // offsets
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["data_offsets"] = J::array({begin}); }),
                       {w, "is not an array of two non-negative integers"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["data_offsets"] = J::array({-8, end}); }),
                       {w, "not an array of two non-negative integers"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["data_offsets"] = J::array({double(begin), end}); }),
                       {w, "not an array of two non-negative integers"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["data_offsets"] = J::array({end, begin}); }),
                       {"tensor \"" + w + "\": data_offsets [", "end before they begin"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["data_offsets"] = J::array({data_size, data_size + 1408}); }),
                       {w, "reach beyond the data section (" + std::to_string(data_size) + " bytes)"});
  expect_rejected<Big>(with_header(bytes,
                                   [&](auto& h) {
                                     h[w]["data_offsets"] = J::array({std::numeric_limits<std::uint64_t>::max() - 7,
                                                                      std::numeric_limits<std::uint64_t>::max()});
                                   }),
                       {w, "reach beyond the data section"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["data_offsets"] = J::array({begin, end - 8}); }),
                       {w, "hold 1400 bytes, shape [22,8] of F64 needs 1408"});
  // overlapping: the weight moved 8 bytes back into the bias before it
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["data_offsets"] = J::array({begin - 8, end - 8}); }),
                       {"tensors \"transform.2.conditioner.0.bias\" [", ") and \"" + w + "\" [", ") overlap"});
  // two tensors on the same bytes
  expect_rejected<Big>(with_header(bytes,
                                   [&](auto& h) {
                                     h["base.log_scale"]["data_offsets"] = h["base.mean"]["data_offsets"];
                                   }),
                       {"overlap"});
  // a gap: the last tensor moved 8 bytes on, the file grown by 8
  {
    auto h = h0;
    std::string last;
    for (auto it = h.begin(); it != h.end(); ++it) last = it.key();
    const auto lb = h[last]["data_offsets"][0].get<std::uint64_t>();
    const auto le = h[last]["data_offsets"][1].get<std::uint64_t>();
    h[last]["data_offsets"] = J::array({lb + 8, le + 8});
    bytes_t b = with_header_text(bytes, h.dump());
    b.insert(b.end(), 8, 0);
    expect_rejected<Big>(b, {"bytes [" + std::to_string(lb) + ", " + std::to_string(lb + 8) + ") of the data section belong to no tensor"});
  }
  // bytes after the last tensor
  {
    bytes_t b = bytes;
    b.insert(b.end(), 8, 0);
    expect_rejected<Big>(b, {"the data section has " + std::to_string(data_size + 8) + " bytes, the tensors end at byte " +
                             std::to_string(data_size)});
  }
  // an entry's keys
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w]["extra"] = "x"; }), {w, "unknown key \"extra\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w].erase("shape"); }), {w, "has no \"shape\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w].erase("data_offsets"); }), {w, "has no \"data_offsets\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h[w] = J::array({1, 2}); }), {w, "the entry is [1,2], not an object"});
}

TEST_CASE("safetensors: missing and extra tensors, metadata, JSON", "[io]") {
  const bytes_t bytes = ft::save_bytes(random_flow<Big>(81));
  const std::string w = "transform.3.made.final_layer.bias";
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h.erase(w); }), {"tensor \"" + w + "\" (F64 [6]) is missing"});
  expect_rejected<Big>(with_header(bytes,
                                   [&](auto& h) {
                                     h["transform.9.shift"] = h[w];
                                   }),
                       {"tensor \"transform.9.shift\" is not a parameter of this flow"});
  // a tensor renamed: the expected one is missing
  expect_rejected<Big>(with_header(bytes,
                                   [&](auto& h) {
                                     h["base.mean2"] = h["base.mean"];
                                     h.erase("base.mean");
                                   }),
                       {"tensor \"base.mean\" (F64 [3]) is missing"});

  // metadata
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h.erase("__metadata__"); }), {"no \"__metadata__\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h["__metadata__"] = 1; }), {"\"__metadata__\" is a JSON number, not an object"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h["__metadata__"]["format"] = "pt"; }),
                       {"\"format\" is \"pt\", expected \"flowtmpl\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h["__metadata__"].erase("format"); }), {"has no \"format\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h["__metadata__"]["format_version"] = "2"; }),
                       {"format_version \"2\" is not supported", "version \"1\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h["__metadata__"]["format_version"] = 1; }),
                       {"\"format_version\" is 1; safetensors metadata values are strings"});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h["__metadata__"].erase("spec"); }), {"has no \"spec\""});
  expect_rejected<Big>(with_header(bytes, [&](auto& h) { h["__metadata__"]["spec"] = "Flow<X>"; }),
                       {"saved from another flow", "file: Flow<X>", "flow: " + ft::spec_text<Big>()});
  // an extra metadata entry is kept out of the way (ignored)
  {
    Big f;
    const bytes_t b = with_header(bytes, [&](auto& h) { h["__metadata__"]["note"] = "trained on Tuesday"; });
    ft::load_bytes(f, b.data(), b.size());
    CHECK(parameter_bits(f) == parameter_bits(random_flow<Big>(81)));
  }

  // the JSON itself
  expect_rejected<Big>(with_header_text(bytes, "{\"__metadata__\": "), {"the header is not valid JSON"});
  expect_rejected<Big>(with_header_text(bytes, "[1, 2, 3]"), {"the header is a JSON array, not an object"});
  expect_rejected<Big>(with_header_text(bytes, ""), {"not valid JSON"});
  expect_rejected<Big>(with_header_text(bytes, header_of(bytes).dump() + "x"), {"not valid JSON"});
  expect_rejected<Big>(with_header_text(bytes, std::string("{\"a\xff\": 1}")), {"not valid JSON"});
  // a NUL byte (nlohmann's parser would stop there and ignore the rest)
  expect_rejected<Big>(with_header_text(bytes, header_of(bytes).dump() + std::string(1, '\0') + "{\"x\": 1}"),
                       {"the header has a NUL byte at offset "});
  {
    // a key twice (nlohmann would keep the last silently)
    std::string text = header_of(bytes).dump();
    const std::string dup = "\"base.mean\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]},";
    text.insert(1, dup);
    expect_rejected<Big>(with_header_text(bytes, text), {"the header has the key \"base.mean\" twice"});
  }
  // header lengths
  {
    bytes_t b = bytes;
    const std::uint64_t huge = 100'000'001;
    for (int k = 0; k < 8; ++k) b[std::size_t(k)] = std::uint8_t(huge >> (8 * k));
    expect_rejected<Big>(b, {"the header length is 100000001 bytes, more than the ", " that the header of a file of this flow may have"});
    for (int k = 0; k < 8; ++k) b[std::size_t(k)] = 0xff;
    expect_rejected<Big>(b, {"the header length is 18446744073709551615 bytes"});
    const std::uint64_t over = bytes.size() - 7;
    for (int k = 0; k < 8; ++k) b[std::size_t(k)] = std::uint8_t(over >> (8 * k));
    expect_rejected<Big>(b, {"the header length is " + std::to_string(over) + " bytes, but only " +
                             std::to_string(bytes.size() - 8) + " bytes follow"});
  }
}

TEST_CASE("safetensors: non-finite values are rejected, naming the tensor and the element", "[io]") {
  const bytes_t bytes = ft::save_bytes(random_flow<Big>(91));
  const auto h = header_of(bytes);
  const std::string w = "transform.2.conditioner.1.weight";  // [22, 8]
  const std::size_t at = data_start(bytes) + h[w]["data_offsets"][0].get<std::size_t>();
  auto poke = [&](std::size_t index, double v) {
    bytes_t b = bytes;
    std::uint64_t u;
    std::memcpy(&u, &v, 8);
    for (int k = 0; k < 8; ++k) b[at + 8 * index + std::size_t(k)] = std::uint8_t(u >> (8 * k));
    return b;
  };
  expect_rejected<Big>(poke(8 * 3 + 5, std::numeric_limits<double>::quiet_NaN()),
                       {"tensor \"" + w + "\": element 29 (row 3, column 5) is nan"});
  expect_rejected<Big>(poke(0, std::numeric_limits<double>::infinity()), {"element 0 (row 0, column 0) is inf"});
  expect_rejected<Big>(poke(175, -std::numeric_limits<double>::infinity()), {"element 175 (row 21, column 7) is -inf"});
  // a vector: no row and column
  const std::size_t m = data_start(bytes) + h["base.mean"]["data_offsets"][0].get<std::size_t>();
  bytes_t b = bytes;
  for (int k = 0; k < 8; ++k) b[m + 8 + std::size_t(k)] = 0xff;  // a NaN
  expect_rejected<Big>(b, {"tensor \"base.mean\": element 1 is nan; a flow's parameters must be finite"});
  // the same in float
  const bytes_t fb = ft::save_bytes(random_flow<BigF>(92));
  const std::size_t fm = data_start(fb) + header_of(fb)["base.log_scale"]["data_offsets"][0].get<std::size_t>();
  bytes_t c = fb;
  const float inf = std::numeric_limits<float>::infinity();
  std::memcpy(c.data() + fm + 8, &inf, 4);  // little-endian hosts: the byte order of the file
  expect_rejected<BigF>(c, {"tensor \"base.log_scale\": element 2 is inf"});
}

TEST_CASE("safetensors: a header nested deeper than the format is refused before it is parsed", "[io]") {
  // parsing a header of nested brackets costs time and memory per level (and a message
  // dumping one would recurse once a level): the structure is checked first, in one pass
  const bytes_t bytes = ft::save_bytes(random_flow<Small>(101));
  const std::size_t depth = 10'000;
  const std::string arrays = std::string(depth, '[') + std::string(depth, ']');
  std::string objects;
  for (std::size_t i = 0; i < depth; ++i) objects += "{\"a\":";
  objects += '1';
  objects.append(depth, '}');  // (not "1" + std::string: g++ 12 -O3 warns -Wrestrict on it, wrongly)
  // the header with the string "@" at `edit`'s place replaced by `deep`
  auto with_deep = [&](const std::function<void(nlohmann::ordered_json&)>& edit, const std::string& deep) {
    auto h = header_of(bytes);
    edit(h);
    std::string text = h.dump();
    const std::size_t at = text.find("\"@\"");
    REQUIRE(at != std::string::npos);
    text.replace(at, 3, deep);
    return std::pair{with_header_text(bytes, text), 8 + at};
  };
  const std::string where = "nests arrays and objects more than 3 deep at byte ";
  const auto [a1, at1] = with_deep([](auto& h) { h["base.mean"] = "@"; }, arrays);
  expect_rejected<Small>(a1, {where + std::to_string(at1 + 2) + " of the file (in the entry of \"base.mean\")"});
  const auto [a2, at2] = with_deep([](auto& h) { h["base.mean"]["shape"] = "@"; }, objects);
  expect_rejected<Small>(a2, {where + std::to_string(at2 + 5) + " of the file (in the entry of \"base.mean\")"});
  const auto [a3, at3] = with_deep([](auto& h) { h["__metadata__"]["note"] = "@"; }, "[[2]]");
  expect_rejected<Small>(a3, {where + std::to_string(at3 + 1) + " of the file (in the entry of \"__metadata__\")"});
  // the top level itself
  expect_rejected<Small>(with_header_text(bytes, arrays), {where + "11 of the file; a safetensors header has objects"});
  // one level less is not the structure's business: the checks after parsing name it
  const auto [a4, at4] = with_deep([](auto& h) { h["base.mean"]["shape"] = "@"; }, "[2]");
  (void)at4;
  CHECK_NOTHROW([&] { Small f; ft::load_bytes(f, a4); }());
  const auto [a5, at5] = with_deep([](auto& h) { h["base.mean"]["shape"] = "@"; }, "{\"a\":2}");
  (void)at5;
  expect_rejected<Small>(a5, {"tensor \"base.mean\": shape {\"a\":2}, expected [2]"});
  // brackets inside strings are text, not structure
  const auto [a6, at6] = with_deep([](auto& h) { h["__metadata__"]["note"] = "@"; }, "\"[[[[{{{{\\\"]]\"");
  (void)at6;
  CHECK_NOTHROW([&] { Small f; ft::load_bytes(f, a6); }());
}

TEST_CASE("safetensors: a hostile header is refused in proportion to the flow, before it is parsed or read", "[io]") {
  const bytes_t bytes = ft::save_bytes(random_flow<Small>(102));
  const std::size_t data = bytes.size() - data_start(bytes);
  // the bound on the header's length: 64 KiB + 4 x (spec + names + 96 per tensor)
  std::size_t text = ft::spec_text<Small>().size(), tensors = 0;
  const Small shape_only;
  ft::for_each_parameter_tensor(shape_only, [&](const std::string& name, const auto*, std::size_t, std::size_t) {
    text += name.size() + 96;
    ++tensors;
  });
  REQUIRE(tensors == 4);  // the base's mean and log-scale, ActNorm's shift and log-scale
  const std::size_t limit = 65536 + 4 * text;
  // a header of 100 MB of brackets, as its length: refused by the length alone
  bytes_t b(bytes.begin(), bytes.begin() + 8);
  const std::uint64_t hundred_mb = 100'000'000;
  for (int k = 0; k < 8; ++k) b[std::size_t(k)] = std::uint8_t(hundred_mb >> (8 * k));
  b.resize(8 + 4096, '[');
  expect_rejected<Small>(b, {"the header length is 100000000 bytes, more than the " + std::to_string(limit) +
                             " that the header of a file of this flow may have"});
  // at the bound, brackets are refused at the fourth
  const std::string at_limit(limit, '[');
  expect_rejected<Small>(with_header_text(bytes, at_limit), {"more than 3 deep at byte 11 of the file"});
  // a flat array of many values: refused by the count of items, before parsing
  std::string flat = "{\"__metadata__\":[";
  while (flat.size() + 16 < limit) flat += "0,";
  flat += "0]}";
  const std::size_t items = 16 * tensors + 4 * 64 + 8;
  expect_rejected<Small>(with_header_text(bytes, flat), {"the header has more than " + std::to_string(items) + " JSON values and keys"});
  // a file: one larger than any file of this flow is refused by its size, before it is read
  const std::string path = temp_path("hostile_big");
  auto write_bytes = [](const std::string& to, const bytes_t& content) {
    std::ofstream out(to, std::ios::binary);
    out.write(reinterpret_cast<const char*>(content.data()), std::streamsize(content.size()));
    REQUIRE(out.good());
  };
  auto expect_load_file_rejected = [&](Small& f, const std::string& from, const std::vector<std::string>& pieces) {
    const bytes_t before = parameter_bits(f);
    try {
      ft::load(f, from);
      FAIL("no exception");
    } catch (const ft::io_error& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.rfind("flowtmpl: load " + from + ": ", 0) == 0);
      for (const auto& p : pieces) CHECK_THAT(what, Contains(p));
    }
    CHECK(parameter_bits(f) == before);
  };
  {
    bytes_t big = bytes;
    big.resize(8 + limit + data + 1, ' ');
    write_bytes(path, big);
    Small f;
    expect_load_file_rejected(f, path, {"the file is " + std::to_string(big.size()) + " bytes, more than the " +
                                        std::to_string(8 + limit + data) + " bytes that a file of this flow's parameters may have"});
  }
  // one within the size whose header is hostile is refused by its first chunk
  {
    bytes_t nested(8, 0);
    const std::uint64_t n = limit;
    for (int k = 0; k < 8; ++k) nested[std::size_t(k)] = std::uint8_t(n >> (8 * k));
    nested.resize(8 + limit + data, '[');
    write_bytes(path, nested);
    Small f;
    expect_load_file_rejected(f, path, {"more than 3 deep at byte 11 of the file"});
  }
  std::remove(path.c_str());
}

TEST_CASE("safetensors: save refuses a non-finite parameter (load would refuse the file)", "[io]") {
  Big a = random_flow<Big>(111);
  ft::for_each_parameter_tensor(a, [](const std::string& name, double* p, std::size_t, std::size_t) {
    if (name == "transform.2.conditioner.1.weight") p[8 * 3 + 5] = std::numeric_limits<double>::quiet_NaN();
  });
  try {
    (void)ft::save_bytes(a);
    FAIL("no exception");
  } catch (const ft::io_error& e) {
    CHECK(std::string(e.what()) ==
          "flowtmpl: save: tensor \"transform.2.conditioner.1.weight\": element 29 (row 3, column 5) is nan; "
          "a flow's parameters must be finite to be saved");
  }
  const std::string path = temp_path("nan");
  CHECK_THROWS_AS(ft::save(a, path), ft::io_error);
  CHECK_FALSE(std::filesystem::exists(path));  // refused before the file is opened

  Small s;
  s.base.log_scale[1] = -std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(ft::save_bytes(s), Contains("tensor \"base.log_scale\": element 1 is -inf"));
}

}  // namespace safetensors_test
