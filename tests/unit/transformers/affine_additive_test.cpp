// Tests of flowtmpl/transformers/affine.hpp (BoundedAffine, its learnable-bound form,
// SoftplusAffine) and flowtmpl/transformers/additive.hpp (Additive).
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/affine.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <type_traits>

namespace affine_additive_test {

namespace {
namespace ft = flowtmpl;
template <class S>
S eps() {
  return std::numeric_limits<S>::epsilon();
}
}  // namespace

TEMPLATE_TEST_CASE("affine transformers satisfy the Transformer concept", "[transformers][affine]", float, double) {
  using S = TestType;
  STATIC_REQUIRE(ft::TransformerSpec<ft::BoundedAffine<>>);
  STATIC_REQUIRE(ft::TransformerSpec<ft::BoundedAffine<3.0, ft::affine_bound::learnable>>);
  STATIC_REQUIRE(ft::TransformerSpec<ft::SoftplusAffine>);
  STATIC_REQUIRE(ft::TransformerSpec<ft::Additive>);
  STATIC_REQUIRE(ft::TransformerSpec<ft::Affine>);
  // the spec Affine, as a transformer, is BoundedAffine<3.0>
  STATIC_REQUIRE(std::is_same_v<ft::Affine::transformer<3, S>, ft::BoundedAffine<3.0>::transformer<3, S>>);
  STATIC_REQUIRE(ft::BoundedAffine<>::transformer<2, S>::params_per_feature == 2);
  STATIC_REQUIRE(ft::SoftplusAffine::transformer<2, S>::params_per_feature == 2);
  STATIC_REQUIRE(ft::Additive::transformer<2, S>::params_per_feature == 1);
}

TEMPLATE_TEST_CASE("BoundedAffine: |log-scale| <= c for any raw value, and finite results", "[transformers][affine]",
                   float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  for (double C : {3.0, 2.0}) {
    auto run = [&](auto t) {
      for (S r : {S(0), S(0.5), S(-2), S(10), S(-10), S(1e30), S(-1e30), lim::max(), lim::lowest()}) {
        const S s = t.log_scale(0, r);
        INFO("C = " << C << ", raw " << r << ", log-scale " << s);
        // mathematically |s| < c; in floating point tanh saturates to 1, so s = c at most
        CHECK(std::abs(s) <= S(C));
        CHECK(std::isfinite(s));
        // small raw values pass almost unchanged: c tanh(r / c) = r - r^3 / (3 c^2) + ...
        if (std::abs(r) <= S(0.5)) CHECK(std::abs(s - r) <= std::abs(r * r * r) / (3 * S(C * C)) + 4 * eps<S>());
        for (S x : {S(0), S(1), S(-1e20), S(1e20)}) {
          const std::array<S, 2> p = {r, S(0.25)};
          S ld, ldi;
          const S y = t.forward(0, x, p.data(), ld);
          const S xi = t.inverse(0, y, p.data(), ldi);
          CHECK(std::isfinite(y));
          CHECK(std::isfinite(xi));
          CHECK(ld == s);
          CHECK(ldi == -s);
          // y = exp(s) x + t
          CHECK(std::abs(y - (std::exp(s) * x + S(0.25))) <= 4 * eps<S>() * std::max(S(1), std::abs(y)));
        }
      }
    };
    if (C == 3.0)
      run(ft::BoundedAffine<3.0>::transformer<1, S>{});
    else
      run(ft::BoundedAffine<2.0>::transformer<1, S>{});
  }
  // huge raw: the scale is exp(+-c) exactly in the limit
  ft::BoundedAffine<3.0>::transformer<1, S> t;
  CHECK(t.log_scale(0, S(1e30)) == S(3));
  CHECK(t.log_scale(0, S(-1e30)) == S(-3));
}

TEMPLATE_TEST_CASE("BoundedAffine<C, affine_bound::learnable>: the bound is exp(log_bound), a trained parameter starting at log C",
                   "[transformers][affine]", float, double) {
  using S = TestType;
  using T = ft::BoundedAffine<3.0, ft::affine_bound::learnable>::transformer<3, S>;
  T t;
  for (int i = 0; i < 3; ++i) {
    CHECK(t.log_bound[i] == Approx(std::log(3.0)).epsilon(4 * eps<S>()));
    CHECK(t.bound(i) == Approx(3.0).epsilon(8 * eps<S>()));
  }
  CHECK(t.validate() == nullptr);
  t.log_bound = {S(std::log(0.5)), S(0), S(std::log(10.0))};
  const S bounds[3] = {S(0.5), S(1), S(10)};
  for (int i = 0; i < 3; ++i) {
    INFO("feature " << i);
    CHECK(t.bound(i) == Approx(double(bounds[i])).epsilon(8 * eps<S>()));
    // huge raw values: the log-scale saturates at the feature's own bound
    CHECK(t.log_scale(i, S(1e30)) == Approx(double(bounds[i])).epsilon(8 * eps<S>()));
    CHECK(t.log_scale(i, S(-1e30)) == Approx(-double(bounds[i])).epsilon(8 * eps<S>()));
    for (S r : {S(-3), S(-0.4), S(0.7), S(2.5)}) {
      const double c = std::exp(double(t.log_bound[i]));
      const double expect = c * std::tanh(double(r) / c);
      CHECK(t.log_scale(i, r) == Approx(expect).epsilon(16 * eps<S>()).margin(16 * eps<S>()));
      const std::array<S, 2> p = {r, S(-1.5)};
      S ld, ldi;
      const S y = t.forward(i, S(2), p.data(), ld);
      CHECK(y == Approx(std::exp(expect) * 2 - 1.5).epsilon(32 * eps<S>()));
      CHECK(ld == Approx(expect).epsilon(16 * eps<S>()).margin(16 * eps<S>()));
      CHECK(t.inverse(i, y, p.data(), ldi) == Approx(2.0).epsilon(64 * eps<S>()));
      CHECK(ldi == -ld);
    }
  }
  // the bound is reported invalid when it is not finite
  t.log_bound[1] = std::numeric_limits<S>::infinity();
  CHECK(t.validate() != nullptr);
  t.log_bound[1] = std::numeric_limits<S>::quiet_NaN();
  CHECK(t.validate() != nullptr);
}

TEMPLATE_TEST_CASE("SoftplusAffine: identity parameters give scale 1; the scale stays >= 1e-3",
                   "[transformers][affine]", float, double) {
  using S = TestType;
  using T = ft::SoftplusAffine::transformer<1, S>;
  std::array<S, 2> p;
  T::identity_parameters(p.data());
  const double tol = sizeof(S) == 4 ? 2 * double(eps<S>()) : 1e-15;
  CHECK(std::abs(double(T::scale(p[0])) - 1.0) <= tol);
  // and the raw value is softplus^-1(1 - 1e-3), computed here from its definition
  CHECK(double(p[0]) == Approx(std::log(std::expm1(1.0 - 1e-3))).epsilon(2 * double(eps<S>())));
  const T t{};
  for (S x : {S(-2), S(0), S(0.3), S(7)}) {
    S ld;
    CHECK(std::abs(t.forward(0, x, p.data(), ld) - x) <= 4 * eps<S>() * std::max(S(1), std::abs(x)));
    CHECK(std::abs(ld) <= 2 * eps<S>());
  }
  // scale = softplus(u) + 1e-3 against the formula, torch's threshold included
  for (double u : {-5.0, -0.5, 0.0, 1.0, 19.0, 21.0, 50.0}) {
    const double expect = (u > 20 ? u : std::log1p(std::exp(u))) + 1e-3;
    CHECK(double(T::scale(S(u))) == Approx(expect).epsilon(4 * double(eps<S>())));
  }
  // huge negative u: scale is 1e-3 (the floor), finite, and the log-det is log 1e-3
  for (S u : {S(-50), S(-1e4), S(-1e30), std::numeric_limits<S>::lowest()}) {
    INFO("u = " << u);
    const S a = T::scale(u);
    CHECK(a >= S(1e-3));
    CHECK(std::isfinite(a));
    const std::array<S, 2> q = {u, S(1)};
    S ld, ldi;
    const S y = t.forward(0, S(3), q.data(), ld);
    CHECK(std::isfinite(y));
    CHECK(ld == Approx(std::log(1e-3)).epsilon(16 * eps<S>()));
    const S x = t.inverse(0, y, q.data(), ldi);
    // (y - t) / a cancels: y = 1.003, t = 1, so the error is eps |y| / a, not eps |x|
    CHECK(std::abs(x - S(3)) <= 4 * eps<S>() * (std::abs(y) + S(1)) / a);
    CHECK(ldi == -ld);
  }
  // huge positive u: the scale is u itself (+1e-3), finite
  const std::array<S, 2> big = {S(1e30), S(0)};
  S ld;
  CHECK(std::isfinite(t.forward(0, S(1), big.data(), ld)));
  CHECK(ld == Approx(std::log(1e30)).epsilon(16 * eps<S>()));
}

TEMPLATE_TEST_CASE("Additive is volume preserving: y = x + t, log-det exactly 0", "[transformers][additive]", float,
                   double) {
  using S = TestType;
  using T = ft::Additive::transformer<4, S>;
  STATIC_REQUIRE(T::volume_preserving);
  STATIC_REQUIRE(!ft::BoundedAffine<>::transformer<4, S>::volume_preserving);
  STATIC_REQUIRE(!ft::SoftplusAffine::transformer<4, S>::volume_preserving);
  S p0;
  T::identity_parameters(&p0);
  CHECK(p0 == S(0));
  const T t{};
  std::mt19937_64 g(3);
  std::normal_distribution<double> n(0, 10);
  for (int i = 0; i < 1000; ++i) {
    const S x = S(n(g)), p = S(n(g));
    S ld = S(1), ldi = S(1);
    const S y = t.forward(i % 4, x, &p, ld);
    CHECK(y == x + p);
    CHECK(ld == S(0));
    CHECK(t.inverse(i % 4, y, &p, ldi) == y - p);
    CHECK(ldi == S(0));
  }
  S ld;
  CHECK(t.forward(0, S(2), &p0, ld) == S(2));
}

}  // namespace affine_additive_test
