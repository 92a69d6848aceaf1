// Uniform on a box: log_prob inside, outside, on the boundary and at NaN; samples inside
// the box with the right mean and variance; validate().
//
// Statistical tolerances: for n = 200000 draws uniform on [a, b] (width w), the sample
// mean has standard error w / sqrt(12 n) and the sample variance
// w^2 sqrt((1/80 - 1/144) / n) (fourth central moment w^4 / 80). Checks allow 5
// standard errors.
#include <flowtmpl/flowtmpl.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

namespace uniform_test {

namespace {

namespace ft = flowtmpl;

constexpr double n_se = 5;

template <class S>
ft::bind_t<ft::Uniform, 2, S> make_box() {
  using V = Eigen::Matrix<S, 2, 1>;
  // [-1, 3] x [2, 2.5]: volume 4 * 0.5 = 2
  return ft::bind_t<ft::Uniform, 2, S>(V(S(-1), S(2)), V(S(3), S(2.5)));
}

}  // namespace

TEMPLATE_TEST_CASE("Uniform's log_prob inside, outside, on the boundary and at NaN", "[distributions][uniform]", float,
                   double) {
  using S = TestType;
  using V = Eigen::Matrix<S, 2, 1>;
  const auto u = make_box<S>();
  const double inside = -std::log(2.0);  // one over the volume
  const S ninf = -std::numeric_limits<S>::infinity();
  const S nan = std::numeric_limits<S>::quiet_NaN();
  const S inf = std::numeric_limits<S>::infinity();

  SECTION("inside") {
    CHECK(double(u.log_prob(V(S(0), S(2.25)))) == Approx(inside).epsilon(1e-6));
    CHECK(double(u.log_prob(V(S(2.99), S(2.01)))) == Approx(inside).epsilon(1e-6));
  }
  SECTION("outside: one component out is enough") {
    CHECK(u.log_prob(V(S(-1.5), S(2.25))) == ninf);
    CHECK(u.log_prob(V(S(0), S(2.6))) == ninf);
    CHECK(u.log_prob(V(S(3.001), S(2.25))) == ninf);
    CHECK(u.log_prob(V(S(10), S(-10))) == ninf);
    CHECK(u.log_prob(V(inf, S(2.25))) == ninf);
    CHECK(u.log_prob(V(S(0), -inf)) == ninf);
  }
  SECTION("on the boundary: the box is closed") {
    CHECK(double(u.log_prob(V(S(-1), S(2)))) == Approx(inside).epsilon(1e-6));
    CHECK(double(u.log_prob(V(S(3), S(2.5)))) == Approx(inside).epsilon(1e-6));
    CHECK(double(u.log_prob(V(S(-1), S(2.25)))) == Approx(inside).epsilon(1e-6));
    CHECK(double(u.log_prob(V(S(1), S(2.5)))) == Approx(inside).epsilon(1e-6));
    // just outside the boundary
    CHECK(u.log_prob(V(std::nextafter(S(-1), S(-2)), S(2.25))) == ninf);
    CHECK(u.log_prob(V(S(1), std::nextafter(S(2.5), S(3)))) == ninf);
  }
  SECTION("NaN gives NaN, also when another component is outside") {
    CHECK(std::isnan(u.log_prob(V(nan, S(2.25)))));
    CHECK(std::isnan(u.log_prob(V(S(0), nan))));
    CHECK(std::isnan(u.log_prob(V(S(100), nan))));
  }
  SECTION("the default box is [0, 1]^D") {
    const ft::bind_t<ft::Uniform, 3, S> d;
    using V3 = Eigen::Matrix<S, 3, 1>;
    CHECK(d.log_prob(V3(S(0.5), S(0), S(1))) == S(0));
    CHECK(d.log_prob(V3(S(0.5), S(-0.01), S(0.5))) == ninf);
    CHECK(d.validate() == nullptr);
  }
  SECTION("the batch log_prob is the per-sample one") {
    Eigen::Matrix<S, 2, Eigen::Dynamic> X(2, 4);
    X << S(0), S(-2), S(3), nan, S(2.25), S(2.25), S(2.5), S(2.1);
    const auto lp = ft::log_prob(u, X);
    CHECK(double(lp[0]) == Approx(inside).epsilon(1e-6));
    CHECK(lp[1] == ninf);
    CHECK(double(lp[2]) == Approx(inside).epsilon(1e-6));
    CHECK(std::isnan(lp[3]));
  }
}

TEMPLATE_TEST_CASE("Uniform's samples lie in the box with the right mean and variance", "[distributions][uniform]", float,
                   double) {
  using S = TestType;
  const auto u = make_box<S>();
  const Eigen::Index n = 200000;
  const auto x = ft::sample(u, n, 77);
  REQUIRE(x.cols() == n);
  const double lo[2] = {-1, 2}, hi[2] = {3, 2.5};
  for (int i = 0; i < 2; ++i) {
    CHECK(x.row(i).minCoeff() >= S(lo[i]));
    CHECK(x.row(i).maxCoeff() <= S(hi[i]));
    const Eigen::ArrayXd r = x.row(i).template cast<double>().transpose().array();
    const double w = hi[i] - lo[i];
    const double m = r.mean();
    const double var = (r - m).square().sum() / double(n - 1);
    INFO("component " << i << ": mean " << m << ", variance " << var);
    CHECK(std::abs(m - (lo[i] + hi[i]) / 2) < n_se * w / std::sqrt(12.0 * double(n)));
    CHECK(std::abs(var - w * w / 12) < n_se * w * w * std::sqrt((1.0 / 80 - 1.0 / 144) / double(n)));
    // and they cover the box: both ends are approached
    CHECK(double(x.row(i).minCoeff()) < lo[i] + 1e-3 * w);
    CHECK(double(x.row(i).maxCoeff()) > hi[i] - 1e-3 * w);
  }
  // every sample has the density of the box
  const auto lp = ft::log_prob(u, x);
  CHECK(lp.allFinite());
  // reproducible and keyed by index
  const auto again = ft::sample(u, 100, 77);
  CHECK(again == x.leftCols(100));
  ft::philox_stream rng(77, 5);
  CHECK(u.sample(rng) == x.col(5));
  CHECK(ft::sample(u, 100, 78) != again);
}

TEMPLATE_TEST_CASE("Uniform's validate() rejects empty and infinite boxes", "[distributions][uniform]", float, double) {
  using S = TestType;
  using V = Eigen::Matrix<S, 2, 1>;
  const S inf = std::numeric_limits<S>::infinity();
  const S nan = std::numeric_limits<S>::quiet_NaN();
  CHECK(make_box<S>().validate() == nullptr);
  CHECK(ft::bind_t<ft::Uniform, 2, S>(V(S(0), S(1)), V(S(0), S(2))).validate() != nullptr);    // low == high
  CHECK(ft::bind_t<ft::Uniform, 2, S>(V(S(0), S(3)), V(S(1), S(2))).validate() != nullptr);    // low > high
  CHECK(ft::bind_t<ft::Uniform, 2, S>(V(-inf, S(0)), V(S(1), S(1))).validate() != nullptr);   // infinite low
  CHECK(ft::bind_t<ft::Uniform, 2, S>(V(S(0), S(0)), V(S(1), inf)).validate() != nullptr);    // infinite high
  CHECK(ft::bind_t<ft::Uniform, 2, S>(V(nan, S(0)), V(S(1), S(1))).validate() != nullptr);    // NaN
  CHECK(ft::bind_t<ft::Uniform, 2, S>(V(S(0), S(0)), V(S(1), nan)).validate() != nullptr);    // NaN
  // no temperature for a uniform
  STATIC_REQUIRE_FALSE(ft::TemperedDistribution<ft::bind_t<ft::Uniform, 2, S>>);
}

}  // namespace uniform_test
