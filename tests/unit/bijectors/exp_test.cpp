#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/direction.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace exp_test {

TEMPLATE_TEST_CASE("Exp passes the conformance kit", "[bijectors][exp]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Exp, 4, S> b;
  flowtmpl::testing::options<S> opt;
  const S big = flowtmpl::detail::log_max_v<S> * S(0.99);
  opt.narrow_sweep(flowtmpl::direction::forward, -std::numeric_limits<S>::infinity(), big,
                   "exp(x) is above max for x > log(max): not representable");
  opt.sweep = {{S(0), -big, big, S(-1e30)}, {S(1e-30), S(-1e-30), std::numeric_limits<S>::denorm_min(), S(1)}};
  opt.inverse_sweep = {{std::numeric_limits<S>::min(), std::numeric_limits<S>::max(), S(1e-30), S(1)}};
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO(r.text());
  CHECK(r.ok());
}

TEMPLATE_TEST_CASE("Exp's inverse outside y > 0 gives -inf or NaN in that component only", "[bijectors][exp]", float,
                   double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Exp, 3, S> b;
  const Eigen::Matrix<S, 3, 1> x = b.inverse(Eigen::Matrix<S, 3, 1>(S(0), S(-1), S(2)));
  CHECK(x[0] == -std::numeric_limits<S>::infinity());
  CHECK(std::isnan(x[1]));
  CHECK(x[2] == Approx(std::log(2.0)));
}

// ---- more: dimensions 1, 3, 8; closed forms; checked mode.

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;

