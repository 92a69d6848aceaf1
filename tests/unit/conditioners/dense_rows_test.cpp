// Tests of flowtmpl/detail/dense_rows.hpp: the networks' dense layer over a block of
// samples (the MLP's and the feedforward MADE's block paths). Both register tiles
// (4 x 4 and 4 x 3 vectors of samples), with their leftover rows, leftover vectors and
// scalar tail, against a reference written here in long double, and against each other
// bitwise: every output is the same chain of multiply-adds whichever path computes it.
// NaN in an input, a weight or a bias reaches exactly the outputs that read it.
#include <flowtmpl/detail/dense_rows.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace dense_rows_test {

namespace {

namespace fd = flowtmpl::detail;

template <class S>
constexpr int lanes = Eigen::internal::packet_traits<S>::size;

// One layer's operands, each in a vector of exactly its size (a read or write past one
// is the sanitizer build's error), and an output with guard values on both sides.
template <class S>
struct layer {
  int R, K;
  Eigen::Index n;
  std::vector<S> W, b, in;
  static constexpr std::size_t guard = 16;

  layer(int rows, int inputs, Eigen::Index samples, unsigned seed)
      : R(rows), K(inputs), n(samples), W(std::size_t(rows) * std::size_t(inputs)), b(std::size_t(rows)),
        in(std::size_t(inputs) * std::size_t(samples)) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<S> u(S(-1), S(1));
    for (auto* v : {&W, &b, &in})
      for (S& x : *v) x = u(gen);
  }

  // out with guard values around it; the returned vector holds [guard | R x n | guard]
  template <fd::fused_activation Fused, fd::dense_tile Tile>
  std::vector<S> run() const {
    std::vector<S> out(std::size_t(R) * std::size_t(n) + 2 * guard, S(-7.25));
    fd::dense_rows<S, Fused, Tile>(W.data(), b.data(), R, K, in.data(), out.data() + guard, n);
    return out;
  }

  // the layer in long double, from its definition
  long double reference(int r, Eigen::Index j, fd::fused_activation fused) const {
    long double a = b[std::size_t(r)];
    for (int k = 0; k < K; ++k)
      a += static_cast<long double>(W[std::size_t(r) * std::size_t(K) + std::size_t(k)]) *
           static_cast<long double>(in[std::size_t(k) * std::size_t(n) + std::size_t(j)]);
    return (fused == fd::fused_activation::relu && a < 0) ? 0.0L : a;
  }
};

template <class S>
bool same_bits(const std::vector<S>& x, const std::vector<S>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(S)) == 0;
}

// Both tiles over one shape: equal bitwise, within rounding of the reference, and the
// guards untouched.
template <class S, fd::fused_activation Fused>
void check_shape(int R, int K, Eigen::Index n) {
  CAPTURE(R, K, n, sizeof(S), Fused == fd::fused_activation::relu);
  const layer<S> l(R, K, n, unsigned(R * 1000 + K * 10 + n));
  const auto four = l.template run<Fused, fd::dense_tile::rows4_vectors4>();
  const auto three = l.template run<Fused, fd::dense_tile::rows4_vectors3>();
  CHECK(same_bits(four, three));
  const auto chosen = l.template run<Fused, fd::target_dense_tile>();
  CHECK(same_bits(four, chosen));
  using guard_t = layer<S>;
  for (std::size_t g = 0; g < guard_t::guard; ++g) {
    REQUIRE(three[g] == S(-7.25));
    REQUIRE(three[three.size() - 1 - g] == S(-7.25));
  }
  // rounding: K + 1 operations of magnitude at most 1 + K
  const long double tol = static_cast<long double>(std::numeric_limits<S>::epsilon()) * (K + 2) * (K + 2);
  int wrong = 0;
  for (int r = 0; r < R; ++r)
    for (Eigen::Index j = 0; j < n; ++j) {
      const long double got = three[guard_t::guard + std::size_t(r) * std::size_t(n) + std::size_t(j)];
      if (std::fabs(got - l.reference(r, j, Fused)) > tol) ++wrong;
    }
  CHECK(wrong == 0);
}

