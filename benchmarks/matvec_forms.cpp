// benchmarks/matvec_forms.cpp: the forms of one sample's dense layer y = W x (float, the
// shapes of an MLP<64, 64> coupling network at D = 8: 64 x 4, 64 x 64, 8 x 64), timed
// side by side to choose the per-sample path's kernel (docs/performance.md, "Second
// round"). The library's per-sample networks use the first form today.
//   lazy_rowmajor    Eigen's lazy product on the row-major weight, as torch stores it
//                    (detail::product): one dot product and a horizontal sum per output
//   lazy_colmajor    the same on a column-major copy
//   rows4_rowmajor   row-major, 4 rows at a time sharing the loads of x, 4 horizontal
//                    sums at the end of each group
//   broadcast_colmajor  column-major: y = sum_k W(:, k) x_k, x_k broadcast, one SIMD
//                    accumulator per packet of outputs (no horizontal sums)
// Each benchmark checks once that its form computes the lazy product's y to rounding.
// The hand-written forms are registered where the shape fills whole SIMD packets of the
// target (rows4: K a multiple of the packet size; broadcast: R).
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <string>

#include <benchmark/benchmark.h>
#include <Eigen/Core>

namespace {
namespace ei = Eigen::internal;
using Packet = ei::packet_traits<float>::type;
constexpr int PS = ei::packet_traits<float>::size;

template <int R, int K>
using RowMajor = Eigen::Matrix<float, R, K, (K == 1 ? Eigen::ColMajor : Eigen::RowMajor)>;
template <int R, int K>
using ColMajor = Eigen::Matrix<float, R, K>;

enum class form { lazy_rowmajor, lazy_colmajor, rows4_rowmajor, broadcast_colmajor };

template <int R, int K>
void rows4(const RowMajor<R, K>& W, const Eigen::Matrix<float, K, 1>& x, Eigen::Matrix<float, R, 1>& y) {
  static_assert(R % 4 == 0 && K % PS == 0, "rows4: R a multiple of 4, K of the packet size");
  for (int r = 0; r < R; r += 4) {
    Packet a0 = ei::pset1<Packet>(0.f), a1 = a0, a2 = a0, a3 = a0;
    const float* w = W.data() + std::size_t(r) * K;
    for (int k = 0; k < K; k += PS) {
      const Packet xk = ei::ploadu<Packet>(x.data() + k);
      a0 = ei::pmadd(ei::ploadu<Packet>(w + k), xk, a0);
      a1 = ei::pmadd(ei::ploadu<Packet>(w + K + k), xk, a1);
      a2 = ei::pmadd(ei::ploadu<Packet>(w + 2 * K + k), xk, a2);
      a3 = ei::pmadd(ei::ploadu<Packet>(w + 3 * K + k), xk, a3);
    }
    y[r] = ei::predux(a0), y[r + 1] = ei::predux(a1), y[r + 2] = ei::predux(a2), y[r + 3] = ei::predux(a3);
  }
}

template <int R, int K>
void broadcast(const ColMajor<R, K>& W, const Eigen::Matrix<float, K, 1>& x, Eigen::Matrix<float, R, 1>& y) {
  static_assert(R % PS == 0, "broadcast: R a multiple of the packet size");
  Packet acc[R / PS];
  for (int p = 0; p < R / PS; ++p) acc[p] = ei::pset1<Packet>(0.f);
  for (int k = 0; k < K; ++k) {
    const Packet xk = ei::pset1<Packet>(x[k]);
    const float* c = W.data() + std::size_t(k) * R;
    for (int p = 0; p < R / PS; ++p) acc[p] = ei::pmadd(ei::ploadu<Packet>(c + p * PS), xk, acc[p]);
  }
  for (int p = 0; p < R / PS; ++p) ei::pstoreu(y.data() + p * PS, acc[p]);
}

template <int R, int K, form F>
void bench(benchmark::State& st) {
  std::srand(3);
  const RowMajor<R, K> Wr = RowMajor<R, K>::Random();
  const ColMajor<R, K> Wc = Wr;
  Eigen::Matrix<float, K, 1> x = Eigen::Matrix<float, K, 1>::Random();
  Eigen::Matrix<float, R, 1> y, ref;
  ref.noalias() = Wr.lazyProduct(x);
  auto run = [&] {
    if constexpr (F == form::lazy_rowmajor)
      y.noalias() = Wr.lazyProduct(x);
    else if constexpr (F == form::lazy_colmajor)
      y.noalias() = Wc.lazyProduct(x);
    else if constexpr (F == form::rows4_rowmajor)
      rows4<R, K>(Wr, x, y);
    else
      broadcast<R, K>(Wc, x, y);
  };
  run();
  if (!((y - ref).cwiseAbs().maxCoeff() <= 1e-5f * std::max(1.f, ref.cwiseAbs().maxCoeff()))) {
    st.SkipWithError("this form's y differs from the lazy product's");
    return;
  }
  for (auto _ : st) {
    run();
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  st.counters["GFLOPS"] = benchmark::Counter(2e-9 * R * K, benchmark::Counter::kIsIterationInvariantRate);
}

template <int R, int K>
void register_shape() {
  const std::string shape = std::to_string(R) + "x" + std::to_string(K) + "/";
  benchmark::RegisterBenchmark((shape + "lazy_rowmajor").c_str(), bench<R, K, form::lazy_rowmajor>);
  benchmark::RegisterBenchmark((shape + "lazy_colmajor").c_str(), bench<R, K, form::lazy_colmajor>);
  // the hand-written forms where the shape fills whole packets of this target
  if constexpr (R % 4 == 0 && K % PS == 0)
    benchmark::RegisterBenchmark((shape + "rows4_rowmajor").c_str(), bench<R, K, form::rows4_rowmajor>);
  if constexpr (R % PS == 0)
    benchmark::RegisterBenchmark((shape + "broadcast_colmajor").c_str(), bench<R, K, form::broadcast_colmajor>);
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
