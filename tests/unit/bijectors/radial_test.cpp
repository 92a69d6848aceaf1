// Tests of flowtmpl/bijectors/radial.hpp: f(z) = z + beta h(r) (z - z0), r = |z - z0|,
// h = 1 / (alpha + r), alpha = softplus(raw_alpha), beta = -alpha + softplus(raw_beta);
// the inverse in closed form (the non-negative root of a quadratic in r).
#include <flowtmpl/bijectors/radial.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/random.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace radial_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::rel_tol;

template <int D, class S>
using RadialB = flowtmpl::bind_t<flowtmpl::Radial, D, S>;

using ld = long double;

enum class setting {
  identity,      // default-constructed: alpha = log 2, beta = 0
  moderate,      // z0 ~ N(0, 1), raw_alpha ~ N(0, 1/4), raw_beta ~ N(0, 1)
  expanding,     // raw_beta = 3: beta > 0, points pushed away from z0
  near_minus,    // raw_beta = -15: beta = -alpha + 3e-7, nearly collapsing onto z0
  large_alpha,   // raw_alpha = 1e3: alpha = 1e3, beta = -1e3 + softplus(raw_beta)
  small_alpha,   // raw_alpha = -8: alpha = 3e-4, a sharp change near z0
};
const char* setting_name(setting k) {
  switch (k) {
    case setting::identity: return "identity";
    case setting::moderate: return "moderate";
    case setting::expanding: return "expanding";
    case setting::near_minus: return "near_minus";
    case setting::large_alpha: return "large_alpha";
    case setting::small_alpha: return "small_alpha";
  }
  return "?";
}
constexpr setting all_settings[] = {setting::identity,  setting::moderate,    setting::expanding,
                                    setting::near_minus, setting::large_alpha, setting::small_alpha};

template <int D, class S>
RadialB<D, S> make_radial(setting k, std::uint64_t seed) {
  RadialB<D, S> p;
  if (k == setting::identity) return p;
  flowtmpl::philox_stream rng(seed, 23);
  for (auto& v : p.z0) v = rng.normal<S>();
  p.raw_alpha = {S(0.5) * rng.normal<S>()};
  p.raw_beta = {rng.normal<S>()};
  switch (k) {
    case setting::expanding: p.raw_beta = {S(3)}; break;
    case setting::near_minus: p.raw_beta = {S(-15)}; break;
    case setting::large_alpha: p.raw_alpha = {S(1e3)}; break;
    case setting::small_alpha: p.raw_alpha = {S(-8)}; break;
    default: break;
  }
  return p;
}

// The layer in long double, from the raw parameters and the paper's formulas.
template <int D, class S>
struct reference {
  ld z0[D], alpha, beta, s;  // s = alpha + beta = softplus(raw_beta)
  explicit reference(const RadialB<D, S>& p) {
    for (int i = 0; i < D; ++i) z0[i] = p.z0[i];
    alpha = std::log1p(std::exp(ld(p.raw_alpha[0])));
    s = std::log1p(std::exp(ld(p.raw_beta[0])));
    beta = -alpha + s;
  }
  ld radius(const ld* z) const {
    ld s = 0;
    for (int i = 0; i < D; ++i) s += (z[i] - z0[i]) * (z[i] - z0[i]);
    return std::sqrt(s);
  }
  void forward(const ld* z, ld* y) const {
    const ld r = radius(z), h = 1 / (alpha + r);
    for (int i = 0; i < D; ++i) y[i] = z[i] + beta * h * (z[i] - z0[i]);
  }
  ld log_det(const ld* z) const {
    const ld r = radius(z), h = 1 / (alpha + r), hp = -1 / ((alpha + r) * (alpha + r));
    return (D - 1) * std::log(1 + beta * h) + std::log(1 + beta * h + beta * hp * r);
  }
  // the radius r with r (1 + beta / (alpha + r)) = ry, by bisection (r <= ry + |beta|);
  // 1 + beta / (alpha + r) taken as (s + r) / (alpha + r), which does not cancel near
  // beta = -alpha even in long double
  ld solve(ld ry) const {
    ld lo = 0, hi = ry + std::abs(beta) + 1;
    for (int it = 0; it < 20000; ++it) {
      const ld mid = lo + (hi - lo) / 2;
      if (mid <= lo || mid >= hi) break;
      if (mid * ((s + mid) / (alpha + mid)) < ry)
        lo = mid;
      else
        hi = mid;
    }
    return lo + (hi - lo) / 2;
  }
};

