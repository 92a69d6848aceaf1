// Tests of flowtmpl/bijectors/planar.hpp: f(z) = z + u_hat tanh(w^T z + b) with
// u_hat = u + (m(w^T u) - w^T u) w / |w|^2, m(a) = -1 + softplus(a); the inverse by a
// bracketed Newton solve of alpha + w^T u_hat tanh(alpha + b) = w^T y. Also the chain
// Planar, Radial, Planar through the conformance kit.
#include <flowtmpl/bijectors/planar.hpp>
#include <flowtmpl/bijectors/radial.hpp>
#include <flowtmpl/chain.hpp>
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

namespace planar_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::rel_tol;

template <int D, class S>
using PlanarB = flowtmpl::bind_t<flowtmpl::Planar, D, S>;

using ld = long double;

// The parameter settings the tests run, each from random draws (seeded).
enum class setting {
  identity,       // default-constructed
  moderate,       // u, w ~ N(0, 1), b ~ N(0, 1/4)
  steep,          // |w| four times larger: a sharper tanh
  binding,        // w^T u = -20: u_hat is corrected, w^T u_hat = -1 + 2e-9
  very_negative,  // w^T u = -1e4: w^T u_hat = -1 in floating point (softplus(-1e4) underflows)
  large_u,        // u = L (w + N(0, 1/4)), L = 1e4 (double) or 1e2 (float): |u_hat| ~ L, mostly along w
  degenerate,     // w = 0: a translation by u tanh(b)
};
const char* setting_name(setting k) {
  switch (k) {
    case setting::identity: return "identity";
    case setting::moderate: return "moderate";
    case setting::steep: return "steep";
    case setting::binding: return "binding";
    case setting::very_negative: return "very_negative";
    case setting::large_u: return "large_u";
    case setting::degenerate: return "degenerate";
  }
  return "?";
}
constexpr setting all_settings[] = {setting::identity,      setting::moderate, setting::steep,     setting::binding,
                                    setting::very_negative, setting::large_u,  setting::degenerate};

// Sets w^T u to `target` by moving u along w (in long double).
template <int D, class S>
void set_w_dot_u(PlanarB<D, S>& p, ld target) {
  ld a = 0, n2 = 0;
  for (int i = 0; i < D; ++i) {
    a += ld(p.w[i]) * ld(p.u[i]);
    n2 += ld(p.w[i]) * ld(p.w[i]);
  }
  for (int i = 0; i < D; ++i) p.u[i] = S(ld(p.u[i]) - (a - target) / n2 * ld(p.w[i]));
}

template <int D, class S>
PlanarB<D, S> make_planar(setting k, std::uint64_t seed) {
  PlanarB<D, S> p;
  if (k == setting::identity) return p;
  flowtmpl::philox_stream rng(seed, 17);
  for (int i = 0; i < D; ++i) {
    p.u[i] = rng.normal<S>();
    p.w[i] = rng.normal<S>();
  }
  p.b[0] = S(0.5) * rng.normal<S>();
  switch (k) {
    case setting::steep:
      for (auto& v : p.w) v *= S(4);
      break;
    case setting::binding: set_w_dot_u<D, S>(p, -20); break;
    case setting::very_negative: set_w_dot_u<D, S>(p, -1e4); break;
    case setting::large_u:
      for (int i = 0; i < D; ++i) p.u[i] = (sizeof(S) == 4 ? S(1e2) : S(1e4)) * (p.w[i] + S(0.5) * p.u[i]);
      break;
    case setting::degenerate: p.w = {}; break;
    default: break;
  }
  return p;
}

template <class P>
typename P::scalar_type max_abs_uhat(const P& p) {
  return p.uhat().cwiseAbs().maxCoeff();
}

// Extreme inputs: every one has a finite image and preimage for the settings above.
template <class S>
std::vector<S> extreme_values() {
  using lim = std::numeric_limits<S>;
  return {S(0), S(-0.0), S(1e-30), S(-1e-30), lim::denorm_min(), -lim::denorm_min(), lim::min(),
          S(1e30), S(-1e30), S(1), S(-3e4)};
}

