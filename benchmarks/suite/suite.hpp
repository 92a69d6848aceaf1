// benchmarks/suite/suite.hpp: the performance suite of the standard flows (Google
// Benchmark). Each flow's translation unit calls register_flow<Spec, D, S>() once per
// scalar type; main.cpp measures the machine's peak first and then runs everything.
//
// Rows, named <flow>/<f32|f64>/<op>/batch:<n>/threads:<t> (register_flow: batches 1, 64,
// 256, 4096, 65536 and training at 256 and 4096; register_added_flow, the flows added
// since the first suite: 1, 256 and 4096, training at 256, float):
//   log_prob  batch 1: the per-sample fixed-size path of a prepared flow
//             (prepared.log_prob(x): no allocation, what a latency-bound caller uses);
//             batch 64, 256, 4096, 65536: flowtmpl::log_prob(flow, X), the batch entry point.
//   sample    batch 1: prepared.sample(rng) (per sample, no allocation);
//             batch 64 ...: flowtmpl::sample(flow, n, seed).
//   train     one training step: nll_and_gradient, then Adam on the flat parameters
//             (copy out, step, assign back) and after_optimizer_step, as fit() does it.
// threads: OpenMP threads of the batch entry points (omp_set_num_threads); batch 1 is
// single-threaded by nature and is run at threads:1 only.
// Counters: items_per_second = samples per second (real time); flop_per_sample = the
// conditioner FLOPs of one sample for that operation (flop_model below); GFLOPS and
// pct_peak = those FLOPs per second, and as a percentage of the FMA peak that main.cpp
// measured in the same process (single-core peak x threads); weight_bytes = the flow's
// parameters in bytes (what one sample's log_prob reads: the batch-1 rows' limit is
// weight_bytes over main.cpp's L2 read rate).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

// flowtmpl first: it includes Eigen with g++ 12's false -Waggressive-loop-optimizations
// silenced (flowtmpl/detail/eigen.hpp)
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include <benchmark/benchmark.h>
#include <Eigen/Core>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "standard_flows.hpp"

