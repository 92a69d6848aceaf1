// examples/residual_flow.cpp: a residual flow (i-ResNet / Residual Flows: four layers
// x + g(x), each g a 0.97-Lipschitz LipschitzMLP<64, 64> with LipSwish) trained on the
// two-moons data by maximum likelihood, and what it learned: residual_flow.png shows the
// held-out data | the model's density | samples from the model (each drawn by the
// fixed-point solve of every layer).
//
//   residual_flow [OUTPUT_DIR] [--steps N] [--seed S] [--log-det exact|stochastic]
//                 [--small] [--timing BATCH REPEATS]
//
// --log-det: exact (the default at D = 2: log det(I + J) by LU, its exact gradient) or
//   stochastic (the Russian-roulette series, 2 exact terms then geometric(0.5), one
//   probe, the Neumann-series gradient); the held-out NLL is the exact one either way.
// --small: a 32-pixel picture and 1000 samples (for a quick run, e.g. under the sanitizers).
// --timing B R: also the median over R runs of log_prob over B samples and of one
//   training step at batch B (gradient, Adam, the spectral-norm update), one thread
//   unless OMP_NUM_THREADS says otherwise (benchmarks/peers/residual_side_by_side.sh).
// Also writes residual_train.csv, residual_test.csv and residual_config.json for the
// normflows peer (benchmarks/peers/residual_peer.py).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include "plot.hpp"
#include "two_moons_data.hpp"

using namespace flowtmpl;

using Data = Eigen::Matrix<float, 2, Eigen::Dynamic>;
using Net = LipschitzMLP<64, 64>;
constexpr residual_options exact_options{.log_det = residual_log_det::exact};
constexpr residual_options stochastic_options{.log_det = residual_log_det::stochastic, .exact_terms = 2,
                                              .series = residual_series::geometric, .series_parameter = 0.5,
                                              .probes = 1};
template <residual_options O>
using Block = Residual<Net, O>;
template <residual_options O>
using Model = bind_t<Flow<StandardNormal, compose<Block<O>, Block<O>, Block<O>, Block<O>>>, 2, float>;
constexpr int blocks = 4;
constexpr long batch_size = 256;
constexpr double learning_rate = 2e-3;

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
static double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// the model with the exact log-det (for the stochastic one: its parameters in the exact
// model), for the held-out NLL and the density picture
template <residual_options O>
Model<exact_options> exact_copy(const Model<O>& m) {
  Model<exact_options> e;
  std::vector<float> theta(parameter_count_v<Model<O>>);
  copy_parameters(m, theta.data());
  assign_parameters(e, theta.data());
  return e;
}

template <residual_options O>
void timing(Model<O>& m, const Data& train_set, Eigen::Index batch, int repeats) {
  Data x(2, batch);
  for (Eigen::Index j = 0; j < batch; ++j) x.col(j) = train_set.col(j % train_set.cols());
  std::vector<double> lp_ms, step_ms;
  adam<float> opt{0.9, 0.999, 1e-8, 0, {}, {}, 0};
  Model<O> grad = make_gradient(m);
  std::vector<float> theta(parameter_count_v<Model<O>>), g(theta.size());
  for (int r = 0; r <= repeats; ++r) {  // the first of each: a warm-up
    auto t = std::chrono::steady_clock::now();
    const auto lp = log_prob(m, x);
    const double a = seconds_since(t) * 1e3;
    t = std::chrono::steady_clock::now();
    grad = make_gradient(m);
    nll_and_gradient(m, x, grad);
    copy_parameters(grad, g.data());
    copy_parameters(m, theta.data());
    opt.step(theta.data(), g.data(), theta.size(), 1e-5);
    assign_parameters(m, theta.data());
    after_optimizer_step(m, r);
    const double b = seconds_since(t) * 1e3;
    if (r > 0) lp_ms.push_back(a), step_ms.push_back(b);
    if (!std::isfinite(double(lp.mean()))) std::fprintf(stderr, "timing: a log_prob was not finite\n");
  }
  std::printf("flowtmpl  log_prob batch %ld: median %.2f ms (%d runs)\n", long(batch), median(lp_ms), repeats);
  std::printf("flowtmpl  train step batch %ld: median %.2f ms (%d runs)\n", long(batch), median(step_ms), repeats);
}

