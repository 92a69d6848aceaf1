// Tests of the transformers' hand-derived derivatives (derivatives(), own_vjp of the
// learnable bound; flowtmpl/transformers/*.hpp, the spline's formulas in
// detail/rq_spline.hpp) and of detail::transformer_forward_vjp / transformer_inverse_vjp
// (transformers/transformer.hpp):
//   - derivatives' value and log-det are bitwise forward's;
//   - dy/dx, dld/dx and every dy/dp_k, dld/dp_k against Richardson-extrapolated central
//     differences, at random inputs (inside and outside the spline interval, near knots
//     but not on them) and raw parameters (moderate, +-5, at the minimum bin sizes and
//     derivatives, past softplus's threshold);
//   - both vector-Jacobian products against central differences of gy y + gld ld
//     (forward) and gx x + gld ld_inv with x = inverse(y) (inverse), in the input, every
//     parameter and the learnable bound;
//   - on a knot and at the ends, the bin forward takes; the tails; float against double.
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/affine.hpp>
#include <flowtmpl/transformers/sigmoid_affine.hpp>
#include <flowtmpl/transformers/spline.hpp>
#include <flowtmpl/transformers/zuko_affine.hpp>
#include <flowtmpl/transformers/zuko_spline.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>

namespace transformer_grad_test {

namespace {

namespace ft = flowtmpl;

constexpr int features = 3;
constexpr int feature = 1;  // the feature every check uses (the learnable bound's index)

template <class Spec, class S = double>
using bound_t = typename Spec::template transformer<features, S>;

using options_spline = ft::Spline<6, 2.0,
                                  ft::spline_options{.min_bin_width = 1e-2,
                                                     .min_bin_height = 5e-3,
                                                     .min_derivative = 1e-2,
                                                     .identity_init = true}>;
using options_bounded_spline =
    ft::BoundedSpline<3, 0.0, 1.0, ft::spline_options{.min_derivative = 1e-2, .identity_init = true}>;

using interval_spline = ft::IntervalSpline<5, -1.0, 2.0, 0.5, 4.0>;
using nflows_identity_spline =
    ft::Spline<5, 2.5,
               ft::spline_options{.identity_init = true,
                                  .knots = ft::spline_knots::as_torch_cpu,
                                  .end_slopes = ft::spline_end_slopes::as_nflows}>;

using divided_spline = ft::Spline<6, 2.0, ft::spline_options{.width_divisor = 8.0, .height_divisor = 2.5}>;
using divided_interval_spline =
    ft::IntervalSpline<4, 0.0, 1.0, -1.0, 1.0, ft::spline_options{.width_divisor = 3.0, .height_divisor = 0.5}>;

template <class T>
constexpr bool is_spline = requires { T::bins; };
template <class T>
constexpr bool has_tails = requires { T::bound; };
template <class T>
constexpr bool has_own = requires(const T& t, T& g, const double* p) { t.own_vjp(0, 0.0, p, 0.0, 0.0, g); };

template <class S>
bool same_bits(S a, S b) {
  return std::memcmp(&a, &b, sizeof(S)) == 0;
}

// Richardson-extrapolated central differences (Ridders' scheme), in long double: the
// central differences D(h_n) at steps h_n = h0 / 1.4^n, extrapolated in h^2 along a
// Neville tableau; the entry with the smallest error estimate wins, and the tableau
// stops when the extrapolation starts to lose (rounding). f is the transformer
// instantiated for long double: a spline's evaluation noise is a few ulps of its knots
// times dld/dknot (up to ~1e4 in a bin at the minimum width with a steep slope), which
// in double leaves ~1e-11 on ld: more than 1e-6 of the smallest derivatives within
// reach of any step that keeps the knots out of reach. f returns N values at once.
using LD = long double;
template <int N>
struct difference_estimate {
  std::array<double, N> value, error;  // the extrapolated derivative, the tableau's error estimate
};
template <int N, class F>
difference_estimate<N> central_differences(F&& f, double v, double h0) {
  constexpr int steps = 14;
  constexpr LD con = 1.4L, con2 = con * con, safe = 2;
  std::array<LD, N> best{}, err;
  err.fill(std::numeric_limits<LD>::infinity());
  std::array<bool, N> done{};
  LD a[N][steps][steps];
  LD h = h0;
  for (int i = 0; i < steps; ++i, h /= con) {
    const LD hi = LD(v) + h, lo = LD(v) - h;
    const std::array<LD, N> fp = f(hi), fm = f(lo);
    for (int n = 0; n < N; ++n) {
      a[n][0][i] = (fp[n] - fm[n]) / (hi - lo);
      if (i == 0) {
        best[n] = a[n][0][0];
        continue;
      }
      if (done[n]) continue;
      LD fac = con2;
      for (int j = 1; j <= i; ++j, fac *= con2) {
        a[n][j][i] = (a[n][j - 1][i] * fac - a[n][j - 1][i - 1]) / (fac - 1);
        const LD e = std::max(std::abs(a[n][j][i] - a[n][j - 1][i]), std::abs(a[n][j][i] - a[n][j - 1][i - 1]));
        if (e <= err[n]) {
          err[n] = e;
          best[n] = a[n][j][i];
        }
      }
      if (std::abs(a[n][i][i] - a[n][i - 1][i - 1]) >= safe * err[n]) done[n] = true;
    }
    if (std::all_of(done.begin(), done.end(), [](bool b) { return b; })) break;
  }
  difference_estimate<N> r;
  for (int n = 0; n < N; ++n) {
    r.value[n] = double(best[n]);
    r.error[n] = double(err[n]);
  }
  return r;
}
// The first step: 1e-2 of the scale of v, at most `cap` (half the distance to the
// nearest kink of the function: a knot or the threshold of a branch).
double first_step(double v, double cap = std::numeric_limits<double>::infinity()) {
  return std::min(1e-2 * std::max(1.0, std::abs(v)), cap);
}

// Counts the checks and the mismatches; keeps the first few for the report.
struct mismatches {
  int count = 0, checks = 0, widened = 0;
  std::ostringstream text;
  void expect(const std::string& ctx, const char* what, double got, double want, double rel = 1e-6,
              double abs = 1e-8) {
    ++checks;
    if (std::abs(got - want) <= std::max(rel * std::abs(want), abs)) return;  // NaN fails
    if (++count <= 8) text << ctx << what << ": " << got << " vs " << want << " (rel " << (got - want) / want << ")\n";
  }
  // Against central differences: the tolerance widens to twice the tableau's own error
  // estimate where that is larger (a steep bin at the minimum width leaves the
  // extrapolation a few 1e-6 of the smallest derivatives), but only up to
  // `unresolved` of the derivative: a reference that uncertain is a mismatch itself.
  template <int N>
  void expect(const std::string& ctx, const char* what, double got, const difference_estimate<N>& want, int n) {
    constexpr double rel = 1e-6, abs = 1e-8, unresolved = 1e-4;
    const double w = want.value[n], e = 2 * want.error[n];
    if (e > unresolved * std::abs(w) + abs) {
      ++checks;
      if (++count <= 8) text << ctx << what << ": the differences do not resolve " << w << " (error " << e << ")\n";
      return;
    }
    if (e > std::max(rel * std::abs(w), abs)) ++widened;
    expect(ctx, what, got, w, std::max(rel, e / std::abs(w)), std::max(abs, e));
  }
  void expect_bits(const std::string& ctx, const char* what, double got, double want) {
    ++checks;
    if (same_bits(got, want)) return;
    if (++count <= 8) text << ctx << what << ": " << got << " not bitwise " << want << "\n";
  }
};

// Some checks ran, a widened tolerance stayed the exception (1 in 100 at most), none missed.
#define REQUIRE_NO_MISMATCHES(m)              \
  do {                                        \
    INFO((m).text.str());                     \
    CHECK((m).checks > 0);                    \
    CHECK((m).widened * 100 <= (m).checks);   \
    REQUIRE((m).count == 0);                  \
  } while (false)

std::string describe(double v, const double* p, int n) {
  std::ostringstream s;
  s.precision(17);
  s << "at " << v << ", p = (";
  for (int k = 0; k < n; ++k) s << (k ? ", " : "") << p[k];
  s << "): ";
  return s.str();
}

double uniform(std::mt19937_64& g, double a, double b) { return std::uniform_real_distribution<double>(a, b)(g); }
bool coin(std::mt19937_64& g, double prob) { return uniform(g, 0, 1) < prob; }

// Raw parameters. mode 0: U(-1, 1); 1: U(-5, 5); 2: extremes (splines: widths and
// heights at their minimum, derivatives near min_d or past softplus's threshold;
// affine: a raw scale near 0, past the threshold or deep in tanh's saturation).
template <class T>
void draw_parameters(std::mt19937_64& g, int mode, double* p) {
  constexpr int P = T::params_per_feature;
  for (int q = 0; q < P; ++q) p[q] = mode == 0 ? uniform(g, -1, 1) : uniform(g, -5, 5);
  if (mode != 2) return;
  if constexpr (is_spline<T>) {
    constexpr int K = T::bins;
    for (int q = 0; q < 2 * K; ++q) p[q] = coin(g, 0.4) ? uniform(g, -20, -12) : uniform(g, -3, 3);
    for (int q = 2 * K; q < P; ++q)
      p[q] = coin(g, 0.25) ? uniform(g, -9, -7) : (coin(g, 0.2) ? uniform(g, 30.5, 40) : uniform(g, -3, 3));
  } else {
    const int kind = int(g() % 4);
    p[0] = kind == 0 ? uniform(g, -1e-3, 1e-3)
                     : (kind == 1 ? uniform(g, 20.5, 30) : (kind == 2 ? -uniform(g, 20.5, 30) : uniform(g, -40, -30)));
  }
}

// An input of the forward direction (on_y false) or of the inverse (on_y true). For the
// splines: uniform over the interval (and beyond it with tails), near a knot (1e-4 to
// 3e-3 from it, either side), or far in a tail; never closer than 5e-5 to a knot of
// that side, so that no difference step crosses one.
template <class T>
double draw_input(std::mt19937_64& g, const double* p, bool on_y) {
  if constexpr (is_spline<T>) {
    constexpr int K = T::bins;
    ft::detail::rq_knots<double, K> kn;
    T::knots(p, kn);
    const double* kv = on_y ? kn.y : kn.x;
    const double lo = kv[0], hi = kv[K], margin = has_tails<T> ? 1.0 : 0.0;
    for (;;) {
      const int kind = int(g() % 6);
      double v;
      if (kind < 2)
        v = uniform(g, lo - margin, hi + margin);
      else if (kind < 5)
        v = kv[g() % (K + 1)] + (coin(g, 0.5) ? 1 : -1) * std::pow(10.0, uniform(g, -4, -2.5));
      else
        v = has_tails<T> ? (coin(g, 0.5) ? 1 : -1) * uniform(g, hi + 0.5, 100) : uniform(g, lo, hi);
      if (!has_tails<T> && !(v >= lo && v <= hi)) continue;
      double dist = std::numeric_limits<double>::infinity();
      for (int j = 0; j <= K; ++j) dist = std::min(dist, std::abs(v - kv[j]));
      if (dist >= 5e-5) return v;
    }
  } else {
    (void)p;
    (void)on_y;
    return coin(g, 0.15) ? (coin(g, 0.5) ? 1 : -1) * uniform(g, 50, 1000) : uniform(g, -5, 5);
  }
}

// A transformer to test: a learnable bound gets a random log_bound.
template <class T>
T make_transformer(std::mt19937_64& g) {
  T t;
  if constexpr (has_own<T>)
    for (int i = 0; i < features; ++i) t.log_bound[i] = std::log(uniform(g, 0.3, 6.0));
  return t;
}

// The first steps of the differences in v and in each parameter that keep every knot
// of v's side (x: forward, y: inverse) out of reach and stay within the scale of v's
// bin: v moves by at most half its distance from the nearest knot and 1/20 of the bin
// (and x by at most 1/20 of its bin), a knot by at most a quarter of that (its rate of
// change in the parameter measured by a difference of the knots).
template <class T>
struct steps_cap {
  double input = std::numeric_limits<double>::infinity();
  std::array<double, T::params_per_feature> parameter;
};
template <class T>
steps_cap<T> caps(const double* p, double v, bool on_y) {
  constexpr int P = T::params_per_feature;
  steps_cap<T> c;
  c.parameter.fill(std::numeric_limits<double>::infinity());
  if constexpr (is_spline<T>) {
    constexpr int K = T::bins;
    ft::detail::rq_knots<double, K> kn, up, down;
    T::knots(p, kn);
    const auto side = [&](const ft::detail::rq_knots<double, K>& r) { return on_y ? r.y : r.x; };
    const double* kv = side(kn);
    double dist = std::numeric_limits<double>::infinity();
    for (int j = 0; j <= K; ++j) dist = std::min(dist, std::abs(v - kv[j]));
    c.input = dist / 2;
    if (v > kv[0] && v < kv[K]) {
      int k = 0;
      while (k < K - 1 && v >= kv[k + 1]) ++k;
      c.input = std::min(c.input, (kv[k + 1] - kv[k]) / 20);
      // and an x step of at most 1/20 of x's bin and of the length 1/|dld/dx| over
      // which the slope changes by a factor e (a y step: the slope times that)
      double ld, dy[P], dl[P];
      const double x = on_y ? T{}.inverse(feature, v, p, ld) : v;
      const auto d = T{}.derivatives(feature, x, p, dy, dl);
      int kx = 0;
      while (kx < K - 1 && x >= kn.x[kx + 1]) ++kx;
      double x_step = (kn.x[kx + 1] - kn.x[kx]) / 20;
      if (d.dlog_det_dx != 0) x_step = std::min(x_step, 1 / (20 * std::abs(d.dlog_det_dx)));
      c.input = std::min(c.input, on_y ? d.dvalue_dx * x_step : x_step);
    }
    double q[P];
    std::copy(p, p + P, q);
    for (int k = 0; k < P; ++k) {
      const double delta = 1e-3;
      q[k] = p[k] + delta;
      T::knots(q, up);
      q[k] = p[k] - delta;
      T::knots(q, down);
      q[k] = p[k];
      double rate = 0;
      for (int j = 0; j <= K; ++j) rate = std::max(rate, std::abs(side(up)[j] - side(down)[j]) / (2 * delta));
      if (rate > 0) c.parameter[k] = c.input / (4 * rate);
    }
  } else {
    (void)p;
    (void)v;
    (void)on_y;
  }
  // zuko's soft clipping u / (1 + |u / c|) has a kink at u = 0 (its second derivative
  // jumps): no step crosses it
  if constexpr (requires { T::slope; })
    for (int k = 0; k < P; ++k) c.parameter[k] = std::min(c.parameter[k], std::abs(p[k]) / 2);
  return c;
}

// (1) and (2): derivatives() against forward and central differences (of tl, the
// transformer in long double).
template <class T, class TL>
void check_derivatives(const T& t, const TL& tl, const double* p, double x, mismatches& m) {
  constexpr int P = T::params_per_feature;
  double dy[P], dl[P];
  const ft::transformer_derivatives<double> d = t.derivatives(feature, x, p, dy, dl);
  double ld;
  const double y = t.forward(feature, x, p, ld);
  const std::string ctx = describe(x, p, P);
  m.expect_bits(ctx, "value", d.value, y);
  m.expect_bits(ctx, "log_det", d.log_det, ld);
  LD q[P];
  std::copy(p, p + P, q);
  const auto f = [&](LD v) {
    std::array<LD, 2> r;
    r[0] = tl.forward(feature, v, q, r[1]);
    return r;
  };
  const steps_cap<T> cap = caps<T>(p, x, false);
  const auto dx = central_differences<2>(f, x, first_step(x, cap.input));
  m.expect(ctx, "dy/dx", d.dvalue_dx, dx, 0);
  m.expect(ctx, "dld/dx", d.dlog_det_dx, dx, 1);
  for (int k = 0; k < P; ++k) {
    const auto dp = central_differences<2>(
        [&](LD v) {
          q[k] = v;
          const auto r = f(x);
          q[k] = p[k];
          return r;
        },
        p[k], first_step(p[k], cap.parameter[k]));
    const std::string ck = ctx + "[" + std::to_string(k) + "] ";
    m.expect(ck, "dy/dp", dy[k], dp, 0);
    m.expect(ck, "dld/dp", dl[k], dp, 1);
  }
}

// (4): own_vjp of the learnable bound against central differences in log_bound[feature].
template <class T, class TL>
void check_own_vjp(const T& t, const TL& tl, const double* p, double x, double wy, double wld, mismatches& m) {
  T grad = t;
  grad.log_bound.fill(0.0);
  t.own_vjp(feature, x, p, wy, wld, grad);
  LD q[T::params_per_feature];
  std::copy(p, p + T::params_per_feature, q);
  const auto loss = [&](LD lb) {
    TL u = tl;
    u.log_bound[feature] = lb;
    LD l;
    const LD y = u.forward(feature, x, q, l);
    return std::array<LD, 1>{wy * y + wld * l};
  };
  const std::string ctx = describe(x, p, T::params_per_feature);
  const double lb = t.log_bound[feature];
  m.expect(ctx, "own_vjp", grad.log_bound[feature], central_differences<1>(loss, lb, first_step(lb)), 0);
  for (int i = 0; i < features; ++i)
    if (i != feature) m.expect_bits(ctx, "own_vjp, another feature", grad.log_bound[i], 0.0);
}

// (3): transformer_forward_vjp (on_y false, at x) or transformer_inverse_vjp (on_y
// true, at y) against central differences of gy y + gld ld, resp. gx x + gld ld_inv.
template <class T, class TL>
void check_vjp(const T& t, const TL& tl, const double* p, double v, double g_out, double gld, bool on_y,
               mismatches& m) {
  constexpr int P = T::params_per_feature;
  double gp[P];
  for (int k = 0; k < P; ++k) gp[k] = 0.25;  // the products are added to what is there
  T grad = t;
  if constexpr (has_own<T>) grad.log_bound.fill(0.5);
  T* gptr = has_own<T> ? &grad : nullptr;
  const double gin = on_y ? ft::detail::transformer_inverse_vjp(t, feature, v, p, g_out, gld, gp, gptr)
                          : ft::detail::transformer_forward_vjp(t, feature, v, p, g_out, gld, gp, gptr);
  LD q[P];
  std::copy(p, p + P, q);
  const auto loss = [&](const TL& u, LD w) {
    LD l;
    const LD out = on_y ? u.inverse(feature, w, q, l) : u.forward(feature, w, q, l);
    return std::array<LD, 1>{g_out * out + gld * l};
  };
  const std::string ctx = std::string(on_y ? "inverse_vjp " : "forward_vjp ") + describe(v, p, P);
  const steps_cap<T> cap = caps<T>(p, v, on_y);
  m.expect(ctx, "input", gin,
           central_differences<1>([&](LD w) { return loss(tl, w); }, v, first_step(v, cap.input)), 0);
  for (int k = 0; k < P; ++k) {
    const auto fd = central_differences<1>(
        [&](LD w) {
          q[k] = w;
          const auto r = loss(tl, v);
          q[k] = p[k];
          return r;
        },
        p[k], first_step(p[k], cap.parameter[k]));
    m.expect(ctx + "[" + std::to_string(k) + "] ", "parameter", gp[k] - 0.25, fd, 0);
  }
  if constexpr (has_own<T>) {
    const double lb = t.log_bound[feature];
    const auto fd = central_differences<1>(
        [&](LD w) {
          TL u = tl;
          u.log_bound[feature] = w;
          return loss(u, v);
        },
        lb, first_step(lb));
    m.expect(ctx, "log_bound", grad.log_bound[feature] - 0.5, fd, 0);
  }
}

// The transformer in another scalar, with the same own parameters.
template <class S, class Spec>
bound_t<Spec, S> converted(const bound_t<Spec>& t) {
  bound_t<Spec, S> r;
  if constexpr (has_own<bound_t<Spec>>)
    for (int i = 0; i < features; ++i) r.log_bound[i] = S(t.log_bound[i]);
  return r;
}

// Every check at `draws` parameter draws per mode and `inputs` inputs per draw.
template <class Spec>
void check_all(std::uint64_t seed, int draws, int inputs) {
  using T = bound_t<Spec>;
  constexpr int P = T::params_per_feature;
  std::mt19937_64 g(seed);
  mismatches deriv, fwd, inv, own;
  for (int mode = 0; mode < 3; ++mode)
    for (int n = 0; n < draws; ++n) {
      const T t = make_transformer<T>(g);
      const auto tl = converted<LD, Spec>(t);
      double p[P];
      draw_parameters<T>(g, mode, p);
      for (int j = 0; j < inputs; ++j) {
        const double x = draw_input<T>(g, p, false);
        check_derivatives(t, tl, p, x, deriv);
        check_vjp(t, tl, p, x, uniform(g, -2, 2), uniform(g, -2, 2), false, fwd);
        const double y = draw_input<T>(g, p, true);
        check_vjp(t, tl, p, y, uniform(g, -2, 2), uniform(g, -2, 2), true, inv);
        if constexpr (has_own<T>) check_own_vjp(t, tl, p, x, uniform(g, -2, 2), uniform(g, -2, 2), own);
      }
    }
  {
    INFO("derivatives()");
    REQUIRE_NO_MISMATCHES(deriv);
  }
  {
    INFO("transformer_forward_vjp");
    REQUIRE_NO_MISMATCHES(fwd);
  }
  {
    INFO("transformer_inverse_vjp");
    REQUIRE_NO_MISMATCHES(inv);
  }
  if constexpr (has_own<T>) {
    INFO("own_vjp");
    REQUIRE_NO_MISMATCHES(own);
  }
}

// (5): float against double at the same (float) inputs; relative 1e-3 plus the spline's
// conditioning in float, with a floor of that times the largest of the vector's entries
// for the entries that cancel. A float knot is off by about eps_f (|lo| + |hi|), which
// moves theta by that over the bin's width (height, for s) and ld by |dld/dx| times it:
// with a bin of 1e-5 the float path keeps two digits, not three.
template <class T>
double float_condition(const double* p, double x, double dld_dx) {
  if constexpr (is_spline<T>) {
    constexpr int K = T::bins;
    ft::detail::rq_knots<double, K> kn;
    T::knots(p, kn);
    if (!(x > kn.x[0] && x < kn.x[K])) return 0;
    int k = 0;
    while (k < K - 1 && x >= kn.x[k + 1]) ++k;
    const double knot_error = 8 * double(std::numeric_limits<float>::epsilon()) *
                              (std::abs(kn.x[0]) + std::abs(kn.x[K]) + std::abs(kn.y[0]) + std::abs(kn.y[K]));
    return knot_error * (1 / (kn.x[k + 1] - kn.x[k]) + 1 / (kn.y[k + 1] - kn.y[k]) + std::abs(dld_dx));
  } else {
    (void)p;
    (void)x;
    (void)dld_dx;
    return 0;
  }
}
template <class Spec>
void check_float(std::uint64_t seed) {
  using TD = bound_t<Spec, double>;
  using TF = bound_t<Spec, float>;
  constexpr int P = TD::params_per_feature;
  std::mt19937_64 g(seed);
  mismatches m;
  for (int n = 0; n < 40; ++n) {
    TD td = make_transformer<TD>(g);
    TF tf;
    if constexpr (has_own<TD>)
      for (int i = 0; i < features; ++i) td.log_bound[i] = tf.log_bound[i] = float(td.log_bound[i]);
    float pf[P];
    double pd[P];
    draw_parameters<TD>(g, int(n % 2), pd);
    for (int k = 0; k < P; ++k) pd[k] = pf[k] = float(pd[k]);
    for (int j = 0; j < 4; ++j) {
      const float x = float(draw_input<TD>(g, pd, false));
      float dyf[P], dlf[P];
      double dyd[P], dld[P];
      const auto f = tf.derivatives(feature, x, pf, dyf, dlf);
      const auto d = td.derivatives(feature, double(x), pd, dyd, dld);
      const std::string ctx = describe(double(x), pd, P);
      const double tol = 1e-3 + float_condition<TD>(pd, double(x), d.dlog_det_dx);
      // and what each quantity does in double when x moves by the float knots' error
      // (a steep second derivative: dld/dx can change by 1% over 1e-5 of a bin)
      double spread[2 + 2 * P] = {};
      if constexpr (is_spline<TD>) {
        ft::detail::rq_knots<double, TD::bins> kn;
        TD::knots(pd, kn);
        const double delta = 8 * double(std::numeric_limits<float>::epsilon()) *
                             (std::abs(double(x)) + std::abs(kn.x[0]) + std::abs(kn.x[TD::bins]));
        for (const double sx : {double(x) - delta, double(x) + delta}) {
          double ey[P], el[P];
          const auto e = td.derivatives(feature, sx, pd, ey, el);
          spread[0] = std::max(spread[0], std::abs(e.dvalue_dx - d.dvalue_dx));
          spread[1] = std::max(spread[1], std::abs(e.dlog_det_dx - d.dlog_det_dx));
          for (int k = 0; k < P; ++k) {
            spread[2 + k] = std::max(spread[2 + k], std::abs(ey[k] - dyd[k]));
            spread[2 + P + k] = std::max(spread[2 + P + k], std::abs(el[k] - dld[k]));
          }
        }
      }
      double scale_y = std::abs(d.dvalue_dx), scale_l = std::abs(d.dlog_det_dx);
      for (int k = 0; k < P; ++k) {
        scale_y = std::max(scale_y, std::abs(dyd[k]));
        scale_l = std::max(scale_l, std::abs(dld[k]));
      }
      m.expect(ctx, "value", f.value, d.value, tol, tol * std::max(1.0, std::abs(d.value)));
      m.expect(ctx, "log_det", f.log_det, d.log_det, tol, tol);
      m.expect(ctx, "dy/dx", f.dvalue_dx, d.dvalue_dx, tol, tol * scale_y + 2 * spread[0]);
      m.expect(ctx, "dld/dx", f.dlog_det_dx, d.dlog_det_dx, tol, tol * scale_l + 1e-6 + 2 * spread[1]);
      for (int k = 0; k < P; ++k) {
        m.expect(ctx, "dy/dp", dyf[k], dyd[k], tol, tol * scale_y + 2 * spread[2 + k]);
        m.expect(ctx, "dld/dp", dlf[k], dld[k], tol, tol * scale_l + 1e-6 + 2 * spread[2 + P + k]);
      }
    }
  }
  REQUIRE_NO_MISMATCHES(m);
}

}  // namespace

TEST_CASE("transformer derivatives: Additive", "[gradients][transformers]") {
  check_all<ft::Additive>(11, 6, 6);
  check_float<ft::Additive>(12);
}

TEST_CASE("transformer derivatives: BoundedAffine, fixed bound", "[gradients][transformers]") {
  check_all<ft::BoundedAffine<>>(21, 10, 6);
  check_all<ft::BoundedAffine<0.5>>(22, 10, 6);
  check_float<ft::BoundedAffine<>>(23);
}

TEST_CASE("transformer derivatives: BoundedAffine, learnable bound (with own_vjp)", "[gradients][transformers]") {
  check_all<ft::BoundedAffine<3.0, ft::affine_bound::learnable>>(31, 12, 6);
  check_float<ft::BoundedAffine<3.0, ft::affine_bound::learnable>>(32);
}

TEST_CASE("transformer derivatives: SoftplusAffine", "[gradients][transformers]") {
  check_all<ft::SoftplusAffine>(41, 10, 6);
  check_float<ft::SoftplusAffine>(42);
}

TEST_CASE("transformer derivatives: Spline<4>", "[gradients][transformers][spline]") {
  check_all<ft::Spline<4>>(51, 12, 6);
  check_float<ft::Spline<4>>(52);
}

TEST_CASE("transformer derivatives: Spline<8>", "[gradients][transformers][spline]") {
  check_all<ft::Spline<8>>(61, 12, 6);
  check_float<ft::Spline<8>>(62);
}

TEST_CASE("transformer derivatives: Spline<6, 2, options> (min sizes, min_derivative, identity_init)",
          "[gradients][transformers][spline]") {
  check_all<options_spline>(71, 12, 6);
  check_float<options_spline>(72);
}

TEST_CASE("transformer derivatives: BoundedSpline<8, -1, 2> and BoundedSpline<3, 0, 1, options>",
          "[gradients][transformers][spline]") {
  check_all<ft::BoundedSpline<8, -1.0, 2.0>>(81, 12, 6);
  check_float<ft::BoundedSpline<8, -1.0, 2.0>>(82);
  check_all<options_bounded_spline>(83, 12, 6);
  check_float<options_bounded_spline>(84);
}

TEST_CASE("transformer derivatives: IntervalSpline<5, -1, 2, 0.5, 4>; Spline with nflows's identity init, end "
          "slopes and knots",
          "[gradients][transformers][spline]") {
  check_all<interval_spline>(85, 12, 6);
  check_float<interval_spline>(86);
  check_all<nflows_identity_spline>(87, 12, 6);
  check_float<nflows_identity_spline>(88);
}

TEST_CASE("transformer derivatives: ZukoSpline<8> and ZukoSpline<6, 2>", "[gradients][transformers][spline][zuko]") {
  check_all<ft::ZukoSpline<8>>(91, 12, 6);
  check_float<ft::ZukoSpline<8>>(92);
  check_all<ft::ZukoSpline<6, 2.0>>(93, 12, 6);
  check_float<ft::ZukoSpline<6, 2.0>>(94);
}

TEST_CASE("transformer derivatives: SigmoidAffine; Spline and IntervalSpline with width and height divisors",
          "[gradients][transformers][spline]") {
  check_all<ft::SigmoidAffine>(97, 10, 6);
  check_float<ft::SigmoidAffine>(98);
  check_all<divided_spline>(99, 12, 6);
  check_float<divided_spline>(100);
  check_all<divided_interval_spline>(101, 12, 6);
}

TEST_CASE("transformer derivatives: ZukoAffine", "[gradients][transformers][zuko]") {
  check_all<ft::ZukoAffine<>>(95, 10, 6);
  check_float<ft::ZukoAffine<>>(96);
}

// The learnable bound's c ds/dc = c (tanh z - z sech^2 z): the series below |z| = 1/2
// against long double (where the direct form loses at most a few digits for |z| >=
// 0.05) and against its own leading terms 2 z^3 / 3 - 8 z^5 / 15 + 34 z^7 / 105 at small z; the
// direct form beyond, and the two joined at 1/2.
TEST_CASE("transformer derivatives: tanh(z) - z sech^2(z) without cancellation", "[gradients][transformers]") {
  using ft::detail::tanh_minus_z_sech_squared;
  for (double z = 0.05; z < 3; z += 0.0137) {
    for (const double sz : {z, -z}) {
      const long double zl = sz, ch = std::cosh(zl);
      const long double ref = std::tanh(zl) - zl / (ch * ch);
      const double got = tanh_minus_z_sech_squared(sz);
      INFO("z = " << sz);
      REQUIRE(std::abs(got - double(ref)) <= 1e-13 * std::abs(double(ref)) + 1e-300);
    }
  }
  for (const double z : {1e-3, 1e-5, 1e-8, 1e-30, -1e-4}) {
    const double lead = 2 * z * z * z / 3 - 8 * std::pow(z, 5) / 15 + 34 * std::pow(z, 7) / 105;
    INFO("z = " << z);
    REQUIRE(std::abs(tanh_minus_z_sech_squared(z) - lead) <= 1e-14 * std::abs(lead));
  }
  REQUIRE(tanh_minus_z_sech_squared(0.0) == 0.0);
  const double below = tanh_minus_z_sech_squared(std::nextafter(0.5, 0.0)), at = tanh_minus_z_sech_squared(0.5);
  REQUIRE(std::abs(below - at) <= 1e-14 * at);
  REQUIRE(tanh_minus_z_sech_squared(1e3) == 1.0);
  REQUIRE(tanh_minus_z_sech_squared(-1e300) == -1.0);
  REQUIRE(tanh_minus_z_sech_squared(5e-324) == 0.0);
  REQUIRE(std::isfinite(tanh_minus_z_sech_squared(400.0f)));
}

// On a knot, derivatives() takes forward's bin (the one to its right, the last one at
// the right end): its value is forward's, and its derivatives are the limits from
// inside that bin: the analytic ones at offsets e and 2 e into it (to the right, or to
// the left at the right end), extrapolated linearly to 0 (a derivative may change by a
// relative 1e-8 over e = 1e-10 bins when the bin's slope is 1e-4).
template <class Spec>
void check_on_knots(std::uint64_t seed) {
  using T = bound_t<Spec>;
  constexpr int P = T::params_per_feature, K = T::bins;
  std::mt19937_64 g(seed);
  const T t;
  mismatches m;
  for (int n = 0; n < 20; ++n) {
    double p[P];
    draw_parameters<T>(g, int(n % 3), p);
    ft::detail::rq_knots<double, K> kn;
    T::knots(p, kn);
    for (int j = 0; j <= K; ++j) {
      const double x = kn.x[j];
      const double e_step = j < K ? 1e-10 * (kn.x[j + 1] - x) : -1e-10 * (x - kn.x[j - 1]);
      double dy[P], dl[P], ny[P], nl[P], fy[P], fl[P], ld;
      const auto d = t.derivatives(feature, x, p, dy, dl);
      const auto e1 = t.derivatives(feature, x + e_step, p, ny, nl);
      const auto e2 = t.derivatives(feature, x + 2 * e_step, p, fy, fl);
      for (int k = 0; k < P; ++k) {
        ny[k] = 2 * ny[k] - fy[k];
        nl[k] = 2 * nl[k] - fl[k];
      }
      struct {
        double dvalue_dx, dlog_det_dx;
      } e{2 * e1.dvalue_dx - e2.dvalue_dx, 2 * e1.dlog_det_dx - e2.dlog_det_dx};
      const double y = t.forward(feature, x, p, ld);
      const std::string ctx = describe(x, p, P);
      m.expect_bits(ctx, "value", d.value, y);
      m.expect_bits(ctx, "log_det", d.log_det, ld);
      m.expect(ctx, "dy/dx", d.dvalue_dx, e.dvalue_dx);
      m.expect(ctx, "dld/dx", d.dlog_det_dx, e.dlog_det_dx);
      for (int k = 0; k < P; ++k) {
        m.expect(ctx, "dy/dp", dy[k], ny[k]);
        m.expect(ctx, "dld/dp", dl[k], nl[k]);
      }
    }
  }
  REQUIRE_NO_MISMATCHES(m);
}

TEST_CASE("transformer derivatives: on a knot and at the ends, forward's bin", "[gradients][transformers][spline]") {
  check_on_knots<ft::Spline<4>>(91);
  check_on_knots<ft::Spline<8>>(92);
  check_on_knots<options_spline>(93);
  check_on_knots<ft::BoundedSpline<8, -1.0, 2.0>>(94);
}

TEST_CASE("transformer derivatives: Spline's tails are the identity; BoundedSpline is NaN outside",
          "[gradients][transformers][spline]") {
  using T = bound_t<ft::Spline<8>>;
  constexpr int P = T::params_per_feature;
  const T t;
  double p[P], dy[P], dl[P];
  std::mt19937_64 g(101);
  draw_parameters<T>(g, 1, p);
  for (const double x : {-3.0000001, 3.0000001, 7.5, -1e300, std::numeric_limits<double>::infinity()}) {
    const auto d = t.derivatives(feature, x, p, dy, dl);
    REQUIRE(same_bits(d.value, x));
    REQUIRE(d.log_det == 0.0);
    REQUIRE(d.dvalue_dx == 1.0);
    REQUIRE(d.dlog_det_dx == 0.0);
    for (int k = 0; k < P; ++k) {
      REQUIRE(dy[k] == 0.0);
      REQUIRE(dl[k] == 0.0);
    }
  }
  // at +-B: inside, the spline with end slope 1
  for (const double x : {-3.0, 3.0}) {
    const auto d = t.derivatives(feature, x, p, dy, dl);
    REQUIRE(d.value == x);
    REQUIRE(std::abs(d.dvalue_dx - 1.0) <= 1e-14);
    REQUIRE(std::abs(d.log_det) <= 1e-14);
  }
  using U = bound_t<ft::BoundedSpline<8, -1.0, 2.0>>;
  constexpr int Q = U::params_per_feature;
  double q[Q], uy[Q], ul[Q];
  draw_parameters<U>(g, 1, q);
  for (const double x : {-1.0000001, 2.0000001, std::numeric_limits<double>::quiet_NaN()}) {
    const auto d = U{}.derivatives(feature, x, q, uy, ul);
    REQUIRE(std::isnan(d.value));
    REQUIRE(std::isnan(d.log_det));
    REQUIRE(std::isnan(d.dvalue_dx));
    for (int k = 0; k < Q; ++k) REQUIRE(std::isnan(uy[k]));
  }
}

TEST_CASE("transformer derivatives: identity parameters give the identity's derivatives",
          "[gradients][transformers]") {
  const auto check = [](auto tag, double x) {
    using T = bound_t<decltype(tag)>;
    constexpr int P = T::params_per_feature;
    const T t;
    double p[P], dy[P], dl[P];
    T::identity_parameters(p);
    const auto d = t.derivatives(feature, x, p, dy, dl);
    INFO(T::name << " at " << x);
    REQUIRE(std::abs(d.value - x) <= 1e-12);
    REQUIRE(std::abs(d.log_det) <= 1e-12);
    REQUIRE(std::abs(d.dvalue_dx - 1) <= 1e-12);
    REQUIRE(std::abs(d.dlog_det_dx) <= 1e-12);
  };
  for (const double x : {-2.5, -0.3, 0.0, 0.7, 1.9}) {
    check(ft::Additive{}, x);
    check(ft::BoundedAffine<>{}, x);
    check(ft::BoundedAffine<3.0, ft::affine_bound::learnable>{}, x);
    check(ft::SoftplusAffine{}, x);
    check(ft::Spline<8>{}, x);
    check(options_spline{}, x);
  }
  for (const double x : {-1.0, -0.3, 0.0, 0.7, 2.0}) check(ft::BoundedSpline<8, -1.0, 2.0>{}, x);
}

}  // namespace transformer_grad_test
