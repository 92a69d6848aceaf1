// Tests of flowtmpl/bijectors/shift.hpp: y = x + shift, zero log-det, identity structure.
#include <flowtmpl/bijectors/shift.hpp>
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

namespace shift_test {

namespace {

using flowtmpl_test::cycled_rows;

template <int D, class S>
flowtmpl::bind_t<flowtmpl::Shift, D, S> random_shift(unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  flowtmpl::bind_t<flowtmpl::Shift, D, S> b;
  for (auto& s : b.shift) s = S(u(gen));
  return b;
}

template <int D, class S>
void check_shift_conformance() {
  using lim = std::numeric_limits<S>;
  const auto b = random_shift<D, S>(17 + D);
  flowtmpl::testing::options<S> opt;
  // The shift is a few units: every finite input, max() and lowest() included (they round
  // back to themselves), has a finite image.
  opt.sweep = cycled_rows<S>(
      D, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), S(1e30), S(-1e30), lim::max(), lim::lowest(), S(1)});
  opt.inverse_sweep = opt.sweep;
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << "\n" << r.text());
  CHECK(r.ok());
}

}  // namespace

TEMPLATE_TEST_CASE("Shift passes the conformance kit", "[bijectors][shift]", float, double) {
  check_shift_conformance<1, TestType>();
  check_shift_conformance<3, TestType>();
  check_shift_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("Shift adds its parameter and has a zero log-det", "[bijectors][shift]", float, double) {
  using S = TestType;
  using B = flowtmpl::bind_t<flowtmpl::Shift, 3, S>;
  static_assert(std::is_same_v<typename B::structure, flowtmpl::structure::identity>);
  static_assert(B::log_det_kind == flowtmpl::log_det_kind::zero);
  static_assert(flowtmpl::parameter_count_v<B> == 3);
  B b;
  // Initially the identity.
  const Eigen::Matrix<S, 3, 1> x(S(1.5), S(-0.25), S(4));
  CHECK(b.forward(x) == x);
  b.shift = {S(0.5), S(-1), S(2)};
  // Values exactly representable in float and double: the sums are exact.
  const Eigen::Matrix<S, 3, 1> y = b.forward(x);
  CHECK(y[0] == S(2));
  CHECK(y[1] == S(-1.25));
  CHECK(y[2] == S(6));
  CHECK(b.inverse(y) == x);
  CHECK(b.log_det(x) == S(0));
  CHECK(flowtmpl::inverse_log_det(b, y) == S(0));
  CHECK(b.jacobian(x) == (Eigen::Matrix<S, 3, 3>::Identity()));

  // The parameter block is named shift.
  std::vector<std::string> names;
  flowtmpl::for_each_parameter(b, [&](const std::string& n, const S* p, std::size_t size) {
    names.push_back(n);
    CHECK(size == 3);
    CHECK(p[2] == S(2));
  });
  CHECK(names == std::vector<std::string>{"shift"});
}

TEMPLATE_TEST_CASE("Shift through the host batch API matches the per-sample map", "[bijectors][shift]", float, double) {
  using S = TestType;
  const auto b = random_shift<3, S>(5);
  Eigen::Matrix<S, 3, Eigen::Dynamic> x = Eigen::Matrix<S, 3, Eigen::Dynamic>::Random(3, 300);
  const auto r = flowtmpl::forward_and_log_det(b, x);
  const Eigen::Matrix<S, 3, 1> s(b.shift[0], b.shift[1], b.shift[2]);
  const Eigen::Matrix<S, 3, Eigen::Dynamic> expected = x.colwise() + s;
  CHECK(r.values == expected);
  CHECK(r.log_det.isZero(0));
  CHECK(flowtmpl::inverse(b, r.values).isApprox(x, sizeof(S) == 4 ? S(1e-6) : S(1e-15)));
}

}  // namespace shift_test
