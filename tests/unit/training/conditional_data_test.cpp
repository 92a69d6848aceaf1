// Training conditional flows (flowtmpl/training/conditional_data.hpp, and the context of
// nll_and_gradient, log_prob_vjp and fit): the data set's views and shape errors; the
// loss and its gradient against central differences; fit learning a conditional
// density that no unconditional one reaches; the non-finite guard naming a sample with
// its context.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace conditional_data_test {

namespace ft = flowtmpl;

namespace {

// x | c ~ N(2 c, 0.5^2) componentwise (D = 2, C = 2), c ~ U(-1, 1)^2: the conditional
// NLL is log(0.5) + log(2 pi) / 2 + 1/2 per component.
struct pairs {
  Eigen::Matrix<double, 2, Eigen::Dynamic> x, c;
};
pairs simulate(Eigen::Index n, std::uint64_t seed) {
  pairs p{Eigen::Matrix<double, 2, Eigen::Dynamic>(2, n), Eigen::Matrix<double, 2, Eigen::Dynamic>(2, n)};
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j));
    for (int i = 0; i < 2; ++i) {
      p.c(i, j) = 2 * rng.uniform<double>() - 1;
      p.x(i, j) = 2 * p.c(i, j) + 0.5 * rng.normal<double>();
    }
  }
  return p;
}
constexpr double conditional_nll = 2 * (-0.69314718055994531 + 0.91893853320467274 + 0.5);

using Small = ft::MLP<16, 16>;
using Posterior = ft::bind_t<
    ft::Conditional<2, ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, Small>, ft::Permute<ft::Reverse>,
                                                                ft::Coupling<ft::Affine, Small>, ft::ActNorm>>>,
    2, double>;

template <class F>
std::vector<double> flat(const F& f) {
  std::vector<double> v(ft::parameter_count_v<F>);
  ft::copy_parameters(f, v.data());
  return v;
}

}  // namespace

TEST_CASE("conditional_data views the user's buffers and checks their shapes", "[training][conditional]") {
  std::vector<double> theta(2 * 50), obs(2 * 50);
  for (std::size_t i = 0; i < theta.size(); ++i) {
    theta[i] = 0.01 * double(i);
    obs[i] = -0.02 * double(i);
  }
  const Eigen::Map<const Eigen::MatrixXd> X(theta.data(), 2, 50), C(obs.data(), 2, 50);
  const ft::conditional_data<Posterior> data(X, C);
  CHECK(data.size() == 50);
  CHECK(data.x().data() == theta.data());  // a view, not a copy
  CHECK(data.context().data() == obs.data());
  const Eigen::Matrix<double, 2, 1> one(0.5, -0.5);
  CHECK(ft::conditional_data<Posterior>(X, one).context().cols() == 1);  // one context for all
  const auto error_of = [&](auto&& make) -> std::string {
    try {
      make();
    } catch (const ft::shape_error& e) {
      return e.what();
    }
    return "(no shape_error)";
  };
  CHECK_THAT(error_of([&] { const ft::conditional_data<Posterior> d(X, Eigen::MatrixXd(3, 50)); }),
             Catch::StartsWith("conditional_data: the context has 3 rows"));
  CHECK_THAT(error_of([&] { const ft::conditional_data<Posterior> d(X, Eigen::MatrixXd(2, 49)); }),
             Catch::StartsWith("conditional_data: the context has 49 columns"));
  CHECK_THAT(error_of([&] { const ft::conditional_data<Posterior> d(Eigen::MatrixXd(1, 50), C); }),
             Catch::StartsWith("conditional_data: the batch has 1 rows"));
}

TEST_CASE("nll_and_gradient with a context: the mean NLL and its gradient against central differences",
          "[training][conditional]") {
  Posterior f;
  ft::reset_parameters(f, 4, ft::init::uniform);
  const pairs p = simulate(600, 1);  // more than four blocks of 128
  Posterior grad = ft::make_gradient(f);
  Eigen::Matrix<double, 1, Eigen::Dynamic> lp;
  const double loss = ft::nll_and_gradient(f, p.x, p.c, grad, &lp);
  const auto ref = ft::log_prob(f, p.x, p.c);
  CHECK(loss == Approx(-ref.mean()).epsilon(1e-13));
  CHECK((lp - ref).cwiseAbs().maxCoeff() < 1e-12);
  const auto theta = flat(f), g = flat(grad);
  int checked = 0;
  for (std::size_t k = 0; k < theta.size(); k += 7) {
    auto at = [&](double h) {
      Posterior m = f;
      auto t = theta;
      t[k] += h;
      ft::assign_parameters(m, t.data());
      return -ft::log_prob(m, p.x, p.c).mean();
    };
    INFO("parameter " << k);
    CHECK(g[k] == Approx((at(1e-6) - at(-1e-6)) / 2e-6).epsilon(1e-6).margin(1e-9));
    ++checked;
  }
  CHECK(checked > 10);
  // one context for all: the same as that context repeated
  const Eigen::Matrix<double, 2, 1> c1(0.3, -0.6);
  Posterior g1 = ft::make_gradient(f), g2 = ft::make_gradient(f);
  const double l1 = ft::nll_and_gradient(f, p.x, c1, g1);
  const Eigen::Matrix<double, 2, Eigen::Dynamic> rep = c1.replicate(1, p.x.cols());
  const double l2 = ft::nll_and_gradient(f, p.x, rep, g2);
  CHECK(l1 == l2);
  CHECK(flat(g1) == flat(g2));
  // the typed per-sample form agrees with the batch loss's per-sample terms
  Posterior gs = ft::make_gradient(f);
  const Eigen::Vector2d x0 = p.x.col(0), c0 = p.c.col(0);
  CHECK(ft::log_prob_vjp(f, x0, c0, 1.0, gs) == Approx(ref[0]).epsilon(1e-13));
  // and a context of the wrong shape names nll_and_gradient
  CHECK_THROWS_WITH(ft::nll_and_gradient(f, p.x, Eigen::MatrixXd(2, 7), grad),
                    Catch::StartsWith("nll_and_gradient: the context has 7 columns"));
}