template <class S>
std::vector<S> extreme_values() {
  using lim = std::numeric_limits<S>;
  return {S(0), S(-0.0), S(1e-30), S(-1e-30), lim::denorm_min(), -lim::denorm_min(), lim::min(),
          S(1e30), S(-1e30), S(1), S(-3e4)};
}

template <int D, class S>
void check_radial_conformance(setting k, std::uint64_t seed) {
  const auto p = make_radial<D, S>(k, seed);
  flowtmpl::testing::options<S> opt;
  opt.seed = seed;
  opt.sweep = cycled_rows<S>(D, extreme_values<S>());
  opt.inverse_sweep = opt.sweep;
  // z0 itself (r = 0) and a point very close to it
  std::vector<S> at_z0(p.z0.begin(), p.z0.end()), near_z0 = at_z0;
  near_z0[0] += S(1e-20);
  opt.sweep.push_back(at_z0);
  opt.sweep.push_back(near_z0);
  opt.inverse_sweep.push_back(at_z0);
  opt.inverse_sweep.push_back(near_z0);
  // The inverse divides by rho(r) = (s + r) / (alpha + r), as small as s / alpha at z0
  // (3e-7 / alpha near -alpha, 1e-3 with alpha = 1e3): the round trip cannot beat
  // eps / rho there (conditioning, not the formula). The tolerance grows by alpha / s,
  // at most 1e3 (the kit's points are rarely closer than 0.1 to z0).
  const S alpha = p.alpha(), s = alpha + p.beta();
  opt.round_trip_tol *= std::min(S(1e3), std::max(S(1), alpha / s));
  const auto r = flowtmpl::testing::check_bijector(p, opt);
  INFO("Radial D = " << D << ", " << setting_name(k) << ", seed " << seed << ", alpha " << double(p.alpha())
                     << ", beta " << double(p.beta()) << "\n"
                     << r.text());
  CHECK(r.ok());
}

template <int D, class S>
void check_radial_conformance_all() {
  for (setting k : all_settings)
    for (std::uint64_t seed : {1u, 2u, 3u}) check_radial_conformance<D, S>(k, seed);
}

}  // namespace

TEMPLATE_TEST_CASE("Radial passes the conformance kit", "[bijectors][radial]", float, double) {
  check_radial_conformance_all<1, TestType>();
  check_radial_conformance_all<2, TestType>();
  check_radial_conformance_all<5, TestType>();
}

