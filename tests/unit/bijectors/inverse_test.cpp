// Tests of flowtmpl/bijectors/inverse.hpp: Inverse<Spec> / InverseBijector<B> / invert(b):
// forward is the inner inverse, log-det minus the inner log-det at the matching point.
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/bijectors/leaky_relu.hpp>
#include <flowtmpl/bijectors/lu_conv.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/bijectors/sigmoid.hpp>
#include <flowtmpl/bijectors/tanh.hpp>
#include <flowtmpl/direction.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/jacobian.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/testing.hpp>

#include <Eigen/QR>
#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace inverse_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;
using flowtmpl_test::rel_tol;

template <int D, class S>
flowtmpl::bind_t<flowtmpl::Affine, D, S> random_affine(unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  flowtmpl::bind_t<flowtmpl::Affine, D, S> b;
  for (auto& s : b.log_scale) s = S(2 * u(gen));
  for (auto& s : b.shift) s = S(3 * u(gen));
  return b;
}

// An LUConv from W = Q1 diag(d) Q2 (condition number <= 4), with a random bias.
template <int D, class S>
flowtmpl::bind_t<flowtmpl::LUConv, D, S> random_lu(unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.5, 2.0);
  auto orthogonal = [&] {
    Eigen::MatrixXd g(D, D);
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < D; ++j) g(i, j) = normal(gen);
    return Eigen::MatrixXd(Eigen::HouseholderQR<Eigen::MatrixXd>(g).householderQ());
  };
  Eigen::VectorXd d(D);
  for (int i = 0; i < D; ++i) d[i] = u(gen) * (normal(gen) < 0 ? -1.0 : 1.0);
  const Eigen::MatrixXd w = orthogonal() * d.asDiagonal() * orthogonal();
  auto b = flowtmpl::bind_t<flowtmpl::LUConv, D, S>::from_matrix(Eigen::Matrix<S, D, D>(w.template cast<S>()));
  for (auto& v : b.bias) v = S(normal(gen));
  return b;
}

template <class B>
void run_kit(const B& b, flowtmpl::testing::options<typename B::scalar_type> opt, const char* what) {
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO(what << ", D = " << B::dim << "\n" << r.text());
  CHECK(r.ok());
}

// The defining identities, at points y of the inverse's forward domain:
//   Inverse<B>.forward(y) == B.inverse(y), Inverse<B>.inverse(x) == B.forward(x),
//   Inverse<B>.log_det(y) == -B.log_det(B.inverse(y)),
// and Inverse<Inverse<B>> == B.
template <class B>
void check_identities(const B& b, const std::vector<Eigen::Matrix<typename B::scalar_type, B::dim, 1>>& ys) {
  using S = typename B::scalar_type;
  const auto inv = flowtmpl::invert(b);
  static_assert(std::is_same_v<std::remove_cv_t<decltype(inv)>, flowtmpl::InverseBijector<B>>);
  const auto inv2 = flowtmpl::invert(inv);
  for (const auto& y : ys) {
    INFO("y = " << y.transpose());
    const Eigen::Matrix<S, B::dim, 1> x = b.inverse(y);
    CHECK(inv.forward(y) == x);
    CHECK(inv.inverse(x) == b.forward(x));
    const S ld = b.log_det(x);
    CHECK(inv.log_det(y) == Approx(-ld).epsilon(rel_tol<S>()).margin(rel_tol<S>()));
    const auto fl = flowtmpl::forward_and_log_det(inv, y);
    CHECK(fl.value == x);
    CHECK(fl.log_det == Approx(-ld).epsilon(rel_tol<S>()).margin(rel_tol<S>()));
    const auto il = flowtmpl::inverse_and_log_det(inv, x);
    CHECK(il.value == b.forward(x));
    CHECK(il.log_det == Approx(ld).epsilon(rel_tol<S>()).margin(rel_tol<S>()));
    // Inverse<Inverse<B>> behaves as B.
    CHECK(inv2.forward(x) == b.forward(x));
    CHECK(inv2.inverse(y) == x);
    CHECK(inv2.log_det(x) == Approx(ld).epsilon(rel_tol<S>()).margin(rel_tol<S>()));
    // Jacobians: J_inverse(y) = J_B(x)^-1.
    const auto j = flowtmpl::jacobian(inv, y);
    const auto jb = flowtmpl::jacobian(b, x);
    CHECK((j * jb - Eigen::Matrix<S, B::dim, B::dim>::Identity()).cwiseAbs().maxCoeff() <= S(100) * rel_tol<S>());
  }
}

}  // namespace

