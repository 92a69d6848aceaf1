// flowtmpl::mpi's arguments outside their documented domain (mpi/sampling.hpp,
// mpi/communicator.hpp): a temperature that is not finite and positive, a negative
// count, MPI_COMM_NULL, an intercommunicator, sample_range's size and rank. Every
// process throws the same exception, and the next collective call still works (no
// process was left waiting, no message left behind).
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/mpi.hpp>

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "mpi_support.hpp"

namespace ft = flowtmpl;
using namespace flowtmpl_mpi_test;
using Catch::StartsWith;

namespace {
using Flow4 = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Permute<ft::Reverse>, ft::Affine>>, 4, float>;
using CondF = ft::bind_t<ft::Conditional<2, ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, ft::MLP<8>>,
                                                                                     ft::Permute<ft::Reverse>>>>,
                         3, float>;

template <class F>
std::string type_thrown_by(F&& f) {
  try {
    f();
  } catch (const ft::shape_error&) {
    return "shape_error";
  } catch (const ft::argument_error&) {
    return "argument_error";
  } catch (const std::exception&) {
    return "other";
  }
  return "none";
}

template <class M>
bool same_bits(const M& a, const M& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::equal(a.data(), a.data() + a.size(), b.data(), [](auto x, auto y) { return x == y || (x != x && y != y); });
}

std::vector<std::pair<float, std::string>> bad_temperatures() {
  using L = std::numeric_limits<float>;
  return {{0.0f, "0"}, {-2.0f, "-2"}, {L::quiet_NaN(), "nan"}, {L::infinity(), "inf"}, {-L::infinity(), "-inf"},
          {L::denorm_min(), "1.40129846e-45"}};
}
}  // namespace

TEST_CASE("mpi::sample and sample_and_log_prob refuse a bad temperature on every process", "[mpi][arguments]") {
  const int R = world_size(), r = world_rank();
  Flow4 f;
  ft::reset_parameters(f, 2, ft::init::uniform);
  CondF g;
  ft::reset_parameters(g, 3);
  const Eigen::Vector2f ctx(0.5f, -0.5f);
  for (const auto& [t, text] : bad_temperatures()) {
    INFO("T = " << text);
    const std::string tail = text + "; it must be finite and positive";
    CHECK_THROWS_WITH(ft::mpi::sample(MPI_COMM_WORLD, f, 100, 1, t), StartsWith("mpi::sample: the temperature is " + tail));
    CHECK_THROWS_WITH(ft::mpi::sample_and_log_prob(MPI_COMM_WORLD, f, 100, 1, t),
                      StartsWith("mpi::sample_and_log_prob: the temperature is " + tail));
    CHECK_THROWS_WITH(ft::mpi::sample(MPI_COMM_WORLD, g, 100, 1, ctx, t),
                      StartsWith("mpi::sample: the temperature is " + tail));
    CHECK_THROWS_WITH(ft::mpi::sample_and_log_prob(MPI_COMM_WORLD, g, 100, 1, ctx, t),
                      StartsWith("mpi::sample_and_log_prob: the temperature is " + tail));
    CHECK(type_thrown_by([&] { (void)ft::mpi::sample(MPI_COMM_WORLD, f, 100, 1, t); }) == "argument_error");
  }
  // the next calls work, and at a valid temperature every overload gives this process's
  // columns of the one-process draw, bitwise
  const Eigen::Index n = 300;
  const auto range = ft::mpi::sample_range(n, R, r);
  const auto whole = ft::sample_and_log_prob(f, n, 4, 0.7f);
  const auto part = ft::mpi::sample_and_log_prob(MPI_COMM_WORLD, f, n, 4, 0.7f);
  CHECK(same_bits(part.values, ft::batch_t<float, 4>(whole.values.middleCols(range.first, range.count))));
  CHECK(same_bits(part.log_det, ft::row_t<float>(whole.log_det.segment(range.first, range.count))));
  const auto cwhole = ft::sample_and_log_prob(g, n, 5, ctx, 0.6f);
  const auto cpart = ft::mpi::sample_and_log_prob(MPI_COMM_WORLD, g, n, 5, ctx, 0.6f);
  CHECK(same_bits(cpart.values, ft::batch_t<float, 3>(cwhole.values.middleCols(range.first, range.count))));
  CHECK(same_bits(cpart.log_det, ft::row_t<float>(cwhole.log_det.segment(range.first, range.count))));
  CHECK(same_bits(ft::mpi::sample(MPI_COMM_WORLD, g, n, 5, ctx, 0.6f),
                  ft::batch_t<float, 3>(cwhole.values.middleCols(range.first, range.count))));
}

