// Tests of flowtmpl/bijectors/identity.hpp: y = x, zero log-det, identity structure.
#include <flowtmpl/bijectors/identity.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace identity_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;

// Rows of D components in which every value of `values` appears in every component.
template <int D, class S>
void check_identity_conformance() {
  using lim = std::numeric_limits<S>;
  flowtmpl::bind_t<flowtmpl::Identity, D, S> b;
  flowtmpl::testing::options<S> opt;
  // Identity is defined and exact everywhere: the widest representable inputs are fair.
  opt.sweep = cycled_rows<S>(
      D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), S(1e30), S(-1e30), lim::max(), lim::lowest(), S(1)});
  opt.inverse_sweep = opt.sweep;
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.checks() > 0);
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("Identity passes the conformance kit", "[bijectors][identity]", float, double) {
  check_identity_conformance<1, TestType>();
  check_identity_conformance<3, TestType>();
  check_identity_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("Identity returns its input bit for bit and a zero log-det", "[bijectors][identity]", float,
                   double) {
  using S = TestType;
  using B = flowtmpl::bind_t<flowtmpl::Identity, 3, S>;
  static_assert(std::is_same_v<typename B::structure, flowtmpl::structure::identity>);
  static_assert(B::log_det_kind == flowtmpl::log_det_kind::zero);
  STATIC_REQUIRE(std::is_trivially_copyable_v<B>);
  const B b;
  const Eigen::Matrix<S, 3, 1> x(S(-2.5), std::numeric_limits<S>::denorm_min(), S(1e30));
  CHECK(b.forward(x) == x);
  CHECK(b.inverse(x) == x);
  CHECK(b.log_det(x) == S(0));
  CHECK(b.jacobian(x) == (Eigen::Matrix<S, 3, 3>::Identity()));
  // -0 stays -0 (no arithmetic is done on it).
  const Eigen::Matrix<S, 3, 1> z(S(-0.0), S(0), S(0));
  CHECK(std::signbit(b.forward(z)[0]));
}

TEMPLATE_TEST_CASE("Identity through the host batch API", "[bijectors][identity]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Identity, 3, S> b;
  Eigen::Matrix<S, 3, Eigen::Dynamic> x(3, 4);
  x << 1, 2, 3, 4, -1, -2, -3, -4, S(0.5), S(0.25), S(0.125), S(0.0625);
  const auto r = flowtmpl::forward_and_log_det(b, x);
  CHECK(r.values == x);
  CHECK(r.log_det.size() == 4);
  CHECK(r.log_det.isZero(0));
  CHECK(flowtmpl::inverse(b, x, flowtmpl::checked) == x);

  // A batch with the wrong number of rows is a shape error.
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> wrong(2, 4);
  wrong.setZero();
  CHECK_THROWS_AS(flowtmpl::forward(b, wrong), flowtmpl::shape_error);
}

TEMPLATE_TEST_CASE("Identity in checked mode rejects a non-finite input with its sample and component",
                   "[bijectors][identity]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::Identity, 3, S> b;
  Eigen::Matrix<S, 3, Eigen::Dynamic> x = Eigen::Matrix<S, 3, Eigen::Dynamic>::Zero(3, 3);
  x(2, 1) = std::numeric_limits<S>::infinity();
  // Unchecked: passed through, no throw.
  CHECK(flowtmpl::forward(b, x)(2, 1) == std::numeric_limits<S>::infinity());
  const auto e = domain_error_from([&] { (void)flowtmpl::forward(b, x, flowtmpl::checked); });
  REQUIRE(e.has_value());
  CHECK(e->sample == 1);
  CHECK(e->component == 2);
  CHECK(e->value == std::numeric_limits<double>::infinity());
  CHECK_THAT(std::string(e->what()),
             Catch::Contains("sample 1") && Catch::Contains("component 2") && Catch::Contains("inf"));
}

}  // namespace identity_test