namespace suite {
namespace ft = flowtmpl;

// The single-core peak (FLOP/s) of the scalar type, measured by main.cpp before any
// benchmark runs; 0 when not measured.
double& fma_peak(bool single);

inline void set_threads(int t) {
#if defined(_OPENMP)
  omp_set_num_threads(t);
#else
  (void)t;
#endif
}

// FLOPs per sample, counted as 2 per multiply-add of the conditioner networks (dense
// products as the peers compute them too; biases, activations and transformers are not
// counted). An MLP<64, 64> from In inputs to Out outputs: In*64 + 64*64 + 64*Out
// multiply-adds. Coupling: In = D - D/2 identity features, Out = (D/2) x parameters per
// feature. MADE: In = D, Out = 2 D. Sampling MAF evaluates its network D times in the
// textbook (and peer) algorithm; flowtmpl's sequential MADE computes every hidden unit
// once (about one network evaluation, autoregressive.cpp), and the suite counts one.
constexpr double mlp_macs(int in, int out) { return double(in) * 64 + 64.0 * 64 + 64.0 * out; }

struct flop_model {
  double log_prob;  // per sample
  double sample;
  double train() const { return 3 * log_prob; }  // forward + two backward products
};

// A conditional flow's rows give every sample its own context: standard normal draws
// (seed 5, the raw context where the flow embeds it).
template <class F>
constexpr bool conditional_v = ft::context_dim_of<F>() > 0;
template <class F>
using context_batch = Eigen::Matrix<typename F::scalar_type, (conditional_v<F> ? ft::context_dim_of<F>() : 1), Eigen::Dynamic>;
template <class F>
context_batch<F> contexts(Eigen::Index n) {
  context_batch<F> c(context_batch<F>::RowsAtCompileTime, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(5, std::uint64_t(j));
    for (Eigen::Index i = 0; i < c.rows(); ++i) c(i, j) = rng.normal<typename F::scalar_type>();
  }
  return c;
}

// call(c) for a conditional flow F, call() otherwise: the same call with the contexts
// where F reads them
template <class F, class C, class Call>
auto given_context(const C& c, Call&& call) {
  if constexpr (conditional_v<F>)
    return call(c);
  else
    return call();
}

// Data: draws of the flow itself (so log_prob sees typical inputs), given the contexts
// of a conditional flow.
template <class F>
ft::batch_t<typename F::scalar_type, F::dim> data(const F& f, Eigen::Index n) {
  return given_context<F>(contexts<F>(n), [&](const auto&... k) { return ft::sample(f, n, 7, k...); });
}

template <class F>
F make_flow() {
  F f{};
  ft::reset_parameters(f, 1, ft::init::uniform);
  return f;
}

template <class F>
void finish(benchmark::State& st, double flop_per_sample, Eigen::Index n, int threads) {
  using S = typename F::scalar_type;
  const double peak = fma_peak(sizeof(S) == 4) * threads;
  st.SetItemsProcessed(st.iterations() * n);
  st.counters["flop_per_sample"] = flop_per_sample;
  st.counters["weight_bytes"] = double(ft::parameter_count_v<F> * sizeof(S));
  st.counters["GFLOPS"] = benchmark::Counter(flop_per_sample * double(n) * 1e-9,
                                             benchmark::Counter::kIsIterationInvariantRate);
  if (peak > 0 && flop_per_sample > 0)
    st.counters["pct_peak"] = benchmark::Counter(100.0 * flop_per_sample * double(n) / peak,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

template <class F>
void bench_log_prob(benchmark::State& st, Eigen::Index n, int threads, double flops) {
  set_threads(threads);
  F f = make_flow<F>();
  const auto X = data(f, n);
  const context_batch<F> C = contexts<F>(n);
  if (n == 1) {
    const auto p = f.prepare();
    const typename F::vec x = X.col(0);
    const Eigen::Matrix<typename F::scalar_type, context_batch<F>::RowsAtCompileTime, 1> c = C.col(0);
    for (auto _ : st) {
      auto lp = given_context<F>(c, [&](const auto&... k) { return p.log_prob(x, k...); });
      benchmark::DoNotOptimize(lp);
    }
  } else {
    for (auto _ : st) {
      auto lp = given_context<F>(C, [&](const auto&... k) { return ft::log_prob(f, X, k...); });
      benchmark::DoNotOptimize(lp.data());
    }
  }
  finish<F>(st, flops, n, threads);
}

template <class F>
void bench_sample(benchmark::State& st, Eigen::Index n, int threads, double flops) {
  set_threads(threads);
  const F f = make_flow<F>();
  const context_batch<F> C = contexts<F>(n);
  std::uint64_t seed = 11;
  if (n == 1) {
    const auto p = f.prepare();
    const Eigen::Matrix<typename F::scalar_type, context_batch<F>::RowsAtCompileTime, 1> c = C.col(0);
    for (auto _ : st) {
      ft::philox_stream rng(seed++, 0);
      auto x = given_context<F>(c, [&](const auto&... k) { return p.sample(rng, k...); });
      benchmark::DoNotOptimize(x);
    }
  } else {
    for (auto _ : st) {
      auto x = given_context<F>(C, [&](const auto&... k) { return ft::sample(f, n, seed++, k...); });
      benchmark::DoNotOptimize(x.data());
    }
  }
  finish<F>(st, flops, n, threads);
}

template <class F>
void bench_train(benchmark::State& st, Eigen::Index n, int threads, double flops) {
  using S = typename F::scalar_type;
  set_threads(threads);
  F f = make_flow<F>();
  const auto X = data(f, n);
  const context_batch<F> C = contexts<F>(n);
  F grad = ft::make_gradient(f);
  constexpr std::size_t np = ft::parameter_count_v<F>;
  std::vector<S> p(np), g(np);
  ft::adam<S> opt{};
  long step = 0;
  for (auto _ : st) {
    const S nll = given_context<F>(C, [&](const auto&... k) { return ft::nll_and_gradient(f, X, k..., grad); });
    benchmark::DoNotOptimize(nll);
    ft::copy_parameters(grad, g.data());
    ft::copy_parameters(f, p.data());
    opt.step(p.data(), g.data(), np, 1e-4);
    ft::assign_parameters(f, p.data());
    ft::after_optimizer_step(f, ++step);  // a residual layer's power iteration, as fit runs it
  }
  finish<F>(st, flops, n, threads);
}

inline const char* scalar_name(bool single) { return single ? "f32" : "f64"; }

// Registers the rows of one flow and scalar type: log_prob and sample at every batch of
// eval_batches, training at every batch of train_batches, 1 and 2 threads (batch 1: 1).
template <class F>
void register_rows(const std::string& name, flop_model m, std::initializer_list<Eigen::Index> eval_batches,
                   std::initializer_list<Eigen::Index> train_batches) {
  const std::string prefix = name + "/" + scalar_name(sizeof(typename F::scalar_type) == 4) + "/";
  auto reg = [&](const std::string& op, Eigen::Index n, int t, auto fn, double flops) {
    const std::string row = prefix + op + "/batch:" + std::to_string(n) + "/threads:" + std::to_string(t);
    benchmark::RegisterBenchmark(row.c_str(), [=](benchmark::State& st) { fn(st, n, t, flops); })
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  for (Eigen::Index n : eval_batches) {
    for (int t : {1, 2}) {
      if (n == 1 && t == 2) continue;
      reg("log_prob", n, t, bench_log_prob<F>, m.log_prob);
      reg("sample", n, t, bench_sample<F>, m.sample);
    }
  }
  for (Eigen::Index n : train_batches)
    for (int t : {1, 2}) reg("train", n, t, bench_train<F>, m.train());
}
// The five flows of the first suite.
template <class F>
void register_flow(const std::string& name, flop_model m) {
  register_rows<F>(name, m, {1, 64, 256, 4096, 65536}, {256, 4096});
}
// The flows added since (conditional with an embedding, zuko's NSF, residual,
// continuous): fewer batches, their own targets (report.py). flop_model{0, 0} where the
// FLOPs are not modelled (the residual flow's Jacobian, the continuous flow's adaptive
// steps): no GFLOP/s or % of peak for those rows.
template <class F>
void register_added_flow(const std::string& name, flop_model m) {
  register_rows<F>(name, m, {1, 256, 4096}, {256});
}

}  // namespace suite
