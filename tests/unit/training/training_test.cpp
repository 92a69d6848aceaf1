// Losses, optimizers, schedules and the fit loop (flowtmpl/training.hpp).
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include <cmath>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>

namespace training_test {

#endif

namespace ft = flowtmpl;

namespace {
using Data = Eigen::Matrix<double, 2, Eigen::Dynamic>;

Data gaussian_data(Eigen::Index n, std::uint64_t seed, double m0, double s0, double m1, double s1) {
  Data x(2, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j));
    x(0, j) = m0 + s0 * rng.normal<double>();
    x(1, j) = m1 + s1 * rng.normal<double>();
  }
  return x;
}

template <class F>
std::vector<double> flat(const F& f) {
  std::vector<double> v(ft::parameter_count_v<F>);
  ft::copy_parameters(f, v.data());
  return v;
}

using Small = ft::MLP<8, 8>;
using NSF2 = ft::Flow<ft::DiagonalNormal, ft::compose<ft::Coupling<ft::Spline<4>, Small>, ft::Coupling<ft::Affine, Small, ft::mask::half_flipped>,
                                                   ft::ActNorm>>;
}  // namespace

TEST_CASE("nll_and_gradient: the mean NLL and its gradient against central differences", "[training]") {
  using F = ft::bind_t<NSF2, 2, double>;
  F f;
  ft::reset_parameters(f, 3, ft::init::uniform);
  f.base.log_scale = {0.1, -0.2};
  const Data x = gaussian_data(600, 1, 0.5, 1.0, -0.3, 0.7);  // more than four blocks of 128
  F grad = ft::make_gradient(f);
  const double loss = ft::nll_and_gradient(f, x, grad);
  CHECK(loss == Approx(-ft::log_prob(f, x).mean()).epsilon(1e-13));
  const auto theta = flat(f), g = flat(grad);
  for (std::size_t k = 0; k < theta.size(); k += 5) {
    auto at = [&](double h) {
      F m = f;
      auto t = theta;
      t[k] += h;
      ft::assign_parameters(m, t.data());
      return -ft::log_prob(m, x).mean();
    };
    INFO("parameter " << k);
    CHECK(g[k] == Approx((at(1e-6) - at(-1e-6)) / 2e-6).epsilon(1e-6).margin(1e-9));
  }
}

TEST_CASE("reverse KL: gradient of the seeded estimate, and the ESS", "[training]") {
  using F = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::Coupling<ft::Affine, Small>, ft::Affine>>, 2, double>;
  F f;
  ft::reset_parameters(f, 4, ft::init::uniform);
  // target: N((1, -1), diag(0.5^2, 2^2)), unnormalised by a factor e^3
  auto target = [](const Eigen::Vector2d& x) {
    const Eigen::Vector2d s(0.5, 2.0), m(1, -1);
    const Eigen::Vector2d u = (x - m).cwiseQuotient(s);
    return ft::value_and_gradient<double, 2>{-0.5 * u.squaredNorm() + 3.0, -u.cwiseQuotient(s)};
  };
  F grad = ft::make_gradient(f);
  const auto r = ft::reverse_kl_and_gradient(f, target, 700, 17, grad);
  CHECK(r.ess >= 1.0);
  CHECK(r.ess <= 700.0 + 1e-9);
  CHECK(r.ess_fraction == Approx(r.ess / 700));
  // the estimate is a deterministic function of the parameters for a fixed seed
  const auto theta = flat(f), g = flat(grad);
  for (std::size_t k = 0; k < theta.size(); k += 3) {
    auto at = [&](double h) {
      F m = f;
      auto t = theta;
      t[k] += h;
      ft::assign_parameters(m, t.data());
      F unused = ft::make_gradient(m);
      return double(ft::reverse_kl_and_gradient(m, target, 700, 17, unused).loss);
    };
    INFO("parameter " << k);
    CHECK(g[k] == Approx((at(1e-6) - at(-1e-6)) / 2e-6).epsilon(1e-6).margin(1e-9));
  }
}

