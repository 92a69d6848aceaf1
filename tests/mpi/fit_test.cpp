// mpi::fit (flowtmpl/mpi/fit.hpp) under mpirun: on 1, 2 and 3 processes (the first k
// processes of the run) the parameters, losses and stops are bitwise those of fit on one
// process with all the data; the same run twice gives the same bits; the non-finite
// guard stops every process with one-process fit's message; a run resumed from rank 0's
// checkpoint file reaches the uninterrupted run's parameters; a bad argument on one
// process throws on all.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/checkpoint.hpp>
#include <flowtmpl/mpi.hpp>
#include <flowtmpl/training.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "mpi_support.hpp"

namespace ft = flowtmpl;
using namespace flowtmpl_mpi_test;

namespace {
using Small = ft::MLP<16, 16>;
// RealNVP-like with ActNorm (data-initialised) and a spline coupling
using Spec = ft::Flow<ft::DiagonalNormal,
                      ft::compose<ft::ActNorm, ft::Coupling<ft::Affine, Small>, ft::Permute<ft::Reverse>,
                                  ft::Coupling<ft::Spline<4>, Small>, ft::ActNorm>>;
using F = ft::bind_t<Spec, 3, float>;
using CondF = ft::bind_t<
    ft::Conditional<2, ft::Flow<ft::StandardNormal, ft::compose<ft::ActNorm, ft::Coupling<ft::Affine, Small>,
                                                                ft::Permute<ft::Reverse>, ft::Coupling<ft::Affine, Small>>>>,
    2, double>;

template <class S>
Eigen::Matrix<S, 3, Eigen::Dynamic> banana(Eigen::Index n, std::uint64_t seed) {
  Eigen::Matrix<S, 3, Eigen::Dynamic> x(3, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j));
    const S a = rng.normal<S>();
    x.col(j) << S(2) * a, S(0.5) * a * a + S(0.3) * rng.normal<S>(), S(1) + S(3) * rng.normal<S>();
  }
  return x;
}

ft::fit_options options() {
  ft::fit_options o;
  o.epochs = 3;
  o.batch_size = 700;  // 3 blocks of 256 (the last of 188): block and shard edges differ
  o.seed = 11;
  o.learning_rate = 3e-3;
  o.patience = 1;
  o.quiet = true;
  return o;
}

void same_result(const ft::fit_result& a, const ft::fit_result& b) {
  CHECK(a.steps == b.steps);
  CHECK(a.train_loss == b.train_loss);
  CHECK(a.valid_loss == b.valid_loss);
  CHECK(a.best_epoch == b.best_epoch);
  CHECK(a.stop == b.stop);
  CHECK(a.message == b.message);
}
}  // namespace

TEST_CASE("mpi::fit on 1, 2, ..., all processes: bitwise the parameters of fit on one process", "[mpi]") {
  const auto train = banana<float>(2000, 1);
  const auto valid = banana<float>(333, 2);
  F start;
  ft::reset_parameters(start, 5);
  F one = start;
  const auto r_one = ft::fit(one, train, valid, options());
  REQUIRE(r_one.steps > 0);
  for (int k = 1; k <= world_size(); ++k) {
    const first_ranks comm(k);
    if (!comm.member()) continue;
    INFO("processes: " << k);
    F f;  // the others' initial values differ: rank 0's are broadcast
    ft::reset_parameters(f, world_rank() == 0 ? 5 : 100 + std::uint64_t(world_rank()));
    const auto r = ft::mpi::fit(comm.get(), f, shard(train, k, world_rank()), shard(valid, k, world_rank()), options());
    same_result(r, r_one);
    CHECK(flat(f) == flat(one));
  }
}

TEST_CASE("mpi::fit: the same run twice on all processes gives the same bits", "[mpi]") {
  const auto train = banana<float>(1500, 3);
  const int k = world_size(), r = world_rank();
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    F f;
    ft::reset_parameters(f, 8);
    ft::fit_options o = options();
    o.patience = 0;
    o.clip_norm = 5;
    (void)ft::mpi::fit(MPI_COMM_WORLD, f, shard(train, k, r), o);
    if (run == 0)
      first = flat(f);
    else
      CHECK(flat(f) == first);
  }
}

TEST_CASE("mpi::fit of a conditional flow (per-sample contexts): bitwise one-process fit", "[mpi][conditional]") {
  const Eigen::Index n = 900;
  Eigen::Matrix<double, 2, Eigen::Dynamic> x(2, n), c(2, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(21, std::uint64_t(j));
    c.col(j) << rng.uniform<double>(), rng.normal<double>();
    x.col(j) << c(0, j) + 0.1 * rng.normal<double>(), c(1, j) * c(0, j) + 0.2 * rng.normal<double>();
  }
  CondF start;
  ft::reset_parameters(start, 2);
  ft::fit_options o = options();
  o.batch_size = 300;
  o.patience = 0;
  CondF one = start;
  const auto r_one = ft::fit(one, ft::conditional_data<CondF>(x, c), o);
  const int k = world_size(), r = world_rank();
  const Eigen::Matrix<double, 2, Eigen::Dynamic> xs = shard(x, k, r), cs = shard(c, k, r);
  CondF f = start;
  const auto res = ft::mpi::fit(MPI_COMM_WORLD, f, ft::conditional_data<CondF>(xs, cs), o);
  same_result(res, r_one);
  CHECK(flat(f) == flat(one));
}

