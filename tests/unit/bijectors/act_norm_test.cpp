// Tests of flowtmpl/bijectors/act_norm.hpp: y = exp(log_scale) * x + shift with a
// data-dependent initialisation in either direction.
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace act_norm_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;
using flowtmpl_test::rel_tol;

template <int D, class S>
flowtmpl::bind_t<flowtmpl::ActNorm, D, S> random_act_norm(unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  flowtmpl::bind_t<flowtmpl::ActNorm, D, S> b;
  for (auto& s : b.log_scale) s = S(2 * u(gen));
  for (auto& s : b.shift) s = S(3 * u(gen));
  return b;
}

// A D x N batch with per-component means and spreads that differ a lot, in double, to be
// cast to the scalar under test.
template <int D>
Eigen::Matrix<double, D, Eigen::Dynamic> skewed_batch(long n, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::Matrix<double, D, Eigen::Dynamic> y(D, n);
  for (int i = 0; i < D; ++i) {
    const double mean = 5.0 * (i - D / 2.0), spread = std::pow(3.0, i % 4 - 1.5);
    for (long j = 0; j < n; ++j) y(i, j) = mean + spread * normal(gen);
  }
  return y;
}

// Per-component mean and unbiased standard deviation, two-pass, in long double.
template <class M>
void moments(const M& m, int i, long double& mean, long double& sd) {
  const long n = long(m.cols());
  long double s = 0;
  for (long j = 0; j < n; ++j) s += static_cast<long double>(m(i, j));
  mean = s / n;
  long double ss = 0;
  for (long j = 0; j < n; ++j) {
    const long double d = static_cast<long double>(m(i, j)) - mean;
    ss += d * d;
  }
  sd = std::sqrt(ss / (n - 1));
}

