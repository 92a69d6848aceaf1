// benchmarks/autoregressive.cpp: the cost of the sequential direction of MAF and IAF
// in units of one full network evaluation.
//
// Layer: MaskedAutoregressive<T, MADE<64, 64>> and InverseAutoregressive<T, MADE<64,
// 64>>, float, D = 8 (and D = 16), T = Affine and Spline<8>, random parameters; a batch
// of 1024 samples evaluated one sample at a time (the per-sample path, the one the
// device backend runs), single-threaded. Timed per batch:
//   network        made.evaluate(x) on every sample: one full MADE evaluation (the unit)
//   sequential     MAF forward / IAF inverse: MADE's sequential pass, every hidden unit
//                  computed once (conditioners/made.hpp), plus D transformer calls, on
//                  the prepared layer (flowtmpl::prepare: hidden units sorted by
//                  degree, what the host backend runs)
//   naive          the same direction as nflows computes it: D full network evaluations
//                  (apply_naive), the baseline
//   parallel       MAF inverse / IAF forward: one network evaluation plus D transformer
//                  calls
// The ratio sequential / network is the number docs/performance.md reports (goal: below
// 0.5 D); naive / network should come out near D.
// Before timing, sequential and naive are compared: the program aborts if they differ
// by more than rounding.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

#include <benchmark/benchmark.h>
#include <Eigen/Core>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/core.hpp>
#include <flowtmpl/transformers/spline.hpp>
using flowtmpl::direction;

namespace {

constexpr int N = 1024;

template <class Layer>
struct fixture {
  static constexpr int D = Layer::dim;
  Layer layer;
  decltype(flowtmpl::prepare(std::declval<const Layer&>())) prepared;
  Eigen::Matrix<float, D, Eigen::Dynamic> x;
  Eigen::Matrix<float, D, Eigen::Dynamic> out;
  fixture() : x(D, N), out(D, N) {
    layer.reset_parameters(42, flowtmpl::init::uniform);
    prepared = flowtmpl::prepare(layer);
    std::mt19937 gen(1);
    std::normal_distribution<float> nd;
    for (int j = 0; j < N; ++j)
      for (int i = 0; i < D; ++i) x(i, j) = 1.5f * nd(gen);
    // agreement of the sequential pass with the D-pass baseline
    const bool maf_like = !std::is_same_v<Layer, void> && std::string(Layer::name) == "MaskedAutoregressive";
    for (int j = 0; j < 64; ++j) {
      typename Layer::vec v = x.col(j);
      const auto a = maf_like ? prepared.template apply<direction::forward>(v, nullptr) : prepared.template apply<direction::inverse>(v, nullptr);
      const auto b = maf_like ? layer.template apply_naive<direction::forward>(v, nullptr) : layer.template apply_naive<direction::inverse>(v, nullptr);
      const float err = (a.value - b.value).cwiseAbs().maxCoeff() / (1.0f + a.value.cwiseAbs().maxCoeff());
      if (!(err < 1e-4f) || !(std::abs(a.log_det - b.log_det) < 1e-3f * (1.0f + std::abs(a.log_det)))) {
        std::fprintf(stderr, "sequential and naive passes disagree (%g)\n", double(err));
        std::abort();
      }
    }
  }
};

template <class Layer>
fixture<Layer>& get() {
  static fixture<Layer> f;
  return f;
}

template <class Layer>
void network(benchmark::State& state) {
  auto& f = get<Layer>();
  for (auto _ : state) {
    for (int j = 0; j < N; ++j) {
      const typename Layer::vec v = f.x.col(j);
      auto th = f.prepared.made.evaluate(v, nullptr);
      benchmark::DoNotOptimize(th);
    }
  }
}

// Sequential: MAF forward or IAF inverse. Parallel: the other direction.
template <class Layer, bool Sequential, bool Naive>
void direction(benchmark::State& state) {
  auto& f = get<Layer>();
  const bool maf = std::string(Layer::name) == "MaskedAutoregressive";
  const bool forward = Sequential == maf;
  for (auto _ : state) {
    for (int j = 0; j < N; ++j) {
      const typename Layer::vec v = f.x.col(j);
      flowtmpl::value_and_log_det<typename Layer::vec, float> r;
      if (Naive)
        r = forward ? f.layer.template apply_naive<direction::forward>(v, nullptr) : f.layer.template apply_naive<direction::inverse>(v, nullptr);
      else
        r = forward ? f.prepared.template apply<direction::forward>(v, nullptr) : f.prepared.template apply<direction::inverse>(v, nullptr);
      f.out.col(j) = r.value;
      benchmark::DoNotOptimize(r.log_det);
    }
    benchmark::ClobberMemory();
  }
}

template <int D, class T>
using MAF = flowtmpl::bind_t<flowtmpl::MaskedAutoregressive<T, flowtmpl::MADE<64, 64>>, D, float>;
template <int D, class T>
using IAF = flowtmpl::bind_t<flowtmpl::InverseAutoregressive<T, flowtmpl::MADE<64, 64>>, D, float>;

#define FLOWTMPL_AR_BENCH(D, T, tname)                                                          \
  BENCHMARK(network<MAF<D, T>>)->Name("D" #D "/" tname "/network");                            \
  BENCHMARK(direction<MAF<D, T>, true, false>)->Name("D" #D "/" tname "/maf_sequential");      \
  BENCHMARK(direction<MAF<D, T>, true, true>)->Name("D" #D "/" tname "/maf_naive");            \
  BENCHMARK(direction<MAF<D, T>, false, false>)->Name("D" #D "/" tname "/maf_parallel");       \
  BENCHMARK(direction<IAF<D, T>, true, false>)->Name("D" #D "/" tname "/iaf_sequential");      \
  BENCHMARK(direction<IAF<D, T>, false, false>)->Name("D" #D "/" tname "/iaf_parallel");

FLOWTMPL_AR_BENCH(8, flowtmpl::Affine, "affine")
FLOWTMPL_AR_BENCH(8, flowtmpl::Spline<8>, "spline8")
FLOWTMPL_AR_BENCH(16, flowtmpl::Affine, "affine")

}  // namespace

int main(int argc, char** argv) {
#if defined(_OPENMP)
  omp_set_num_threads(1);
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
