// examples/posterior_estimation.cpp: neural posterior estimation in C++. A conditional
// neural spline flow q(theta | x) is trained by maximum likelihood on simulated pairs
// (theta from the prior, x from the simulator), saved, loaded back, and sampled for an
// observed x:
//   (a) a Gaussian linear model in 10 dimensions, whose posterior is known:
//       theta ~ N(0, 0.1 I), x | theta ~ N(theta, 0.1 I), so theta | x ~ N(x / 2, 0.05 I);
//       for three observations, the KL divergence from a Gaussian fitted to 10^4
//       posterior draws to the exact posterior;
//   (b) the two-moons simulator of simulation-based inference (Greenberg et al. 2019,
//       as the sbi benchmark defines it): theta ~ U(-1, 1)^2, a ~ U(-pi/2, pi/2),
//       r ~ N(0.1, 0.01^2), x = (r cos a + 0.25, r sin a) + (-|t1 + t2|, t2 - t1) / sqrt(2);
//       a picture of the posterior for x = (0, 0): the exact density (computed on a
//       grid from the simulator's density) next to draws from the flow.
//
//   posterior_estimation [OUTPUT_DIR] [--steps N] [--seed S] [--small]
//
// --steps N caps the optimizer steps of each task (default: 60 epochs of 10^4
// simulations with early stopping); --small: 1000 draws and a 32-pixel picture (for a
// quick run, e.g. under the sanitizers). Writes posterior_estimation.png, the two trained flows
// (*.safetensors) and posterior_estimation.json (the numbers printed).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <Eigen/Cholesky>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/safetensors.hpp>
#include <flowtmpl/training.hpp>

#include "plot.hpp"

using namespace flowtmpl;

// theta (D) given x (C): five steps of a spline coupling (K = 8 bins on [-5, 5], an MLP
// 64-64 that reads the untransformed half of theta and x) and a reversal.
using NSFStep = compose<Coupling<Spline<8, 5.0>, MLP<64, 64>>, Permute<Reverse>>;
template <int C>
using PosteriorSpec = Conditional<C, Flow<StandardNormal, compose<NSFStep, NSFStep, NSFStep, NSFStep, NSFStep>>>;

// Simulated pairs: theta (D x N) and x (C x N), sample j in column j.
struct simulations {
  Eigen::MatrixXf theta, x;
};

constexpr double pi = 3.14159265358979323846;

simulations gaussian_linear(Eigen::Index n, std::uint64_t seed) {
  simulations s{Eigen::MatrixXf(10, n), Eigen::MatrixXf(10, n)};
  const double sd = std::sqrt(0.1);
  for (Eigen::Index j = 0; j < n; ++j) {
    philox_stream rng(seed, std::uint64_t(j));
    for (int i = 0; i < 10; ++i) {
      const double t = sd * rng.normal<double>();
      s.theta(i, j) = float(t);
      s.x(i, j) = float(t + sd * rng.normal<double>());
    }
  }
  return s;
}

// The two-moons simulator's x for a given theta, from its noise (a, r).
Eigen::Vector2d two_moons_x(double t1, double t2, double a, double r) {
  return {r * std::cos(a) + 0.25 - std::abs(t1 + t2) / std::sqrt(2.0), r * std::sin(a) + (t2 - t1) / std::sqrt(2.0)};
}
simulations two_moons(Eigen::Index n, std::uint64_t seed) {
  simulations s{Eigen::MatrixXf(2, n), Eigen::MatrixXf(2, n)};
  for (Eigen::Index j = 0; j < n; ++j) {
    philox_stream rng(seed, std::uint64_t(j));
    const double t1 = 2 * rng.uniform<double>() - 1, t2 = 2 * rng.uniform<double>() - 1;
    const double a = pi * (rng.uniform<double>() - 0.5), r = 0.1 + 0.01 * rng.normal<double>();
    const Eigen::Vector2d x = two_moons_x(t1, t2, a, r);
    s.theta(0, j) = float(t1), s.theta(1, j) = float(t2);
    s.x(0, j) = float(x[0]), s.x(1, j) = float(x[1]);
  }
  return s;
}
// log p(x | theta) of the two-moons simulator: p = x - the shift is (r cos a + 0.25,
// r sin a), so in polar coordinates about (0.25, 0) its density is N(r; 0.1, 0.01^2) /
// (pi r) for a in (-pi/2, pi/2).
double two_moons_log_likelihood(const Eigen::Vector2d& x, double t1, double t2) {
  const double qx = x[0] + std::abs(t1 + t2) / std::sqrt(2.0) - 0.25, qy = x[1] - (t2 - t1) / std::sqrt(2.0);
  const double r = std::hypot(qx, qy);
  if (qx <= 0 || r == 0) return -INFINITY;
  const double z = (r - 0.1) / 0.01;
  return -0.5 * z * z - std::log(0.01 * std::sqrt(2 * pi)) - std::log(pi * r);
}

struct trained {
  double held_out_nll;
  long steps;
  int best_epoch;
  double seconds;
};