template <class S, fd::fused_activation Fused>
void check_every_path() {
  constexpr int P = lanes<S>;
  // rows: below one tile, whole tiles, tiles and every count of leftover rows
  const std::vector<int> rows{1, 2, 3, 4, 5, 6, 7, 8, 9, 64};
  const std::vector<int> inputs{1, 3, 64};
  // samples: the scalar tail alone, one vector, every mix of 4-vector and 3-vector tiles
  // with leftover vectors and a tail, and the host block (128) with its neighbours
  const std::vector<Eigen::Index> samples{0, 1, P - 1, P, P + 1, 2 * P + 3, 3 * P, 4 * P, 4 * P + 1, 5 * P,
                                          6 * P + P / 2, 7 * P + 1, 12 * P, 127, 128, 129, 150};
  for (int R : rows)
    for (int K : inputs)
      for (Eigen::Index n : samples) check_shape<S, Fused>(R, K, n);
}

// NaN placed in one input sample, one weight and one bias: the outputs that read it are
// NaN (the relu keeps NaN) and every other output equals the NaN-free run bitwise.
template <class S, fd::dense_tile Tile>
void check_nan(Eigen::Index n) {
  CAPTURE(n, sizeof(S), Tile == fd::dense_tile::rows4_vectors3);
  constexpr int R = 9, K = 7;
  const layer<S> clean(R, K, n, 11);
  layer<S> dirty = clean;
  const S nan = std::numeric_limits<S>::quiet_NaN();
  const Eigen::Index bad_sample = n - 1;  // the last sample: the tail or the last tile
  const int bad_row = 5, bad_bias_row = 8;
  dirty.in[std::size_t(2) * std::size_t(n) + std::size_t(bad_sample)] = nan;
  dirty.W[std::size_t(bad_row) * K + 3] = nan;
  dirty.b[std::size_t(bad_bias_row)] = nan;
  const auto ref = clean.template run<fd::fused_activation::relu, Tile>();
  const auto got = dirty.template run<fd::fused_activation::relu, Tile>();
  int misplaced = 0;
  for (int r = 0; r < R; ++r)
    for (Eigen::Index j = 0; j < n; ++j) {
      const std::size_t at = layer<S>::guard + std::size_t(r) * std::size_t(n) + std::size_t(j);
      const bool reads_nan = j == bad_sample || r == bad_row || r == bad_bias_row;
      if (reads_nan ? !std::isnan(got[at]) : std::memcmp(&got[at], &ref[at], sizeof(S)) != 0) ++misplaced;
    }
  CHECK(misplaced == 0);
}

}  // namespace

TEST_CASE("dense_rows: both register tiles and every leftover path equal the reference and each other bitwise",
          "[dense_rows]") {
  check_every_path<float, fd::fused_activation::none>();
  check_every_path<float, fd::fused_activation::relu>();
  check_every_path<double, fd::fused_activation::none>();
  check_every_path<double, fd::fused_activation::relu>();
}

TEST_CASE("dense_rows: a NaN input, weight or bias reaches exactly the outputs that read it", "[dense_rows]") {
  for (Eigen::Index n : {Eigen::Index(1), Eigen::Index(lanes<float>), Eigen::Index(3 * lanes<float> + 1),
                         Eigen::Index(4 * lanes<float>), Eigen::Index(128), Eigen::Index(131)}) {
    check_nan<float, fd::dense_tile::rows4_vectors4>(n);
    check_nan<float, fd::dense_tile::rows4_vectors3>(n);
    check_nan<double, fd::dense_tile::rows4_vectors4>(n);
    check_nan<double, fd::dense_tile::rows4_vectors3>(n);
  }
}

TEST_CASE("dense_rows: no sample writes nothing", "[dense_rows]") {
  const layer<float> l(4, 3, 0, 1);
  const auto out = l.run<fd::fused_activation::none, fd::dense_tile::rows4_vectors3>();
  REQUIRE(out.size() == 2 * layer<float>::guard);
  for (float v : out) CHECK(v == -7.25f);
}

}  // namespace dense_rows_test