TEST_CASE("fit with conditional_data: validates with the contexts and restores the best epoch",
          "[training][conditional]") {
  Posterior f;
  ft::reset_parameters(f, 2);
  const pairs tr = simulate(600, 5), va = simulate(200, 6);
  const ft::conditional_data<Posterior> train(tr.x, tr.c), valid(va.x, va.c);
  const double before = -ft::log_prob(f, va.x, va.c).mean();
  ft::fit_options opt;
  opt.epochs = 3;
  opt.batch_size = 100;
  opt.learning_rate = 1e-2;
  opt.quiet = true;
  const auto r = ft::fit(f, train, valid, opt);
  REQUIRE(r.stop == ft::fit_stop::completed);
  CHECK(r.steps == 18);
  REQUIRE(r.valid_loss.size() == 3);
  CHECK(r.best_valid_loss < before);  // three epochs of Adam at 1e-2 already learn something
  // the parameters at the end are the last epoch's, whose loss is the last reported
  CHECK(-ft::log_prob(f, va.x, va.c).mean() == Approx(r.valid_loss.back()).epsilon(1e-12));
}

// [acceptance]: 800 steps, run optimized (tools/run-tests.sh's release build).
TEST_CASE("fit with conditional_data: learns p(x | c), validates with the contexts, stops early",
          "[training][conditional][acceptance]") {
  Posterior f;
  ft::reset_parameters(f, 2);
  const pairs tr = simulate(4000, 2), va = simulate(1000, 3);
  const ft::conditional_data<Posterior> train(tr.x, tr.c), valid(va.x, va.c);
  ft::fit_options opt;
  opt.epochs = 40;
  opt.batch_size = 200;
  opt.learning_rate = 5e-3;
  opt.patience = 5;
  opt.quiet = true;
  const auto r = ft::fit(f, train, valid, opt);
  REQUIRE(r.stop != ft::fit_stop::non_finite);
  REQUIRE(!r.valid_loss.empty());
  // the restored parameters' validation loss is what fit reported
  CHECK(-ft::log_prob(f, va.x, va.c).mean() == Approx(r.best_valid_loss).epsilon(1e-12));
  // close to the conditional NLL (2 x 0.726), far below what ignoring c allows (the
  // marginal of each component has variance 4/3 + 1/4: 2 x 1.648 nats)
  INFO("best validation loss " << r.best_valid_loss << ", conditional NLL " << conditional_nll);
  CHECK(r.best_valid_loss < conditional_nll + 0.1);
  CHECK(r.best_valid_loss > conditional_nll - 0.1);
  // without validation data
  Posterior f2;
  ft::reset_parameters(f2, 2);
  opt.epochs = 2;
  const auto r2 = ft::fit(f2, train, opt);
  CHECK(r2.steps == 40);
  CHECK(r2.valid_loss.empty());
}

TEST_CASE("fit with conditional_data: a non-finite context stops training and names the sample",
          "[training][conditional]") {
  Posterior f;
  ft::reset_parameters(f, 2);
  pairs tr = simulate(300, 4);
  tr.c(1, 123) = std::numeric_limits<double>::quiet_NaN();
  const ft::conditional_data<Posterior> train(tr.x, tr.c);
  ft::fit_options opt;
  opt.epochs = 2;
  opt.batch_size = 100;
  opt.quiet = true;
  opt.initialize_actnorm = false;
  const auto r = ft::fit(f, train, opt);
  REQUIRE(r.stop == ft::fit_stop::non_finite);
  INFO(r.message);
  CHECK_THAT(r.message, Catch::Contains("sample 123") && Catch::Contains("context") && Catch::Contains("component 1"));
  for (double v : flat(f)) CHECK(std::isfinite(v));
}

}  // namespace conditional_data_test
