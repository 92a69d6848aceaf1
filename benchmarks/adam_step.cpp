// benchmarks/adam_step.cpp: one step of adam<float> (training/optimizers.hpp) over the
// 40000 parameters of the suite's RealNVP (8 couplings of MLP<64, 64> at D = 8), on 1
// and 2 threads (docs/performance.md, "What changed in the library (issue 23)"). The
// optimizer step is the part of a training step that runs once per step, not per block.
#include <cstddef>
#include <random>
#include <vector>

#include <flowtmpl/training/optimizers.hpp>

#include <benchmark/benchmark.h>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {
constexpr std::size_t parameters = 40000;

void adam_step(benchmark::State& st) {
#if defined(_OPENMP)
  omp_set_num_threads(int(st.range(0)));
#else
  if (st.range(0) > 1) {
    st.SkipWithError("built without OpenMP: one thread only");
    return;
  }
#endif
  std::mt19937 gen(3);
  std::normal_distribution<float> d;
  std::vector<float> p(parameters), g(parameters);
  for (float& x : p) x = d(gen);
  for (float& x : g) x = d(gen);
  flowtmpl::adam<float> opt;
  for (auto _ : st) {
    opt.step(p.data(), g.data(), parameters, 1e-4);
    benchmark::DoNotOptimize(p.data());
    benchmark::ClobberMemory();
  }
  st.counters["ns_per_parameter"] =
      benchmark::Counter(double(parameters), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
}  // namespace

BENCHMARK(adam_step)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