TEST_CASE("reverse KL at the target itself: every weight equal, ESS = n, loss = -log Z", "[training]") {
  using F = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::Affine>, 2, double>;
  F f;
  f.base.mean = {1.0, -1.0};
  f.base.log_scale = {std::log(0.5), std::log(2.0)};
  const double log_z = 3.0 + std::log(2 * M_PI * 0.5 * 2.0);  // normalizer of exp(-u^2/2 + 3)
  auto target = [](const Eigen::Vector2d& x) {
    const Eigen::Vector2d s(0.5, 2.0), m(1, -1);
    const Eigen::Vector2d u = (x - m).cwiseQuotient(s);
    return ft::value_and_gradient<double, 2>{-0.5 * u.squaredNorm() + 3.0, -u.cwiseQuotient(s)};
  };
  F grad = ft::make_gradient(f);
  const auto r = ft::reverse_kl_and_gradient(f, target, 300, 5, grad);
  CHECK(r.ess == Approx(300).epsilon(1e-9));
  CHECK(r.loss == Approx(-log_z).epsilon(1e-12));
  CHECK(r.log_normalizer == Approx(log_z).epsilon(1e-12));
  // A stationary point in expectation: grad_x log q = grad_x log p~ cancels the path
  // term, and what is left is the mean of the score d log q(x)/dtheta at fixed x, 0 in
  // expectation with a standard deviation of at most 2 per draw (d/dmean = eps/s with
  // s = 0.5): under 0.1 (more than 6 sigma) at 20000 draws, and the estimate is exact.
  F big = ft::make_gradient(f);
  const auto rb = ft::reverse_kl_and_gradient(f, target, 20000, 6, big);
  CHECK(rb.ess == Approx(20000).epsilon(1e-9));
  for (double v : flat(big)) CHECK(std::abs(v) < 0.1);
}

TEST_CASE("losses are bitwise the same for any number of threads", "[training]") {
  using F = ft::bind_t<NSF2, 2, double>;
  F f;
  ft::reset_parameters(f, 5, ft::init::uniform);
  const Data x = gaussian_data(1000, 2, 0, 1, 0, 1);
  F g1 = ft::make_gradient(f), g2 = ft::make_gradient(f);
#if defined(_OPENMP)
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const double a = ft::nll_and_gradient(f, x, g1);
  omp_set_num_threads(2);
  const double b = ft::nll_and_gradient(f, x, g2);
  omp_set_num_threads(before);
#else
  const double a = ft::nll_and_gradient(f, x, g1);
  const double b = ft::nll_and_gradient(f, x, g2);
#endif
  CHECK(a == b);
  CHECK(flat(g1) == flat(g2));
}

TEST_CASE("Adam: the first step moves each parameter by lr in the direction of -sign(g)", "[training]") {
  // m_hat = g, v_hat = g^2 after one step: the update is lr g / (|g| + eps)
  ft::adam<double> opt;
  std::vector<double> p{1.0, -2.0, 0.5}, g{0.3, -4.0, 1e-3};
  opt.step(p.data(), g.data(), 3, 0.01);
  CHECK(p[0] == Approx(1.0 - 0.01 * 0.3 / (0.3 + 1e-8)).epsilon(1e-12));
  CHECK(p[1] == Approx(-2.0 + 0.01 * 4.0 / (4.0 + 1e-8)).epsilon(1e-12));
  CHECK(p[2] == Approx(0.5 - 0.01 * 1e-3 / (1e-3 + 1e-8)).epsilon(1e-12));
  // second step with the same gradient: m_hat = g, v_hat = g^2 again (bias-corrected)
  opt.step(p.data(), g.data(), 3, 0.01);
  CHECK(p[0] == Approx(1.0 - 2 * 0.01 * 0.3 / (0.3 + 1e-8)).epsilon(1e-12));
}