template <int D, class S>
void check_exp_conformance() {
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Exp, D, S> b;
  flowtmpl::testing::options<S> opt;
  // Forward finite up to log(max) (88.7 in float, 709.8 in double): just below it, and far
  // below (exp underflows to 0, which is finite; the log-det is x itself).
  const S near_max = flowtmpl::detail::log_max_v<S> - S(0.01);
  opt.narrow_sweep(flowtmpl::direction::forward, -lim::infinity(), near_max,
                   "exp(x) is above max for x > log(max): not representable");
  opt.sweep = cycled_rows<S>(
      D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), near_max, -near_max, S(-1e30), lim::lowest(), S(1)});
  // Inverse finite on y > 0, one step above 0 up to max.
  opt.inverse_sweep = cycled_rows<S>(D, {std::nextafter(S(0), S(1)), S(1e-30), lim::min(), S(1), S(1e30), lim::max()});
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("Exp passes the conformance kit in dimensions 1, 3 and 8", "[bijectors][exp]", float, double) {
  check_exp_conformance<1, TestType>();
  check_exp_conformance<3, TestType>();
  check_exp_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("Exp's values and log-det at points known in closed form", "[bijectors][exp]", float, double) {
  using S = TestType;
  const S tol = sizeof(S) == 4 ? S(1e-6) : S(1e-14);
  flowtmpl::bind_t<flowtmpl::Exp, 3, S> b;
  // exp(0) = 1, exp(log 2) = 2, exp(-log 4) = 1/4; log-det = sum x = log 2 - log 4 = -log 2.
  const Eigen::Matrix<S, 3, 1> x(S(0), S(std::log(2.0)), S(-std::log(4.0)));
  const Eigen::Matrix<S, 3, 1> y = b.forward(x);
  CHECK(y[0] == S(1));
  CHECK(y[1] == Approx(2.0).epsilon(tol));
  CHECK(y[2] == Approx(0.25).epsilon(tol));
  CHECK(b.log_det(x) == Approx(-std::log(2.0)).epsilon(tol));
  // Inverse: log; inverse log-det -sum log y.
  const Eigen::Matrix<S, 3, 1> yk(S(1), S(2), S(0.25));
  CHECK(b.inverse(yk)[0] == S(0));
  CHECK(b.inverse(yk)[1] == Approx(std::log(2.0)).epsilon(tol));
  CHECK(flowtmpl::inverse_log_det(b, yk) == Approx(std::log(2.0)).epsilon(tol));
  // Overflow above log(max): +inf in that component only.
  const S over = flowtmpl::detail::log_max_v<S> + S(1);
  const Eigen::Matrix<S, 3, 1> yo = b.forward(Eigen::Matrix<S, 3, 1>(over, S(0), S(-1e30)));
  CHECK(yo[0] == std::numeric_limits<S>::infinity());
  CHECK(yo[1] == S(1));
  CHECK(yo[2] == S(0));
}

TEMPLATE_TEST_CASE("Exp in checked mode names the layer, sample, component and value", "[bijectors][exp]", float,
                   double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Exp, 2, S> b;
  Eigen::Matrix<S, 2, Eigen::Dynamic> y(2, 3);
  y.col(0) << S(1), S(-1.5);
  y.col(1) << S(2), S(3);
  y.col(2) << S(4), S(0.5);
  const auto e = domain_error_from([&] { (void)flowtmpl::inverse(b, y, flowtmpl::checked); });
  REQUIRE(e.has_value());
  CHECK(e->sample == 0);
  CHECK(e->component == 1);
  CHECK(e->value == -1.5);
  CHECK_THAT(e->layer, Catch::Contains("Exp"));
  CHECK_THAT(std::string(e->what()), Catch::Contains("Exp") && Catch::Contains("sample 0") &&
                                         Catch::Contains("component 1") && Catch::Contains("-1.5"));
  y(1, 0) = S(0.25);
  y(0, 2) = S(0);  // the end of the open domain
  const auto e0 = domain_error_from([&] { (void)flowtmpl::inverse(b, y, flowtmpl::checked); });
  REQUIRE(e0.has_value());
  CHECK(e0->sample == 2);
  CHECK(e0->component == 0);
  CHECK(e0->value == 0.0);
  // Forward: the domain is R, but an overflow to inf is a non-finite output, reported too.
  Eigen::Matrix<S, 2, Eigen::Dynamic> x(2, 2);
  x << S(1), S(2), S(0), flowtmpl::detail::log_max_v<S> + S(5);
  const auto ef = domain_error_from([&] { (void)flowtmpl::forward(b, x, flowtmpl::checked); });
  REQUIRE(ef.has_value());
  CHECK(ef->sample == 1);
  CHECK(ef->component == 1);
  CHECK(ef->value == std::numeric_limits<double>::infinity());
  CHECK_THAT(std::string(ef->what()), Catch::Contains("Exp") && Catch::Contains("sample 1") && Catch::Contains("inf"));
}

// exp(x) below log(denorm_min / 2) (about -104 in float, -745 in double) has the correctly
// rounded value 0; between that and log(min) it is a subnormal. Both must hold in every
// component, whatever its position in the vector, and agree with the log-det (= x).
TEMPLATE_TEST_CASE("Exp underflows to 0 far below, and to subnormals above that, in every component",
                   "[bijectors][exp]", float, double) {
  using S = TestType;
  const flowtmpl::bind_t<flowtmpl::Exp, 4, S> b;
  const S far = sizeof(S) == 4 ? S(-200) : S(-1000);
  const Eigen::Matrix<S, 4, 1> y = b.forward(Eigen::Matrix<S, 4, 1>::Constant(far));
  const S sub = sizeof(S) == 4 ? S(-100) : S(-720);  // exp: 3.7e-44 and 2.3e-313, subnormal
  const Eigen::Matrix<S, 4, 1> ys = b.forward(Eigen::Matrix<S, 4, 1>::Constant(sub));
  for (int i = 0; i < 4; ++i) {
    INFO("component " << i << ": exp(" << far << ") = " << y[i] << ", exp(" << sub << ") = " << ys[i]);
    CHECK(y[i] == S(0));
    CHECK(double(ys[i]) == Approx(std::exp(double(sub))).epsilon(0.05));
  }
}

}  // namespace exp_test