template <int D, class S>
void check_planar_conformance(setting k, std::uint64_t seed) {
  auto p = make_planar<D, S>(k, seed);
  flowtmpl::testing::options<S> opt;
  opt.seed = seed;
  // The round trip cannot beat the rounding of y = z + u_hat t, about eps |u_hat|, nor
  // can central differences of f beat eps |u_hat| / step: with a large u_hat the
  // tolerances grow with it (conditioning, not the layer). For the settings here this
  // changes the double tolerances not at all and the float ones by at most 2x.
  const S eps = std::numeric_limits<S>::epsilon();
  const S big = max_abs_uhat(p);
  opt.round_trip_tol = std::max(opt.round_trip_tol, S(64) * eps * big);
  opt.log_det_tol = std::max(opt.log_det_tol, S(8) * eps * big / opt.fd_step);
  opt.jacobian_tol = std::max(opt.jacobian_tol, S(8) * eps * big / opt.fd_step);
  // Where w^T u_hat is near -1 the map is nearly singular on the hyperplane
  // w^T z + b = 0: g' = tanh^2 + softplus(w^T u) tanh' is as small as 2e-9 (binding) or
  // 0 in floating point (very_negative), and no inverse recovers z there beyond
  // eps / g' (nor do finite differences give its log-det). The kit's fixed tolerances
  // hold where g' >= tanh(0.3)^2, so for these settings it samples [-1.5, 1.5]^D with b
  // moved so that that hyperplane stays 0.3 away in tau (u_hat does not depend on b).
  // The near-singular region is covered below: the y-side round trip, finiteness at
  // the hyperplane and the long double log-det next to it.
  if (k == setting::binding || k == setting::very_negative) {
    S w1(0);
    for (S v : p.w) w1 += std::abs(v);
    p.b[0] = (seed % 2 ? S(1) : S(-1)) * (S(1.5) * w1 + S(0.3));
    opt.lo = S(-1.5);
    opt.hi = S(1.5);
  }
  opt.sweep = cycled_rows<S>(D, extreme_values<S>());
  opt.inverse_sweep = opt.sweep;
  opt.extra_points.push_back(std::vector<S>(std::size_t(D), S(0)));
  const auto r = flowtmpl::testing::check_bijector(p, opt);
  INFO("Planar D = " << D << ", " << setting_name(k) << ", seed " << seed << ", |u_hat| "
                     << double(max_abs_uhat(p)) << "\n"
                     << r.text());
  CHECK(r.ok());
}

template <int D, class S>
void check_planar_conformance_all() {
  for (setting k : all_settings)
    for (std::uint64_t seed : {1u, 2u, 3u}) check_planar_conformance<D, S>(k, seed);
}

// Long double reference of the layer's formulas, computed here from the raw parameters.
template <int D, class S>
struct reference {
  ld u[D], w[D], b, uhat[D], m;
  explicit reference(const PlanarB<D, S>& p) {
    ld a = 0, n2 = 0;
    for (int i = 0; i < D; ++i) {
      u[i] = p.u[i];
      w[i] = p.w[i];
      a += u[i] * w[i];
      n2 += w[i] * w[i];
    }
    b = p.b[0];
    const ld ma = -1 + std::log1p(std::exp(a));  // m(a) = -1 + softplus(a)
    m = 0;
    for (int i = 0; i < D; ++i) {
      uhat[i] = n2 == 0 ? u[i] : u[i] + (ma - a) * w[i] / n2;  // w = 0: u_hat = u
      m += w[i] * uhat[i];
    }
  }
  ld tau(const ld* z) const {
    ld s = b;
    for (int i = 0; i < D; ++i) s += w[i] * z[i];
    return s;
  }
  void forward(const ld* z, ld* y) const {
    const ld t = std::tanh(tau(z));
    for (int i = 0; i < D; ++i) y[i] = z[i] + uhat[i] * t;
  }
  ld log_det(const ld* z) const {
    const ld t = std::tanh(tau(z));
    return std::log(std::abs(1 + m * (1 - t * t)));
  }
  // the root of alpha + m tanh(alpha + b) = c, by bisection in long double
  ld solve(ld c, ld mm) const {
    ld lo = c - std::abs(mm) - 1, hi = c + std::abs(mm) + 1;
    for (int it = 0; it < 20000 && lo < hi; ++it) {
      const ld mid = lo + (hi - lo) / 2;
      if (mid <= lo || mid >= hi) break;
      if (mid + mm * std::tanh(mid + b) - c < 0)
        lo = mid;
      else
        hi = mid;
    }
    return lo + (hi - lo) / 2;
  }
};

}  // namespace