// Train q(theta | x) on the simulations, validate on held-out ones with early stopping,
// save it to `path` and load it back into `q`.
template <class Posterior>
trained train_posterior(Posterior& q, const simulations& sims, const simulations& held, long steps, std::uint64_t seed,
                        const std::string& path, const char* label) {
  reset_parameters(q, seed);
  const conditional_data<Posterior> train(sims.theta, sims.x), valid(held.theta, held.x);
  fit_options opt;
  opt.epochs = 200;
  opt.batch_size = 256;
  opt.learning_rate = 1e-3;
  opt.patience = 20;
  opt.max_steps = steps;
  opt.seed = seed;
  opt.on_progress = [&](const fit_progress& p) {
    std::fprintf(stderr, "%s: epoch %d  step %ld  train NLL %.4f  valid NLL %.4f  %.0f samples/s\n", label, p.epoch,
                 p.step, p.train_loss, p.valid_loss, p.samples_per_second);
  };
  const fit_result r = fit(q, train, valid, opt);
  if (r.stop == fit_stop::non_finite) {
    std::fprintf(stderr, "%s: %s\n", label, r.message.c_str());
    std::exit(1);
  }
  save(q, path);
  Posterior loaded;
  load(loaded, path);
  q = loaded;
  return {-double(log_prob(q, held.theta, held.x).template cast<double>().mean()), r.steps, r.best_epoch, r.seconds};
}

// KL(N(m1, S1) || N(m0, s0^2 I)) in k dimensions.
double kl_to_isotropic(const Eigen::VectorXd& m1, const Eigen::MatrixXd& S1, const Eigen::VectorXd& m0, double var0) {
  const double k = double(m1.size());
  const double logdet1 = S1.llt().matrixLLT().diagonal().array().log().sum() * 2;
  return 0.5 * (S1.trace() / var0 + (m1 - m0).squaredNorm() / var0 - k + k * std::log(var0) - logdet1);
}

int main(int argc, char** argv) {
  std::string dir = ".";
  long steps = 0;
  std::uint64_t seed = 1;
  bool small = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc)
      steps = std::atol(argv[++i]);
    else if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--small")
      small = true;
    else if (!a.empty() && a[0] != '-')
      dir = a;
    else {
      std::fprintf(stderr, "usage: posterior_estimation [OUTPUT_DIR] [--steps N] [--seed S] [--small]\n");
      return 2;
    }
  }
  const Eigen::Index draws = small ? 1000 : 10000;

  // (a) the Gaussian linear model
  bind_t<PosteriorSpec<10>, 10, float> linear;
  const trained a = train_posterior(linear, gaussian_linear(10000, 11), gaussian_linear(1000, 12), steps, seed,
                                    dir + "/gaussian_linear.safetensors", "gaussian linear");
  const simulations observed = gaussian_linear(3, 13);
  std::vector<double> kl;
  for (int o = 0; o < 3; ++o) {
    const Eigen::VectorXf x_observed = observed.x.col(o);
    const Eigen::MatrixXd d = sample(linear, draws, /*seed=*/100 + o, x_observed).cast<double>();
    const Eigen::VectorXd mean = d.rowwise().mean();
    const Eigen::MatrixXd centred = d.colwise() - mean;
    const Eigen::MatrixXd cov = centred * centred.transpose() / double(d.cols() - 1);
    kl.push_back(kl_to_isotropic(mean, cov, observed.x.col(o).cast<double>() / 2, 0.05));
  }
  std::printf("gaussian linear: held-out NLL %.4f nats (%ld steps, best epoch %d, %.1f s); KL(fitted || exact) "
              "%.4f %.4f %.4f\n",
              a.held_out_nll, a.steps, a.best_epoch, a.seconds, kl[0], kl[1], kl[2]);

  // (b) two moons, and the posterior for x = (0, 0)
  bind_t<PosteriorSpec<2>, 2, float> moons;
  const trained b = train_posterior(moons, two_moons(10000, 21), two_moons(1000, 22), steps, seed,
                                    dir + "/two_moons_posterior.safetensors", "two moons");
  std::printf("two moons: held-out NLL %.4f nats (%ld steps, best epoch %d, %.1f s)\n", b.held_out_nll, b.steps,
              b.best_epoch, b.seconds);
  const Eigen::Vector2f x_o(0.0f, 0.0f);
  const auto posterior_draws = sample(moons, draws, /*seed=*/200, x_o);
  const plot::window w{-1, 1, -1, 1};
  plot::figure fig(1, 2, small ? 32 : 256);
  fig.heat_map(0, 0, w, [&](double t1, double t2) { return two_moons_log_likelihood(Eigen::Vector2d(0, 0), t1, t2); });
  std::vector<double> xs, ys;
  for (Eigen::Index j = 0; j < posterior_draws.cols(); ++j)
    xs.push_back(posterior_draws(0, j)), ys.push_back(posterior_draws(1, j));
  fig.points(0, 1, w, xs, ys);
  const std::string png = dir + "/posterior_estimation.png";
  fig.write_png(png);

  std::ofstream json(dir + "/posterior_estimation.json");
  json << "{\"gaussian_linear\": {\"held_out_nll\": " << a.held_out_nll << ", \"kl\": [" << kl[0] << ", " << kl[1] << ", "
       << kl[2] << "], \"steps\": " << a.steps << ", \"seconds\": " << a.seconds << "}, \"two_moons\": {\"held_out_nll\": "
       << b.held_out_nll << ", \"steps\": " << b.steps << ", \"seconds\": " << b.seconds << "}}\n";
  std::printf("picture (the exact posterior for x = (0, 0) | draws from the trained flow): %s\n", png.c_str());
}