TEMPLATE_TEST_CASE("Radial's values, log-det and Jacobian against the formula in long double",
                   "[bijectors][radial]", float, double) {
  using S = TestType;
  const S tol = sizeof(S) == 4 ? S(2e-6) : S(4e-15);
  // D = 2: a contraction (beta < 0) and an expansion (beta > 0)
  for (const auto& params : {std::array<S, 4>{S(0.5), S(-1.25), S(0.3), S(-1.1)},
                             std::array<S, 4>{S(-2), S(0.75), S(-0.4), S(2.5)}}) {
    RadialB<2, S> p;
    p.z0 = {params[0], params[1]};
    p.raw_alpha = {params[2]};
    p.raw_beta = {params[3]};
    const reference<2, S> ref(p);
    INFO("z0 = (" << p.z0[0] << ", " << p.z0[1] << "), raw_alpha " << p.raw_alpha[0] << ", raw_beta " << p.raw_beta[0]);
    CHECK(p.alpha() == Approx(double(ref.alpha)).epsilon(tol));
    CHECK(p.beta() == Approx(double(ref.beta)).epsilon(tol));
    for (const auto& zz : {std::array<ld, 2>{0.3L, -0.8L}, std::array<ld, 2>{-2.5L, 1.75L},
                           std::array<ld, 2>{40.0L, 0.01L}}) {
      const Eigen::Matrix<S, 2, 1> z(static_cast<S>(zz[0]), static_cast<S>(zz[1]));
      const ld zl[2] = {ld(z[0]), ld(z[1])};
      ld y[2];
      ref.forward(zl, y);
      const auto f = p.forward_and_log_det(z);
      for (int i = 0; i < 2; ++i) CHECK(f.value[i] == Approx(double(y[i])).epsilon(tol).margin(tol));
      CHECK(f.log_det == Approx(double(ref.log_det(zl))).epsilon(tol).margin(tol));
      CHECK(p.log_det(z) == f.log_det);
      CHECK(p.forward(z) == f.value);
      // J = (1 + beta h) I + beta h'(r) (z - z0)(z - z0)^T / r
      const ld r = ref.radius(zl), h = 1 / (ref.alpha + r), hp = -1 / ((ref.alpha + r) * (ref.alpha + r));
      const auto j = p.jacobian(z);
      for (int a = 0; a < 2; ++a)
        for (int c = 0; c < 2; ++c) {
          const ld e = (a == c ? 1 + ref.beta * h : 0) + ref.beta * hp * (zl[a] - ref.z0[a]) * (zl[c] - ref.z0[c]) / r;
          CHECK(j(a, c) == Approx(double(e)).epsilon(tol).margin(tol));
        }
      CHECK(std::log(std::abs(j.determinant())) == Approx(double(f.log_det)).epsilon(50 * tol).margin(50 * tol));
      const Eigen::Matrix<S, 2, 1> ys(static_cast<S>(y[0]), static_cast<S>(y[1]));
      const auto inv = flowtmpl::inverse_and_log_det(p, ys);
      for (int i = 0; i < 2; ++i) CHECK(inv.value[i] == Approx(double(zl[i])).epsilon(10 * tol).margin(10 * tol));
      CHECK(inv.log_det == Approx(double(-ref.log_det(zl))).epsilon(10 * tol).margin(10 * tol));
    }
  }
  // D = 1 by hand: z0 = 0, raw_alpha = log(e - 1) gives alpha = softplus(raw_alpha) = 1,
  // raw_beta = log(e^3 - 1) gives softplus(raw_beta) = 3, beta = 2. At z = 1: r = 1,
  // h = 1/2, y = 1 + 2 * 1/2 = 2; log-det = log(1 + beta h + beta h' r) = log(1 + 1 - 1/2)
  // = log(3/2). At z = -3: y = -3 - 2 * 3 / 4 = -4.5, log-det log(1 + 1/2 - 6/16) = log(9/8).
  RadialB<1, S> p;
  p.raw_alpha = {S(std::log(std::expm1(1.0)))};
  p.raw_beta = {S(std::log(std::expm1(3.0)))};
  CHECK(p.alpha() == Approx(1.0).epsilon(tol));
  CHECK(p.beta() == Approx(2.0).epsilon(tol));
  const auto f1 = p.forward_and_log_det(Eigen::Matrix<S, 1, 1>(S(1)));
  CHECK(f1.value[0] == Approx(2.0).epsilon(tol));
  CHECK(f1.log_det == Approx(std::log(1.5)).epsilon(tol));
  const auto f2 = p.forward_and_log_det(Eigen::Matrix<S, 1, 1>(S(-3)));
  CHECK(f2.value[0] == Approx(-4.5).epsilon(tol));
  CHECK(f2.log_det == Approx(std::log(9.0 / 8)).epsilon(tol));
  CHECK(p.inverse(Eigen::Matrix<S, 1, 1>(S(-4.5)))[0] == Approx(-3.0).epsilon(tol));
}

