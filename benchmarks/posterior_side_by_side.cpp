// benchmarks/posterior_side_by_side.cpp: flowtmpl's side of the neural posterior
// estimation comparison with sbi (benchmarks/peers/posterior_side_by_side.sh runs both).
// It reads the simulations benchmarks/peers/posterior_peer.py wrote (raw little-endian
// float32, one sample contiguous: a D x N column-major matrix) and trains, per task,
// the architecture sbi builds for the peer (zuko's NSF): a conditional neural spline
// flow of 5 masked autoregressive steps (a spline with K = 8 bins on [-5, 5] per
// feature, a MADE 64-64 reading the context, then a reversal) on theta given x, both
// z-scored with the training set's moments (sbi's default), Adam at 1e-3, batches of
// 256, gradients clipped to norm 5 (sbi's default), a fixed number of epochs, one
// thread; the parameters of the epoch with the best validation loss are kept, as sbi
// keeps them. Reports, in the original theta space, the held-out NLL over the test pairs
// (with the best epoch's parameters and with the last epoch's) and, for the Gaussian
// linear task, KL(N fitted to 10^4 posterior draws || exact posterior) for each
// observation; and the training time per epoch.
//
//   posterior_side_by_side --data-dir DIR [--out FILE] [--epochs N] [--threads T]
//                          [--init identity|uniform]
// --init: the flow's start, init::identity_start (the default: every step the identity)
// or init::uniform (every layer as PyTorch's Linear, as zuko starts).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <Eigen/Cholesky>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

using namespace flowtmpl;

using NSFStep = compose<MaskedAutoregressive<Spline<8, 5.0>, MADE<64, 64>>, Permute<Reverse>>;
template <int C>
using PosteriorSpec = Conditional<C, Flow<StandardNormal, compose<NSFStep, NSFStep, NSFStep, NSFStep, NSFStep>>>;

// rows x n floats from DIR/NAME (n from the file's size); throws when it does not divide.
Eigen::MatrixXf read_f32(const std::string& path, int rows) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot open " + path + " (run benchmarks/peers/posterior_side_by_side.sh first)");
  const std::streamsize bytes = f.tellg();
  if (bytes % std::streamsize(4 * rows) != 0)
    throw std::runtime_error(path + ": " + std::to_string(bytes) + " bytes is not a whole number of " +
                             std::to_string(rows) + "-float samples");
  Eigen::MatrixXf m(rows, bytes / (4 * rows));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(m.data()), bytes);
  return m;
}

struct standardizer {
  Eigen::VectorXf mean, sd;
  explicit standardizer(const Eigen::MatrixXf& x)
      : mean(x.rowwise().mean()),
        sd(((x.colwise() - x.rowwise().mean()).array().square().rowwise().sum() / float(x.cols() - 1)).sqrt()) {}
  Eigen::MatrixXf apply(const Eigen::MatrixXf& x) const {
    return ((x.colwise() - mean).array().colwise() / sd.array()).matrix();
  }
  Eigen::MatrixXf undo(const Eigen::MatrixXf& z) const {
    return ((z.array().colwise() * sd.array()).colwise() + mean.array()).matrix();
  }
  double log_scale() const { return sd.template cast<double>().array().log().sum(); }
};

struct result {
  double held_out_nll, held_out_nll_last, seconds_per_epoch, seconds;
  int epochs, best_epoch;
  std::vector<double> kl;
};

