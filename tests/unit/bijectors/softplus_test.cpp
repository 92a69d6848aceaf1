// Tests of flowtmpl/bijectors/softplus.hpp: y = log(1 + exp(x)) from R onto (0, inf),
// log-det sum log sigmoid(x); inverse y + log(-expm1(-y)) on y > 0.
#include <flowtmpl/bijectors/softplus.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace softplus_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;
using flowtmpl_test::rel_tol;

template <int D, class S>
void check_softplus_conformance() {
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Softplus, D, S> b;
  flowtmpl::testing::options<S> opt;
  // Domain: for x -> -inf, y ~ exp(x) keeps its relative precision and the inverse
  // log(-expm1(-y)) ~ log y recovers x well; for x -> +inf, y ~ x + exp(-x) and the
  // inverse subtracts exp(-x) from y: the absolute error is an ulp of y, relative to x
  // at most an ulp. Both are well conditioned on [-8, 8] in both precisions.
  opt.lo = S(-8);
  opt.hi = S(8);
  // The forward is finite for every finite x (y underflows to 0 for very negative x, which
  // is finite; its log-det is then -|x|, still finite).
  opt.sweep = cycled_rows<S>(
      D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), S(1e30), S(-1e30), lim::max(), lim::lowest(), S(-100), S(1)});
  // The inverse is finite on y > 0, from the smallest subnormal to max.
  opt.inverse_sweep = cycled_rows<S>(
      D, {lim::denorm_min(), std::nextafter(S(0), S(1)), S(1e-30), lim::min(), S(1), S(1e30), lim::max(), S(50)});
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("Softplus passes the conformance kit", "[bijectors][softplus]", float, double) {
  check_softplus_conformance<1, TestType>();
  check_softplus_conformance<3, TestType>();
  check_softplus_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("Softplus's values and log-det at points known in closed form", "[bijectors][softplus]", float,
                   double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Softplus, 3, S> b;
  // softplus(0) = log 2, softplus(log 3) = log 4, softplus(-log 3) = log(4/3).
  const Eigen::Matrix<S, 3, 1> x(S(0), S(std::log(3.0)), S(-std::log(3.0)));
  const Eigen::Matrix<S, 3, 1> y = b.forward(x);
  CHECK(y[0] == Approx(std::log(2.0)).epsilon(rel_tol<S>()));
  CHECK(y[1] == Approx(std::log(4.0)).epsilon(rel_tol<S>()));
  CHECK(y[2] == Approx(std::log(4.0 / 3.0)).epsilon(rel_tol<S>()));
  // softplus' = sigmoid: log(1/2) + log(3/4) + log(1/4).
  CHECK(b.log_det(x) == Approx(std::log(0.5) + std::log(0.75) + std::log(0.25)).epsilon(rel_tol<S>()));
  // Inverse at log 2 is 0, at log 4 is log 3; inverse log-det -log(1 - exp(-y)).
  const Eigen::Matrix<S, 3, 1> yk(S(std::log(2.0)), S(std::log(4.0)), S(std::log(4.0 / 3.0)));
  const Eigen::Matrix<S, 3, 1> xk = b.inverse(yk);
  CHECK(xk[0] == Approx(0.0).margin(4 * rel_tol<S>()));
  CHECK(xk[1] == Approx(std::log(3.0)).epsilon(rel_tol<S>()));
  CHECK(xk[2] == Approx(-std::log(3.0)).epsilon(10 * rel_tol<S>()));
  CHECK(flowtmpl::inverse_log_det(b, yk) ==
        Approx(-(std::log(0.5) + std::log(0.75) + std::log(0.25))).epsilon(10 * rel_tol<S>()));
  // Asymptotes: softplus(x) = x for large x, exp(x) for very negative x.
  const Eigen::Matrix<S, 2, 1> far(S(60), S(-60));
  const Eigen::Matrix<S, 2, 1> yf = flowtmpl::bind_t<flowtmpl::Softplus, 2, S>().forward(far);
  CHECK(yf[0] == Approx(60.0).epsilon(rel_tol<S>()));
  CHECK(yf[1] == Approx(std::exp(-60.0)).epsilon(rel_tol<S>()));
  // log sigmoid(60) ~ -exp(-60), log sigmoid(-60) ~ -60.
  CHECK(flowtmpl::bind_t<flowtmpl::Softplus, 2, S>().log_det(far) == Approx(-60.0).epsilon(rel_tol<S>()));
}

TEMPLATE_TEST_CASE("Softplus's inverse at 0 is -inf and below 0 NaN, in that component only", "[bijectors][softplus]",
                   float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Softplus, 3, S> b;
  const Eigen::Matrix<S, 3, 1> x = b.inverse(Eigen::Matrix<S, 3, 1>(S(0), S(-1), S(std::log(2.0))));
  CHECK(x[0] == -lim::infinity());
  CHECK(std::isnan(x[1]));
  CHECK(x[2] == Approx(0.0).margin(4 * rel_tol<S>()));
  // The header: below about -104 (float) or -745 (double) y underflows to 0 and the inverse
  // gives -inf.
  const S under = sizeof(S) == 4 ? S(-110) : S(-750);
  const Eigen::Matrix<S, 3, 1> yu = b.forward(Eigen::Matrix<S, 3, 1>(under, S(0), S(0)));
  CHECK(yu[0] == S(0));
  CHECK(b.inverse(yu)[0] == -lim::infinity());
  CHECK(std::isfinite(b.log_det(Eigen::Matrix<S, 3, 1>(under, S(0), S(0)))));
}

TEMPLATE_TEST_CASE("Softplus in checked mode names the layer, sample, component and value", "[bijectors][softplus]",
                   float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Softplus, 2, S> b;
  Eigen::Matrix<S, 2, Eigen::Dynamic> y(2, 3);
  y.col(0) << S(0.1), S(2);
  y.col(1) << S(3), S(0);
  y.col(2) << S(-2.5), S(1);
  const auto e = domain_error_from([&] { (void)flowtmpl::inverse(b, y, flowtmpl::checked); });
  REQUIRE(e.has_value());
  CHECK(e->sample == 1);
  CHECK(e->component == 1);
  CHECK(e->value == 0.0);
  CHECK_THAT(e->layer, Catch::Contains("Softplus"));
  CHECK_THAT(std::string(e->what()), Catch::Contains("Softplus") && Catch::Contains("sample 1") &&
                                         Catch::Contains("component 1") && Catch::Contains("value 0"));
  y(1, 1) = S(0.5);
  const auto e2 = domain_error_from([&] { (void)flowtmpl::inverse_and_log_det(b, y, flowtmpl::checked); });
  REQUIRE(e2.has_value());
  CHECK(e2->sample == 2);
  CHECK(e2->component == 0);
  CHECK(e2->value == -2.5);
  CHECK_THAT(std::string(e2->what()), Catch::Contains("-2.5"));

  // In checked forward, an input so negative that y underflows to 0 is still valid (0 is
  // finite), and large inputs are fine.
  Eigen::Matrix<S, 2, Eigen::Dynamic> x(2, 2);
  x << S(-200), S(5), S(1e30), S(0);
  CHECK_NOTHROW(flowtmpl::forward(b, x, flowtmpl::checked));
}

}  // namespace softplus_test