TEMPLATE_TEST_CASE("Inverse<...> passes the conformance kit", "[bijectors][inverse]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  {
    // Inverse<Exp> = log, forward domain (0, inf): the kit's default domain is (0, 3]
    // with a 2% margin at the open end, where log is well conditioned.
    flowtmpl::testing::options<S> opt;
    opt.sweep = cycled_rows<S>(3, {lim::denorm_min(), S(1e-30), lim::min(), S(1), S(1e30), lim::max()});
    const S big = flowtmpl::detail::log_max_v<S> * S(0.99);
    opt.inverse_sweep = cycled_rows<S>(3, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), -big, big, S(-1e30)});
    opt.narrow_sweep(flowtmpl::direction::inverse, -lim::infinity(), big,
                     "the inverse, exp(y), is above max for y > log(max): not representable");
    run_kit(flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Exp>, 3, S>(), opt, "Inverse<Exp>");
  }
  {
    // Inverse<Sigmoid> (a logit), on (0.01, 0.99) in float and (1e-4, 1 - 1e-4) in double:
    // see logit_test.cpp for why.
    flowtmpl::testing::options<S> opt;
    opt.lo = sizeof(S) == 4 ? S(0.01) : S(1e-4);
    opt.hi = S(1) - opt.lo;
    opt.sweep = cycled_rows<S>(8, {lim::denorm_min(), S(0.5), std::nextafter(S(1), S(0)), S(1e-30)});
    // The inverse's log-det is ~ -|y| per component: one +-max per row at most.
    opt.inverse_sweep = cycled_rows<S>(8, {S(0), S(1e30), S(-1e30), S(-3), S(2), S(1e-30), S(-1), S(0.5)});
    opt.inverse_sweep.push_back({lim::max(), S(0), S(1), S(2), S(3), S(4), S(5), S(6)});
    opt.inverse_sweep.push_back({S(0), S(1), S(2), S(3), S(4), S(5), S(6), lim::lowest()});
    run_kit(flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Sigmoid>, 8, S>(), opt, "Inverse<Sigmoid>");
  }
  {
    // Inverse<Tanh> (atanh) on (-1, 1): y = atanh(x) is well conditioned on [-0.95, 0.95]
    // (the round trip tanh(atanh(x)) loses nothing; the finite differences see a slope
    // of at most 1 / (1 - 0.95^2) = 10).
    flowtmpl::testing::options<S> opt;
    opt.lo = S(-0.95);
    opt.hi = S(0.95);
    opt.sweep = cycled_rows<S>(3, {S(0), std::nextafter(S(1), S(0)), std::nextafter(S(-1), S(0)), S(1e-30)});
    opt.inverse_sweep = cycled_rows<S>(3, {S(0), S(1e30), S(-1e30), S(-3)});
    run_kit(flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Tanh>, 3, S>(), opt, "Inverse<Tanh>");
  }
  {
    flowtmpl::testing::options<S> opt;
    opt.sweep = cycled_rows<S>(8, {S(0), S(1e30), S(-1e30), lim::denorm_min(), S(1)});
    opt.inverse_sweep = opt.sweep;
    run_kit(flowtmpl::invert(random_affine<8, S>(5)), opt, "invert(Affine)");
    run_kit(flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Random<3>>>, 8, S>(), opt,
            "Inverse<Permute<Random<3>>>");
  }
  {
    // A dense inverse, in D = 3 (lu_conv_test.cpp runs LUConv itself in D = 8; the kit on a
    // dense 8 x 8 inverse costs much compile time and checks nothing new here).
    flowtmpl::testing::options<S> opt;
    opt.sweep = cycled_rows<S>(3, {S(0), S(1e30), S(-1e30), lim::denorm_min(), S(1)});
    opt.inverse_sweep = opt.sweep;
    run_kit(flowtmpl::invert(random_lu<3, S>(6)), opt, "invert(LUConv)");
  }
}