template <int D, int C>
result run_task(const std::string& dir, const std::string& task, int epochs, bool gaussian_linear, init start) {
  using Posterior = bind_t<PosteriorSpec<C>, D, float>;
  const auto read = [&](const std::string& split, const char* what, int rows) {
    return read_f32(dir + "/" + task + "_" + split + "_" + what + ".f32", rows);
  };
  const Eigen::MatrixXf theta = read("train", "theta", D), x = read("train", "x", C);
  const Eigen::MatrixXf theta_v = read("valid", "theta", D), x_v = read("valid", "x", C);
  const Eigen::MatrixXf theta_t = read("test", "theta", D), x_t = read("test", "x", C);
  const standardizer zt(theta), zx(x);
  const Eigen::MatrixXf t_train = zt.apply(theta), c_train = zx.apply(x);
  const Eigen::MatrixXf t_valid = zt.apply(theta_v), c_valid = zx.apply(x_v);

  Posterior q;
  reset_parameters(q, 1, start);
  const conditional_data<Posterior> train(t_train, c_train), valid(t_valid, c_valid);
  fit_options opt;
  opt.epochs = epochs;
  opt.batch_size = 256;
  opt.learning_rate = 1e-3;
  opt.seed = 1;
  opt.clip_norm = 5;
  Posterior best = q;  // the best validation epoch's parameters, kept as sbi keeps them
  double best_valid = 1e300;
  int best_epoch = 0;
  opt.on_progress = [&](const fit_progress& p) {
    std::fprintf(stderr, "flowtmpl %s: epoch %d  train %.4f  valid %.4f  %.0f samples/s\n", task.c_str(), p.epoch,
                 p.train_loss, p.valid_loss, p.samples_per_second);
    if (p.valid_loss < best_valid) best_valid = p.valid_loss, best_epoch = p.epoch, best = q;
  };
  const fit_result r = fit(q, train, valid, opt);
  if (r.stop == fit_stop::non_finite) throw std::runtime_error(task + ": " + r.message);

  result out;
  out.seconds = r.seconds;
  out.epochs = int(r.train_loss.size());
  out.best_epoch = best_epoch;
  out.seconds_per_epoch = r.seconds / double(out.epochs);
  // log q(theta | x) = log q_z(z_theta | z_x) - sum log sd_theta
  out.held_out_nll_last = -log_prob(q, zt.apply(theta_t), zx.apply(x_t)).template cast<double>().mean() + zt.log_scale();
  q = best;
  const auto lp = log_prob(q, zt.apply(theta_t), zx.apply(x_t));
  out.held_out_nll = -lp.template cast<double>().mean() + zt.log_scale();
  if (gaussian_linear) {
    const Eigen::MatrixXf obs = read_f32(dir + "/" + task + "_observations_x.f32", C);
    for (Eigen::Index o = 0; o < obs.cols(); ++o) {
      const Eigen::VectorXf c = zx.apply(obs.col(o));
      const Eigen::MatrixXd d = zt.undo(sample(q, 10000, 100 + std::uint64_t(o), c)).template cast<double>();
      const Eigen::VectorXd m = d.rowwise().mean(), m0 = obs.col(o).template cast<double>() / 2;
      const Eigen::MatrixXd centred = d.colwise() - m;
      const Eigen::MatrixXd S = centred * centred.transpose() / double(d.cols() - 1);
      const double k = double(D), var0 = 0.05;
      const double logdet = 2 * S.llt().matrixLLT().diagonal().array().log().sum();
      out.kl.push_back(0.5 * (S.trace() / var0 + (m - m0).squaredNorm() / var0 - k + k * std::log(var0) - logdet));
    }
  } else {
    const Eigen::VectorXf c = zx.apply(Eigen::VectorXf::Zero(C));
    const Eigen::MatrixXf d = zt.undo(sample(q, 10000, 200, c));
    std::ofstream f(dir + "/" + task + "_flowtmpl_draws.f32", std::ios::binary);
    f.write(reinterpret_cast<const char*>(d.data()), std::streamsize(sizeof(float) * d.size()));
  }
  return out;
}

int main(int argc, char** argv) {
  std::string dir, out;
  int epochs = 50, threads = 1;
  init start = init::identity_start;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--data-dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--out" && i + 1 < argc)
      out = argv[++i];
    else if (a == "--epochs" && i + 1 < argc)
      epochs = std::atoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--init" && i + 1 < argc && (std::string(argv[i + 1]) == "identity" || std::string(argv[i + 1]) == "uniform"))
      start = std::string(argv[++i]) == "uniform" ? init::uniform : init::identity_start;
    else {
      std::fprintf(stderr, "usage: posterior_side_by_side --data-dir DIR [--out FILE] [--epochs N] [--threads T] "
                           "[--init identity|uniform]\n");
      return 2;
    }
  }
  if (dir.empty() || epochs < 1 || threads < 1) {
    std::fprintf(stderr, "posterior_side_by_side: --data-dir is required; --epochs and --threads must be positive\n");
    return 2;
  }
  if (out.empty()) out = dir + "/flowtmpl_results.json";
#if defined(_OPENMP)
  omp_set_num_threads(threads);
#endif
  try {
    const result a = run_task<10, 10>(dir, "gaussian_linear", epochs, true, start);
    const result b = run_task<2, 2>(dir, "two_moons", epochs, false, start);
    std::printf("task             held-out NLL (best epoch, last)   s/epoch  epochs  KL per observation\n");
    std::printf("gaussian_linear  %12.4f (%3d) %9.4f  %8.3f  %6d ", a.held_out_nll, a.best_epoch, a.held_out_nll_last,
                a.seconds_per_epoch, a.epochs);
    for (double k : a.kl) std::printf(" %.4f", k);
    std::printf("\ntwo_moons        %12.4f (%3d) %9.4f  %8.3f  %6d\n", b.held_out_nll, b.best_epoch, b.held_out_nll_last,
                b.seconds_per_epoch, b.epochs);
    std::ofstream f(out);
    f << "{\"threads\": " << threads << ", \"gaussian_linear\": {\"held_out_nll\": " << a.held_out_nll
      << ", \"best_epoch\": " << a.best_epoch << ", \"held_out_nll_last_epoch\": " << a.held_out_nll_last
      << ", \"seconds_per_epoch\": " << a.seconds_per_epoch << ", \"epochs\": " << a.epochs << ", \"kl\": [";
    for (std::size_t i = 0; i < a.kl.size(); ++i) f << (i ? ", " : "") << a.kl[i];
    f << "]}, \"two_moons\": {\"held_out_nll\": " << b.held_out_nll << ", \"best_epoch\": " << b.best_epoch
      << ", \"held_out_nll_last_epoch\": " << b.held_out_nll_last << ", \"seconds_per_epoch\": " << b.seconds_per_epoch
      << ", \"epochs\": " << b.epochs << "}}\n";
    std::printf("results: %s\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "posterior_side_by_side: %s\n", e.what());
    return 1;
  }
}
