// examples/two_moons.cpp: trains a RealNVP and a neural spline flow on the two-moons data
// by maximum likelihood, in C++ with flowtmpl's analytic gradients, and draws what they
// learned: two_moons.png has one row per model (held-out data | the model's density |
// samples from the model).
//
//   two_moons [OUTPUT_DIR] [--steps N] [--model nsf|realnvp|both] [--seed S] [--small]
//
// --small: a 32-pixel picture and 1000 samples (for a quick run, e.g. under the sanitizers).
//
// Also writes, for a side-by-side run with nflows
// (benchmarks/peers/two_moons_side_by_side.sh):
// two_moons_train.csv, two_moons_test.csv (the standardized data) and
// two_moons_config.json (the NSF's architecture, the optimizer settings and its
// held-out NLL).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include "plot.hpp"
#include "two_moons_data.hpp"
#include "two_moons_models.hpp"

using namespace flowtmpl;

using two_moons::NSF;
using two_moons::RealNVP;

using Data = Eigen::Matrix<float, 2, Eigen::Dynamic>;

struct run {
  double test_nll;
  double seconds;
  long steps;
};

template <class Model>
run train(Model& model, const Data& train_set, const Data& test_set, long steps, std::uint64_t seed, const char* label) {
  reset_parameters(model, seed);  // identity start: every coupling begins as the identity
  fit_options opt;
  opt.batch_size = 256;
  opt.max_steps = steps;
  opt.epochs = int((steps * opt.batch_size + train_set.cols() - 1) / train_set.cols()) + 1;
  opt.learning_rate = 1e-3;
  opt.schedule = cosine_lr{1e-3, steps, 0.0};
  opt.seed = seed;
  const int every = std::max(1, opt.epochs / 10);
  opt.on_progress = [&](const fit_progress& p) {
    if (p.epoch % every == 0 || p.step == p.total_steps)
      std::fprintf(stderr, "%s: step %ld/%ld  train NLL %.4f  %.0f samples/s  ETA %.0f s\n", label, p.step, p.total_steps,
                   p.train_loss, p.samples_per_second, p.eta_seconds);
  };
  const fit_result r = fit(model, train_set, opt);
  if (r.stop == fit_stop::non_finite) {
    std::fprintf(stderr, "%s: %s\n", label, r.message.c_str());
    std::exit(1);
  }
  const double nll = -log_prob(model, test_set).template cast<double>().mean();
  std::printf("%-8s held-out NLL %.4f nats  (%ld steps, %.1f s)\n", label, nll, r.steps, r.seconds);
  return {nll, r.seconds, r.steps};
}

template <class Model>
void draw_row(plot::figure& fig, int row, const Model& model, const Data& test_set, const plot::window& w,
              Eigen::Index draws) {
  std::vector<double> xs, ys;
  for (Eigen::Index j = 0; j < test_set.cols(); ++j) xs.push_back(test_set(0, j)), ys.push_back(test_set(1, j));
  fig.points(row, 0, w, xs, ys);
  fig.heat_map(row, 1, w, [&](double x, double y) {
    return double(model.log_prob(Eigen::Vector2f(float(x), float(y))));
  });
  const Data s = sample(model, draws, /*seed=*/99);
  xs.clear();
  ys.clear();
  for (Eigen::Index j = 0; j < s.cols(); ++j) xs.push_back(s(0, j)), ys.push_back(s(1, j));
  fig.points(row, 2, w, xs, ys);
}

static void write_csv(const std::string& path, const Data& x) {
  std::ofstream f(path);
  f << "x0,x1\n";
  f.precision(9);
  for (Eigen::Index j = 0; j < x.cols(); ++j) f << x(0, j) << ',' << x(1, j) << '\n';
}

int main(int argc, char** argv) {
  std::string dir = ".", which = "both";
  long steps = 2000;
  std::uint64_t seed = 1;
  bool small = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc)
      steps = std::atol(argv[++i]);
    else if (a == "--model" && i + 1 < argc)
      which = argv[++i];
    else if (a == "--small")
      small = true;
    else if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else
      dir = a;
  }
  if (steps < 1 || (which != "nsf" && which != "realnvp" && which != "both")) {
    std::fprintf(stderr, "usage: two_moons [OUTPUT_DIR] [--steps N] [--model nsf|realnvp|both] [--seed S] [--small]\n");
    return 2;
  }

  // 8000 training and 4000 held-out samples, standardized with the training set's moments
  const Data raw_train = two_moons::sample<float>(8000, 2024);
  const Data raw_test = two_moons::sample<float>(4000, 2025);
  const Data train_set = two_moons::standardized(raw_train, raw_train);
  const Data test_set = two_moons::standardized(raw_test, raw_train);
  write_csv(dir + "/two_moons_train.csv", train_set);
  write_csv(dir + "/two_moons_test.csv", test_set);

  const plot::window w{-2.6, 2.6, -2.6, 2.6};
  const bool both = which == "both";
  plot::figure fig(both ? 2 : 1, 3, small ? 32 : 256);
  int row = 0;
  if (both || which == "realnvp") {
    bind_t<RealNVP, 2, float> realnvp;
    train(realnvp, train_set, test_set, steps, seed, "RealNVP");
    draw_row(fig, row++, realnvp, test_set, w, small ? 1000 : 20000);
  }
  if (both || which == "nsf") {
    bind_t<NSF, 2, float> nsf;
    const run r = train(nsf, train_set, test_set, steps, seed, "NSF");
    draw_row(fig, row++, nsf, test_set, w, small ? 1000 : 20000);
    std::ofstream cfg(dir + "/two_moons_config.json");
    cfg << "{\"model\": \"nsf\", \"features\": 2, \"layers\": 8, \"bins\": 8, \"tail_bound\": 3.0, "
           "\"min_bin_width\": 0.001, \"min_bin_height\": 0.001, \"min_derivative\": 0.001, \"hidden\": [64, 64], "
           "\"activation\": \"relu\", \"masks\": \"alternating\", \"steps\": "
        << steps << ", \"batch_size\": 256, \"optimizer\": \"adam\", \"learning_rate\": 0.001, \"betas\": [0.9, 0.999], "
           "\"eps\": 1e-08, \"schedule\": \"cosine\", \"min_learning_rate\": 0.0, \"clip_norm\": 0, \"seed\": "
        << seed << ", \"dtype\": \"float32\", \"flowtmpl_test_nll\": " << r.test_nll
        << ", \"flowtmpl_train_seconds\": " << r.seconds << "}\n";
  }
  const std::string png = dir + "/two_moons.png";
  fig.write_png(png);
  std::printf("picture (rows: %s; columns: held-out data, model density, model samples): %s\n",
              both ? "RealNVP, NSF" : which.c_str(), png.c_str());
}
