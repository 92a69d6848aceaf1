// Tests of flowtmpl/bijectors/tanh.hpp: y = tanh(x) from R onto (-1, 1), log-det
// sum log(1 - tanh^2 x); inverse atanh on (-1, 1).
#include <flowtmpl/bijectors/tanh.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace tanh_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;
using flowtmpl_test::rel_tol;

template <int D, class S>
void check_tanh_conformance() {
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Tanh, D, S> b;
  flowtmpl::testing::options<S> opt;
  // Domain: y = tanh(x) near +-1 has an absolute rounding error of about an ulp of 1, and
  // atanh amplifies it by 1 / (1 - y^2) ~ e^{2|x|} / 4. In float (ulp 6e-8) that is
  // 2.6e-6 at |x| = 2.5, inside round_trip_tol * |x| = 2.5e-5 with room to spare, but
  // already ~1e-5 at |x| = 3.5, too close to the tolerance: well conditioned on
  // [-2.5, 2.5]. In double (ulp 1.1e-16) |x| = 5 gives 1.4e-12 against 5e-12.
  opt.lo = sizeof(S) == 4 ? S(-2.5) : S(-5);
  opt.hi = -opt.lo;
  // Forward and log-det are finite up to |x| = 1e30 (the log-det is ~ -2|x|; it overflows
  // only for |x| > max / 2, where the true value is not representable).
  opt.sweep = cycled_rows<S>(
      D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), S(1e30), S(-1e30), lim::max() / S(4), S(30), S(-30), S(1)});
  // The inverse is finite on the open interval, up to one float step inside each end.
  opt.inverse_sweep = cycled_rows<S>(D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), std::nextafter(S(1), S(0)),
                                         std::nextafter(S(-1), S(0)), S(0.5), S(-0.999)});
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("Tanh passes the conformance kit", "[bijectors][tanh]", float, double) {
  check_tanh_conformance<1, TestType>();
  check_tanh_conformance<3, TestType>();
  check_tanh_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("Tanh's values and log-det at points known in closed form", "[bijectors][tanh]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Tanh, 3, S> b;
  // tanh(0) = 0 with derivative 1; tanh(log(3)/2) = (3 - 1)/(3 + 1) = 1/2 with derivative
  // 1 - 1/4 = 3/4; tanh is odd.
  const S h = S(std::log(3.0) / 2);
  const Eigen::Matrix<S, 3, 1> x(S(0), h, -h);
  const Eigen::Matrix<S, 3, 1> y = b.forward(x);
  CHECK(y[0] == S(0));
  CHECK(y[1] == Approx(0.5).epsilon(rel_tol<S>()));
  CHECK(y[2] == Approx(-0.5).epsilon(rel_tol<S>()));
  const Eigen::Matrix<S, 1, 1> zero(S(0));
  CHECK(flowtmpl::bind_t<flowtmpl::Tanh, 1, S>().log_det(zero) == Approx(0.0).margin(rel_tol<S>()));
  CHECK(b.log_det(x) == Approx(2 * std::log(0.75)).epsilon(rel_tol<S>()));
  const Eigen::Matrix<S, 3, 1> yk(S(0), S(0.5), S(-0.5));
  const Eigen::Matrix<S, 3, 1> xk = b.inverse(yk);
  CHECK(xk[0] == S(0));
  CHECK(xk[1] == Approx(std::log(3.0) / 2).epsilon(rel_tol<S>()));
  CHECK(xk[2] == Approx(-std::log(3.0) / 2).epsilon(rel_tol<S>()));
  CHECK(flowtmpl::inverse_log_det(b, yk) == Approx(-2 * std::log(0.75)).epsilon(rel_tol<S>()));
  // Far out: log(1 - tanh^2 x) = log 4 - 2|x| - 2 log1p(e^{-2|x|}) ~ log 4 - 2|x|.
  const Eigen::Matrix<S, 1, 1> far(S(-40));
  CHECK(flowtmpl::bind_t<flowtmpl::Tanh, 1, S>().log_det(far) == Approx(std::log(4.0) - 80.0).epsilon(rel_tol<S>()));
}

TEMPLATE_TEST_CASE("Tanh saturates, and its inverse at +-1 is +-inf and beyond NaN, in that component only",
                   "[bijectors][tanh]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Tanh, 4, S> b;
  // The header: |x| above ~9 (float) or ~19 (double) rounds y to exactly +-1.
  const S big = sizeof(S) == 4 ? S(10) : S(20);
  const Eigen::Matrix<S, 4, 1> xs(big, -big, S(1e30), S(0.5));
  const Eigen::Matrix<S, 4, 1> y = b.forward(xs);
  CHECK(y[0] == S(1));
  CHECK(y[1] == S(-1));
  CHECK(y[2] == S(1));
  CHECK(std::isfinite(b.log_det(xs)));
  const Eigen::Matrix<S, 4, 1> x = b.inverse(y);
  CHECK(x[0] == lim::infinity());
  CHECK(x[1] == -lim::infinity());
  CHECK(x[2] == lim::infinity());
  CHECK(x[3] == Approx(0.5).epsilon(rel_tol<S>()));
  const Eigen::Matrix<S, 4, 1> xn = b.inverse(Eigen::Matrix<S, 4, 1>(S(0.25), S(1.5), S(-1.5), S(0)));
  CHECK(std::isfinite(xn[0]));
  CHECK(std::isnan(xn[1]));
  CHECK(std::isnan(xn[2]));
  CHECK(xn[3] == S(0));
}

TEMPLATE_TEST_CASE("Tanh in checked mode names the layer, sample, component and value", "[bijectors][tanh]", float,
                   double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Tanh, 3, S> b;
  Eigen::Matrix<S, 3, Eigen::Dynamic> y(3, 3);
  y.col(0) << S(0.1), S(-0.2), S(0.3);
  y.col(1) << S(0.4), S(0.5), S(-1);
  y.col(2) << S(0), S(1.25), S(0.5);
  const auto e = domain_error_from([&] { (void)flowtmpl::inverse(b, y, flowtmpl::checked); });
  REQUIRE(e.has_value());
  CHECK(e->sample == 1);
  CHECK(e->component == 2);
  CHECK(e->value == -1.0);
  CHECK_THAT(e->layer, Catch::Contains("Tanh"));
  CHECK_THAT(std::string(e->what()), Catch::Contains("Tanh") && Catch::Contains("sample 1") &&
                                         Catch::Contains("component 2") && Catch::Contains("-1"));
  y(2, 1) = S(-0.75);
  const auto e2 = domain_error_from([&] { (void)flowtmpl::inverse(b, y, flowtmpl::checked); });
  REQUIRE(e2.has_value());
  CHECK(e2->sample == 2);
  CHECK(e2->component == 1);
  CHECK(e2->value == 1.25);
  CHECK_THAT(std::string(e2->what()), Catch::Contains("sample 2") && Catch::Contains("1.25"));
  y(1, 2) = S(0.75);
  const auto checked = flowtmpl::inverse_and_log_det(b, y, flowtmpl::checked);
  const auto unchecked = flowtmpl::inverse_and_log_det(b, y);
  CHECK(checked.values.isApprox(unchecked.values, rel_tol<S>()));
  CHECK(checked.log_det.isApprox(unchecked.log_det, rel_tol<S>()));
}

}  // namespace tanh_test