TEMPLATE_TEST_CASE("Inverse<B>'s forward, inverse and log-det are B's, swapped", "[bijectors][inverse]", float,
                   double) {
  using S = TestType;
  using V3 = Eigen::Matrix<S, 3, 1>;
  check_identities(flowtmpl::bind_t<flowtmpl::Exp, 3, S>(),
                   {V3(S(1), S(2), S(0.5)), V3(S(1e-3), S(40), S(3)), V3(S(0.25), S(0.125), S(8))});
  check_identities(flowtmpl::bind_t<flowtmpl::Sigmoid, 3, S>(),
                   {V3(S(0.5), S(0.25), S(0.875)), V3(S(0.01), S(0.99), S(0.3))});
  check_identities(flowtmpl::bind_t<flowtmpl::Tanh, 3, S>(), {V3(S(0), S(-0.5), S(0.9))});
  check_identities(flowtmpl::bind_t<flowtmpl::LeakyReLU, 3, S>(S(0.2)), {V3(S(1), S(-1), S(-0.5))});
  check_identities(random_affine<3, S>(11), {V3(S(1), S(-1), S(-0.5)), V3(S(0), S(10), S(-7))});
  check_identities(random_lu<3, S>(12), {V3(S(1), S(-1), S(-0.5)), V3(S(0), S(10), S(-7))});
  check_identities(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Indices<2, 0, 1>>, 3, S>(), {V3(S(1), S(-1), S(-0.5))});
}

TEMPLATE_TEST_CASE("Inverse's closed-form values: Inverse<Exp> is log, Inverse<Sigmoid> is logit",
                   "[bijectors][inverse]", float, double) {
  using S = TestType;
  const flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Exp>, 2, S> log_layer;
  const Eigen::Matrix<S, 2, 1> y(S(std::exp(1.0)), S(0.5));
  const Eigen::Matrix<S, 2, 1> x = log_layer.forward(y);
  CHECK(x[0] == Approx(1.0).epsilon(rel_tol<S>()));
  CHECK(x[1] == Approx(-std::log(2.0)).epsilon(rel_tol<S>()));
  // d log y / dy = 1 / y: log-det -(1 + log 0.5) = -1 + log 2.
  CHECK(log_layer.log_det(y) == Approx(-1.0 + std::log(2.0)).epsilon(rel_tol<S>()));
  const flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Sigmoid>, 1, S> logit_layer;
  const Eigen::Matrix<S, 1, 1> q(S(0.75));
  CHECK(logit_layer.forward(q)[0] == Approx(std::log(3.0)).epsilon(rel_tol<S>()));
  // |d logit/dy| = 1 / (y (1 - y)) = 16/3.
  CHECK(logit_layer.log_det(q) == Approx(std::log(16.0 / 3.0)).epsilon(rel_tol<S>()));
}