TEMPLATE_TEST_CASE("Planar passes the conformance kit", "[bijectors][planar]", float, double) {
  check_planar_conformance_all<1, TestType>();
  check_planar_conformance_all<2, TestType>();
  check_planar_conformance_all<5, TestType>();
}

TEMPLATE_TEST_CASE("Planar's values, log-det and Jacobian against the formula in long double",
                   "[bijectors][planar]", float, double) {
  using S = TestType;
  const S tol = sizeof(S) == 4 ? S(2e-6) : S(4e-15);
  // D = 2: w^T u = -0.89 (no correction needed, but m(a) != a still moves u_hat), and
  // w^T u = -3.5 (the constraint binds: w^T u_hat = -1 + softplus(-3.5))
  for (const auto& params : {std::array<S, 5>{S(0.7), S(-1.3), S(0.4), S(0.9), S(-0.25)},
                             std::array<S, 5>{S(2), S(1), S(-1), S(-1.5), S(0.6)}}) {
    PlanarB<2, S> p;
    p.u = {params[0], params[1]};
    p.w = {params[2], params[3]};
    p.b = {params[4]};
    const reference<2, S> ref(p);
    INFO("u = (" << p.u[0] << ", " << p.u[1] << "), w = (" << p.w[0] << ", " << p.w[1] << "), b = " << p.b[0]);
    // u_hat and w^T u_hat
    const auto uh = p.uhat();
    for (int i = 0; i < 2; ++i) CHECK(uh[i] == Approx(double(ref.uhat[i])).epsilon(tol));
    CHECK(p.w_dot_uhat() == Approx(double(ref.m)).epsilon(tol));
    for (const auto& zz : {std::array<ld, 2>{0.3L, -0.8L}, std::array<ld, 2>{-2.5L, 1.75L}, std::array<ld, 2>{0, 0}}) {
      const Eigen::Matrix<S, 2, 1> z(static_cast<S>(zz[0]), static_cast<S>(zz[1]));
      const ld zl[2] = {ld(z[0]), ld(z[1])};
      ld y[2];
      ref.forward(zl, y);
      const auto f = p.forward_and_log_det(z);
      for (int i = 0; i < 2; ++i) CHECK(f.value[i] == Approx(double(y[i])).epsilon(tol).margin(tol));
      CHECK(f.log_det == Approx(double(ref.log_det(zl))).epsilon(tol).margin(tol));
      CHECK(p.log_det(z) == f.log_det);
      CHECK(p.forward(z) == f.value);
      // J = I + u_hat (1 - tanh^2) w^T
      const ld t = std::tanh(ref.tau(zl));
      const auto j = p.jacobian(z);
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c)
          CHECK(j(r, c) ==
                Approx(double((r == c ? 1 : 0) + ref.uhat[r] * (1 - t * t) * ref.w[c])).epsilon(tol).margin(tol));
      CHECK(std::log(std::abs(j.determinant())) == Approx(double(f.log_det)).epsilon(50 * tol).margin(50 * tol));
      // inverse of the reference's y
      const Eigen::Matrix<S, 2, 1> ys(static_cast<S>(y[0]), static_cast<S>(y[1]));
      const auto inv = flowtmpl::inverse_and_log_det(p, ys);
      for (int i = 0; i < 2; ++i) CHECK(inv.value[i] == Approx(double(zl[i])).epsilon(10 * tol).margin(10 * tol));
      CHECK(inv.log_det == Approx(double(-ref.log_det(zl))).epsilon(10 * tol).margin(10 * tol));
    }
  }
  // D = 1, a value worked out by hand: u = 1, w = 1, b = 0 gives a = 1,
  // m(1) = log(1 + e) - 1, u_hat = 1 + (m(1) - 1) = log(1 + e) - 1 = w^T u_hat, and
  // f(z) = z + u_hat tanh(z), log-det log(1 + u_hat (1 - tanh(z)^2)).
  PlanarB<1, S> p;
  p.u = {S(1)};
  p.w = {S(1)};
  const ld uh = std::log1p(std::exp(1.0L)) - 1;
  CHECK(p.uhat()[0] == Approx(double(uh)).epsilon(tol));
  const ld z = 0.5L, t = std::tanh(z);
  const Eigen::Matrix<S, 1, 1> zv(S(0.5));
  CHECK(p.forward(zv)[0] == Approx(double(z + uh * t)).epsilon(tol));
  CHECK(p.log_det(zv) == Approx(double(std::log1p(uh * (1 - t * t)))).epsilon(tol));
}

