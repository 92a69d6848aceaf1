// examples/distributed_training.cpp: training a flow on several processes with MPI, and
// drawing from it in parallel (docs/mpi.md).
//
//   mpirun -np 2 distributed_training OUTPUT_DIR [--steps N] [--resume]
//
// Each process makes only its own shard of a data set of 60000 points in 6 dimensions
// (point j from philox_stream(7, j), so the whole set is the same for any number of
// processes), and trains a RealNVP-style flow with ActNorm on it with mpi::fit: the
// global minibatch, the gradient and the result are, bit for bit, those of fit on one
// process holding all the data. Rank 0 writes a checkpoint every 50 steps to
// OUTPUT_DIR/distributed_training.checkpoint (with --resume, the run continues from it)
// and the trained flow to OUTPUT_DIR/distributed_training.safetensors. Then every
// process draws its part of 100000 samples (mpi::sample) and the test set's mean log
// density is reduced over all processes (mpi::mean_log_prob). The parameters'
// checksum printed at the end is the same for -np 1, 2, 3, ...
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/checkpoint.hpp>
#include <flowtmpl/io/safetensors.hpp>
#include <flowtmpl/mpi.hpp>
#include <flowtmpl/training.hpp>

#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

namespace ft = flowtmpl;

using Net = ft::MLP<64, 64>;
using Step = ft::compose<ft::ActNorm, ft::Coupling<ft::Affine, Net>, ft::Permute<ft::Reverse>>;
using Model = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<Step, Step, Step, Step>>, 6, float>;

// Points first, ..., first + count - 1 of the data set: a curved, correlated cloud.
Eigen::Matrix<float, 6, Eigen::Dynamic> points(Eigen::Index first, Eigen::Index count, std::uint64_t seed) {
  Eigen::Matrix<float, 6, Eigen::Dynamic> x(6, count);
  for (Eigen::Index j = 0; j < count; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(first + j));
    const float a = rng.normal<float>(), b = rng.normal<float>();
    x.col(j) << a, 0.5f * a * a + 0.3f * b, b - 0.4f * a, std::sin(a) + 0.2f * rng.normal<float>(),
        0.8f * b + 0.1f * rng.normal<float>(), 1.0f + 0.5f * rng.normal<float>();
  }
  return x;
}

int run(int argc, char** argv, int rank, int size) {
  if (argc < 2) {
    if (rank == 0) std::fprintf(stderr, "usage: mpirun -np R distributed_training OUTPUT_DIR [--steps N] [--resume]\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  long steps = 600;
  bool resume = false;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
      steps = std::atol(argv[++i]);
    else if (std::strcmp(argv[i], "--resume") == 0)
      resume = true;
  }
  const std::string checkpoint = (out / "distributed_training.checkpoint").string();
  const std::string model_file = (out / "distributed_training.safetensors").string();

  // this process's shards: training points [r N / R, (r + 1) N / R), the same for tests
  const Eigen::Index n_train = 60000, n_test = 10000;
  const auto tr = ft::mpi::sample_range(n_train, size, rank);
  const auto te = ft::mpi::sample_range(n_test, size, rank);
  const auto train = points(tr.first, tr.count, 7);
  const auto test = points(te.first, te.count, 8);

  Model model;
  ft::reset_parameters(model, 1);  // mpi::fit starts every process from rank 0's values
  ft::fit_options opt;
  opt.epochs = 1000;
  opt.max_steps = steps;
  opt.batch_size = 1024;
  opt.learning_rate = 2e-3;
  opt.checkpoint_every = 50;
  opt.on_checkpoint = [&](const ft::fit_state& s) {
    if (rank == 0) ft::save_checkpoint(model, s, checkpoint);  // one process writes
  };
  ft::fit_state state;
  if (resume) {
    state = ft::load_checkpoint(model, checkpoint);  // every process reads the same file
    opt.resume = &state;
    if (rank == 0) std::printf("resuming at step %ld (epoch %d)\n", state.step, state.epoch + 1);
  }
  const ft::fit_result r = ft::mpi::fit(MPI_COMM_WORLD, model, train, test, opt);
  if (r.stop == ft::fit_stop::non_finite) return 1;  // every process has the same message

  // the test set's mean log density, over all processes
  const double test_lp = ft::mpi::mean_log_prob(MPI_COMM_WORLD, model, test);
  // 100000 samples, drawn in parallel: this process's part of sample(model, 100000, 3)
  const auto mine = ft::mpi::sample(MPI_COMM_WORLD, model, 100000, 3);
  double local[2] = {double(mine.cols()), mine.row(0).cast<double>().sum()}, total[2] = {0, 0};
  MPI_Reduce(local, total, 2, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);

  std::vector<float> p(ft::parameter_count_v<Model>);
  ft::copy_parameters(model, p.data());
  double checksum = 0;
  for (std::size_t i = 0; i < p.size(); ++i) checksum += double(p[i]) * double(i % 97 + 1);
  if (rank == 0) {
    ft::save(model, model_file);
    std::printf("processes: %d, steps: %ld, final training loss %.4f, test mean log density %.4f\n", size, r.steps,
                r.train_loss.back(), test_lp);
    std::printf("sampled %.0f points, mean of the first coordinate %.4f (data: 0)\n", total[0], total[1] / total[0]);
    std::printf("parameter checksum %.17g (the same for any number of processes)\n", checksum);
    std::printf("trained flow: %s\ncheckpoint: %s\n", model_file.c_str(), checkpoint.c_str());
  }
  return 0;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int rc = 0;
  try {
    rc = run(argc, argv, rank, size);
  } catch (const std::exception& e) {  // thrown on every process alike (mpi/communicator.hpp)
    if (rank == 0) std::fprintf(stderr, "distributed_training: %s\n", e.what());
    rc = 1;
  }
  MPI_Finalize();
  return rc;
}
