// examples/banana.cpp: fits a neural spline flow to an unnormalised 2-D "banana" density
// by minimising the reverse KL divergence, with reparameterised draws through the
// sampling direction (no data: only log p~ and its gradient), then reports the
// effective sample size of the importance weights p~/q and the estimate of log Z.
// banana.png: the target density | the flow's density | samples from the flow.
//
//   banana [OUTPUT_DIR] [--steps N] [--small]
//
// --small: a 32-pixel picture and 1000 draws (for a quick run, e.g. under the sanitizers).
//
// The target: x0 ~ N(0, 2^2), x1 | x0 ~ N(x0^2 / 4 - 1, 1/2^2), given as
// log p~(x) = -x0^2 / 8 - 2 (x1 - x0^2 / 4 + 1)^2 + 5, so log Z = 5 + log(2 pi).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include "plot.hpp"

using namespace flowtmpl;

template <class T>
using Couplings = compose<Coupling<T, MLP<32, 32>, mask::half>, Coupling<T, MLP<32, 32>, mask::half_flipped>,
                          Coupling<T, MLP<32, 32>, mask::half>, Coupling<T, MLP<32, 32>, mask::half_flipped>,
                          Coupling<T, MLP<32, 32>, mask::half>, Coupling<T, MLP<32, 32>, mask::half_flipped>>;
using Model = bind_t<Flow<StandardNormal, compose<Couplings<Spline<8, 5.0>>, Affine>>, 2, double>;

// log p~ and its gradient
value_and_gradient<double, 2> banana(const Eigen::Vector2d& x) {
  const double r = x[1] - x[0] * x[0] / 4 + 1;
  return {-x[0] * x[0] / 8 - 2 * r * r + 5, Eigen::Vector2d(-x[0] / 4 + 4 * r * x[0] / 2, -4 * r)};
}

int main(int argc, char** argv) {
  std::string dir = ".";
  long steps = 1500;
  bool small = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc)
      steps = std::atol(argv[++i]);
    else if (a == "--small")
      small = true;
    else
      dir = a;
  }
  if (steps < 1) {
    std::fprintf(stderr, "usage: banana [OUTPUT_DIR] [--steps N] [--small], N >= 1\n");
    return 2;
  }
  Model q;
  reset_parameters(q, 3);
  q.transform.get<1>().log_scale = {std::log(2.0), 0.0};  // start as wide as the target
  adam<double> opt;
  const long n = 256;
  std::vector<double> theta(parameter_count_v<Model>), g(theta.size());
  Model grad = make_gradient(q);
  const cosine_lr lr{3e-3, steps, 0.0};
  for (long step = 0; step < steps; ++step) {
    const auto r = reverse_kl_and_gradient(q, banana, n, /*seed=*/1000 + std::uint64_t(step), grad);
    if (!std::isfinite(r.loss)) {
      std::fprintf(stderr, "step %ld: the loss is not finite\n", step);
      return 1;
    }
    copy_parameters(grad, g.data());
    clip_grad_norm(g.data(), g.size(), 10.0);
    copy_parameters(q, theta.data());
    opt.step(theta.data(), g.data(), theta.size(), lr(step));
    assign_parameters(q, theta.data());
    if (step % std::max(1L, steps / 5) == 0)
      std::printf("step %5ld  reverse KL - log Z %.4f  ESS %.1f%%\n", step, r.loss, 100 * r.ess_fraction);
  }
  // a fresh, larger set of draws for the final report
  Model unused = make_gradient(q);
  const long draws = small ? 1000 : 20000;
  const auto fin = reverse_kl_and_gradient(q, banana, draws, /*seed=*/7, unused);
  const double log_z = 5 + std::log(2 * 3.14159265358979323846);
  std::printf("after %ld steps: ESS %.0f of %ld draws (%.1f%%); KL(q || p) = %.4f; log Z estimate %.4f (exact %.4f)\n",
              steps, fin.ess, draws, 100 * fin.ess_fraction, fin.loss + log_z, fin.log_normalizer, log_z);

  const plot::window w{-6, 6, -3, 9};
  plot::figure fig(1, 3, small ? 32 : 256);
  fig.heat_map(0, 0, w, [](double x, double y) { return banana(Eigen::Vector2d(x, y)).value; });
  fig.heat_map(0, 1, w, [&](double x, double y) { return q.log_prob(Eigen::Vector2d(x, y)); });
  const auto s = sample(q, draws, /*seed=*/11);
  std::vector<double> xs, ys;
  for (Eigen::Index j = 0; j < s.cols(); ++j) xs.push_back(s(0, j)), ys.push_back(s(1, j));
  fig.points(0, 2, w, xs, ys);
  const std::string png = dir + "/banana.png";
  fig.write_png(png);
  std::printf("picture (target density, flow density, flow samples): %s\n", png.c_str());
  return fin.ess_fraction > 0 ? 0 : 1;
}