TEMPLATE_TEST_CASE("Planar's u_hat satisfies w^T u_hat > -1 for raw parameters that violate it",
                   "[bijectors][planar]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  for (std::uint64_t seed : {4u, 5u, 6u}) {
    for (ld target : {-1e30L, -1e6L, -50.0L, -5.0L, -1.0L, -0.5L, 0.0L, 0.5413L, 3.0L, 1e6L}) {
      auto p = make_planar<3, S>(setting::moderate, seed);
      set_w_dot_u<3, S>(p, target);
      INFO("w^T u = " << double(target) << ", seed " << seed);
      const S m = p.w_dot_uhat();
      const auto uh = p.uhat();
      // the layer's own w^T u_hat: > -1, and -1 only where 1 + m rounds to 0 (then the
      // layer uses softplus(w^T u) itself)
      CHECK(m >= S(-1));
      if (target > -30) CHECK(m > S(-1));
      // m(a) = -1 + softplus(a), with a the actual w^T u, in long double
      ld a = 0, dot = 0, n2 = 0, un = 0;
      for (int i = 0; i < 3; ++i) {
        a += ld(p.w[i]) * ld(p.u[i]);
        dot += ld(p.w[i]) * ld(uh[i]);
        n2 += ld(p.w[i]) * ld(p.w[i]);
        un += std::abs(ld(uh[i]));
      }
      const ld ma = a > 40 ? a - 1 : -1 + std::log1p(std::exp(a));
      CHECK(double(m) == Approx(double(ma)).epsilon(4 * lim::epsilon()).margin(4 * lim::epsilon()));
      // u_hat itself: its w^T u_hat, recomputed here from the rounded u_hat, is -1 or
      // more up to the rounding of u_hat (|w| |u_hat| eps)
      CHECK(dot >= -1 - 8 * ld(lim::epsilon()) * std::sqrt(n2) * un);
      CHECK(double(dot) == Approx(double(ma)).margin(double(8 * ld(lim::epsilon()) * std::sqrt(n2) * un + 1e-30L)));
      // and the map is invertible there: the log-det is finite along the line where
      // tanh' is largest (w^T z + b = 0), the worst point
      Eigen::Matrix<S, 3, 1> z;
      for (int i = 0; i < 3; ++i) z[i] = S(-ld(p.b[0]) * ld(p.w[i]) / n2);
      CHECK(std::isfinite(p.log_det(z)));
    }
  }
}

TEMPLATE_TEST_CASE("Planar's log-det next to the singular hyperplane against long double", "[bijectors][planar]",
                   float, double) {
  // With w^T u = a << 0, 1 + w^T u_hat tanh'(tau) = tanh(tau)^2 + softplus(a) tanh'(tau)
  // is tiny near tau = 0; 1 + m tanh' in S would lose it all (m = -1 to rounding). The
  // reference takes the same sum in long double, whose range holds softplus(-1e4) =
  // 1e-4343; b = 0 so that tau = w^T z is computed to a few ulps at every size.
  using S = TestType;
  constexpr int D = 3;
  const ld tol = sizeof(S) == 4 ? 4e-6L : 1e-13L;
  for (ld target : {-5.0L, -20.0L, -1e4L}) {
    auto p = make_planar<D, S>(setting::moderate, 61);
    p.b = {S(0)};
    set_w_dot_u<D, S>(p, target);
    ld a = 0, n2 = 0;
    for (int i = 0; i < D; ++i) {
      a += ld(p.w[i]) * ld(p.u[i]);
      n2 += ld(p.w[i]) * ld(p.w[i]);
    }
    const ld sp = std::log1p(std::exp(a));
    for (ld tau : {0.0L, 1e-30L, 1e-20L, 1e-12L, 1e-8L, 1e-5L, 1e-3L, 0.1L, 1.0L, 10.0L, 40.0L}) {
      Eigen::Matrix<S, D, 1> z;
      for (int i = 0; i < D; ++i) z[i] = S(tau * ld(p.w[i]) / n2);
      ld t = 0;
      for (int i = 0; i < D; ++i) t += ld(p.w[i]) * ld(z[i]);
      t = std::tanh(t);
      const ld expect = std::log(t * t + sp * (1 - t * t));
      const S got = p.log_det(z);
      INFO("w^T u = " << double(a) << ", tau = " << double(tau) << ": log-det " << got << ", long double "
                      << double(expect));
      CHECK(std::abs(ld(got) - expect) <= tol * std::max(1.0L, std::abs(expect)));
      // the inverse recovers tau (and so the log-det) only where g' is not tiny
      if (tau >= 0.1L)
        CHECK(flowtmpl::inverse_log_det(p, p.forward(z)) ==
              Approx(-double(expect)).epsilon(1e3 * double(tol)).margin(1e3 * double(tol)));
    }
  }
}

