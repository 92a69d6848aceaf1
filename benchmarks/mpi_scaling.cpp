// mpi_scaling: what data-parallel training over MPI costs and gains on this machine
// (benchmarks/mpi_scaling.sh runs it on 1 and 2 processes; docs/performance.md has the
// numbers and the cost model).
//   train  RealNVP and NSF (benchmarks/standard_flows.hpp, D = 8, float) trained by
//          mpi::fit at a global batch of 8192 on 131072 samples spread over the
//          processes: training samples per second, the median of 5 runs of 16 steps
//          (after one run to warm up)
//   reduce the sum of P floats over the processes: the rank-order chain of
//          mpi/ordered_sum.hpp (what mpi::fit uses) and MPI_Allreduce, median of 21
//          calls, for P from 10^3 to 4 x 10^6
// Output: one line per measurement on rank 0, "train <flow> <processes> <samples/s>" and
// "reduce <P> <processes> <chain seconds> <allreduce seconds>".
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/mpi.hpp>
#include <flowtmpl/training.hpp>

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "standard_flows.hpp"

namespace ft = flowtmpl;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Spec>
void train(const char* name, int rank, int size) {
  using F = standard_flows::flow<Spec>;
  constexpr Eigen::Index n = 131072, batch = 8192;
  constexpr long steps = 16;
  const auto mine = ft::mpi::sample_range(n, size, rank);
  Eigen::Matrix<float, 8, Eigen::Dynamic> x(8, mine.count);
  for (Eigen::Index j = 0; j < mine.count; ++j) {
    ft::philox_stream rng(5, std::uint64_t(mine.first + j));
    for (int i = 0; i < 8; ++i) x(i, j) = rng.normal<float>() * float(1 + i % 3);
  }
  std::vector<double> rates;
  for (int run = 0; run < 6; ++run) {
    F f;
    ft::reset_parameters(f, 1);
    ft::fit_options o;
    o.batch_size = batch;
    o.epochs = 2;
    o.max_steps = steps;
    o.quiet = true;
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    (void)ft::mpi::fit(MPI_COMM_WORLD, f, x, o);
    MPI_Barrier(MPI_COMM_WORLD);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (run > 0) rates.push_back(double(steps * batch) / s);
  }
  if (rank == 0) std::printf("train %s %d %.0f\n", name, size, median(rates));
}

void reduce(int rank, int size) {
  const ft::mpi::detail::private_comm c(MPI_COMM_WORLD, "mpi_scaling");
  for (const std::size_t p : {std::size_t(1000), std::size_t(10000), std::size_t(100000), std::size_t(1000000),
                              std::size_t(4000000)}) {
    std::vector<std::vector<float>> parts(1, std::vector<float>(p, 1.0f));
    std::vector<float> out(p);
    std::vector<double> chain, all;
    for (int k = 0; k < 21; ++k) {
      MPI_Barrier(c.get());
      auto t0 = std::chrono::steady_clock::now();
      const auto s = ft::mpi::detail::ordered_sum(c, parts, p);
      chain.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      MPI_Barrier(c.get());
      t0 = std::chrono::steady_clock::now();
      MPI_Allreduce(parts[0].data(), out.data(), int(p), MPI_FLOAT, MPI_SUM, c.get());
      all.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      if (s[0] != float(size) || out[0] != float(size)) std::fprintf(stderr, "mpi_scaling: wrong sum\n");
    }
    if (rank == 0) std::printf("reduce %zu %d %.3e %.3e\n", p, size, median(chain), median(all));
  }
}
}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0)
    std::printf("# parameters: RealNVP %zu, NSF %zu\n", ft::parameter_count_v<standard_flows::flow<standard_flows::RealNVP>>,
                ft::parameter_count_v<standard_flows::flow<standard_flows::NSF>>);
  train<standard_flows::RealNVP>("RealNVP", rank, size);
  train<standard_flows::NSF>("NSF", rank, size);
  if (size > 1) reduce(rank, size);
  MPI_Finalize();
  return 0;
}