TEST_CASE("mpi::fit: a non-finite loss stops every process with one-process fit's message", "[mpi]") {
  using G = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Sigmoid>>, 2, double>;
  Eigen::Matrix<double, 2, Eigen::Dynamic> x(2, 600);
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    ft::philox_stream rng(6, std::uint64_t(j));
    x.col(j) << 0.5 + 0.1 * rng.normal<double>(), 0.5 + 0.1 * rng.normal<double>();
  }
  x(1, 523) = 1.5;  // outside the Sigmoid's range; on the last process's shard
  ft::fit_options o;
  o.epochs = 3;
  o.batch_size = 100;
  o.quiet = true;
  G one;
  const auto r_one = ft::fit(one, x, o);
  REQUIRE(r_one.stop == ft::fit_stop::non_finite);
  G f;
  const auto r = ft::mpi::fit(MPI_COMM_WORLD, f, shard(x, world_size(), world_rank()), o);
  CHECK(r.stop == ft::fit_stop::non_finite);
  CHECK(r.message == r_one.message);
  CHECK_THAT(r.message, Catch::Contains("sample 523") && Catch::Contains("Sigmoid"));
  CHECK(flat(f) == flat(one));
}

TEST_CASE("mpi::fit: resumed on every process from rank 0's checkpoint file, the uninterrupted run's bits", "[mpi]") {
  const auto train = banana<float>(1200, 4);
  const auto valid = banana<float>(200, 5);
  const int k = world_size(), r = world_rank();
  ft::fit_options o = options();
  o.patience = 0;
  F start;
  ft::reset_parameters(start, 9);
  F whole = start;
  const auto r_whole = ft::mpi::fit(MPI_COMM_WORLD, whole, shard(train, k, r), shard(valid, k, r), o);

  const std::string path = (std::filesystem::temp_directory_path() / "flowtmpl_mpi_checkpoint.safetensors").string();
  F first = start;
  ft::fit_options o1 = o;
  o1.max_steps = 4;  // mid-epoch 3 of 2-step... (2 steps per epoch: 1200 / 700)
  o1.checkpoint_every = 3;
  o1.on_checkpoint = [&](const ft::fit_state& s) {
    if (r == 0) ft::save_checkpoint(first, s, path);
  };
  (void)ft::mpi::fit(MPI_COMM_WORLD, first, shard(train, k, r), shard(valid, k, r), o1);
  MPI_Barrier(MPI_COMM_WORLD);  // the file is written before the others read it
  F resumed;
  const ft::fit_state s = ft::load_checkpoint(resumed, path);
  CHECK(s.step == 3);
  ft::fit_options o2 = o;
  o2.resume = &s;
  const auto res = ft::mpi::fit(MPI_COMM_WORLD, resumed, shard(train, k, r), shard(valid, k, r), o2);
  MPI_Barrier(MPI_COMM_WORLD);
  if (r == 0) std::remove(path.c_str());
  same_result(res, r_whole);
  CHECK(flat(resumed) == flat(whole));
}

TEST_CASE("mpi::fit: a wrong shard on one process throws the same shape_error on every process", "[mpi]") {
  const int k = world_size(), r = world_rank();
  F f;
  const Eigen::MatrixXf good = banana<float>(300, 7);
  const Eigen::MatrixXf bad = Eigen::MatrixXf::Zero(2, 10);  // two rows: the flow has three
  const Eigen::MatrixXf& mine = r == k - 1 ? bad : good;
  const std::string expected = "on rank " + std::to_string(k - 1) + " of " + std::to_string(k) +
                               ": mpi::fit (training data)";
  CHECK_THROWS_AS(ft::mpi::fit(MPI_COMM_WORLD, f, mine, options()), ft::shape_error);
  CHECK_THROWS_WITH(ft::mpi::fit(MPI_COMM_WORLD, f, mine, options()), Catch::StartsWith(expected) &&
                                                                          Catch::Contains("the flow has dimension 3"));
}

TEST_CASE("mpi::fit: options that differ between processes are refused on every process", "[mpi]") {
  if (world_size() < 2) return;  // (nothing can differ)
  const int k = world_size(), r = world_rank();
  F f;
  const auto train = banana<float>(300, 7);
  ft::fit_options o = options();
  if (r == 1) o.batch_size = 128;
  CHECK_THROWS_WITH(ft::mpi::fit(MPI_COMM_WORLD, f, shard(train, k, r), o),
                    "on rank 1 of " + std::to_string(k) +
                        ": mpi::fit: options.batch_size is 128 here and 700 on rank 0; every process must pass the same");
}

TEST_CASE("mpi::fit: the whole data set on every process, in place of a shard, is refused", "[mpi]") {
  if (world_size() < 2) return;  // (one process holds the whole set)
  F f;
  const auto all = banana<float>(300, 7);
  CHECK_THROWS_WITH(ft::mpi::fit(MPI_COMM_WORLD, f, all, options()),
                    "mpi::fit: every process passed the same 300 columns; each process passes only its own shard of "
                    "the data (the whole set is the shards in rank order; mpi::sample_range splits one)");
}
