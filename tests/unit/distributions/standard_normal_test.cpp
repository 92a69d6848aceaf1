#include <flowtmpl/distributions/standard_normal.hpp>

#include <catch2/catch.hpp>

#include <cmath>

TEMPLATE_TEST_CASE("StandardNormal's log_prob is the normal density", "[distributions]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::StandardNormal, 2, S> d;
  const Eigen::Matrix<S, 2, 1> x(S(0.5), S(-1.25));
  // log N(x; 0, I) = -(0.25 + 1.5625)/2 - log(2 pi)
  CHECK(d.log_prob(x) == Approx(-0.90625 - std::log(2 * M_PI)).epsilon(1e-6));
  // at temperature 2: N(0, 4 I)
  CHECK(d.log_prob(x, S(2)) == Approx(-(0.25 + 1.5625) / 8 - std::log(2 * M_PI) - 2 * std::log(2.0)).epsilon(1e-6));
}
