// Tests of flowtmpl/bijectors/affine.hpp: y = exp(log_scale) * x + shift, constant
// log-det sum(log_scale), diagonal structure.
#include <flowtmpl/bijectors/affine.hpp>
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

namespace affine_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::rel_tol;

// log_scale uniform in [-2, 2], shift uniform in [-3, 3].
template <int D, class S>
flowtmpl::bind_t<flowtmpl::Affine, D, S> random_affine(unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  flowtmpl::bind_t<flowtmpl::Affine, D, S> b;
  for (auto& s : b.log_scale) s = S(2 * u(gen));
  for (auto& s : b.shift) s = S(3 * u(gen));
  return b;
}

template <int D, class S>
void check_affine_conformance() {
  using lim = std::numeric_limits<S>;
  const auto b = random_affine<D, S>(211 + D);
  flowtmpl::testing::options<S> opt;
  // Scales are at most exp(2) = 7.4 and shifts a few units: +-1e30 maps to at most 7.4e30.
  opt.sweep = cycled_rows<S>(D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), S(1e30), S(-1e30), S(1)});
  opt.inverse_sweep = opt.sweep;
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("Affine passes the conformance kit", "[bijectors][affine]", float, double) {
  check_affine_conformance<1, TestType>();
  check_affine_conformance<3, TestType>();
  check_affine_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("Affine computes exp(log_scale) * x + shift", "[bijectors][affine]", float, double) {
  using S = TestType;
  using B = flowtmpl::bind_t<flowtmpl::Affine, 2, S>;
  static_assert(std::is_same_v<typename B::structure, flowtmpl::structure::diagonal>);
  static_assert(B::log_det_kind == flowtmpl::log_det_kind::constant);
  static_assert(flowtmpl::parameter_count_v<B> == 4);
  B b;
  const Eigen::Matrix<S, 2, 1> x(S(1.5), S(-0.25));
  CHECK(b.forward(x) == x);  // initially the identity
  CHECK(b.constant_log_det() == S(0));

  // scales 3 and 1/2, shifts -1 and 10: y = (3 * 1.5 - 1, -0.25 / 2 + 10) = (3.5, 9.875),
  // log-det log 3 - log 2.
  b.log_scale = {S(std::log(3.0)), S(-std::log(2.0))};
  b.shift = {S(-1), S(10)};
  const Eigen::Matrix<S, 2, 1> y = b.forward(x);
  CHECK(y[0] == Approx(3.5).epsilon(rel_tol<S>()));
  CHECK(y[1] == Approx(9.875).epsilon(rel_tol<S>()));
  CHECK(b.log_det(x) == Approx(std::log(1.5)).epsilon(rel_tol<S>()));
  CHECK(flowtmpl::inverse_log_det(b, y) == -b.log_det(x));
  const Eigen::Matrix<S, 2, 1> xr = b.inverse(y);
  CHECK(xr[0] == Approx(1.5).epsilon(rel_tol<S>()));
  CHECK(xr[1] == Approx(-0.25).epsilon(rel_tol<S>()));
  // The shift is applied after the scale: 0 goes to the shift.
  const Eigen::Matrix<S, 2, 1> y0 = b.forward(Eigen::Matrix<S, 2, 1>::Zero());
  CHECK(y0[0] == S(-1));
  CHECK(y0[1] == S(10));

  std::vector<std::string> names;
  flowtmpl::for_each_parameter(b, [&](const std::string& n, const S*, std::size_t size) {
    names.push_back(n);
    CHECK(size == 2);
  });
  CHECK(names == std::vector<std::string>{"log_scale", "shift"});
}

TEMPLATE_TEST_CASE("Affine's prepare() and the host batch API agree with an independent computation",
                   "[bijectors][affine]", float, double) {
  using S = TestType;
  const auto b = random_affine<8, S>(9);
  const auto p = b.prepare();
  double ld = 0, ld_size = 0;
  for (auto v : b.log_scale) ld += double(v), ld_size += std::abs(double(v));
  // float sums of terms of both signs: the error is relative to the terms, not the sum
  const double ld_margin = double(rel_tol<S>()) * ld_size;
  CHECK(p.constant_log_det() == Approx(ld).margin(ld_margin));

  Eigen::Matrix<S, 8, Eigen::Dynamic> x = Eigen::Matrix<S, 8, Eigen::Dynamic>::Random(8, 40);
  const auto r = flowtmpl::forward_and_log_det(b, x);
  int bad = 0;
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    if (std::abs(double(r.log_det[j]) - ld) > ld_margin) ++bad;
    for (int i = 0; i < 8; ++i) {
      const double expect =
          std::exp(double(b.log_scale[std::size_t(i)])) * double(x(i, j)) + double(b.shift[std::size_t(i)]);
      const double got = double(r.values(i, j));
      // The sum can cancel: compare relative to the size of its terms.
      const double size = std::abs(expect) + std::abs(double(b.shift[std::size_t(i)])) + 1;
      if (std::abs(got - expect) > 4 * double(rel_tol<S>()) * size) ++bad;
      const double got_p = double(p.forward(x.col(j))[i]);
      if (std::abs(got_p - expect) > 4 * double(rel_tol<S>()) * size) ++bad;
    }
  }
  CHECK(bad == 0);
  const auto inv = flowtmpl::inverse_and_log_det(b, r.values);
  CHECK((inv.values - x).cwiseAbs().maxCoeff() <= 20 * rel_tol<S>());
  CHECK(inv.log_det[0] == Approx(-ld).margin(ld_margin));
}

}  // namespace affine_test