TEST_CASE("Planar's inverse: the root solve is accurate, and the round trip within 1e-12", "[bijectors][planar]") {
  using S = double;
  constexpr int D = 3;
  const double eps = std::numeric_limits<double>::epsilon();
  int points = 0;
  for (setting k : {setting::moderate, setting::steep, setting::binding, setting::degenerate}) {
    for (std::uint64_t seed : {7u, 8u, 9u}) {
      const auto p = make_planar<D, S>(k, seed);
      const auto prep = p.prepare();
      const reference<D, S> ref(p);
      flowtmpl::philox_stream rng(seed, 99);
      double worst_rt = 0, worst_solve = 0;
      int checked = 0;
      for (double scale : {1e-6, 1e-3, 1.0, 3.0, 1e2, 1e4, 1e6}) {
        for (int n = 0; n < 150; ++n, ++points) {
          Eigen::Matrix<S, D, 1> z;
          for (int i = 0; i < D; ++i) z[i] = scale * rng.normal<S>();
          const auto y = p.forward(z);
          const auto zr = p.inverse(y);
          // (1) the round trip, relative to max(1, |z|), at points where f^-1 is
          // well-conditioned: |J^-1| <= 1 + |u_hat| |w| tanh' / g' is at most 10
          ld zl[D];
          for (int i = 0; i < D; ++i) zl[i] = z[i];
          const ld t = std::tanh(ref.tau(zl));
          ld nu = 0, nw = 0;
          for (int i = 0; i < D; ++i) {
            nu += ref.uhat[i] * ref.uhat[i];
            nw += ref.w[i] * ref.w[i];
          }
          const ld cond = 1 + std::sqrt(nu * nw) * (1 - t * t) / (1 + ref.m * (1 - t * t));
          const double err = (zr - z).cwiseAbs().maxCoeff() / std::max(1.0, z.cwiseAbs().maxCoeff());
          if (cond <= 10) {
            INFO(setting_name(k) << " seed " << seed << " z = " << z.transpose() << ", inverse(forward(z)) = "
                                 << zr.transpose() << ", |J^-1| " << double(cond));
            CHECK(err <= 1e-12);
            worst_rt = std::max(worst_rt, err);
            ++checked;
          }
          // (2) the scalar solve on its own, against a long double bisection of the same
          // equation (the layer's m, b and c = w^T y): within a few ulps of alpha plus the
          // documented noise term eps (|alpha - c| + 3 |m|) / g'
          const S c = prep.w_dot(y);
          const S alpha = prep.solve(c);
          const ld aref = ref.solve(ld(c), ld(prep.m));
          const ld tr = std::tanh(aref + ref.b);
          const ld g = 1 + ld(prep.m) * (1 - tr * tr);
          const ld bound = 4 * eps * (std::abs(aref) + (std::abs(aref - c) + 3 * std::abs(ld(prep.m))) / g) + 1e-300L;
          INFO(setting_name(k) << " seed " << seed << " c = " << c << ": alpha " << alpha << ", reference "
                               << double(aref) << ", bound " << double(bound));
          CHECK(std::abs(ld(alpha) - aref) <= bound);
          worst_solve = std::max(worst_solve, double(std::abs(ld(alpha) - aref) / (std::abs(aref) + 1e-300L)));
        }
      }
      INFO(setting_name(k) << " seed " << seed << ": worst round trip " << worst_rt << ", worst relative solve error "
                           << worst_solve << ", round trip checked at " << checked << " of 1050 points");
      CHECK(worst_rt <= 1e-12);
      CHECK(checked >= 300);  // the conditioning filter leaves most points in
    }
  }
  CHECK(points == 4 * 3 * 7 * 150);
}