TEST_CASE("mpi sampling refuses a negative number of samples on every process", "[mpi][arguments]") {
  Flow4 f;
  CondF g;
  const Eigen::Vector2f ctx(0.5f, -0.5f);
  CHECK_THROWS_WITH(ft::mpi::sample(MPI_COMM_WORLD, f, -1, 1),
                    StartsWith("mpi::sample: the number of samples is -1; it must be at least 0"));
  CHECK(type_thrown_by([&] { (void)ft::mpi::sample(MPI_COMM_WORLD, f, -1, 1); }) == "shape_error");
  CHECK_THROWS_WITH(ft::mpi::sample_and_log_prob(MPI_COMM_WORLD, g, -4, 1, ctx),
                    StartsWith("mpi::sample_and_log_prob: the number of samples is -4"));
  // and the next call works
  CHECK(ft::mpi::sample(MPI_COMM_WORLD, f, 10, 1).cols() == ft::mpi::sample_range(10, world_size(), world_rank()).count);
}

TEST_CASE("mpi calls refuse MPI_COMM_NULL and an intercommunicator", "[mpi][arguments]") {
  Flow4 f;
  CHECK_THROWS_WITH(ft::mpi::sample(MPI_COMM_NULL, f, 10, 1),
                    StartsWith("mpi::sample: the communicator is MPI_COMM_NULL"));
  const Eigen::Matrix<float, 4, Eigen::Dynamic> x = Eigen::Matrix<float, 4, Eigen::Dynamic>::Zero(4, 3);
  CHECK_THROWS_WITH(ft::mpi::log_prob(MPI_COMM_NULL, f, x), StartsWith("mpi::log_prob: the communicator is MPI_COMM_NULL"));
  CHECK(type_thrown_by([&] { (void)ft::mpi::mean_log_prob(MPI_COMM_NULL, f, x); }) == "argument_error");
  // the processes outside a split (MPI_COMM_NULL) are refused alone; the member's call
  // goes on without them
  {
    const first_ranks one(1);
    if (one.member()) {
      CHECK(ft::mpi::sample(one.get(), f, 10, 1) == ft::sample(f, 10, 1));
    } else {
      CHECK_THROWS_WITH(ft::mpi::sample(one.get(), f, 10, 1), StartsWith("mpi::sample: the communicator is MPI_COMM_NULL"));
    }
  }
  // an intercommunicator between the even and the odd processes (two processes at least)
  if (world_size() >= 2) {
    const int r = world_rank();
    MPI_Comm local = MPI_COMM_NULL, inter = MPI_COMM_NULL;
    MPI_Comm_split(MPI_COMM_WORLD, r % 2, r, &local);
    MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, r % 2 == 0 ? 1 : 0, 17, &inter);
    CHECK_THROWS_WITH(ft::mpi::sample(inter, f, 10, 1),
                      StartsWith("mpi::sample: the communicator is an intercommunicator; flowtmpl's calls take an "
                                 "intracommunicator"));
    CHECK(type_thrown_by([&] { (void)ft::mpi::log_prob(inter, f, x); }) == "argument_error");
    MPI_Comm_free(&inter);
    MPI_Comm_free(&local);
  }
}

TEST_CASE("mpi::sample_range refuses a negative count, no processes and a rank outside them", "[mpi][arguments]") {
  CHECK_THROWS_WITH(ft::mpi::sample_range(-1, 2, 0), StartsWith("mpi::sample_range: the number of samples is -1"));
  CHECK(type_thrown_by([] { (void)ft::mpi::sample_range(-1, 2, 0); }) == "shape_error");
  CHECK_THROWS_WITH(ft::mpi::sample_range(10, 0, 0),
                    StartsWith("mpi::sample_range: the number of processes is 0; it must be at least 1"));
  CHECK(type_thrown_by([] { (void)ft::mpi::sample_range(10, 0, 0); }) == "argument_error");
  CHECK_THROWS_WITH(ft::mpi::sample_range(10, 3, 3), StartsWith("mpi::sample_range: the rank is 3; it must be in [0, 2]"));
  CHECK_THROWS_WITH(ft::mpi::sample_range(10, 3, -1), StartsWith("mpi::sample_range: the rank is -1"));
  // in the domain: the parts of 10 over 3
  CHECK(ft::mpi::sample_range(10, 3, 2).first == 6);
  CHECK(ft::mpi::sample_range(10, 3, 2).count == 4);
}

TEST_CASE("an argument_error on one process reaches every process as an argument_error", "[mpi][arguments]") {
  const int R = world_size(), r = world_rank();
  const ft::mpi::detail::private_comm c(MPI_COMM_WORLD, "test");
  std::string type = "none", what;
  try {
    ft::mpi::detail::collectively(c, [&] {
      if (r == R - 1) ft::detail::fail_argument("a refusal on the last process");
    });
  } catch (const ft::shape_error&) {
    type = "shape_error";
  } catch (const ft::argument_error& e) {
    type = "argument_error";
    what = e.what();
  } catch (const std::exception&) {
    type = "other";
  }
  CHECK(type == "argument_error");
  CHECK(what == "on rank " + std::to_string(R - 1) + " of " + std::to_string(R) + ": a refusal on the last process");
}