TEST_CASE("SGD with momentum: b = mu b + g, p -= lr b", "[training]") {
  ft::sgd<double> opt;
  opt.momentum = 0.5;
  std::vector<double> p{1.0}, g{2.0};
  opt.step(p.data(), g.data(), 1, 0.1);  // b = 2
  CHECK(p[0] == Approx(0.8));
  opt.step(p.data(), g.data(), 1, 0.1);  // b = 0.5 * 2 + 2 = 3
  CHECK(p[0] == Approx(0.5));
  ft::sgd<double> nest;
  nest.momentum = 0.5;
  nest.nesterov = true;
  std::vector<double> q{1.0};
  nest.step(q.data(), g.data(), 1, 0.1);  // b = 2, d = g + mu b = 3
  CHECK(q[0] == Approx(0.7));
}

TEST_CASE("global-norm clipping and the schedules", "[training]") {
  std::vector<double> g{3.0, 4.0};
  CHECK(ft::clip_grad_norm(g.data(), 2, 1.0) == Approx(5.0));
  CHECK(std::hypot(g[0], g[1]) == Approx(1.0).epsilon(1e-6));
  CHECK(g[0] / g[1] == Approx(0.75));
  std::vector<double> small{0.3, 0.4};
  ft::clip_grad_norm(small.data(), 2, 1.0);
  CHECK(small[0] == 0.3);  // below the bound: untouched
  const ft::cosine_lr cos{1e-2, 100, 1e-4};
  CHECK(cos(0) == Approx(1e-2));
  CHECK(cos(50) == Approx(1e-4 + (1e-2 - 1e-4) / 2));
  CHECK(cos(100) == Approx(1e-4));
  CHECK(cos(500) == Approx(1e-4));
  const ft::step_lr st{1.0, 10, 0.5};
  CHECK(st(9) == 1.0);
  CHECK(st(10) == 0.5);
  CHECK(st(25) == 0.25);
}

TEST_CASE("fit: a diagonal Gaussian reaches the maximum-likelihood estimate", "[training]") {
  using F = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::Identity>, 2, double>;
  F f;
  const Data x = gaussian_data(2000, 3, 2.0, 0.5, -1.0, 3.0);
  ft::fit_options opt;
  opt.epochs = 60;
  opt.batch_size = 200;
  opt.learning_rate = 0.05;
  opt.quiet = true;
  const auto r = ft::fit(f, x, opt);
  CHECK(r.stop == ft::fit_stop::completed);
  CHECK(r.steps == 600);
  const Eigen::Vector2d mean = x.rowwise().mean();
  const Eigen::Vector2d sd = ((x.colwise() - mean).array().square().rowwise().mean()).sqrt();
  CHECK(f.base.mean[0] == Approx(mean[0]).margin(0.02));
  CHECK(f.base.mean[1] == Approx(mean[1]).margin(0.1));
  CHECK(std::exp(f.base.log_scale[0]) == Approx(sd[0]).epsilon(0.03));
  CHECK(std::exp(f.base.log_scale[1]) == Approx(sd[1]).epsilon(0.03));
}

TEST_CASE("fit: progress per epoch, validation, early stopping restores the best epoch", "[training]") {
  using F = ft::bind_t<NSF2, 2, double>;
  F f;
  ft::reset_parameters(f, 6);
  const Data train = gaussian_data(64, 4, 0, 1, 0, 1);  // tiny: the flow overfits
  const Data valid = gaussian_data(400, 5, 0, 1, 0, 1);
  ft::fit_options opt;
  opt.epochs = 400;
  opt.batch_size = 64;
  opt.learning_rate = 3e-2;
  opt.patience = 5;
  std::vector<ft::fit_progress> seen;
  opt.on_progress = [&](const ft::fit_progress& p) { seen.push_back(p); };
  const auto r = ft::fit(f, train, valid, opt);
  REQUIRE(r.stop == ft::fit_stop::early_stopping);
  CHECK_THAT(r.message, Catch::Contains("early stopping"));
  REQUIRE(seen.size() == r.valid_loss.size());
  CHECK(seen.back().epoch == int(seen.size()));
  CHECK(int(r.valid_loss.size()) == r.best_epoch + opt.patience);
  CHECK(r.best_valid_loss == Approx(*std::min_element(r.valid_loss.begin(), r.valid_loss.end())));
  // the restored parameters are the best epoch's
  CHECK(-ft::log_prob(f, valid).mean() == Approx(r.best_valid_loss).epsilon(1e-12));
  CHECK(seen.front().samples_per_second > 0);
}