TEMPLATE_TEST_CASE("Planar's y-side round trip forward(inverse(y)) and its solve at near-singular points",
                   "[bijectors][planar]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  constexpr int D = 2;
  for (setting k : {setting::moderate, setting::binding, setting::very_negative, setting::large_u}) {
    const auto p = make_planar<D, S>(k, 11);
    const S scale = std::max(S(1), max_abs_uhat(p));
    // forward(x) is accurate to eps |J| |x| with |J| <= 1 + |u_hat| |w|: the rounding of
    // x = inverse(y) is amplified that much (z itself is not recoverable near the
    // singular hyperplane, but y is)
    const Eigen::Map<const Eigen::Matrix<S, D, 1>> w(p.w.data());
    const S tol = S(16) * lim::epsilon() * (1 + p.uhat().norm() * w.norm());
    flowtmpl::philox_stream rng(11, 5);
    for (int n = 0; n < 300; ++n) {
      Eigen::Matrix<S, D, 1> y;
      for (int i = 0; i < D; ++i) y[i] = S(3) * scale * rng.normal<S>();
      const auto x = p.inverse(y);
      REQUIRE(x.allFinite());
      const auto y2 = p.forward(x);
      INFO(setting_name(k) << " y = " << y.transpose() << ", forward(inverse(y)) = " << y2.transpose());
      CHECK((y2 - y).cwiseAbs().maxCoeff() <= tol * std::max(S(1), y.cwiseAbs().maxCoeff()));
    }
    // the most singular point: w^T z + b = 0, where g' = 1 + w^T u_hat is smallest
    const Eigen::Matrix<S, D, 1> z0 = -p.b[0] * w / w.squaredNorm();
    const auto fl = p.forward_and_log_det(z0);
    const auto il = flowtmpl::inverse_and_log_det(p, fl.value);
    INFO(setting_name(k) << " at the singular line: log-det " << fl.log_det << ", inverse log-det " << il.log_det);
    CHECK(std::isfinite(fl.log_det));
    CHECK(il.value.allFinite());
    CHECK(std::isfinite(il.log_det));
    // forward(inverse(y)) there is y to rounding even where z itself cannot be recovered
    const auto y3 = p.forward(il.value);
    CHECK((y3 - fl.value).cwiseAbs().maxCoeff() <= tol * std::max(S(1), fl.value.cwiseAbs().maxCoeff()));
  }
}

TEMPLATE_TEST_CASE("Planar stays finite over extreme inputs and extreme parameters", "[bijectors][planar]", float,
                   double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  constexpr int D = 3;
  std::vector<PlanarB<D, S>> layers;
  for (setting k : all_settings) layers.push_back(make_planar<D, S>(k, 21));
  {
    PlanarB<D, S> p;  // w tiny but normal: u_hat ~ 1 / |w|, huge
    p.u = {S(1), S(2), S(-1)};
    p.w = {lim::min() * S(4), S(0), -lim::min()};
    p.b = {S(0.1)};
    layers.push_back(p);
  }
  {
    PlanarB<D, S> p;  // w subnormal: counts as w = 0
    p.u = {S(1), S(2), S(-1)};
    p.w = {lim::denorm_min(), S(0), S(0)};
    p.b = {S(0.3)};
    layers.push_back(p);
  }
  {
    PlanarB<D, S> p;  // |w| huge: w^T z overflows in plain partial sums for |z| ~ 1e30
    p.u = {S(1), S(-2), S(0.5)};
    p.w = {lim::max() / S(8), lim::max() / S(8), S(1)};
    p.b = {S(-0.2)};
    layers.push_back(p);
  }
  {
    PlanarB<D, S> p;  // w^T u beyond the largest number: clamped, validate() says so
    p.u = {lim::max() / S(2), lim::max() / S(2), S(0)};
    p.w = {S(4), S(4), S(1)};
    layers.push_back(p);
  }
  {
    PlanarB<D, S> p;  // b huge
    p.u = {S(0.3), S(-0.2), S(1)};
    p.w = {S(1), S(2), S(-1)};
    p.b = {S(1e30)};
    layers.push_back(p);
  }
  const auto rows = cycled_rows<S>(D, extreme_values<S>());
  std::vector<std::vector<S>> inputs = rows;
  inputs.push_back({S(1e30), S(-1e30), S(1e30)});
  inputs.push_back({S(1e30), S(1e30), S(-1e30)});
  inputs.push_back({S(1e30), S(-1e30), S(0)});
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& p = layers[l];
    for (const auto& in : inputs) {
      const Eigen::Matrix<S, D, 1> x(in[0], in[1], in[2]);
      INFO("layer " << l << " at " << x.transpose());
      const auto f = flowtmpl::forward_and_log_det(p, x);
      CHECK(!f.value.hasNaN());
      CHECK(std::isfinite(f.log_det));
      const auto i = flowtmpl::inverse_and_log_det(p, x);
      CHECK(!i.value.hasNaN());
      CHECK(std::isfinite(i.log_det));
      if (l != layers.size() - 2) {  // all but the clamped layer: the values are finite too
        CHECK(f.value.allFinite());
        CHECK(i.value.allFinite());
      }
      CHECK(!p.jacobian(x).hasNaN());
    }
  }
  CHECK(layers[layers.size() - 2].validate() != nullptr);
  CHECK(layers[1].validate() == nullptr);
}

