// Tests of flowtmpl/bijectors/logit.hpp: y = log(x) - log(1 - x) from (0, 1) onto R,
// log-det -sum (log x + log(1 - x)); forward domain (0, 1).
#include <flowtmpl/bijectors/logit.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace logit_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;
using flowtmpl_test::rel_tol;

template <int D, class S>
void check_logit_conformance() {
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Logit, D, S> b;
  flowtmpl::testing::options<S> opt;
  // Domain: near the ends of (0, 1) the finite-difference step (a hundredth of the distance
  // to the end) shrinks towards the spacing of the floats near 1, and x + h itself is
  // rounded. In float, at 0.01 from an end h = 1e-4 and the rounding of x + h (3e-8)
  // perturbs the step by 3e-4 relative, inside the kit's 2e-3. In double the same holds
  // down to 1e-4 from an end (h = 1e-6, 6e-17 / 1e-6 = 6e-11).
  opt.lo = sizeof(S) == 4 ? S(0.01) : S(1e-4);
  opt.hi = S(1) - opt.lo;
  // The forward is finite on the whole open interval, right up to its ends.
  opt.sweep = cycled_rows<S>(D, {lim::denorm_min(), S(1e-30), lim::min(), S(0.5), std::nextafter(S(1), S(0)),
                                 std::nextafter(S(0), S(1)), S(1) - S(1e-3), S(1e-3)});
  // The inverse (a sigmoid) is finite for every finite y, saturating towards 0 or 1; its
  // log-det is ~ -|y| per component, so max and lowest go in separate rows (their sum,
  // ~ -2 max, is not representable).
  opt.inverse_sweep =
      cycled_rows<S>(D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), S(1e30), S(-1e30), lim::max(), S(1)});
  std::vector<S> lowest_row(static_cast<std::size_t>(D), S(-2));
  lowest_row[std::size_t(D - 1)] = lim::lowest();
  opt.inverse_sweep.push_back(lowest_row);
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("Logit passes the conformance kit", "[bijectors][logit]", float, double) {
  check_logit_conformance<1, TestType>();
  check_logit_conformance<3, TestType>();
  check_logit_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("Logit's values and log-det at points known in closed form", "[bijectors][logit]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Logit, 3, S> b;
  const Eigen::Matrix<S, 3, 1> x(S(0.5), S(0.75), S(0.25));
  const Eigen::Matrix<S, 3, 1> y = b.forward(x);
  // logit(1/2) = 0, logit(3/4) = log 3, logit(1/4) = -log 3.
  CHECK(y[0] == S(0));
  CHECK(y[1] == Approx(std::log(3.0)).epsilon(rel_tol<S>()));
  CHECK(y[2] == Approx(-std::log(3.0)).epsilon(rel_tol<S>()));
  // log|logit'(x)| = -log(x (1 - x)): 2 log 2 at 1/2, log(16/3) at 1/4 and 3/4.
  CHECK(b.log_det(x) == Approx(2 * std::log(2.0) + 2 * std::log(16.0 / 3.0)).epsilon(rel_tol<S>()));
  // Inverse: sigmoid(log 3) = 3/4; inverse log-det log(s (1 - s)).
  const Eigen::Matrix<S, 3, 1> yk(S(0), S(std::log(3.0)), S(-std::log(3.0)));
  const Eigen::Matrix<S, 3, 1> xk = b.inverse(yk);
  CHECK(xk[0] == S(0.5));
  CHECK(xk[1] == Approx(0.75).epsilon(rel_tol<S>()));
  CHECK(xk[2] == Approx(0.25).epsilon(rel_tol<S>()));
  CHECK(flowtmpl::inverse_log_det(b, yk) ==
        Approx(-2 * std::log(2.0) + 2 * std::log(3.0 / 16.0)).epsilon(rel_tol<S>()));
  // Near 0 the logit is ~ log x.
  const Eigen::Matrix<S, 1, 1> tiny(S(1e-30));
  CHECK(flowtmpl::bind_t<flowtmpl::Logit, 1, S>().forward(tiny)[0] == Approx(std::log(1e-30)).epsilon(rel_tol<S>()));
  CHECK(flowtmpl::bind_t<flowtmpl::Logit, 1, S>().log_det(tiny) == Approx(-std::log(1e-30)).epsilon(rel_tol<S>()));
}

TEMPLATE_TEST_CASE("Logit outside (0, 1) gives -+inf at the ends and NaN beyond, in that component only",
                   "[bijectors][logit]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Logit, 4, S> b;
  const Eigen::Matrix<S, 4, 1> y = b.forward(Eigen::Matrix<S, 4, 1>(S(0), S(1), S(1.5), S(0.5)));
  CHECK(y[0] == -lim::infinity());
  CHECK(y[1] == lim::infinity());
  CHECK(std::isnan(y[2]));
  CHECK(y[3] == S(0));
  const Eigen::Matrix<S, 4, 1> yn = b.forward(Eigen::Matrix<S, 4, 1>(S(0.25), S(-0.5), S(0.75), S(0.5)));
  CHECK(std::isnan(yn[1]));
  CHECK(std::isfinite(yn[0]));
  CHECK(std::isfinite(yn[2]));
  CHECK(std::isfinite(yn[3]));
  // Inverse saturation (it is a sigmoid): far out it gives 0 or 1, not NaN.
  const Eigen::Matrix<S, 4, 1> xs = b.inverse(Eigen::Matrix<S, 4, 1>(S(1e30), S(-1e30), S(100), S(-100)));
  CHECK(xs[0] == S(1));
  CHECK(xs[2] == S(1));
  CHECK(xs[1] >= S(0));
  CHECK(xs[3] >= S(0));
  CHECK_FALSE(std::isnan(xs[1]));
}

// The inverse is a sigmoid: far below, its correctly rounded value is exactly 0 (below
// the smallest subnormal), and sigmoid(-100) = 3.72e-44 (a float subnormal) keeps its
// value. This must hold in every component, whatever its position in the vector.
TEMPLATE_TEST_CASE("Logit's inverse far below underflows like the exact sigmoid in every component",
                   "[bijectors][logit]", float, double) {
  using S = TestType;
  const flowtmpl::bind_t<flowtmpl::Logit, 4, S> b;
  const Eigen::Matrix<S, 4, 1> x0 = b.inverse(Eigen::Matrix<S, 4, 1>::Constant(S(-1e30)));
  const Eigen::Matrix<S, 4, 1> xs = b.inverse(Eigen::Matrix<S, 4, 1>::Constant(S(-100)));
  for (int i = 0; i < 4; ++i) {
    INFO("component " << i << ": inverse(-1e30) = " << x0[i] << ", inverse(-100) = " << xs[i]);
    CHECK(x0[i] == S(0));
    CHECK(double(xs[i]) == Approx(std::exp(-100.0)).epsilon(0.05));
  }
}

TEMPLATE_TEST_CASE("Logit in checked mode names the layer, sample, component and value", "[bijectors][logit]", float,
                   double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Logit, 3, S> b;
  Eigen::Matrix<S, 3, Eigen::Dynamic> x(3, 3);
  x.col(0) << S(0.1), S(0.2), S(0.3);
  x.col(1) << S(0.4), S(0.5), S(1.5);
  x.col(2) << S(0), S(0.5), S(0.5);
  const auto e = domain_error_from([&] { (void)flowtmpl::forward(b, x, flowtmpl::checked); });
  REQUIRE(e.has_value());
  CHECK(e->sample == 1);
  CHECK(e->component == 2);
  CHECK(e->value == 1.5);
  CHECK_THAT(e->layer, Catch::Contains("Logit"));
  CHECK_THAT(std::string(e->what()), Catch::Contains("Logit") && Catch::Contains("sample 1") &&
                                         Catch::Contains("component 2") && Catch::Contains("1.5"));

  x(2, 1) = S(0.6);
  const auto e0 = domain_error_from([&] { (void)flowtmpl::log_det(b, x, flowtmpl::checked); });
  REQUIRE(e0.has_value());
  CHECK(e0->sample == 2);
  CHECK(e0->component == 0);
  CHECK(e0->value == 0.0);
  CHECK_THAT(std::string(e0->what()), Catch::Contains("Logit") && Catch::Contains("sample 2") &&
                                          Catch::Contains("component 0") && Catch::Contains("value 0"));

  // Negative values are outside too.
  x(0, 2) = S(-0.25);
  const auto en = domain_error_from([&] { (void)flowtmpl::forward(b, x, flowtmpl::checked); });
  REQUIRE(en.has_value());
  CHECK(en->value == -0.25);
  CHECK_THAT(std::string(en->what()), Catch::Contains("-0.25"));

  // Repaired, the batch passes and agrees with the unchecked path.
  x(0, 2) = S(0.125);
  const auto checked = flowtmpl::forward_and_log_det(b, x, flowtmpl::checked);
  const auto unchecked = flowtmpl::forward_and_log_det(b, x);
  CHECK(checked.values.isApprox(unchecked.values, rel_tol<S>()));
  CHECK(checked.log_det.isApprox(unchecked.log_det, rel_tol<S>()));
  // The inverse direction is defined everywhere.
  Eigen::Matrix<S, 3, Eigen::Dynamic> y = Eigen::Matrix<S, 3, Eigen::Dynamic>::Constant(3, 2, S(-7));
  CHECK_NOTHROW(flowtmpl::inverse(b, y, flowtmpl::checked));
}

}  // namespace logit_test
