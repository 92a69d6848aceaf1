#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

TEMPLATE_TEST_CASE("Exp passes the conformance kit", "[bijectors][exp]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Exp, 4, S> b;
  flowtmpl::testing::options<S> opt;
  const S big = flowtmpl::detail::log_max_v<S> * S(0.99);
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
