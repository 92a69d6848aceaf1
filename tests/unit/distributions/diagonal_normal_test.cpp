// DiagonalNormal: log_prob against the closed form; sampling moments; temperature;
// reproducible, index-keyed sampling through the host backend.
//
// Statistical tolerances: with n = 200000 independent draws, the sample mean of a
// component has standard error sigma / sqrt(n) and the sample standard deviation
// sigma / sqrt(2 (n - 1)). Every moment check allows 5 standard errors (a false failure
// has probability below 1e-6 per check; the seeds are fixed, so the outcome is too).
#include <flowtmpl/flowtmpl.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

namespace diagonal_normal_test {

namespace {

namespace ft = flowtmpl;

constexpr double pi = 3.14159265358979323846;
constexpr double n_se = 5;  // allowed deviation, in standard errors

const double mean_v[3] = {1.0, -2.0, 0.5};
const double log_scale_v[3] = {0.2, -0.5, 1.0};

template <class S>
ft::bind_t<ft::DiagonalNormal, 3, S> make_dist() {
  ft::bind_t<ft::DiagonalNormal, 3, S> d;
  for (int i = 0; i < 3; ++i) {
    d.mean[i] = S(mean_v[i]);
    d.log_scale[i] = S(log_scale_v[i]);
  }
  return d;
}

// log N(x; mean, diag((t sigma)^2)), written out per component.
template <class V>
double closed_form(const V& x, double t = 1) {
  double lp = 0;
  for (int i = 0; i < 3; ++i) {
    const double sigma = t * std::exp(log_scale_v[i]);
    const double z = (double(x[i]) - mean_v[i]) / sigma;
    lp += -0.5 * z * z - std::log(sigma) - 0.5 * std::log(2 * pi);
  }
  return lp;
}

template <class M>
void check_moments(const M& x, double t) {
  const Eigen::MatrixXd d = x.template cast<double>();
  const double n = double(d.cols());
  for (int i = 0; i < 3; ++i) {
    const double sigma = t * std::exp(log_scale_v[i]);
    const double m = d.row(i).mean();
    const double sd = std::sqrt((d.row(i).array() - m).square().sum() / (n - 1));
    INFO("component " << i << ": mean " << m << ", sd " << sd << ", expected " << mean_v[i] << ", " << sigma);
    CHECK(std::abs(m - mean_v[i]) < n_se * sigma / std::sqrt(n));
    CHECK(std::abs(sd - sigma) < n_se * sigma / std::sqrt(2 * (n - 1)));
  }
  // components are independent: correlation within 5 standard errors (1 / sqrt(n)) of 0
  for (int i = 0; i < 3; ++i)
    for (int k = i + 1; k < 3; ++k) {
      const Eigen::ArrayXd a = d.row(i).array() - d.row(i).mean(), b = d.row(k).array() - d.row(k).mean();
      const double corr = (a * b).sum() / std::sqrt(a.square().sum() * b.square().sum());
      CHECK(std::abs(corr) < n_se / std::sqrt(n));
    }
}

template <class A, class B>
bool bitwise_equal(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  using S = typename A::Scalar;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      const S x = a(i, j), y = b(i, j);
      if (std::memcmp(&x, &y, sizeof(S)) != 0) return false;
    }
  return true;
}

}  // namespace

TEMPLATE_TEST_CASE("DiagonalNormal's log_prob is the closed-form density", "[distributions][diagonal_normal]", float,
                   double) {
  using S = TestType;
  using V = Eigen::Matrix<S, 3, 1>;
  const auto d = make_dist<S>();
  const double eps = sizeof(S) == 4 ? 1e-5 : 1e-13;
  for (const V& x : {V(S(1), S(-2), S(0.5)), V(S(0), S(0), S(0)), V(S(3.5), S(-1.25), S(-4)), V(S(-10), S(5), S(20))}) {
    CHECK(double(d.log_prob(x)) == Approx(closed_form(x)).epsilon(eps));
    CHECK(double(d.log_prob(x, S(1))) == Approx(closed_form(x)).epsilon(eps));
    // at temperature T the scale is T sigma
    CHECK(double(d.log_prob(x, S(0.5))) == Approx(closed_form(x, 0.5)).epsilon(eps));
    CHECK(double(d.log_prob(x, S(2.5))) == Approx(closed_form(x, 2.5)).epsilon(eps));
  }
  // the density is highest at the mean
  const V m(S(1), S(-2), S(0.5));
  CHECK(d.log_prob(m) > d.log_prob(V(m + V::Constant(S(0.01)))));
  // NaN in gives NaN
  CHECK(std::isnan(d.log_prob(V(S(0), std::numeric_limits<S>::quiet_NaN(), S(0)))));
  // the batch log_prob is the per-sample one
  Eigen::Matrix<S, 3, Eigen::Dynamic> X(3, 4);
  X << S(1), S(0), S(3.5), S(-10), S(-2), S(0), S(-1.25), S(5), S(0.5), S(0), S(-4), S(20);
  const auto lp = ft::log_prob(d, X);
  for (int j = 0; j < 4; ++j) CHECK(double(lp[j]) == Approx(closed_form(X.col(j))).epsilon(eps));
}

