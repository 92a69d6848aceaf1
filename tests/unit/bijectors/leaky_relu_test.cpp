// Tests of flowtmpl/bijectors/leaky_relu.hpp: y = x for x >= 0, a x otherwise; log-det
// (number of negative components) * log a; a must be finite and > 0.
#include <flowtmpl/bijectors/leaky_relu.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace leaky_relu_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;
using flowtmpl_test::rel_tol;

// The map has a kink at 0, where no finite difference can match the one-sided log-det.
// The kit draws its points uniformly per component from [lo, hi], so the test runs it on
// each side of the kink separately (at least 0.05 away, beyond any finite-difference
// step) and adds points that mix signs across components.
template <int D, class S>
void check_leaky_relu_conformance(S slope, S lo, S hi) {
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::LeakyReLU, D, S> b(slope);
  flowtmpl::testing::options<S> opt;
  opt.lo = lo;
  opt.hi = hi;
  for (int k = 0; k < 4; ++k) {
    std::vector<S> p;
    for (int i = 0; i < D; ++i) p.push_back(((i + k) % 2 ? S(-1) : S(1)) * S(0.3 + 0.4 * i + 0.1 * k));
    opt.extra_points.push_back(p);
  }
  // Slopes in the tests are at most 3, so every input up to +-1e30 has a finite image and
  // preimage; +-max is finite forward only for a slope <= 1 and backward only for >= 1.
  std::vector<S> common = {S(0),    S(-0.0),  S(1e-30), S(-1e-30), lim::denorm_min(), -lim::denorm_min(),
                           S(1e30), S(-1e30), S(1)};
  opt.sweep = cycled_rows<S>(D, common);
  opt.inverse_sweep = opt.sweep;
  if (slope <= S(1)) opt.sweep.push_back(std::vector<S>(std::size_t(D), lim::lowest()));
  if (slope >= S(1)) opt.inverse_sweep.push_back(std::vector<S>(std::size_t(D), lim::lowest()));
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << ", slope " << slope << ", domain [" << lo << ", " << hi << "]\n" << r.text());
  CHECK(r.ok());
}

template <int D, class S>
void check_leaky_relu_conformance_all() {
  for (S slope : {S(0.01), S(0.2), S(3)}) {
    check_leaky_relu_conformance<D, S>(slope, S(-3), S(-0.05));
    check_leaky_relu_conformance<D, S>(slope, S(0.05), S(3));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("LeakyReLU passes the conformance kit", "[bijectors][leaky_relu]", float, double) {
  check_leaky_relu_conformance_all<1, TestType>();
  check_leaky_relu_conformance_all<3, TestType>();
  check_leaky_relu_conformance_all<8, TestType>();
}

TEMPLATE_TEST_CASE("LeakyReLU's values and its log-det (#negatives) * log(slope)", "[bijectors][leaky_relu]", float,
                   double) {
  using S = TestType;
  using B = flowtmpl::bind_t<flowtmpl::LeakyReLU, 5, S>;
  const B d;
  CHECK(d.negative_slope == S(0.01));  // the documented default
  const B b(S(0.25));
  const Eigen::Matrix<S, 5, 1> x = (Eigen::Matrix<S, 5, 1>() << S(2), S(-4), S(0), S(-0.5), S(-8)).finished();
  const Eigen::Matrix<S, 5, 1> y = b.forward(x);
  // Powers of two: exact.
  CHECK(y == (Eigen::Matrix<S, 5, 1>() << S(2), S(-1), S(0), S(-0.125), S(-2)).finished());
  CHECK(b.inverse(y) == x);
  // Three negative components (0 counts as non-negative): 3 log(1/4).
  CHECK(b.log_det(x) == Approx(3 * std::log(0.25)).epsilon(rel_tol<S>()));
  CHECK(flowtmpl::inverse_log_det(b, y) == Approx(-3 * std::log(0.25)).epsilon(rel_tol<S>()));
  CHECK(b.log_det(Eigen::Matrix<S, 5, 1>::Ones()) == S(0));
  CHECK(b.log_det(-Eigen::Matrix<S, 5, 1>::Ones()) == Approx(5 * std::log(0.25)).epsilon(rel_tol<S>()));
  // The default slope: log-det 3 log(0.01).
  CHECK(d.log_det(x) == Approx(3 * std::log(0.01)).epsilon(rel_tol<S>()));
  // A slope above 1 is allowed: log-det positive.
  const B steep(S(4));
  CHECK(steep.forward(x)[1] == S(-16));
  CHECK(steep.log_det(x) == Approx(3 * std::log(4.0)).epsilon(rel_tol<S>()));
  // Jacobian: diagonal of 1 and slope.
  const Eigen::Matrix<S, 5, 5> j = b.jacobian(x);
  CHECK(j(0, 0) == S(1));
  CHECK(j(1, 1) == Approx(0.25).epsilon(rel_tol<S>()));
  CHECK(j(2, 2) == S(1));
  CHECK(j(1, 0) == S(0));
}

TEMPLATE_TEST_CASE("LeakyReLU's validate() rejects a slope that is not finite and positive", "[bijectors][leaky_relu]",
                   float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  using B = flowtmpl::bind_t<flowtmpl::LeakyReLU, 2, S>;
  CHECK(B().validate() == nullptr);
  CHECK(B(S(0.5)).validate() == nullptr);
  CHECK(B(S(7)).validate() == nullptr);
  CHECK(B(lim::denorm_min()).validate() == nullptr);
  for (S bad : {S(0), S(-0.0), S(-0.01), S(-1), lim::quiet_NaN(), lim::infinity(), -lim::infinity()}) {
    INFO("slope " << bad);
    const char* msg = B(bad).validate();
    REQUIRE(msg != nullptr);
    CHECK_THAT(std::string(msg), Catch::Contains("negative_slope"));
  }
}

TEMPLATE_TEST_CASE("LeakyReLU in checked mode rejects an invalid slope, naming the layer", "[bijectors][leaky_relu]",
                   float, double) {
  using S = TestType;
  using B = flowtmpl::bind_t<flowtmpl::LeakyReLU, 2, S>;
  Eigen::Matrix<S, 2, Eigen::Dynamic> x(2, 2);
  x << S(1), S(-1), S(2), S(-2);
  for (S bad : {S(0), S(-0.5), std::numeric_limits<S>::quiet_NaN()}) {
    INFO("slope " << bad);
    const B b(bad);
    const auto e = domain_error_from([&] { (void)flowtmpl::forward(b, x, flowtmpl::checked); });
    REQUIRE(e.has_value());
    CHECK(e->sample == 0);
    CHECK(e->component == -1);
    CHECK_THAT(std::string(e->what()), Catch::Contains("LeakyReLU") && Catch::Contains("negative_slope"));
    const auto ei = domain_error_from([&] { (void)flowtmpl::inverse(b, x, flowtmpl::checked); });
    REQUIRE(ei.has_value());
    CHECK_THAT(ei->layer, Catch::Contains("LeakyReLU"));
  }
  // A valid slope passes, with the same values as unchecked.
  const B good(S(0.5));
  CHECK(flowtmpl::forward(good, x, flowtmpl::checked) == flowtmpl::forward(good, x));
}

}  // namespace leaky_relu_test