template <int D, class S>
void check_act_norm_conformance() {
  const auto b = random_act_norm<D, S>(31 + D);
  flowtmpl::testing::options<S> opt;
  // Scales are at most exp(2) = 7.4 and shifts a few units: +-1e30 maps to at most 7.4e30.
  opt.sweep =
      cycled_rows<S>(D, {S(0), S(1e-30), S(-1e-30), std::numeric_limits<S>::denorm_min(), S(1e30), S(-1e30), S(1)});
  opt.inverse_sweep = opt.sweep;
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("ActNorm passes the conformance kit", "[bijectors][act_norm]", float, double) {
  check_act_norm_conformance<1, TestType>();
  check_act_norm_conformance<3, TestType>();
  check_act_norm_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("ActNorm computes exp(log_scale) * x + shift", "[bijectors][act_norm]", float, double) {
  using S = TestType;
  using B = flowtmpl::bind_t<flowtmpl::ActNorm, 2, S>;
  static_assert(std::is_same_v<typename B::structure, flowtmpl::structure::diagonal>);
  static_assert(B::log_det_kind == flowtmpl::log_det_kind::constant);
  static_assert(flowtmpl::parameter_count_v<B> == 4);
  B b;
  const Eigen::Matrix<S, 2, 1> x(S(1.5), S(-0.25));
  CHECK(b.forward(x) == x);  // initially the identity
  // scales 4 and 1/2, shifts 1 and -3: y = (7, -3.125); log-det log 2.
  b.log_scale = {S(std::log(4.0)), S(-std::log(2.0))};
  b.shift = {S(1), S(-3)};
  const Eigen::Matrix<S, 2, 1> y = b.forward(x);
  CHECK(y[0] == Approx(7.0).epsilon(rel_tol<S>()));
  CHECK(y[1] == Approx(-3.125).epsilon(rel_tol<S>()));
  CHECK(b.log_det(x) == Approx(std::log(2.0)).epsilon(rel_tol<S>()));
  CHECK(b.inverse(y)[0] == Approx(1.5).epsilon(rel_tol<S>()));
  CHECK(b.inverse(y)[1] == Approx(-0.25).epsilon(rel_tol<S>()));
  CHECK(flowtmpl::inverse_log_det(b, y) == -b.log_det(x));
}

TEMPLATE_TEST_CASE("ActNorm's initialize_inverse standardizes what inverse() returns", "[bijectors][act_norm]", float,
                   double) {
  using S = TestType;
  constexpr int D = 5;
  const Eigen::Matrix<S, D, Eigen::Dynamic> y = skewed_batch<D>(1000, 3).template cast<S>();
  flowtmpl::bind_t<flowtmpl::ActNorm, D, S> b = random_act_norm<D, S>(4);  // overwritten entirely
  b.initialize_inverse(y);
  // The parameters, against moments computed here: shift = mean(y), log_scale = log std(y).
  for (int i = 0; i < D; ++i) {
    long double mean, sd;
    moments(y, i, mean, sd);
    CHECK(b.shift[std::size_t(i)] == Approx(double(mean)).epsilon(10 * rel_tol<S>()).margin(10 * rel_tol<S>()));
    CHECK(b.log_scale[std::size_t(i)] == Approx(std::log(double(sd))).margin(10 * rel_tol<S>()));
  }
  // The result: inverse(y) has zero mean and unit unbiased std in every component.
  const auto z = flowtmpl::inverse(b, y);
  const double tol = sizeof(S) == 4 ? 1e-4 : 1e-12;
  for (int i = 0; i < D; ++i) {
    long double mean, sd;
    moments(z, i, mean, sd);
    INFO("component " << i);
    CHECK(std::abs(double(mean)) < tol);
    CHECK(std::abs(double(sd) - 1) < tol);
  }
  // The host's initialize(b, Y) uses this direction: data enters through inverse().
  flowtmpl::bind_t<flowtmpl::ActNorm, D, S> h;
  flowtmpl::initialize(h, y);
  for (int i = 0; i < D; ++i) {
    CHECK(h.shift[std::size_t(i)] == b.shift[std::size_t(i)]);
    CHECK(h.log_scale[std::size_t(i)] == b.log_scale[std::size_t(i)]);
  }
}

TEMPLATE_TEST_CASE("ActNorm's initialize_forward standardizes what forward() returns", "[bijectors][act_norm]", float,
                   double) {
  using S = TestType;
  constexpr int D = 4;
  const Eigen::Matrix<S, D, Eigen::Dynamic> x = skewed_batch<D>(777, 8).template cast<S>();
  flowtmpl::bind_t<flowtmpl::ActNorm, D, S> b;
  b.initialize_forward(x);
  for (int i = 0; i < D; ++i) {
    long double mean, sd;
    moments(x, i, mean, sd);
    // log_scale = -log std(x), shift = -mean(x) / std(x).
    CHECK(b.log_scale[std::size_t(i)] == Approx(-std::log(double(sd))).margin(10 * rel_tol<S>()));
    CHECK(b.shift[std::size_t(i)] == Approx(double(-mean / sd)).epsilon(10 * rel_tol<S>()).margin(10 * rel_tol<S>()));
  }
  const auto y = flowtmpl::forward(b, x);
  const double tol = sizeof(S) == 4 ? 1e-4 : 1e-12;
  for (int i = 0; i < D; ++i) {
    long double mean, sd;
    moments(y, i, mean, sd);
    INFO("component " << i);
    CHECK(std::abs(double(mean)) < tol);
    CHECK(std::abs(double(sd) - 1) < tol);
  }
  // Through an inverse, the host's initialize() uses this one: Inverse<ActNorm> is a layer
  // whose inverse() is ActNorm's forward().
  flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::ActNorm>, D, S> inv;
  flowtmpl::initialize(inv, x);
  for (int i = 0; i < D; ++i) {
    CHECK(inv.base.shift[std::size_t(i)] == b.shift[std::size_t(i)]);
    CHECK(inv.base.log_scale[std::size_t(i)] == b.log_scale[std::size_t(i)]);
  }
  const auto z = flowtmpl::inverse(inv, x);
  for (int i = 0; i < D; ++i) {
    long double mean, sd;
    moments(z, i, mean, sd);
    CHECK(std::abs(double(mean)) < tol);
    CHECK(std::abs(double(sd) - 1) < tol);
  }
}

TEMPLATE_TEST_CASE("ActNorm's initialisation with exactly two samples", "[bijectors][act_norm]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::ActNorm, 2, S> b;
  Eigen::Matrix<S, 2, Eigen::Dynamic> y(2, 2);
  // Component 0: 1 and 3: mean 2, unbiased std sqrt(2). Component 1: -4 and 4: mean 0, std 4 sqrt(2).
  y << S(1), S(3), S(-4), S(4);
  b.initialize_inverse(y);
  CHECK(b.shift[0] == Approx(2.0).epsilon(rel_tol<S>()));
  CHECK(b.shift[1] == Approx(0.0).margin(rel_tol<S>()));
  CHECK(b.log_scale[0] == Approx(0.5 * std::log(2.0)).epsilon(rel_tol<S>()));
  CHECK(b.log_scale[1] == Approx(std::log(4 * std::sqrt(2.0))).epsilon(rel_tol<S>()));
  b.initialize_forward(y);
  // mean(y / std): 2 / sqrt(2) = sqrt(2) and 0.
  CHECK(b.shift[0] == Approx(-std::sqrt(2.0)).epsilon(rel_tol<S>()));
  CHECK(b.shift[1] == Approx(0.0).margin(rel_tol<S>()));
  CHECK(b.log_scale[0] == Approx(-0.5 * std::log(2.0)).epsilon(rel_tol<S>()));
}

TEMPLATE_TEST_CASE("ActNorm's initialisation needs two samples and finite values", "[bijectors][act_norm]", float,
                   double) {
  using S = TestType;
  constexpr int D = 3;
  flowtmpl::bind_t<flowtmpl::ActNorm, D, S> b;
  Eigen::Matrix<S, D, Eigen::Dynamic> one = Eigen::Matrix<S, D, Eigen::Dynamic>::Ones(D, 1);
  Eigen::Matrix<S, D, Eigen::Dynamic> none(D, 0);
  CHECK_THROWS_AS(b.initialize_inverse(one), flowtmpl::shape_error);
  CHECK_THROWS_AS(b.initialize_forward(one), flowtmpl::shape_error);
  CHECK_THROWS_AS(b.initialize_inverse(none), flowtmpl::shape_error);
  CHECK_THROWS_WITH(b.initialize_forward(one), Catch::Contains("2"));
  // A dynamic batch with the wrong number of rows.
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> wrong = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>::Ones(2, 5);
  CHECK_THROWS_AS(b.initialize_inverse(wrong), flowtmpl::shape_error);
  // A failed initialisation leaves the parameters as they were.
  CHECK(b.log_scale == std::array<S, D>{});
  CHECK(b.shift == std::array<S, D>{});

  using lim = std::numeric_limits<S>;
  for (S bad : {lim::quiet_NaN(), lim::infinity(), -lim::infinity()}) {
    INFO("value " << bad);
    Eigen::Matrix<S, D, Eigen::Dynamic> y = Eigen::Matrix<S, D, Eigen::Dynamic>::Random(D, 6);
    y(1, 4) = bad;
    const auto e = domain_error_from([&] { b.initialize_inverse(y); });
    REQUIRE(e.has_value());
    CHECK(e->sample == 4);
    CHECK(e->component == 1);
    CHECK_THAT(std::string(e->what()),
               Catch::Contains("ActNorm") && Catch::Contains("sample 4") && Catch::Contains("component 1"));
    CHECK_THAT(e->layer, Catch::Contains("ActNorm"));
    const auto ef = domain_error_from([&] { b.initialize_forward(y); });
    REQUIRE(ef.has_value());
    CHECK(ef->sample == 4);
    CHECK(ef->component == 1);
  }
}

TEMPLATE_TEST_CASE("ActNorm gives a component with zero spread the scale 1", "[bijectors][act_norm]", float, double) {
  using S = TestType;
  constexpr int D = 3;
  Eigen::Matrix<S, D, Eigen::Dynamic> y(D, 4);
  y.row(0) << S(1), S(2), S(3), S(4);
  y.row(1) << S(2.5), S(2.5), S(2.5), S(2.5);  // no spread
  y.row(2) << S(-1), S(1), S(-1), S(1);
  flowtmpl::bind_t<flowtmpl::ActNorm, D, S> b;
  b.initialize_inverse(y);
  CHECK(b.log_scale[1] == S(0));
  CHECK(b.shift[1] == S(2.5));
  CHECK(std::isfinite(b.log_scale[0]));
  CHECK(std::isfinite(b.log_scale[2]));
  const auto z = flowtmpl::inverse(b, y);
  CHECK(z.row(1).isZero(0));
  CHECK(z.allFinite());

  flowtmpl::bind_t<flowtmpl::ActNorm, D, S> f;
  f.initialize_forward(y);
  CHECK(f.log_scale[1] == S(0));
  CHECK(f.shift[1] == S(-2.5));
  CHECK(flowtmpl::forward(f, y).row(1).isZero(0));
}

}  // namespace act_norm_test