TEMPLATE_TEST_CASE("a default DiagonalNormal is the standard normal", "[distributions][diagonal_normal]", float, double) {
  using S = TestType;
  using V = Eigen::Matrix<S, 3, 1>;
  const ft::bind_t<ft::DiagonalNormal, 3, S> d;
  const ft::bind_t<ft::StandardNormal, 3, S> s;
  for (const V& x : {V(S(0), S(0), S(0)), V(S(1), S(-2), S(0.5))}) {
    CHECK(d.log_prob(x) == Approx(s.log_prob(x)).epsilon(1e-6));
    CHECK(double(d.log_prob(x)) == Approx(-0.5 * double(x.squaredNorm()) - 1.5 * std::log(2 * pi)).epsilon(1e-6));
  }
}

TEST_CASE("DiagonalNormal's density integrates to one (D = 1)", "[distributions][diagonal_normal]") {
  ft::bind_t<ft::DiagonalNormal, 1, double> d;
  d.mean[0] = 0.7;
  d.log_scale[0] = -0.3;
  for (const double t : {1.0, 0.6, 1.8}) {
    // trapezoid rule over mean +- 12 (t sigma): the error is far below 1e-9
    const double sigma = t * std::exp(-0.3), lo = 0.7 - 12 * sigma, hi = 0.7 + 12 * sigma;
    const int steps = 20000;
    const double h = (hi - lo) / steps;
    double sum = 0;
    for (int k = 0; k <= steps; ++k) {
      const double w = (k == 0 || k == steps) ? 0.5 : 1.0;
      sum += w * std::exp(d.log_prob(Eigen::Matrix<double, 1, 1>(lo + k * h), t));
    }
    CHECK(sum * h == Approx(1.0).epsilon(1e-9));
  }
}

TEMPLATE_TEST_CASE("DiagonalNormal's samples have the parameters' mean and std", "[distributions][diagonal_normal]", float,
                   double) {
  using S = TestType;
  const auto d = make_dist<S>();
  const Eigen::Index n = 200000;
  SECTION("T = 1") {
    const auto x = ft::sample(d, n, 2024);
    REQUIRE(x.cols() == n);
    REQUIRE(x.allFinite());
    check_moments(x, 1.0);
  }
  SECTION("T = 0.5: the std scales by T") { check_moments(ft::sample(d, n, 2025, S(0.5)), 0.5); }
  SECTION("T = 2") { check_moments(ft::sample(d, n, 2026, S(2)), 2.0); }
  SECTION("the tempered samples are the untempered ones scaled about the mean") {
    const auto x1 = ft::sample(d, 1000, 7);
    const auto x2 = ft::sample(d, 1000, 7, S(2));
    for (Eigen::Index j = 0; j < 1000; ++j)
      for (int i = 0; i < 3; ++i)
        CHECK(double(x2(i, j)) - mean_v[i] ==
              Approx(2 * (double(x1(i, j)) - mean_v[i])).epsilon(sizeof(S) == 4 ? 1e-5 : 1e-12).margin(sizeof(S) == 4 ? 1e-5 : 1e-12));
  }
}

TEMPLATE_TEST_CASE("DiagonalNormal's sample_and_log_prob gives the log_prob of its samples", "[distributions][diagonal_normal]",
                   float, double) {
  using S = TestType;
  const auto d = make_dist<S>();
  const double eps = sizeof(S) == 4 ? 1e-5 : 1e-12;
  for (const S t : {S(1), S(0.7)}) {
    const auto r = t == S(1) ? ft::sample_and_log_prob(d, 500, 11) : ft::sample_and_log_prob(d, 500, 11, t);
    REQUIRE(r.log_det.cols() == 500);
    for (Eigen::Index j = 0; j < 500; ++j) CHECK(double(r.log_det[j]) == Approx(closed_form(r.values.col(j), t)).epsilon(eps));
    // the samples are those of sample()
    CHECK(bitwise_equal(r.values, t == S(1) ? ft::sample(d, 500, 11) : ft::sample(d, 500, 11, t)));
  }
}

TEMPLATE_TEST_CASE("DiagonalNormal's sampling is reproducible and keyed by sample index", "[distributions][diagonal_normal]",
                   float, double) {
  using S = TestType;
  const auto d = make_dist<S>();
  const auto a = ft::sample(d, 300, 42);
  const auto b = ft::sample(d, 300, 42);
  const auto c = ft::sample(d, 300, 43);
  const auto big = ft::sample(d, 5000, 42);
  CHECK(bitwise_equal(a, b));
  // a different seed gives different samples: no column equal
  int equal_columns = 0;
  for (Eigen::Index j = 0; j < 300; ++j) equal_columns += (a.col(j) == c.col(j)) ? 1 : 0;
  CHECK(equal_columns == 0);
  // sample j of a batch of 300 is sample j of a batch of 5000
  CHECK(bitwise_equal(a, big.leftCols(300)));
  // and it is d.sample(philox_stream(seed, j))
  for (Eigen::Index j : {Eigen::Index(0), Eigen::Index(1), Eigen::Index(299), Eigen::Index(4999)}) {
    ft::philox_stream rng(42, std::uint64_t(j));
    CHECK(bitwise_equal(big.col(j), d.sample(rng)));
  }
}

}  // namespace diagonal_normal_test
