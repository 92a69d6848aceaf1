// benchmarks/dense_tiles.cpp: the networks' dense layer over a block of samples
// (detail::dense_rows: out = relu(W in + b), row-major blocks) with each of its two
// register tiles, timed side by side for the layers of an MLP<64, 64> coupling network
// at D = 8 (64 x 4, 64 x 64, 8 x 64) and a spline coupling's output layer (92 x 64),
// over one host block of 128 samples and over 192 (whole tiles of either kind at 8 and
// 16 lanes; docs/performance.md, "What changed in the library (issue 23)").
//   rows4_vectors4   4 rows x 4 SIMD vectors of samples, 16 accumulators
//   rows4_vectors3   4 rows x 3 SIMD vectors, 12 accumulators, the 3 input vectors held
//                    in registers: the tile dense_rows takes on AVX2 + FMA targets
// Each benchmark first checks that its result equals the other tile's bitwise.
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <flowtmpl/detail/dense_rows.hpp>

#include <benchmark/benchmark.h>

namespace {
namespace fd = flowtmpl::detail;

template <int R, int K, fd::dense_tile Tile>
void bench(benchmark::State& st, Eigen::Index samples) {
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const std::size_t rows = R, inputs = K, n = std::size_t(samples);
  std::vector<float> W(rows * inputs), b(rows), in(inputs * n), out(rows * n), other(rows * n);
  for (auto* v : {&W, &b, &in})
    for (float& x : *v) x = u(gen);
  constexpr fd::dense_tile other_tile =
      Tile == fd::dense_tile::rows4_vectors4 ? fd::dense_tile::rows4_vectors3 : fd::dense_tile::rows4_vectors4;
  fd::dense_rows<float, fd::fused_activation::relu, other_tile>(W.data(), b.data(), R, K, in.data(), other.data(),
                                                                 samples);
  fd::dense_rows<float, fd::fused_activation::relu, Tile>(W.data(), b.data(), R, K, in.data(), out.data(), samples);
  if (out != other) {
    st.SkipWithError("the two tiles' results differ");
    return;
  }
  for (auto _ : st) {
    fd::dense_rows<float, fd::fused_activation::relu, Tile>(W.data(), b.data(), R, K, in.data(), out.data(), samples);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.counters["GFLOPS"] = benchmark::Counter(2e-9 * R * K * double(samples), benchmark::Counter::kIsIterationInvariantRate);
}

template <int R, int K>
void register_shape(Eigen::Index samples) {
  const std::string shape = std::to_string(R) + "x" + std::to_string(K) + "/n" + std::to_string(samples) + "/";
  benchmark::RegisterBenchmark((shape + "rows4_vectors4").c_str(), bench<R, K, fd::dense_tile::rows4_vectors4>, samples);
  benchmark::RegisterBenchmark((shape + "rows4_vectors3").c_str(), bench<R, K, fd::dense_tile::rows4_vectors3>, samples);
}
}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (Eigen::Index samples : {128, 192}) {
    register_shape<64, 4>(samples);
    register_shape<64, 64>(samples);
    register_shape<8, 64>(samples);
    register_shape<92, 64>(samples);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
