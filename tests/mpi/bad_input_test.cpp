// Bad inputs through mpi::log_prob, mean_log_prob and sample (mpi/sampling.hpp) under
// mpirun. The MPI entry points have no checked mode; what they document, checked here
// with bad values in one process's shard only: each process's log densities are bitwise
// (NaN as NaN) the columns of the one-process log_prob of the whole set, so a NaN, an
// infinity or a huge value stays in its own column; mean_log_prob is the one-process
// mean on every process; a shard of the wrong row count on one process throws
// shape_error on every process, starting with the function's name; a NaN context in one
// process's part of a conditional draw changes only that column.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/mpi.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "mpi_support.hpp"

namespace ft = flowtmpl;
using namespace flowtmpl_mpi_test;

namespace {

using Net = ft::MLP<8, 8>;
using NSF = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Spline<6>, Net>, ft::Permute<ft::Reverse>,
                                                                ft::Coupling<ft::Spline<6>, Net>, ft::LUConv>>,
                       4, float>;
using MAF = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>,
                                                                ft::Permute<ft::Reverse>>>,
                       4, double>;
using CondF = ft::bind_t<ft::Conditional<2, ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, Net>,
                                                                                     ft::Permute<ft::Reverse>>>>,
                         3, float>;

// equal entry by entry, bitwise, NaN equal to NaN
template <class A, class B>
bool same_values(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      const auto x = a(i, j), y = b(i, j);
      if (!((x == y && std::signbit(x) == std::signbit(y)) || (std::isnan(x) && std::isnan(y)))) return false;
    }
  return true;
}

// The log densities of a data set of n columns whose last process's shard holds the value
// v (in every component of its first column, in one component of its last), per process
// against the one-process values.
template <class F>
void log_prob_with_bad_shard(const F& f, Eigen::Index n, typename F::scalar_type v, const std::string& label) {
  using S = typename F::scalar_type;
  const int R = world_size(), r = world_rank();
  ft::batch_t<S, F::dim> x = ft::sample(f, n, 3);
  const Eigen::Index a = shard_first(n, R, R - 1), b = n - 1;
  x.col(a).setConstant(v);
  x(1, b) = v;
  const auto whole = ft::log_prob(f, x);
  const auto mine = shard(x, R, r);
  const auto first = shard_first(n, R, r);
  INFO(label << ", process " << r << " of " << R);
  const auto lp = ft::mpi::log_prob(MPI_COMM_WORLD, f, mine);
  CHECK(same_values(lp, ft::row_t<S>(whole.segment(first, mine.cols()))));
  const double mean = ft::mpi::mean_log_prob(MPI_COMM_WORLD, f, mine);
  const double want = whole.template cast<double>().mean();
  CHECK((mean == want || (std::isnan(mean) && std::isnan(want))));
  // the ordinary columns are finite: the bad values stay in their own columns
  for (Eigen::Index j = 0; j < mine.cols(); ++j)
    if (first + j != a && first + j != b) CHECK(std::isfinite(lp[j]));
}

}  // namespace

TEST_CASE("mpi::log_prob, mean_log_prob: bad values in one process's shard stay in their columns", "[mpi][hardening]") {
  NSF nsf;
  ft::reset_parameters(nsf, 4, ft::init::uniform);
  MAF maf;
  ft::reset_parameters(maf, 5, ft::init::uniform);
  for (const auto& [label, v] : std::vector<std::pair<std::string, double>>{
           {"nan", std::numeric_limits<double>::quiet_NaN()}, {"+inf", std::numeric_limits<double>::infinity()},
           {"-inf", -std::numeric_limits<double>::infinity()}, {"1e30", 1e30}, {"-0", -0.0}}) {
    log_prob_with_bad_shard(nsf, 700, float(v), label + " (NSF, float)");
    log_prob_with_bad_shard(maf, 300, v, label + " (MAF, double)");
  }
  log_prob_with_bad_shard(nsf, 700, std::numeric_limits<float>::max(), "max (NSF, float)");
  log_prob_with_bad_shard(maf, 300, std::numeric_limits<double>::max(), "max (MAF, double)");
}

TEST_CASE("mpi::log_prob: a shard of the wrong row count on one process is refused on every process", "[mpi][hardening]") {
  MAF maf;
  const int R = world_size(), r = world_rank();
  // the last process passes 5 rows (a dynamic-size matrix), the others 4
  const Eigen::MatrixXd x = Eigen::MatrixXd::Zero(r == R - 1 ? 5 : 4, 10);
  for (const char* fn : {"mpi::log_prob", "mpi::mean_log_prob"}) {
    INFO(fn << ", process " << r << " of " << R);
    try {
      if (std::string(fn) == "mpi::log_prob")
        (void)ft::mpi::log_prob(MPI_COMM_WORLD, maf, x);
      else
        (void)ft::mpi::mean_log_prob(MPI_COMM_WORLD, maf, x);
      FAIL_CHECK("no exception");
    } catch (const ft::shape_error& e) {
      // an error agreed by every process says where it happened first (mpi/communicator.hpp)
      CHECK_THAT(e.what(), Catch::StartsWith("on rank " + std::to_string(R - 1) + " of " + std::to_string(R) + ": " + fn + ": "));
    }
  }
}

TEST_CASE("mpi::sample of a conditional flow: a NaN context on one process changes only its column", "[mpi][hardening]") {
  CondF f;
  ft::reset_parameters(f, 6, ft::init::uniform);
  const int R = world_size(), r = world_rank();
  const Eigen::Index n = 300;
  Eigen::Matrix<float, 2, Eigen::Dynamic> c(2, n);
  ft::philox_stream rng(7, 0);
  for (Eigen::Index j = 0; j < n; ++j) c.col(j) << rng.uniform<float>(), rng.uniform<float>();
  const Eigen::Index bad = ft::mpi::sample_range(n, R, R - 1).first;
  c(0, bad) = std::numeric_limits<float>::quiet_NaN();
  const auto whole = ft::sample_and_log_prob(f, n, 9, c);
  const auto range = ft::mpi::sample_range(n, R, r);
  const Eigen::Matrix<float, 2, Eigen::Dynamic> mine = c.middleCols(range.first, range.count);
  const auto part = ft::mpi::sample_and_log_prob(MPI_COMM_WORLD, f, n, 9, mine);
  INFO("process " << r << " of " << R);
  CHECK(same_values(part.values, ft::batch_t<float, 3>(whole.values.middleCols(range.first, range.count))));
  CHECK(same_values(part.log_det, ft::row_t<float>(whole.log_det.segment(range.first, range.count))));
  for (Eigen::Index j = 0; j < range.count; ++j)
    if (range.first + j != bad) CHECK((part.values.col(j).allFinite() && std::isfinite(part.log_det[j])));
}