TEMPLATE_TEST_CASE("Planar propagates NaN", "[bijectors][planar]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  constexpr int D = 3;
  for (setting k : {setting::moderate, setting::binding, setting::large_u}) {
    const auto p = make_planar<D, S>(k, 31);
    for (int c = 0; c < D; ++c) {
      Eigen::Matrix<S, D, 1> x(S(0.3), S(-1), S(2));
      x[c] = lim::quiet_NaN();
      INFO(setting_name(k) << ", NaN in component " << c);
      const auto f = p.forward_and_log_det(x);
      CHECK(f.value.array().isNaN().all());  // w^T z is NaN, so every output is
      CHECK(std::isnan(f.log_det));
      const auto i = p.inverse_and_log_det(x);
      CHECK(i.value.array().isNaN().all());
      CHECK(std::isnan(i.log_det));
    }
  }
  // w = 0: the translation keeps a NaN in its own component
  const auto d = make_planar<D, S>(setting::degenerate, 31);
  Eigen::Matrix<S, D, 1> x(S(0.3), lim::quiet_NaN(), S(2));
  const auto y = d.forward(x);
  CHECK(std::isfinite(y[0]));
  CHECK(std::isnan(y[1]));
  CHECK(std::isnan(d.inverse(x)[1]));
  // invalid parameters are reported
  auto bad = make_planar<D, S>(setting::moderate, 31);
  bad.w[1] = lim::quiet_NaN();
  CHECK(bad.validate() != nullptr);
  bad = make_planar<D, S>(setting::moderate, 31);
  bad.b[0] = lim::infinity();
  CHECK(bad.validate() != nullptr);
}