TEST_CASE("fit: a non-finite loss stops training, names the sample and the layer, keeps the parameters", "[training]") {
  // a Logit layer: data outside (0, 1) has no density
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Sigmoid>>, 2, double>;
  F f;
  Data x = gaussian_data(300, 6, 0.5, 0.1, 0.5, 0.1);
  x(1, 123) = 1.5;
  ft::fit_options opt;
  opt.epochs = 3;
  opt.batch_size = 100;
  opt.quiet = true;
  const auto before = flat(f);
  const auto r = ft::fit(f, x, opt);
  REQUIRE(r.stop == ft::fit_stop::non_finite);
  CHECK_THAT(r.message, Catch::Contains("sample 123") && Catch::Contains("Sigmoid") && Catch::Contains("not finite"));
  CHECK_THAT(r.message, Catch::StartsWith("step "));
  // the failing step's update was not applied: the parameters are those after the
  // last good step (here, if sample 123 is in the first batch, the initial ones)
  if (r.steps == 0) CHECK(flat(f) == before);
  for (double v : flat(f)) CHECK(std::isfinite(v));
}

TEST_CASE("fit: a non-finite validation loss stops after its epoch and names the validation sample", "[training]") {
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Sigmoid>>, 2, double>;
  F f;
  const Data x = gaussian_data(300, 6, 0.5, 0.1, 0.5, 0.1);
  Data v = gaussian_data(50, 8, 0.5, 0.1, 0.5, 0.1);
  v(0, 17) = -0.25;  // outside Sigmoid's image (0, 1)
  ft::fit_options opt;
  opt.epochs = 3;
  opt.batch_size = 100;
  opt.quiet = true;
  const auto r = ft::fit(f, x, v, opt);
  REQUIRE(r.stop == ft::fit_stop::non_finite);
  CHECK(r.steps == 3);  // the first epoch's three steps ran
  CHECK_THAT(r.message, Catch::StartsWith("epoch 1 ") && Catch::Contains("validation") &&
                            Catch::Contains("sample 17") && Catch::Contains("Sigmoid"));
  for (double p : flat(f)) CHECK(std::isfinite(p));
}

TEST_CASE("fit: a learning rate that overflows a parameter stops with its name", "[training]") {
  using F = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::Identity>, 2, double>;
  F f;
  // data far from the base's mean: d NLL/d mean is about -10, and the first step takes
  // the mean past the largest double
  const Data x = gaussian_data(100, 7, 10, 1, 10, 1);
  ft::fit_options opt;
  opt.epochs = 2;
  opt.batch_size = 100;
  opt.optimizer = ft::optimizer_kind::sgd;
  opt.learning_rate = 1e308;
  opt.quiet = true;
  const auto r = ft::fit(f, x, opt);
  REQUIRE(r.stop == ft::fit_stop::non_finite);
  CHECK_THAT(r.message, Catch::Contains("base.") && Catch::Contains("learning rate"));
  for (double v : flat(f)) CHECK(std::isfinite(v));
}

TEST_CASE("fit rejects empty data and bad options in words", "[training]") {
  using F = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::Identity>, 2, double>;
  F f;
  const Data none(2, 0);
  CHECK_THROWS_AS(ft::fit(f, none), ft::shape_error);
  ft::fit_options opt;
  opt.batch_size = 0;
  CHECK_THROWS_WITH(ft::fit(f, gaussian_data(10, 1, 0, 1, 0, 1), opt), Catch::Contains("batch_size"));
  const Eigen::MatrixXd wrong = Eigen::MatrixXd::Zero(3, 5);  // three rows for a 2-D flow
  F g = ft::make_gradient(f);
  CHECK_THROWS_AS(ft::nll_and_gradient(f, wrong, g), ft::shape_error);
}

}  // namespace training_test