TEMPLATE_TEST_CASE("Radial at z0 and beta >= -alpha for any raw parameters", "[bijectors][radial]", float, double) {
  using S = TestType;
  constexpr int D = 3;
  using V = Eigen::Matrix<S, D, 1>;
  for (S ra : {S(-30), S(-2), S(0), S(1.5), S(50)}) {
    for (S rb : {S(-40), S(-15), S(-1), S(0), S(2), S(60)}) {
      RadialB<D, S> p;
      p.z0 = {S(0.25), S(-1.5), S(3)};
      p.raw_alpha = {ra};
      p.raw_beta = {rb};
      INFO("raw_alpha " << ra << ", raw_beta " << rb);
      const S alpha = p.alpha(), beta = p.beta();
      CHECK(alpha > S(0));
      CHECK(beta >= -alpha);
      // f(z0) = z0 and f^-1(z0) = z0 exactly; the log-det there is D log(1 + beta / alpha)
      // = D (log softplus(raw_beta) - log softplus(raw_alpha)), computed here in long double
      const V z0(p.z0[0], p.z0[1], p.z0[2]);
      const auto f = p.forward_and_log_det(z0);
      CHECK(f.value == z0);
      const auto i = p.inverse_and_log_det(z0);
      CHECK(i.value == z0);
      const ld expect = D * (std::log(std::log1p(std::exp(ld(rb)))) - std::log(std::log1p(std::exp(ld(ra)))));
      CHECK(f.log_det == Approx(double(expect)).epsilon(rel_tol<S>()).margin(rel_tol<S>()));
      CHECK(i.log_det == -f.log_det);
      // the Jacobian at z0 is (1 + beta / alpha) I
      const auto j = p.jacobian(z0);
      CHECK(j(0, 0) == Approx(double(std::exp(expect / D))).epsilon(4 * rel_tol<S>()));
      CHECK(j(0, 1) == S(0));
      // everywhere 1 + beta h > 0: a finite log-det near z0 and far away
      for (S d : {S(1e-30), S(1e-6), S(1), S(1e6)}) {
        const V z = z0 + V::Constant(d);
        CHECK(std::isfinite(p.log_det(z)));
        CHECK(p.forward(z).allFinite());
      }
    }
  }
}

TEST_CASE("Radial's inverse: the closed form is accurate, round trip within 1e-12", "[bijectors][radial]") {
  using S = double;
  constexpr int D = 3;
  const double eps = std::numeric_limits<double>::epsilon();
  int points = 0;
  for (setting k : {setting::moderate, setting::expanding, setting::large_alpha, setting::small_alpha,
                    setting::near_minus}) {
    for (std::uint64_t seed : {7u, 8u, 9u}) {
      const auto p = make_radial<D, S>(k, seed);
      const auto prep = p.prepare();
      const reference<D, S> ref(p);
      flowtmpl::philox_stream rng(seed, 99);
      double worst = 0;
      int checked = 0;
      for (double scale : {1e-6, 1e-3, 1.0, 3.0, 1e2, 1e4, 1e6}) {
        for (int n = 0; n < 150; ++n, ++points) {
          Eigen::Matrix<S, D, 1> z;
          for (int i = 0; i < D; ++i) z[i] = p.z0[i] + scale * rng.normal<S>();
          const auto y = p.forward(z);
          const auto zr = p.inverse(y);
          // (1) the round trip relative to max(1, |z|), where 1 / rho (the size of the
          // inverse's Jacobian) is at most 10
          ld zl[D];
          for (int i = 0; i < D; ++i) zl[i] = z[i];
          const ld r = ref.radius(zl);
          const ld rho = (ref.s + r) / (ref.alpha + r);
          const double err = (zr - z).cwiseAbs().maxCoeff() / std::max(1.0, z.cwiseAbs().maxCoeff());
          if (1 / rho <= 10) {
            INFO(setting_name(k) << " seed " << seed << " z = " << z.transpose() << ", inverse(forward(z)) = "
                                 << zr.transpose());
            CHECK(err <= 1e-12);
            worst = std::max(worst, err);
            ++checked;
          }
          // (2) the radius from the quadratic against a long double bisection of
          // r rho(r) = r_y, with r_y the layer's own |y - z0|: a few ulps of r, plus the
          // rounding of B = s - r_y (eps max(s, r_y)) times |dr/dB| = r / sqrt(B^2 + 4 alpha r_y)
          const Eigen::Matrix<S, D, 1> dy = y - prep.z0;
          const S ry = prep.radius(dy);
          if (ry > 0) {
            const S rr = prep.solve_radius(ry);
            const ld rref = ref.solve(ld(ry));
            const ld sb = ref.s, bq = sb - ld(ry);
            const ld disc = std::sqrt(bq * bq + 4 * ref.alpha * ld(ry));
            const ld bound = 8 * eps * rref * (1 + std::max(ld(ry), sb) / disc);
            INFO(setting_name(k) << " seed " << seed << " r_y = " << ry << ": r " << rr << ", reference "
                                 << double(rref) << ", bound " << double(bound));
            CHECK(std::abs(ld(rr) - rref) <= bound);
          }
        }
      }
      INFO(setting_name(k) << " seed " << seed << ": worst round trip " << worst << ", checked at " << checked
                           << " of 1050 points");
      CHECK(worst <= 1e-12);
      CHECK(checked >= 300);  // the conditioning filter leaves most points in
    }
  }
  CHECK(points == 5 * 3 * 7 * 150);
}