TEMPLATE_TEST_CASE("Planar's defaults, w = 0, parameters and batch path", "[bijectors][planar]", float, double) {
  using S = TestType;
  constexpr int D = 4;
  using V = Eigen::Matrix<S, D, 1>;
  const PlanarB<D, S> id;
  const V x(S(0.5), S(-2), S(3), S(1e-3));
  CHECK(id.forward(x) == x);
  CHECK(id.inverse(x) == x);
  CHECK(id.log_det(x) == S(0));
  // u = 0 with w != 0 is not the identity: u_hat = (log 2 - 1) w / |w|^2
  PlanarB<D, S> u0;
  u0.w = {S(2), S(0), S(0), S(0)};
  CHECK(u0.uhat()[0] == Approx((std::log(2.0) - 1) / 2).epsilon(rel_tol<S>()));
  CHECK(u0.forward(x) != x);
  // w = 0: f(z) = z + u tanh(b), log-det 0, exactly
  PlanarB<D, S> t;
  t.u = {S(1), S(-2), S(0.5), S(4)};
  t.b = {S(0.7)};
  const V shift = Eigen::Map<const V>(t.u.data()) * std::tanh(S(0.7));
  CHECK((t.forward(x) - (x + shift)).cwiseAbs().maxCoeff() <= S(4) * std::numeric_limits<S>::epsilon() * S(4));
  CHECK(t.log_det(x) == S(0));
  CHECK(flowtmpl::inverse_log_det(t, x) == S(0));
  CHECK((t.inverse(t.forward(x)) - x).cwiseAbs().maxCoeff() <= S(8) * std::numeric_limits<S>::epsilon());
  // parameters: u[D], w[D], b[1], by name
  STATIC_REQUIRE(flowtmpl::parameter_count_v<PlanarB<D, S>> == 2 * D + 1);
  std::vector<std::string> names;
  flowtmpl::for_each_parameter(t, [&](const std::string& name, auto*, std::size_t size) {
    names.push_back(name + ":" + std::to_string(size));
  });
  CHECK(names == std::vector<std::string>{"u:4", "w:4", "b:1"});
  STATIC_REQUIRE(std::is_trivially_copyable_v<PlanarB<D, S>>);
  STATIC_REQUIRE(std::is_same_v<typename PlanarB<D, S>::structure, flowtmpl::structure::dense>);
  STATIC_REQUIRE(PlanarB<D, S>::log_det_kind == flowtmpl::log_det_kind::input_dependent);
  STATIC_REQUIRE(flowtmpl::has_jacobian_v<PlanarB<D, S>>);
  // the batch path (prepared once) gives the per-sample values
  const auto p = make_planar<D, S>(setting::binding, 41);
  Eigen::Matrix<S, D, Eigen::Dynamic> xs(D, 5);
  flowtmpl::philox_stream rng(41, 1);
  for (int j = 0; j < 5; ++j)
    for (int i = 0; i < D; ++i) xs(i, j) = rng.normal<S>();
  const auto fb = flowtmpl::forward_and_log_det(p, xs);
  const auto ib = flowtmpl::inverse_and_log_det(p, xs);
  for (int j = 0; j < 5; ++j) {
    const V xj = xs.col(j);
    const auto f = p.forward_and_log_det(xj);
    CHECK(fb.values.col(j) == f.value);
    CHECK(fb.log_det[j] == f.log_det);
    const auto i = p.inverse_and_log_det(xj);
    CHECK(ib.values.col(j) == i.value);
    CHECK(ib.log_det[j] == i.log_det);
  }
}

TEMPLATE_TEST_CASE("compose<Planar, Radial, Planar> passes the conformance kit", "[bijectors][planar][radial]", float,
                   double) {
  // Parameters where every layer is well-conditioned (w^T u > 0, so g' >= 1; beta > 0, so
  // rho >= 1): a chain of near-singular layers is near-singular as a whole, and the kit's
  // fixed float tolerances would then measure its conditioning, not the code.
  using S = TestType;
  using Flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Planar, flowtmpl::Radial, flowtmpl::Planar>, 3, S>;
  STATIC_REQUIRE(std::is_same_v<typename Flow::structure, flowtmpl::structure::dense>);
  STATIC_REQUIRE(flowtmpl::parameter_count_v<Flow> == 7 + 5 + 7);
  for (std::uint64_t seed : {51u, 52u, 53u}) {
    Flow flow;
    auto& first = flow.template get<0>();
    auto& last = flow.template get<2>();
    first = make_planar<3, S>(setting::moderate, seed);
    last = make_planar<3, S>(setting::steep, seed + 100);
    set_w_dot_u<3, S>(first, 0.5L);
    set_w_dot_u<3, S>(last, 2.0L);
    auto& r = flow.template get<1>();
    flowtmpl::philox_stream rng(seed, 3);
    for (auto& v : r.z0) v = rng.normal<S>();
    r.raw_alpha = {S(0.5) * rng.normal<S>()};
    r.raw_beta = {r.raw_alpha[0] + std::abs(rng.normal<S>())};
    REQUIRE(r.beta() > S(0));
    flowtmpl::testing::options<S> opt;
    opt.seed = seed;
    opt.sweep = cycled_rows<S>(3, extreme_values<S>());
    opt.inverse_sweep = opt.sweep;
    const auto rep = flowtmpl::testing::check_bijector(flow, opt);
    INFO("seed " << seed << "\n" << rep.text());
    CHECK(rep.ok());
    // the chain's prepared form is the chain of the layers' prepared forms
    const auto prepared = flowtmpl::prepare(flow);
    STATIC_REQUIRE(std::is_same_v<std::remove_cvref_t<decltype(prepared.template get<0>())>,
                                  flowtmpl::detail::prepared_planar<3, S>>);
    STATIC_REQUIRE(std::is_same_v<std::remove_cvref_t<decltype(prepared.template get<1>())>,
                                  flowtmpl::detail::prepared_radial<3, S>>);
  }
}

}  // namespace planar_test
