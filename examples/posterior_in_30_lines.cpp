// Neural posterior estimation in 30 lines (docs/posterior_estimation.md shows this file):
// simulate, train a conditional spline flow with validation and early stopping, save,
// load, sample the posterior of an observation. Exits 1 if the posterior mean is off.
#include <cmath>
#include <cstdio>
#include <string>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/safetensors.hpp>
#include <flowtmpl/training.hpp>
using namespace flowtmpl;

using Step = compose<Coupling<Spline<8, 5.0>, MLP<32, 32>>, Permute<Reverse>>;
using Posterior = bind_t<Conditional<3, Flow<StandardNormal, compose<Step, Step, Step>>>, 3, float>;

// theta ~ N(0, 0.1 I), x = theta + N(0, 0.1 I): the exact posterior is N(x / 2, 0.05 I)
void simulate(Eigen::MatrixXf& theta, Eigen::MatrixXf& x, std::uint64_t seed) {
  for (Eigen::Index j = 0; j < theta.cols(); ++j) {
    philox_stream rng(seed, std::uint64_t(j));
    for (int i = 0; i < 3; ++i) {
      theta(i, j) = std::sqrt(0.1f) * rng.normal<float>();
      x(i, j) = theta(i, j) + std::sqrt(0.1f) * rng.normal<float>();
    }
  }
}

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "posterior.safetensors";
  Eigen::MatrixXf theta(3, 4000), x(3, 4000), theta_valid(3, 500), x_valid(3, 500);
  simulate(theta, x, 1);
  simulate(theta_valid, x_valid, 2);
  Posterior q;
  reset_parameters(q, 7);
  fit_options opt;
  opt.epochs = 40;
  opt.patience = 5;
  const fit_result r = fit(q, conditional_data<Posterior>(theta, x), conditional_data<Posterior>(theta_valid, x_valid), opt);
  save(q, path);
  Posterior loaded;
  load(loaded, path);
  const Eigen::Vector3f x_observed(0.4f, -0.2f, 0.1f);
  const Eigen::Vector3f mean = sample(loaded, 10000, 3, x_observed).rowwise().mean();
  const float error = (mean - x_observed / 2).norm();
  std::printf("best epoch %d of %zu (validation NLL %.3f); the flow is in %s\n", r.best_epoch, r.train_loss.size(),
              r.best_valid_loss, path.c_str());
  std::printf("posterior mean for x = (0.4, -0.2, 0.1): (%.3f, %.3f, %.3f), exact (0.2, -0.1, 0.05)\n", mean[0],
              mean[1], mean[2]);
  return error < 0.1f ? 0 : 1;
}