TEMPLATE_TEST_CASE("Radial stays finite over extreme inputs and extreme parameters", "[bijectors][radial]", float,
                   double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  constexpr int D = 3;
  std::vector<RadialB<D, S>> layers;
  for (setting k : all_settings) layers.push_back(make_radial<D, S>(k, 21));
  auto with = [](S ra, S rb, S z0) {
    RadialB<D, S> p;
    p.z0 = {z0, -z0, S(0.5)};
    p.raw_alpha = {ra};
    p.raw_beta = {rb};
    return p;
  };
  layers.push_back(with(S(0), S(-1000), S(1)));      // softplus(raw_beta) underflows: beta = -alpha in floating point
  layers.push_back(with(S(-1000), S(0), S(1)));      // alpha underflows to 0
  layers.push_back(with(S(-1000), S(-1000), S(1)));  // both
  layers.push_back(with(S(1e6), S(0), S(-2)));       // alpha = 1e6
  layers.push_back(with(S(0), S(1e6), S(-2)));       // beta = 1e6
  layers.push_back(with(S(1e30), S(1e30), S(0)));    // alpha, s = 1e30
  layers.push_back(with(S(0.3), S(-0.2), S(1e30)));  // z0 far out
  std::vector<std::vector<S>> inputs = cycled_rows<S>(D, extreme_values<S>());
  inputs.push_back({S(1e30), S(-1e30), S(1e30)});
  inputs.push_back({S(1), S(-1), S(0.5)});  // z0 of the layers from with(..., 1)
  inputs.push_back({S(1) + S(1e-6), S(-1), S(0.5)});
  inputs.push_back({S(1e30), S(-1e30), S(0.5)});
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& p = layers[l];
    CHECK(p.validate() == nullptr);
    for (const auto& in : inputs) {
      const Eigen::Matrix<S, D, 1> x(in[0], in[1], in[2]);
      INFO("layer " << l << " (raw_alpha " << p.raw_alpha[0] << ", raw_beta " << p.raw_beta[0] << ") at "
                    << x.transpose());
      const auto f = flowtmpl::forward_and_log_det(p, x);
      CHECK(f.value.allFinite());
      CHECK(std::isfinite(f.log_det));
      const auto i = flowtmpl::inverse_and_log_det(p, x);
      CHECK(i.value.allFinite());
      CHECK(std::isfinite(i.log_det));
      CHECK(!p.jacobian(x).hasNaN());
    }
  }
  // |z - z0| beyond the largest number: the output is z itself (the limit), not NaN
  RadialB<2, S> far;
  const Eigen::Matrix<S, 2, 1> big(lim::max(), lim::max());
  CHECK(far.forward(big) == big);
  CHECK(far.inverse(big) == big);
  CHECK(std::isfinite(far.log_det(big)));
}