template <residual_options O>
int run(const std::string& dir, long steps, std::uint64_t seed, bool small, Eigen::Index timing_batch, int repeats,
        const char* mode) {
  const Data raw_train = two_moons::sample<float>(8000, 2024);
  const Data raw_test = two_moons::sample<float>(4000, 2025);
  const Data train_set = two_moons::standardized(raw_train, raw_train);
  const Data test_set = two_moons::standardized(raw_test, raw_train);
  auto write_csv = [](const std::string& path, const Data& x) {
    std::ofstream f(path);
    f << "x0,x1\n";
    f.precision(9);
    for (Eigen::Index j = 0; j < x.cols(); ++j) f << x(0, j) << ',' << x(1, j) << '\n';
  };
  write_csv(dir + "/residual_train.csv", train_set);
  write_csv(dir + "/residual_test.csv", test_set);

  Model<O> model;
  reset_parameters(model, seed);  // every g starts at 0: the flow starts as the identity
  fit_options opt;
  opt.batch_size = batch_size;
  opt.max_steps = steps;
  opt.epochs = int((steps * batch_size + train_set.cols() - 1) / train_set.cols()) + 1;
  opt.learning_rate = learning_rate;
  opt.seed = seed;
  const int every = std::max(1, opt.epochs / 10);
  opt.on_progress = [&](const fit_progress& p) {
    if (p.epoch % every == 0 || p.step == p.total_steps)
      std::fprintf(stderr, "residual flow: step %ld/%ld  train NLL %.4f  %.0f samples/s\n", p.step, p.total_steps,
                   p.train_loss, p.samples_per_second);
  };
  const fit_result r = fit(model, train_set, opt);
  if (r.stop == fit_stop::non_finite) {
    std::fprintf(stderr, "residual flow: %s\n", r.message.c_str());
    return 1;
  }
  const Model<exact_options> shown = exact_copy<O>(model);
  const double nll = -log_prob(shown, test_set).template cast<double>().mean();
  std::printf("Residual  held-out NLL %.4f nats  (%ld steps, %.1f s)\n", nll, r.steps, r.seconds);

  std::ofstream cfg(dir + "/residual_config.json");
  cfg << "{\"model\": \"residual\", \"features\": 2, \"layers\": " << blocks
      << ", \"hidden\": [64, 64], \"coefficient\": 0.97, \"activation\": \"lipswish\", \"log_det\": \"" << mode
      << "\", \"n_exact_terms\": 2, \"geom_p\": 0.5, \"n_samples\": 1, \"steps\": " << steps
      << ", \"batch_size\": " << batch_size << ", \"learning_rate\": " << learning_rate << ", \"seed\": " << seed
      << ", \"dtype\": \"float32\", \"timing_batch\": " << timing_batch << ", \"flowtmpl_test_nll\": " << nll
      << ", \"flowtmpl_train_seconds\": " << r.seconds << "}\n";

  const plot::window w{-2.6, 2.6, -2.6, 2.6};
  plot::figure fig(1, 3, small ? 32 : 256);
  std::vector<double> xs, ys;
  for (Eigen::Index j = 0; j < test_set.cols(); ++j) xs.push_back(test_set(0, j)), ys.push_back(test_set(1, j));
  fig.points(0, 0, w, xs, ys);
  fig.heat_map(0, 1, w, [&](double x, double y) { return double(shown.log_prob(Eigen::Vector2f(float(x), float(y)))); });
  const Data s = sample(model, small ? 1000 : 20000, /*seed=*/99);
  xs.clear();
  ys.clear();
  for (Eigen::Index j = 0; j < s.cols(); ++j) xs.push_back(s(0, j)), ys.push_back(s(1, j));
  fig.points(0, 2, w, xs, ys);
  const std::string png = dir + "/residual_flow.png";
  fig.write_png(png);
  std::printf("picture (held-out data, model density, model samples): %s\n", png.c_str());
  if (timing_batch > 0) timing<O>(model, train_set, timing_batch, repeats);
  return 0;
}

int main(int argc, char** argv) {
  std::string dir = ".", mode = "exact";
  long steps = 2000;
  std::uint64_t seed = 1;
  bool small = false;
  Eigen::Index timing_batch = 0;
  int repeats = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc)
      steps = std::atol(argv[++i]);
    else if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--log-det" && i + 1 < argc)
      mode = argv[++i];
    else if (a == "--small")
      small = true;
    else if (a == "--timing" && i + 2 < argc) {
      timing_batch = std::atol(argv[++i]);
      repeats = std::atoi(argv[++i]);
      ok = ok && timing_batch > 0 && repeats > 0;
    } else if (a.rfind("--", 0) == 0)
      ok = false;
    else
      dir = a;
  }
  if (!ok || steps < 1 || (mode != "exact" && mode != "stochastic")) {
    std::fprintf(stderr,
                 "usage: residual_flow [OUTPUT_DIR] [--steps N] [--seed S] [--log-det exact|stochastic] [--small] "
                 "[--timing BATCH REPEATS]\n");
    return 2;
  }
  return mode == "exact" ? run<exact_options>(dir, steps, seed, small, timing_batch, repeats, "exact")
                         : run<stochastic_options>(dir, steps, seed, small, timing_batch, repeats, "stochastic");
}
