// flowtmpl/training/layer_hooks.hpp through fit: after every optimizer step each
// residual layer's u is settled, so every normalised weight's largest singular value
// (Eigen's SVD) is at most c (1 + 1e-6) at every step, while the loss goes down.
#include <flowtmpl/bijectors/residual.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "support/residual.hpp"

namespace layer_hooks_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::largest_normalised_norm;
using Small = ft::LipschitzMLP<8, 8>;
}  // namespace

TEST_CASE("fit keeps every residual layer c-Lipschitz after each step", "[residual][training]") {
  using Flow = ft::Flow<ft::StandardNormal, ft::compose<ft::Residual<ft::LipschitzMLP<16, 16>>, ft::Residual<Small>>>;
  auto flow = ft::bind_t<Flow, 2, double>{};
  ft::reset_parameters(flow, 41, ft::init::uniform);
  Eigen::Matrix<double, 2, Eigen::Dynamic> X(2, 128);
  ft::philox_stream rng(42, 0);
  for (Eigen::Index j = 0; j < X.cols(); ++j) {
    const double t = rng.uniform<double>() * 3.0;
    X(0, j) = 2 * std::cos(t) + 0.1 * rng.normal<double>();
    X(1, j) = 2 * std::sin(t) + 0.1 * rng.normal<double>() - 1;
  }
  ft::fit_options opt;
  opt.epochs = 25;
  opt.batch_size = X.cols();  // one step per epoch: on_progress sees every step
  opt.learning_rate = 3e-2;
  std::vector<double> worst;
  opt.on_progress = [&](const ft::fit_progress&) {
    double w = 0;
    flow.transform.for_each_layer([&](const auto& layer) { w = std::max(w, largest_normalised_norm(layer)); });
    worst.push_back(w);
  };
  const auto res = ft::fit(flow, X, opt);
  REQUIRE(res.stop == ft::fit_stop::completed);
  REQUIRE(worst.size() == 25);
  for (std::size_t k = 0; k < worst.size(); ++k) {
    INFO("step " << k + 1);
    CHECK(worst[k] <= 0.97 * (1 + 1e-6));
  }
  CHECK(res.train_loss.back() < res.train_loss.front() - 0.1);
}

TEST_CASE("settle_spectral_norm: the power iteration, or the eigendecomposition where it is cut short",
          "[residual][training]") {
  using B = ft::bind_t<ft::Residual<ft::LipschitzMLP<12, 7>>, 5, double>;
  for (const int iterations : {0, 1, 100}) {
    B b = flowtmpl_test::drawn_residual<B>(43);
    for (auto& v : b.net.spectral) v = 1.0;  // stale: sigma underestimated
    const double stale = largest_normalised_norm(b);
    b.net.settle_spectral_norm(iterations);
    INFO(iterations << " power iterations at most; stale " << stale);
    CHECK(stale > 0.97 * (1 + 1e-3));
    CHECK(largest_normalised_norm(b) == Approx(0.97).epsilon(1e-9));
  }
}

}  // namespace layer_hooks_test
