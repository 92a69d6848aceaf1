// benchmarks/suite/main.cpp: the suite's main. Before any benchmark it measures, in
// this process and with the flags this file was compiled with (the library's flags):
//   fma_peak    single-core FLOP/s of independent vector fused multiply-adds (float and
//               double): 12 accumulators of the target's widest vector register, enough
//               independent chains to fill the FMA pipelines of any current x86 core
//   gemm_peak   single-thread FLOP/s of Eigen's matrix product (the kernel the block
//               path uses) on 512 x 512 operands
//   l2_read     single-core bytes per second read from a 256 KiB buffer (in L2 on the
//               x86 cores of today: 512 KiB and up; larger than their L1) by vector loads
//               into 8 accumulators: the rate at which one sample's log_prob can read a
//               flow's weights that stay in L2 between calls, the limit of a batch of 1
//               (the suite's weight_bytes counter over this rate; benchmarks/report.py)
// All are the best of 7 trials (a peak: the largest rate seen). They are printed, put
// into the JSON context (fma_peak_f32_gflops, ..., l2_read_gbytes_per_s), and the
// suite's pct_peak counters divide by fma_peak (suite.hpp). Without FMA in the target
// (generic x86-64: SSE2) the kernel compiles to separate multiplies and adds, and the
// peak is that of the build.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

#include <benchmark/benchmark.h>
#include <Eigen/Core>

#include "suite.hpp"

namespace suite {
double& fma_peak(bool single) {
  static double peak[2] = {0, 0};
  return peak[single ? 0 : 1];
}
}  // namespace suite

namespace {

// The widest vector of the target: a register's bytes (AVX-512: 64, AVX/AVX2: 32,
// SSE2: 16). Vectors wider than the registers would be split and spilled, and measure
// the spills.
#if defined(__AVX512F__)
constexpr int simd_bytes = 64;
#elif defined(__AVX__)
constexpr int simd_bytes = 32;
#else
constexpr int simd_bytes = 16;
#endif

// 12 independent chains: at least latency x pipes (4 x 2 on the x86 cores of today) in
// flight, and with a and b 14 of the 16 vector registers (AVX2; AVX-512 has 32)
template <class S>
double fma_rate(long iterations) {
  constexpr int lanes = simd_bytes / int(sizeof(S));
  typedef S vec __attribute__((vector_size(simd_bytes)));
  volatile S seed = S(1e-3);
  vec a, b, x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11;
  for (int l = 0; l < lanes; ++l) {
    a[l] = S(0.999999) + seed * S(l);
    b[l] = seed * S(l + 1);
  }
  // distinct starting values (read through a volatile): equal chains would be merged
  S k = seed;
  x0 = b * (k += seed), x1 = b * (k += seed), x2 = b * (k += seed), x3 = b * (k += seed);
  x4 = b * (k += seed), x5 = b * (k += seed), x6 = b * (k += seed), x7 = b * (k += seed);
  x8 = b * (k += seed), x9 = b * (k += seed), x10 = b * (k += seed), x11 = b * (k += seed);
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) {
    // independent accumulators, named so that they stay in registers
    x0 = x0 * a + b, x1 = x1 * a + b, x2 = x2 * a + b, x3 = x3 * a + b;
    x4 = x4 * a + b, x5 = x5 * a + b, x6 = x6 * a + b, x7 = x7 * a + b;
    x8 = x8 * a + b, x9 = x9 * a + b, x10 = x10 * a + b, x11 = x11 * a + b;
    // an opaque use of a per iteration, in its register: no reordering of the loop nest
    __asm__ volatile("" : "+v"(a));
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const vec sum = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11;
  S total = 0;
  for (int l = 0; l < lanes; ++l) total += sum[l];
  benchmark::DoNotOptimize(total);
  return 2.0 * 12 * lanes * double(iterations) / s;
}

template <class S>
double gemm_rate() {
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  const int n = 512;
  const M A = M::Random(n, n), B = M::Random(n, n);
  M C(n, n);
  const auto t0 = std::chrono::steady_clock::now();
  int reps = 0;
  double s = 0;
  do {
    C.noalias() = A * B;
    benchmark::DoNotOptimize(C.data());
    ++reps;
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (s < 0.2);
  return 2.0 * double(n) * n * n * reps / s;
}

double l2_read_rate() {
  constexpr std::size_t bytes = 256 * 1024;
  constexpr int chains = 8;
  typedef float vec __attribute__((vector_size(simd_bytes)));
  constexpr int lanes = simd_bytes / int(sizeof(float));
  constexpr std::size_t count = bytes / sizeof(vec);
  static vec buffer[count];
  for (std::size_t i = 0; i < count; ++i)
    for (int l = 0; l < lanes; ++l) buffer[i][l] = float(i % 7) * 1e-3f + float(l);
  vec acc[chains] = {};
  const auto t0 = std::chrono::steady_clock::now();
  long passes = 0;
  double s = 0;
  do {
    for (std::size_t i = 0; i < count; i += chains)
      for (int k = 0; k < chains; ++k) acc[k] += buffer[i + k];
    // an opaque use of the buffer per pass: every pass reads it again
    __asm__ volatile("" : : "r"(buffer) : "memory");
    ++passes;
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (s < 0.1);
  float total = 0;
  for (int k = 0; k < chains; ++k)
    for (int l = 0; l < lanes; ++l) total += acc[k][l];
  benchmark::DoNotOptimize(total);
  return double(bytes) * double(passes) / s;
}

template <class F>
double best_of(int trials, F f) {
  double best = 0;
  for (int i = 0; i < trials; ++i) best = std::max(best, f());
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  suite::set_threads(1);
  Eigen::setNbThreads(1);
  const double f32 = best_of(7, [] { return fma_rate<float>(20'000'000); });
  const double f64 = best_of(7, [] { return fma_rate<double>(20'000'000); });
  const double g32 = best_of(7, [] { return gemm_rate<float>(); });
  const double g64 = best_of(7, [] { return gemm_rate<double>(); });
  const double l2 = best_of(7, [] { return l2_read_rate(); });
  suite::fma_peak(true) = f32;
  suite::fma_peak(false) = f64;
  auto gf = [](double v) { return std::to_string(v * 1e-9); };
  benchmark::AddCustomContext("fma_peak_f32_gflops", gf(f32));
  benchmark::AddCustomContext("fma_peak_f64_gflops", gf(f64));
  benchmark::AddCustomContext("gemm_peak_f32_gflops", gf(g32));
  benchmark::AddCustomContext("gemm_peak_f64_gflops", gf(g64));
  benchmark::AddCustomContext("l2_read_gbytes_per_s", gf(l2));
#if defined(__AVX512F__)
  benchmark::AddCustomContext("simd", "AVX-512");
#elif defined(__AVX2__) && defined(__FMA__)
  benchmark::AddCustomContext("simd", "AVX2+FMA");
#elif defined(__AVX__)
  benchmark::AddCustomContext("simd", "AVX");
#else
  benchmark::AddCustomContext("simd", "SSE2 (generic x86-64)");
#endif
  std::printf("single-core peak: FMA %.1f GFLOP/s (f32), %.1f (f64); Eigen GEMM 512 %.1f (f32), %.1f (f64); "
              "L2 read %.1f GB/s\n",
              f32 * 1e-9, f64 * 1e-9, g32 * 1e-9, g64 * 1e-9, l2 * 1e-9);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
