// benchmarks/dense_tiles.cpp: the evaluation's dense layer over a block of samples
// (detail::dense_rows: out = relu(W in + b), row-major blocks) against the same
// product with a smaller register tile, timed side by side for the layers of an
// MLP<64, 64> coupling network at D = 8 (64 x 4, 64 x 64, 8 x 64) over 192 samples
// (docs/performance.md, "Where each missed target stands": the 65536 rows).
//   library_4x4   dense_rows: 4 rows x 4 SIMD vectors of samples, 16 accumulators
//   tile_4x3      4 rows x 3 SIMD vectors, 12 accumulators: with the 3 input vectors
//                 and the broadcast weight, 16 registers, what an AVX2 target has
// 192 samples: whole tiles of either kind at 8 and 16 lanes. Each benchmark first
// checks that its result equals the library's bitwise (the same FMAs in the same
// order per output).
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <flowtmpl/detail/math.hpp>

#include <benchmark/benchmark.h>

namespace {
namespace ei = Eigen::internal;
using Packet = ei::packet_traits<float>::type;
constexpr int PS = ei::packet_traits<float>::size;
constexpr Eigen::Index samples = 192;
static_assert(samples % (3 * PS) == 0 && samples % (4 * PS) == 0, "whole tiles of both kinds");

// out = relu(W in + b) for R a multiple of 4 and n a multiple of 3 PS
void tile_4x3(const float* W, const float* bias, int R, int K, const float* in, float* out, Eigen::Index n) {
  const Packet zero = ei::pset1<Packet>(0.f);
  auto store = [&](float* to, const Packet& v) { ei::pstoreu(to, ei::pselect(ei::pcmp_lt(v, zero), zero, v)); };
  for (Eigen::Index j = 0; j < n; j += 3 * PS) {
    for (int r = 0; r < R; r += 4) {
      const float* w0 = W + std::size_t(r) * K;
      Packet a[4][3];
      for (int i = 0; i < 4; ++i) a[i][0] = a[i][1] = a[i][2] = ei::pset1<Packet>(bias[r + i]);
      for (int k = 0; k < K; ++k) {
        const float* x = in + std::size_t(k) * std::size_t(n) + j;
        const Packet x0 = ei::ploadu<Packet>(x), x1 = ei::ploadu<Packet>(x + PS), x2 = ei::ploadu<Packet>(x + 2 * PS);
        for (int i = 0; i < 4; ++i) {
          const Packet w = ei::pset1<Packet>(w0[std::size_t(i) * K + k]);
          a[i][0] = ei::pmadd(w, x0, a[i][0]), a[i][1] = ei::pmadd(w, x1, a[i][1]), a[i][2] = ei::pmadd(w, x2, a[i][2]);
        }
      }
      for (int i = 0; i < 4; ++i) {
        float* o = out + std::size_t(r + i) * std::size_t(n) + j;
        store(o, a[i][0]), store(o + PS, a[i][1]), store(o + 2 * PS, a[i][2]);
      }
    }
  }
}

enum class kernel { library_4x4, tile_4x3 };

template <int R, int K, kernel Kind>
void bench(benchmark::State& st) {
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  constexpr std::size_t rows = R, inputs = K, n = samples;
  std::vector<float> W(rows * inputs), b(rows), in(inputs * n), out(rows * n), ref(rows * n);
  for (auto* v : {&W, &b, &in})
    for (float& x : *v) x = u(gen);
  auto run = [&](float* to) {
    if constexpr (Kind == kernel::library_4x4)
      flowtmpl::detail::dense_rows<float, flowtmpl::detail::fused_activation::relu>(W.data(), b.data(), R, K, in.data(),
                                                                                   to, samples);
    else
      tile_4x3(W.data(), b.data(), R, K, in.data(), to, samples);
  };
  flowtmpl::detail::dense_rows<float, flowtmpl::detail::fused_activation::relu>(W.data(), b.data(), R, K, in.data(),
                                                                               ref.data(), samples);
  run(out.data());
  if (out != ref) {
    st.SkipWithError("this kernel's result differs from dense_rows's");
    return;
  }
  for (auto _ : st) {
    run(out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.counters["GFLOPS"] = benchmark::Counter(2e-9 * R * K * double(samples), benchmark::Counter::kIsIterationInvariantRate);
}

template <int R, int K>
void register_shape() {
  const std::string shape = std::to_string(R) + "x" + std::to_string(K) + "/";
  benchmark::RegisterBenchmark((shape + "library_4x4").c_str(), bench<R, K, kernel::library_4x4>);
  benchmark::RegisterBenchmark((shape + "tile_4x3").c_str(), bench<R, K, kernel::tile_4x3>);
}
}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_shape<64, 4>();
  register_shape<64, 64>();
  register_shape<8, 64>();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
