// Tests of flowtmpl/bijectors/scale.hpp: y = exp(log_scale) * x, constant log-det
// sum(log_scale), diagonal structure.
#include <flowtmpl/bijectors/scale.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace scale_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::rel_tol;

// log_scale uniform in [-2, 2]: scales from 0.14 to 7.4.
template <int D, class S>
flowtmpl::bind_t<flowtmpl::Scale, D, S> random_scale(unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  flowtmpl::bind_t<flowtmpl::Scale, D, S> b;
  for (auto& s : b.log_scale) s = S(u(gen));
  return b;
}

template <int D, class S>
void check_scale_conformance() {
  using lim = std::numeric_limits<S>;
  const auto b = random_scale<D, S>(101 + D);
  flowtmpl::testing::options<S> opt;
  // Scales are at most exp(2) = 7.4, so +-1e30 maps to at most 7.4e30, finite in float.
  opt.sweep =
      cycled_rows<S>(D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), -lim::denorm_min(), S(1e30), S(-1e30), S(1)});
  opt.inverse_sweep = opt.sweep;
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("Scale passes the conformance kit", "[bijectors][scale]", float, double) {
  check_scale_conformance<1, TestType>();
  check_scale_conformance<3, TestType>();
  check_scale_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("Scale multiplies by exp(log_scale) and its log-det is sum(log_scale)", "[bijectors][scale]", float,
                   double) {
  using S = TestType;
  using B = flowtmpl::bind_t<flowtmpl::Scale, 3, S>;
  static_assert(std::is_same_v<typename B::structure, flowtmpl::structure::diagonal>);
  static_assert(B::log_det_kind == flowtmpl::log_det_kind::constant);
  static_assert(flowtmpl::parameter_count_v<B> == 3);
  B b;
  const Eigen::Matrix<S, 3, 1> x(S(1.5), S(-0.25), S(4));
  // Initially the identity.
  CHECK(b.forward(x) == x);
  CHECK(b.log_det(x) == S(0));

  // log_scale = (log 2, -log 4, 0): scales 2, 1/4, 1; log-det log 2 - log 4 = -log 2.
  b.log_scale = {S(std::log(2.0)), S(-std::log(4.0)), S(0)};
  const Eigen::Matrix<S, 3, 1> y = b.forward(x);
  CHECK(y[0] == Approx(3.0).epsilon(rel_tol<S>()));
  CHECK(y[1] == Approx(-0.0625).epsilon(rel_tol<S>()));
  CHECK(y[2] == S(4));
  CHECK(b.log_det(x) == Approx(-std::log(2.0)).epsilon(rel_tol<S>()));
  CHECK(b.constant_log_det() == b.log_det(x));
  CHECK(flowtmpl::inverse_log_det(b, y) == -b.log_det(x));
  const Eigen::Matrix<S, 3, 1> xr = b.inverse(y);
  for (int i = 0; i < 3; ++i) CHECK(xr[i] == Approx(x[i]).epsilon(rel_tol<S>()));
  const Eigen::Matrix<S, 3, 3> j = b.jacobian(x);
  CHECK(j(0, 0) == Approx(2.0).epsilon(rel_tol<S>()));
  CHECK(j(1, 1) == Approx(0.25).epsilon(rel_tol<S>()));
  CHECK(j(0, 1) == S(0));

  // Scale has no shift: 0 stays 0.
  CHECK(b.forward(Eigen::Matrix<S, 3, 1>::Zero()).isZero(0));
}

TEMPLATE_TEST_CASE("Scale's prepare() and the host batch API agree with an independent computation",
                   "[bijectors][scale]", float, double) {
  using S = TestType;
  const auto b = random_scale<8, S>(3);
  const auto p = b.prepare();
  double ld = 0, ld_size = 0;
  for (auto v : b.log_scale) ld += double(v), ld_size += std::abs(double(v));
  // float sums of terms of both signs: the error is relative to the terms, not the sum
  const double ld_margin = double(rel_tol<S>()) * ld_size;
  CHECK(p.constant_log_det() == Approx(ld).margin(ld_margin));

  Eigen::Matrix<S, 8, Eigen::Dynamic> x = Eigen::Matrix<S, 8, Eigen::Dynamic>::Random(8, 40);
  const auto r = flowtmpl::forward_and_log_det(b, x);
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    CHECK(r.log_det[j] == Approx(ld).margin(ld_margin));
    for (int i = 0; i < 8; ++i) {
      const double expect = std::exp(double(b.log_scale[std::size_t(i)])) * double(x(i, j));
      if (std::abs(double(r.values(i, j)) - expect) > 4 * double(rel_tol<S>()) * std::abs(expect))
        FAIL_CHECK("forward(" << i << ", " << j << ") = " << r.values(i, j) << ", expected " << expect);
    }
  }
  const auto inv = flowtmpl::inverse_and_log_det(b, r.values);
  CHECK(inv.values.isApprox(x, 4 * rel_tol<S>()));
  CHECK(inv.log_det[0] == Approx(-ld).margin(ld_margin));
}

}  // namespace scale_test
