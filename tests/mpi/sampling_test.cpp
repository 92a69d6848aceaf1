// mpi::sample / sample_and_log_prob / log_prob / mean_log_prob (flowtmpl/mpi/
// sampling.hpp) under mpirun: each process's part is bitwise the columns of the
// one-process call.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/mpi.hpp>

#include <vector>

#include "mpi_support.hpp"

namespace ft = flowtmpl;
using namespace flowtmpl_mpi_test;

namespace {
using Small = ft::MLP<16, 16>;
using NSF = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Spline<6>, Small>, ft::Permute<ft::Reverse>,
                                                                ft::Coupling<ft::Spline<6>, Small>, ft::LUConv>>,
                       4, float>;
using MAF = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::MaskedAutoregressive<ft::Affine, ft::MADE<16>>,
                                                                ft::Permute<ft::Reverse>>>,
                       4, double>;
using CondF = ft::bind_t<ft::Conditional<2, ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, Small>,
                                                                                     ft::Permute<ft::Reverse>>>>,
                         3, float>;

template <class M>
bool same_bits(const M& a, const M& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::equal(a.data(), a.data() + a.size(), b.data(), [](auto x, auto y) { return x == y || (x != x && y != y); });
}
}  // namespace

TEST_CASE("mpi::sample: process r draws samples [r n / R, (r + 1) n / R) of sample(flow, n, seed), bitwise", "[mpi]") {
  NSF f;
  ft::reset_parameters(f, 3);
  const int R = world_size(), r = world_rank();
  for (const Eigen::Index n : {Eigen::Index(1000), Eigen::Index(257), Eigen::Index(2)}) {
    INFO("n = " << n);
    const auto whole = ft::sample(f, n, 42);
    const auto part = ft::mpi::sample(MPI_COMM_WORLD, f, n, 42);
    const auto range = ft::mpi::sample_range(n, R, r);
    CHECK(same_bits(part, ft::batch_t<float, 4>(whole.middleCols(range.first, range.count))));
    const auto at_t = ft::mpi::sample(MPI_COMM_WORLD, f, n, 42, 0.7f);
    CHECK(same_bits(at_t, ft::batch_t<float, 4>(ft::sample(f, n, 42, 0.7f).middleCols(range.first, range.count))));
    const auto wl = ft::sample_and_log_prob(f, n, 42);
    const auto pl = ft::mpi::sample_and_log_prob(MPI_COMM_WORLD, f, n, 42);
    CHECK(same_bits(pl.values, ft::batch_t<float, 4>(wl.values.middleCols(range.first, range.count))));
    CHECK(same_bits(pl.log_det, ft::row_t<float>(wl.log_det.segment(range.first, range.count))));
  }
  // the parts' sizes add up to n
  long long mine = ft::mpi::sample_range(1000, R, r).count, total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  CHECK(total == 1000);
}

TEST_CASE("mpi::log_prob and mean_log_prob of uneven shards: bitwise the one-process values", "[mpi]") {
  const int R = world_size(), r = world_rank();
  NSF f;
  ft::reset_parameters(f, 4);
  const auto x = ft::sample(f, 1111, 7);
  const auto mine = shard(x, R, r);
  const auto whole = ft::log_prob(f, x);
  const auto a = shard_first(x.cols(), R, r);
  CHECK(same_bits(ft::mpi::log_prob(MPI_COMM_WORLD, f, mine), ft::row_t<float>(whole.segment(a, mine.cols()))));
  CHECK(ft::mpi::mean_log_prob(MPI_COMM_WORLD, f, mine) == whole.cast<double>().mean());

  MAF m;  // the per-sample path
  ft::reset_parameters(m, 5);
  const auto y = ft::sample(m, 700, 8);
  const auto ym = shard(y, R, r);
  const auto wm = ft::log_prob(m, y);
  CHECK(same_bits(ft::mpi::log_prob(MPI_COMM_WORLD, m, ym),
                  ft::row_t<double>(wm.segment(shard_first(y.cols(), R, r), ym.cols()))));
}

TEST_CASE("mpi: a conditional flow's sample and log_prob with per-sample and shared contexts", "[mpi][conditional]") {
  const int R = world_size(), r = world_rank();
  CondF f;
  ft::reset_parameters(f, 6);
  const Eigen::Index n = 600;
  Eigen::Matrix<float, 2, Eigen::Dynamic> c(2, n);
  for (Eigen::Index j = 0; j < n; ++j) c.col(j) << float(j) / float(n), -1.0f + 0.01f * float(j % 7);
  const auto range = ft::mpi::sample_range(n, R, r);
  const Eigen::Matrix<float, 2, Eigen::Dynamic> my_c = c.middleCols(range.first, range.count);
  const auto whole = ft::sample_and_log_prob(f, n, 9, c);
  const auto part = ft::mpi::sample_and_log_prob(MPI_COMM_WORLD, f, n, 9, my_c);
  CHECK(same_bits(part.values, ft::batch_t<float, 3>(whole.values.middleCols(range.first, range.count))));
  CHECK(same_bits(part.log_det, ft::row_t<float>(whole.log_det.segment(range.first, range.count))));
  const Eigen::Vector2f shared(0.3f, -0.2f);
  CHECK(same_bits(ft::mpi::sample(MPI_COMM_WORLD, f, n, 9, shared),
                  ft::batch_t<float, 3>(ft::sample(f, n, 9, shared).middleCols(range.first, range.count))));
  // log_prob of the whole sample, spread as the draw was
  const auto lp = ft::mpi::log_prob(MPI_COMM_WORLD, f, part.values, my_c);
  CHECK(same_bits(lp, ft::row_t<float>(ft::log_prob(f, whole.values, c).segment(range.first, range.count))));
}

TEST_CASE("mpi: a context of the wrong size on one process throws on every process", "[mpi]") {
  const int R = world_size(), r = world_rank();
  CondF f;
  const auto range = ft::mpi::sample_range(100, R, r);
  const Eigen::Matrix<float, 2, Eigen::Dynamic> ok = Eigen::Matrix<float, 2, Eigen::Dynamic>::Zero(2, range.count);
  const Eigen::Matrix<float, 2, Eigen::Dynamic> wrong = Eigen::Matrix<float, 2, Eigen::Dynamic>::Zero(2, range.count + 3);
  CHECK_THROWS_WITH(ft::mpi::sample(MPI_COMM_WORLD, f, 100, 1, r == 0 ? wrong : ok),
                    Catch::StartsWith("on rank 0 of " + std::to_string(R) + ": mpi::sample"));
}

TEST_CASE("mpi::sample: a seed that differs between processes is refused on every process", "[mpi]") {
  if (world_size() < 2) return;  // (nothing can differ)
  NSF f;
  const std::uint64_t seed = world_rank() == 1 ? 8 : 7;
  CHECK_THROWS_WITH(ft::mpi::sample(MPI_COMM_WORLD, f, 100, seed),
                    Catch::StartsWith("on rank 1 of") && Catch::Contains("mpi::sample: seed is 8 here and 7 on rank 0"));
}
