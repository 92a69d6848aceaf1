// Tests of flowtmpl/bijectors/sigmoid.hpp: y = 1 / (1 + exp(-x)) from R onto (0, 1),
// log-det sum log(s (1 - s)); inverse domain (0, 1).
#include <flowtmpl/bijectors/sigmoid.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace sigmoid_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;
using flowtmpl_test::rel_tol;

template <int D, class S>
void check_sigmoid_conformance() {
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Sigmoid, D, S> b;
  flowtmpl::testing::options<S> opt;
  // Domain: where y is close to 1 it carries an absolute rounding error of about an ulp of
  // 1, which the inverse amplifies by 1 / (y (1 - y)) ~ exp(|x|). The round trip then
  // stays well inside round_trip_tol * |x| for |x| <= 5 in float (e^5 * 6e-8 = 9e-6 against
  // 5e-5) and for |x| <= 10 in double (e^10 * 1.1e-16 = 2.4e-12 against 1e-11).
  opt.lo = sizeof(S) == 4 ? S(-5) : S(-10);
  opt.hi = -opt.lo;
  // The forward is finite (saturating towards 0 or 1) for every finite x, and so is each
  // component's log-det, ~ -|x|. Their sum is -inf when two components are near +-max (the
  // true value, ~ -2 max, is not representable), so max and lowest go in separate rows.
  opt.sweep = cycled_rows<S>(
      D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), S(1e30), S(-1e30), lim::max(), S(40), S(-40), S(1)});
  std::vector<S> lowest_row(static_cast<std::size_t>(D), S(0.5));
  lowest_row[0] = lim::lowest();
  opt.sweep.push_back(lowest_row);
  // The inverse is finite on the open interval (0, 1), right up to its ends.
  opt.inverse_sweep = cycled_rows<S>(D, {lim::denorm_min(), S(1e-30), lim::min(), S(0.5), std::nextafter(S(1), S(0)),
                                         std::nextafter(S(0), S(1)), S(1) - S(1e-3)});
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("Sigmoid passes the conformance kit", "[bijectors][sigmoid]", float, double) {
  check_sigmoid_conformance<1, TestType>();
  check_sigmoid_conformance<3, TestType>();
  check_sigmoid_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("Sigmoid's values and log-det at points known in closed form", "[bijectors][sigmoid]", float,
                   double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Sigmoid, 3, S> b;
  // sigmoid(0) = 1/2, sigmoid(log 3) = 3/4, sigmoid(-log 3) = 1/4.
  const Eigen::Matrix<S, 3, 1> x(S(0), S(std::log(3.0)), S(-std::log(3.0)));
  const Eigen::Matrix<S, 3, 1> y = b.forward(x);
  CHECK(y[0] == S(0.5));
  CHECK(y[1] == Approx(0.75).epsilon(rel_tol<S>()));
  CHECK(y[2] == Approx(0.25).epsilon(rel_tol<S>()));
  // log sigmoid'(x) = log(s (1 - s)): -2 log 2 at 0, log(3/16) at +-log 3.
  CHECK(b.log_det(x) == Approx(-2 * std::log(2.0) + 2 * std::log(3.0 / 16.0)).epsilon(rel_tol<S>()));
  const Eigen::Matrix<S, 1, 1> zero(S(0));
  CHECK(flowtmpl::bind_t<flowtmpl::Sigmoid, 1, S>().log_det(zero) == Approx(-2 * std::log(2.0)).epsilon(rel_tol<S>()));
  // The inverse is the logit: logit(1/2) = 0, logit(3/4) = log 3; inverse log-det is
  // -log(y (1 - y)).
  const Eigen::Matrix<S, 3, 1> yk(S(0.5), S(0.75), S(0.25));
  const Eigen::Matrix<S, 3, 1> xk = b.inverse(yk);
  CHECK(xk[0] == S(0));
  CHECK(xk[1] == Approx(std::log(3.0)).epsilon(rel_tol<S>()));
  CHECK(xk[2] == Approx(-std::log(3.0)).epsilon(rel_tol<S>()));
  CHECK(flowtmpl::inverse_log_det(b, yk) == Approx(2 * std::log(2.0) - 2 * std::log(3.0 / 16.0)).epsilon(rel_tol<S>()));
  // The Jacobian is diagonal with s (1 - s).
  const Eigen::Matrix<S, 3, 3> j = b.jacobian(x);
  CHECK(j(0, 0) == Approx(0.25).epsilon(rel_tol<S>()));
  CHECK(j(1, 1) == Approx(3.0 / 16.0).epsilon(rel_tol<S>()));
  CHECK(j(1, 0) == S(0));
  // Far out the log-det is ~ -|x|: log(s(1-s)) = -|x| - 2 log1p(exp(-|x|)).
  const Eigen::Matrix<S, 1, 1> far(S(-60));
  CHECK(flowtmpl::bind_t<flowtmpl::Sigmoid, 1, S>().log_det(far) == Approx(-60.0).epsilon(rel_tol<S>()));
}

TEMPLATE_TEST_CASE("Sigmoid saturates for large |x| and its inverse gives -+inf and NaN outside (0, 1)",
                   "[bijectors][sigmoid]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Sigmoid, 4, S> b;
  // The header: |x| above ~17 (float) or ~37 (double) rounds to exactly 0 or 1; saturation, not NaN.
  const S big = sizeof(S) == 4 ? S(20) : S(40);
  const Eigen::Matrix<S, 4, 1> y = b.forward(Eigen::Matrix<S, 4, 1>(big, -big, S(1e30), S(-1e30)));
  CHECK(y[0] == S(1));
  CHECK(y[1] >= S(0));
  CHECK(y[1] < S(1e-8));
  CHECK(y[2] == S(1));
  CHECK(y[3] >= S(0));
  CHECK(y[3] < S(1e-30));
  CHECK(std::isfinite(b.log_det(Eigen::Matrix<S, 4, 1>(big, -big, S(1e30), S(-1e30)))));
  CHECK(b.inverse(Eigen::Matrix<S, 4, 1>(y[0], S(0.5), y[2], S(0.5)))[0] == lim::infinity());
  // Inverse outside (0, 1): 0 -> -inf, 1 -> +inf, outside [0, 1] NaN, each in its component only.
  const Eigen::Matrix<S, 4, 1> x = b.inverse(Eigen::Matrix<S, 4, 1>(S(0), S(1), S(1.5), S(0.5)));
  CHECK(x[0] == -lim::infinity());
  CHECK(x[1] == lim::infinity());
  CHECK(std::isnan(x[2]));
  CHECK(x[3] == S(0));
  const Eigen::Matrix<S, 4, 1> xn = b.inverse(Eigen::Matrix<S, 4, 1>(S(0.25), S(-0.5), S(0.75), S(0.5)));
  CHECK(std::isnan(xn[1]));
  CHECK(std::isfinite(xn[0]));
  CHECK(std::isfinite(xn[2]));
  CHECK(std::isfinite(xn[3]));

  // The host batch path: the bad sample's outputs only.
  Eigen::Matrix<S, 4, Eigen::Dynamic> yb(4, 3);
  yb.col(0) << S(0.1), S(0.2), S(0.3), S(0.4);
  yb.col(1) << S(0.1), S(1.5), S(0.3), S(0.4);
  yb.col(2) << S(0.9), S(0.8), S(0.7), S(0.6);
  const auto r = flowtmpl::inverse_and_log_det(b, yb);
  CHECK(r.values.col(0).allFinite());
  CHECK(std::isnan(r.values(1, 1)));
  CHECK(std::isfinite(r.values(0, 1)));
  CHECK(r.values.col(2).allFinite());
  CHECK(std::isfinite(r.log_det[0]));
  CHECK(std::isfinite(r.log_det[2]));
}

// Far below, sigmoid(x) = exp(x) / (1 + exp(x)) is smaller than the smallest subnormal and
// its correctly rounded value is exactly 0 (the header: the map saturates to exactly 0 or 1,
// which the inverse maps to -inf or +inf). This must hold in every component, whatever its
// position in the vector.
TEMPLATE_TEST_CASE("Sigmoid far below underflows to exactly 0 in every component", "[bijectors][sigmoid]", float,
                   double) {
  using S = TestType;
  const S far = sizeof(S) == 4 ? S(-200) : S(-1000);  // exp(far) < denorm_min / 2
  const flowtmpl::bind_t<flowtmpl::Sigmoid, 4, S> b4;
  const Eigen::Matrix<S, 4, 1> y4 = b4.forward(Eigen::Matrix<S, 4, 1>::Constant(far));
  for (int i = 0; i < 4; ++i) {
    INFO("component " << i << " of 4: sigmoid(" << far << ") = " << y4[i]);
    CHECK(y4[i] == S(0));
  }
  const flowtmpl::bind_t<flowtmpl::Sigmoid, 3, S> b3;
  const Eigen::Matrix<S, 3, 1> y3 = b3.forward(Eigen::Matrix<S, 3, 1>::Constant(S(-1e30)));
  for (int i = 0; i < 3; ++i) {
    INFO("component " << i << " of 3: sigmoid(-1e30) = " << y3[i]);
    CHECK(y3[i] == S(0));
  }
  // A subnormal result keeps its value: sigmoid(-100) = 3.72e-44 (a float subnormal).
  const Eigen::Matrix<S, 4, 1> ys = b4.forward(Eigen::Matrix<S, 4, 1>::Constant(S(-100)));
  for (int i = 0; i < 4; ++i) {
    INFO("component " << i << ": sigmoid(-100) = " << ys[i]);
    CHECK(double(ys[i]) == Approx(std::exp(-100.0)).epsilon(0.05));
  }
}

TEMPLATE_TEST_CASE("Sigmoid in checked mode names the layer, sample, component and value", "[bijectors][sigmoid]",
                   float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Sigmoid, 3, S> b;
  Eigen::Matrix<S, 3, Eigen::Dynamic> y(3, 4);
  y.col(0) << S(0.1), S(0.2), S(0.3);
  y.col(1) << S(0.4), S(0.5), S(0.6);
  y.col(2) << S(0.7), S(1.5), S(0.9);
  y.col(3) << S(0), S(0.5), S(0.5);
  const auto e = domain_error_from([&] { (void)flowtmpl::inverse(b, y, flowtmpl::checked); });
  REQUIRE(e.has_value());
  CHECK(e->sample == 2);
  CHECK(e->component == 1);
  CHECK(e->value == 1.5);
  CHECK_THAT(e->layer, Catch::Contains("Sigmoid"));
  CHECK_THAT(std::string(e->what()), Catch::Contains("Sigmoid") && Catch::Contains("sample 2") &&
                                         Catch::Contains("component 1") && Catch::Contains("1.5"));

  // An end of the open interval is outside it too: y = 1 exactly.
  y(1, 2) = S(1);
  const auto e1 = domain_error_from([&] { (void)flowtmpl::inverse(b, y, flowtmpl::checked); });
  REQUIRE(e1.has_value());
  CHECK(e1->sample == 2);
  CHECK(e1->component == 1);
  CHECK(e1->value == 1.0);

  // The first bad sample is 3 once sample 2 is repaired: y = 0, component 0.
  y(1, 2) = S(0.8);
  const auto e0 = domain_error_from([&] { (void)flowtmpl::inverse(b, y, flowtmpl::checked); });
  REQUIRE(e0.has_value());
  CHECK(e0->sample == 3);
  CHECK(e0->component == 0);
  CHECK(e0->value == 0.0);
  CHECK_THAT(std::string(e0->what()), Catch::Contains("sample 3") && Catch::Contains("component 0"));

  // A valid batch passes and agrees with the unchecked path.
  y(0, 3) = S(0.05);
  const auto checked = flowtmpl::inverse_and_log_det(b, y, flowtmpl::checked);
  const auto unchecked = flowtmpl::inverse_and_log_det(b, y);
  CHECK(checked.values.isApprox(unchecked.values, rel_tol<S>()));
  CHECK(checked.log_det.isApprox(unchecked.log_det, rel_tol<S>()));
  // The forward direction has no domain to leave: a huge input is fine even checked.
  Eigen::Matrix<S, 3, Eigen::Dynamic> x = Eigen::Matrix<S, 3, Eigen::Dynamic>::Constant(3, 2, S(1e30));
  CHECK_NOTHROW(flowtmpl::forward(b, x, flowtmpl::checked));
}

}  // namespace sigmoid_test