TEMPLATE_TEST_CASE("Radial propagates NaN and reports invalid parameters", "[bijectors][radial]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  constexpr int D = 3;
  for (setting k : {setting::moderate, setting::near_minus, setting::large_alpha}) {
    const auto p = make_radial<D, S>(k, 31);
    for (int c = 0; c < D; ++c) {
      Eigen::Matrix<S, D, 1> x(S(0.3), S(-1), S(2));
      x[c] = lim::quiet_NaN();
      INFO(setting_name(k) << ", NaN in component " << c);
      const auto f = p.forward_and_log_det(x);
      CHECK(f.value.array().isNaN().all());  // r is NaN, so every output is
      CHECK(std::isnan(f.log_det));
      const auto i = p.inverse_and_log_det(x);
      CHECK(i.value.array().isNaN().all());
      CHECK(std::isnan(i.log_det));
    }
  }
  auto bad = make_radial<D, S>(setting::moderate, 31);
  bad.z0[2] = lim::infinity();
  CHECK(bad.validate() != nullptr);
  bad = make_radial<D, S>(setting::moderate, 31);
  bad.raw_beta[0] = lim::quiet_NaN();
  CHECK(bad.validate() != nullptr);
}

TEMPLATE_TEST_CASE("Radial's defaults, parameters and batch path", "[bijectors][radial]", float, double) {
  using S = TestType;
  constexpr int D = 4;
  using V = Eigen::Matrix<S, D, 1>;
  const RadialB<D, S> id;
  CHECK(id.beta() == S(0));
  const V x(S(0.5), S(-2), S(3), S(1e-3));
  CHECK((id.forward(x) - x).cwiseAbs().maxCoeff() <= S(4) * std::numeric_limits<S>::epsilon() * S(3));
  CHECK(id.log_det(x) == Approx(0.0).margin(rel_tol<S>()));
  STATIC_REQUIRE(flowtmpl::parameter_count_v<RadialB<D, S>> == D + 2);
  std::vector<std::string> names;
  flowtmpl::for_each_parameter(id, [&](const std::string& name, auto*, std::size_t size) {
    names.push_back(name + ":" + std::to_string(size));
  });
  CHECK(names == std::vector<std::string>{"z0:4", "raw_alpha:1", "raw_beta:1"});
  STATIC_REQUIRE(std::is_trivially_copyable_v<RadialB<D, S>>);
  STATIC_REQUIRE(std::is_same_v<typename RadialB<D, S>::structure, flowtmpl::structure::dense>);
  STATIC_REQUIRE(RadialB<D, S>::log_det_kind == flowtmpl::log_det_kind::input_dependent);
  STATIC_REQUIRE(flowtmpl::has_jacobian_v<RadialB<D, S>>);
  const auto p = make_radial<D, S>(setting::moderate, 41);
  Eigen::Matrix<S, D, Eigen::Dynamic> xs(D, 6);
  flowtmpl::philox_stream rng(41, 1);
  for (int j = 0; j < 5; ++j)
    for (int i = 0; i < D; ++i) xs(i, j) = rng.normal<S>();
  for (int i = 0; i < D; ++i) xs(i, 5) = p.z0[i];
  const auto fb = flowtmpl::forward_and_log_det(p, xs);
  const auto ib = flowtmpl::inverse_and_log_det(p, xs);
  for (int j = 0; j < 6; ++j) {
    const V xj = xs.col(j);
    const auto f = p.forward_and_log_det(xj);
    CHECK(fb.values.col(j) == f.value);
    CHECK(fb.log_det[j] == f.log_det);
    const auto i = p.inverse_and_log_det(xj);
    CHECK(ib.values.col(j) == i.value);
    CHECK(ib.log_det[j] == i.log_det);
  }
}

}  // namespace radial_test