TEMPLATE_TEST_CASE("Inverse's compile-time properties", "[bijectors][inverse]", float, double) {
  using S = TestType;
  using IE = flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Exp>, 3, S>;
  STATIC_REQUIRE(std::is_same_v<IE, flowtmpl::InverseBijector<flowtmpl::ExpBijector<3, S>>>);
  // A bound bijector can be inverted by the spec too.
  STATIC_REQUIRE(std::is_same_v<flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::ExpBijector<3, S>>, 3, S>, IE>);
  STATIC_REQUIRE(std::is_same_v<typename IE::structure, flowtmpl::structure::diagonal>);
  STATIC_REQUIRE(IE::log_det_kind == flowtmpl::log_det_kind::input_dependent);
  STATIC_REQUIRE(std::is_trivially_copyable_v<IE>);
  // Domains swap.
  STATIC_REQUIRE(IE::forward_domain().lo == S(0));
  STATIC_REQUIRE(IE::forward_domain().hi == std::numeric_limits<S>::infinity());
  STATIC_REQUIRE(IE::inverse_domain().lo == -std::numeric_limits<S>::infinity());
  using IA = flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Affine>, 4, S>;
  STATIC_REQUIRE(IA::log_det_kind == flowtmpl::log_det_kind::constant);
  STATIC_REQUIRE(flowtmpl::parameter_count_v<IA> == 8);
  using IP = flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Reverse>>, 4, S>;
  STATIC_REQUIRE(std::is_same_v<typename IP::structure, flowtmpl::structure::permutation>);
  STATIC_REQUIRE(IP::log_det_kind == flowtmpl::log_det_kind::zero);
  // Inverse<Inverse<Spec>> binds to the double inverse.
  using IIE = flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Inverse<flowtmpl::Exp>>, 3, S>;
  STATIC_REQUIRE(std::is_same_v<IIE, flowtmpl::InverseBijector<IE>>);
  // Dimensions that the inner spec rejects are rejected.
  STATIC_REQUIRE(flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Indices<1, 0>>>::accepts_dim<2>);
  STATIC_REQUIRE_FALSE(flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Indices<1, 0>>>::accepts_dim<3>);

  // Constant log-det: minus the inner one.
  const IA a{random_affine<4, S>(3)};
  CHECK(a.constant_log_det() == -a.base.constant_log_det());
  double sum = 0;
  for (auto v : a.base.log_scale) sum += double(v);
  CHECK(double(a.constant_log_det()) == Approx(-sum).margin(64 * double(rel_tol<S>())));
  // prepare() gives the inverse of the prepared layer, computing the same function.
  const auto p = a.prepare();
  const Eigen::Matrix<S, 4, 1> y(S(1), S(-2), S(0.5), S(3));
  CHECK((p.forward(y) - a.forward(y)).cwiseAbs().maxCoeff() <= S(100) * rel_tol<S>());
  CHECK(p.log_det(y) == Approx(a.log_det(y)).epsilon(rel_tol<S>()).margin(rel_tol<S>()));
}

TEMPLATE_TEST_CASE("Inverse's validate() and checked mode pass through to the inner layer", "[bijectors][inverse]",
                   float, double) {
  using S = TestType;
  // validate() is the inner layer's.
  flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::LeakyReLU>, 2, S> leaky;
  CHECK(leaky.validate() == nullptr);
  leaky.base.negative_slope = S(0);
  CHECK(leaky.validate() != nullptr);
  CHECK(flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Exp>, 2, S>().validate() == nullptr);

  // Inverse<Exp>'s forward is log: checked mode rejects x <= 0, naming the inverse layer.
  const flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::Exp>, 2, S> log_layer;
  Eigen::Matrix<S, 2, Eigen::Dynamic> x(2, 3);
  x << S(1), S(2), S(3), S(4), S(-0.5), S(6);
  const auto e = domain_error_from([&] { (void)flowtmpl::forward(log_layer, x, flowtmpl::checked); });
  REQUIRE(e.has_value());
  CHECK(e->sample == 1);
  CHECK(e->component == 1);
  CHECK(e->value == -0.5);
  CHECK_THAT(e->layer, Catch::Contains("Inverse<Exp>"));
  CHECK_THAT(std::string(e->what()), Catch::Contains("Inverse<Exp>") && Catch::Contains("sample 1") &&
                                         Catch::Contains("component 1") && Catch::Contains("-0.5"));
  // Unchecked: -inf / NaN in that component.
  const auto u = flowtmpl::forward(log_layer, x);
  CHECK(std::isnan(u(1, 1)));
  CHECK(std::isfinite(u(0, 1)));
  // The inverse direction (exp) takes every finite value.
  CHECK_NOTHROW(flowtmpl::inverse(log_layer, x, flowtmpl::checked));

  // An invalid inner layer is reported through the inverse.
  Eigen::Matrix<S, 2, Eigen::Dynamic> z = Eigen::Matrix<S, 2, Eigen::Dynamic>::Ones(2, 2);
  const auto ev = domain_error_from([&] { (void)flowtmpl::forward(leaky, z, flowtmpl::checked); });
  REQUIRE(ev.has_value());
  CHECK(ev->component == -1);
  CHECK_THAT(ev->layer, Catch::Contains("Inverse<LeakyReLU>"));
}

}  // namespace inverse_test
