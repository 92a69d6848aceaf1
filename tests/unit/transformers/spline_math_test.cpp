// Tests of the spline transformers (flowtmpl/transformers/spline.hpp, the formulas in
// detail/rq_spline.hpp): identity parameters, monotonicity, values at the knots,
// continuity of value and slope at +-B, log-det against finite differences and
// against an independent long-double evaluation of the formulas of nflows
// (/work/shared/reference/CONVENTIONS.md, sections 1.2 to 1.6), and round trips.
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace spline_math_test {

namespace {

namespace ft = flowtmpl;
using LD = long double;

// ---- an independent reference: nflows's formulas, in long double ---------------------
// Written from CONVENTIONS.md 1.2-1.6, not from the header: widths by softmax mixed
// with the minimum, knots by cumulative sums with the ends forced, derivatives by
// torch's softplus with its threshold, the bin as searchsorted, the value as
// y_k + num / den with den = s + (d_k + d_k+1 - 2 s) theta (1 - theta) (nflows's own
// form, not the header's), the derivative as dnum / den^2.
template <int K>
struct ref_spline {
  LD x[K + 1], y[K + 1], d[K + 1];
};

inline LD ref_softplus(LD u, LD beta) { return beta * u > 20 ? u : std::log1p(std::exp(beta * u)) / beta; }

template <int K>
void ref_cumulative(const LD* u, LD min_size, LD lo, LD hi, LD* out) {
  LD m = u[0];
  for (int k = 1; k < K; ++k) m = std::max(m, u[k]);
  LD e[K], sum = 0;
  for (int k = 0; k < K; ++k) sum += (e[k] = std::exp(u[k] - m));
  LD cum = 0;
  out[0] = 0;
  for (int k = 0; k < K; ++k) {
    cum += min_size + (1 - min_size * K) * (e[k] / sum);
    out[k + 1] = cum;
  }
  for (int k = 0; k <= K; ++k) out[k] = (hi - lo) * out[k] + lo;
  out[0] = lo;
  out[K] = hi;
}

// p: 3K - 1 raw parameters (tails) or 3K + 1 (bounded)
template <int K, class S>
ref_spline<K> ref_knots(const S* p, bool tails, LD lo, LD hi, const ft::spline_options& o) {
  ref_spline<K> r;
  LD uw[K], uh[K];
  for (int k = 0; k < K; ++k) {
    uw[k] = LD(p[k]);
    uh[k] = LD(p[K + k]);
  }
  ref_cumulative<K>(uw, LD(o.min_bin_width), lo, hi, r.x);
  ref_cumulative<K>(uh, LD(o.min_bin_height), lo, hi, r.y);
  const LD beta = o.identity_init ? std::log(LD(2)) / (1 - LD(o.min_derivative)) : LD(1);
  if (tails) {
    r.d[0] = r.d[K] = 1;  // flowtmpl: exactly 1 (the departure from nflows for identity_init)
    for (int k = 1; k < K; ++k) r.d[k] = LD(o.min_derivative) + ref_softplus(LD(p[2 * K + k - 1]), beta);
  } else {
    for (int k = 0; k <= K; ++k) r.d[k] = LD(o.min_derivative) + ref_softplus(LD(p[2 * K + k]), beta);
  }
  return r;
}

// y and dy/dx at x inside [x_0, x_K]; bin: the largest k <= K-1 with x >= x_k
template <int K>
LD ref_forward(const ref_spline<K>& r, LD x, LD& dydx) {
  int k = K - 1;
  while (k > 0 && x < r.x[k]) --k;
  const LD w = r.x[k + 1] - r.x[k], h = r.y[k + 1] - r.y[k], s = h / w;
  const LD th = (x - r.x[k]) / w, tt = th * (1 - th);
  const LD den = s + (r.d[k] + r.d[k + 1] - 2 * s) * tt;
  const LD num = h * (s * th * th + r.d[k] * tt);
  dydx = s * s * (r.d[k + 1] * th * th + 2 * s * tt + r.d[k] * (1 - th) * (1 - th)) / (den * den);
  return r.y[k] + num / den;
}

// ---- helpers --------------------------------------------------------------------------
// distance in units in the last place between two finite values
template <class S>
std::int64_t ulps(S a, S b) {
  using I = std::conditional_t<sizeof(S) == 4, std::int32_t, std::int64_t>;
  auto ordered = [](S v) {
    I i;
    std::memcpy(&i, &v, sizeof v);
    return std::int64_t(i < 0 ? std::numeric_limits<I>::min() - i : i);
  };
  const std::int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

template <class S>
S eps() {
  return std::numeric_limits<S>::epsilon();
}

// one unit in the last place of v (of the smallest normal for v = 0 or subnormal)
template <class S>
S ulp(S v) {
  v = std::max(std::abs(v), std::numeric_limits<S>::min());
  return std::nextafter(v, std::numeric_limits<S>::infinity()) - v;
}

template <class S, std::size_t N>
std::array<S, N> random_params(std::mt19937_64& g, double scale) {
  std::normal_distribution<double> n(0.0, scale);
  std::array<S, N> p;
  for (auto& v : p) v = S(n(g));
  return p;
}

constexpr int K = 8;
constexpr double Bd = 3.0;
template <class S>
using spline_t = ft::Spline<K>::transformer<1, S>;
template <class S>
using spline_ii_t = ft::Spline<K, Bd, ft::spline_options{.identity_init = true}>::transformer<1, S>;
template <class S>
using bounded_t = ft::BoundedSpline<6>::transformer<1, S>;
template <class S>
using bounded_wide_t = ft::BoundedSpline<5, -2.0, 3.0>::transformer<1, S>;

}  // namespace

TEMPLATE_TEST_CASE("spline transformers: the parameter counts are nflows's", "[transformers][spline]", float, double) {
  using S = TestType;
  STATIC_REQUIRE(spline_t<S>::params_per_feature == 3 * 8 - 1);
  STATIC_REQUIRE(bounded_t<S>::params_per_feature == 3 * 6 + 1);
  STATIC_REQUIRE(!spline_t<S>::volume_preserving);
  STATIC_REQUIRE(ft::Transformer<spline_t<S>>);
  STATIC_REQUIRE(ft::Transformer<bounded_t<S>>);
  STATIC_REQUIRE(ft::TransformerSpec<ft::Spline<8>>);
  STATIC_REQUIRE(ft::TransformerSpec<ft::BoundedSpline<6>>);
  CHECK(bounded_t<S>::domain().lo == S(0));
  CHECK(bounded_t<S>::domain().hi == S(1));
  CHECK(bounded_t<S>::domain().contains(S(0)));
  CHECK(bounded_t<S>::domain().contains(S(1)));
  CHECK_FALSE(bounded_t<S>::domain().contains(std::nextafter(S(1), S(2))));
}

namespace {
template <class T>
void check_identity(typename T::scalar_type lo, typename T::scalar_type hi) {
  using S = typename T::scalar_type;
  std::array<S, T::params_per_feature> p;
  T::identity_parameters(p.data());
  const T t{};
  // the map is y = x up to the rounding of the knots (uniform widths are sums of K
  // rounded fractions) and of d = min_d + softplus(u), which is 1 to an ulp or two
  const S tol = 16 * eps<S>();
  int n = 0;
  for (int i = 0; i <= 4000; ++i) {
    const S x = lo + (hi - lo) * S(i) / S(4000);
    S ld = S(1), ldi = S(1);
    const S y = t.forward(0, x, p.data(), ld);
    const S xi = t.inverse(0, x, p.data(), ldi);
    INFO("x = " << x << ", y = " << y << ", inverse " << xi << ", log-dets " << ld << " " << ldi);
    REQUIRE(std::abs(y - x) <= tol * std::max(S(1), std::abs(x)));
    REQUIRE(std::abs(xi - x) <= tol * std::max(S(1), std::abs(x)));
    REQUIRE(std::abs(ld) <= tol);
    REQUIRE(std::abs(ldi) <= tol);
    ++n;
  }
  CHECK(n == 4001);
}
}  // namespace

TEMPLATE_TEST_CASE("spline transformers: identity_parameters give the identity", "[transformers][spline]", float,
                   double) {
  using S = TestType;
  SECTION("Spline, default options (derivatives softplus^-1(1 - min_d))") { check_identity<spline_t<S>>(S(-4), S(4)); }
  SECTION("Spline with identity_init (zero derivatives)") {
    std::array<S, 3 * K - 1> p;
    spline_ii_t<S>::identity_parameters(p.data());
    for (S v : p) CHECK(v == S(0));  // documented: zeros with identity_init
    check_identity<spline_ii_t<S>>(S(-4), S(4));
  }
  SECTION("BoundedSpline on [0, 1]") { check_identity<bounded_t<S>>(S(0), S(1)); }
  SECTION("BoundedSpline on [-2, 3]") { check_identity<bounded_wide_t<S>>(S(-2), S(3)); }
  SECTION("zero parameters without identity_init are not the identity (d = 1e-3 + log 2)") {
    std::array<S, 3 * K - 1> p{};
    S ld;
    const S y = spline_t<S>{}.forward(0, S(0.3), p.data(), ld);
    // uniform bins, interior derivative 0.6941: a measurable departure from y = x
    CHECK(std::abs(y - S(0.3)) > S(1e-3));
    CHECK(std::abs(ld) > S(1e-2));
  }
}

TEMPLATE_TEST_CASE("spline transformers are monotone over a dense grid", "[transformers][spline]", float, double) {
  using S = TestType;
  std::mt19937_64 g(7);
  for (int draw = 0; draw < 12; ++draw) {
    const double scale = draw < 6 ? 1.0 : 4.0;
    const auto p = random_params<S, 3 * K - 1>(g, scale);
    const auto pb = random_params<S, 3 * 6 + 1>(g, scale);
    const spline_t<S> t{};
    const bounded_t<S> tb{};
    // non-decreasing: the rational quadratic increases within a bin and the header
    // clamps each value into its bin; the evaluation rounds, so two neighbouring values
    // may swap by a few ulps (never more). (The inverse: see the conditioning test of the
    // inverse below.)
    S prev = std::numeric_limits<S>::lowest(), prevb = prev;
    int reversals = 0;
    double worst = 0;  // largest reversal in ulps of the value
    S worst_at = 0;
    const int n = 100000;
    for (int i = 0; i <= n; ++i) {
      const S x = S(-4) + S(8) * S(i) / S(n);
      S ld;
      const S y = t.forward(0, x, p.data(), ld);
      if (y < prev) {
        ++reversals;
        if (double(prev - y) / double(ulp(prev)) > worst) {
          worst = double(prev - y) / double(ulp(prev));
          worst_at = x;
        }
      }
      prev = std::max(prev, y);
      const S xb = S(i) / S(n);
      const S yb = tb.forward(0, xb, pb.data(), ld);
      if (yb < prevb) {
        ++reversals;
        if (double(prevb - yb) / double(ulp(prevb)) > worst) {
          worst = double(prevb - yb) / double(ulp(prevb));
          worst_at = xb;
        }
      }
      prevb = std::max(prevb, yb);
    }
    INFO("draw " << draw << ": " << reversals << " rounding reversals, the largest " << worst << " ulps at x = "
                 << worst_at);
    CHECK(worst <= 4);
    CHECK(reversals <= 2 * n / 100);  // rare: rounding only
    // the range is all of [-4, 4] and [0, 1]: the ends map to themselves
    S ld;
    CHECK(t.forward(0, S(-3), p.data(), ld) == S(-3));
    CHECK(t.forward(0, S(3), p.data(), ld) == S(3));
    CHECK(tb.forward(0, S(0), pb.data(), ld) == S(0));
    CHECK(tb.forward(0, S(1), pb.data(), ld) == S(1));
  }
}

TEMPLATE_TEST_CASE("spline knots: forward(x_k) = y_k, inverse(y_k) = x_k, and the knots are nflows's",
                   "[transformers][spline]", float, double) {
  using S = TestType;
  std::mt19937_64 g(11);
  for (int draw = 0; draw < 20; ++draw) {
    const auto p = random_params<S, 3 * K - 1>(g, draw < 10 ? 1.0 : 5.0);
    ft::detail::rq_knots<S, K> kn;
    spline_t<S>::knots(p.data(), kn);
    const auto r = ref_knots<K>(p.data(), true, -Bd, Bd, ft::spline_options{});
    const spline_t<S> t{};
    for (int k = 0; k <= K; ++k) {
      INFO("draw " << draw << ", knot " << k << ": x_k = " << kn.x[k] << ", y_k = " << kn.y[k]);
      // the knots agree with the long-double construction to the rounding of a sum of K
      // terms (times the interval's length 2B)
      CHECK(std::abs(LD(kn.x[k]) - r.x[k]) <= 2 * K * Bd * eps<S>());
      CHECK(std::abs(LD(kn.y[k]) - r.y[k]) <= 2 * K * Bd * eps<S>());
      CHECK(std::abs(LD(kn.d[k]) - r.d[k]) <= 4 * r.d[k] * eps<S>());
      S ld, ldi;
      const S y = t.forward(0, kn.x[k], p.data(), ld);
      const S x = t.inverse(0, kn.y[k], p.data(), ldi);
      CHECK(ulps(y, kn.y[k]) <= 2);
      // the slope at a knot is d_k
      CHECK(std::abs(ld - S(std::log(double(kn.d[k])))) <= 64 * eps<S>() * std::max(S(1), std::abs(ld)));
      // the inverse on the knot: exact for k < K (theta = 0); at the top knot y_K = B
      // theta = 1 comes out of the quadratic (see the test of the inverse's error)
      if (k < K) {
        CHECK(ulps(x, kn.x[k]) <= 2);
        CHECK(std::abs(ldi + S(std::log(double(kn.d[k])))) <= 64 * eps<S>() * std::max(S(1), std::abs(ldi)));
      }
    }
    // the knots of the other variants against the long-double construction too
    {
      ft::detail::rq_knots<S, K> ki;
      spline_ii_t<S>::knots(p.data(), ki);
      const auto ri = ref_knots<K>(p.data(), true, -Bd, Bd, ft::spline_options{.identity_init = true});
      const auto pw = random_params<S, 3 * 5 + 1>(g, 2.0);
      ft::detail::rq_knots<S, 5> kw;
      bounded_wide_t<S>::knots(pw.data(), kw);
      const auto rw = ref_knots<5>(pw.data(), false, -2, 3, ft::spline_options{});
      for (int k = 0; k <= K; ++k) CHECK(std::abs(LD(ki.d[k]) - ri.d[k]) <= 4 * ri.d[k] * eps<S>());
      for (int k = 0; k <= 5; ++k) {
        CHECK(std::abs(LD(kw.x[k]) - rw.x[k]) <= 2 * 5 * 5 * eps<S>());
        CHECK(std::abs(LD(kw.y[k]) - rw.y[k]) <= 2 * 5 * 5 * eps<S>());
        CHECK(std::abs(LD(kw.d[k]) - rw.d[k]) <= 4 * rw.d[k] * eps<S>());
      }
      CHECK(kw.x[0] == S(-2));
      CHECK(kw.x[5] == S(3));
    }
    CHECK(kn.x[0] == S(-3));
    CHECK(kn.x[K] == S(3));
    CHECK(kn.y[0] == S(-3));
    CHECK(kn.y[K] == S(3));
    CHECK(kn.d[0] == S(1));
    CHECK(kn.d[K] == S(1));
    for (int k = 0; k < K; ++k) {
      // every bin is at least min_bin_width (1e-3) of the interval wide, up to rounding
      CHECK(kn.x[k + 1] - kn.x[k] >= S(6e-3) * (1 - 8 * eps<S>()));
      CHECK(kn.y[k + 1] - kn.y[k] >= S(6e-3) * (1 - 8 * eps<S>()));
    }
  }
}

TEMPLATE_TEST_CASE("spline at +-B: the value and the slope are continuous (end derivatives 1)",
                   "[transformers][spline]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  std::mt19937_64 g(13);
  const S B = S(3);
  for (int draw = 0; draw < 30; ++draw) {
    const auto p = random_params<S, 3 * K - 1>(g, draw < 15 ? 1.0 : 3.0);
    const spline_t<S> t{};
    for (S sign : {S(1), S(-1)}) {
      const S edge = sign * B;
      const S in = std::nextafter(edge, S(0)), out = std::nextafter(edge, sign * lim::infinity());
      S ld_edge, ld_in, ld_out;
      const S y_edge = t.forward(0, edge, p.data(), ld_edge);
      const S y_in = t.forward(0, in, p.data(), ld_in);
      const S y_out = t.forward(0, out, p.data(), ld_out);
      INFO("draw " << draw << ", edge " << edge << ": y " << y_in << " " << y_edge << " " << y_out << ", log-dets "
                   << ld_in << " " << ld_edge << " " << ld_out);
      CHECK(y_edge == edge);
      CHECK(y_out == out);
      CHECK(ld_out == S(0));
      // the slope at the edge is d_0 = d_K = 1: log-det 0 on the edge. One step inside,
      // theta moves by dtheta = |edge - in| / w from the end of the end bin, and the
      // log-slope by at most |d log f / d theta| dtheta, which at theta = 1 (0 at -B, by
      // symmetry) is at most 2 |1 - s| + 2 (d_K-1 + 1 + 2 s) / s (differentiating
      // dnum / den^2; below with a margin for the second-order term):
      ft::detail::rq_knots<S, K> kn;
      spline_t<S>::knots(p.data(), kn);
      const int k = sign > 0 ? K - 1 : 0;
      const S w = kn.x[k + 1] - kn.x[k], s = (kn.y[k + 1] - kn.y[k]) / w;
      const S d_adj = sign > 0 ? kn.d[K - 1] : kn.d[1];
      const S rate = 2 * std::abs(1 - s) + 2 * (d_adj + 1 + 2 * s) / s + 2 * (d_adj + 1 + 2 * s);
      const S bound = 2 * rate * std::abs(edge - in) / w + 64 * eps<S>();
      CHECK(std::abs(ld_edge) <= 64 * eps<S>());
      CHECK(std::abs(ld_in) <= bound);
      // value continuity: one step inside is within a couple of ulps of the edge
      CHECK(ulps(y_in, edge) <= 2 + 2 * ulps(in, edge));
      // the same from the inverse side
      S ldi_in, ldi_out;
      const S x_in = t.inverse(0, in, p.data(), ldi_in);
      const S x_out = t.inverse(0, out, p.data(), ldi_out);
      CHECK(x_out == out);
      CHECK(ldi_out == S(0));
      CHECK(std::isfinite(x_in));
      CHECK(std::isfinite(ldi_in));
      CHECK(ulps(x_in, edge) <= 4);
      CHECK(std::abs(ldi_in) <= bound);
    }
  }
}

TEST_CASE("spline log-det against central finite differences (double, away from the knots)",
          "[transformers][spline]") {
  using S = double;
  std::mt19937_64 g(17);
  int checked = 0, unresolved = 0;
  for (int draw = 0; draw < 20; ++draw) {
    const auto p = random_params<S, 3 * K - 1>(g, draw < 10 ? 1.0 : 2.5);
    const auto pb = random_params<S, 3 * 6 + 1>(g, 1.0);
    ft::detail::rq_knots<S, K> kn;
    spline_t<S>::knots(p.data(), kn);
    ft::detail::rq_knots<S, 6> knb;
    bounded_t<S>::knots(pb.data(), knb);
    auto check_map = [&](auto&& f, const S* xk, int bins) {
      for (int k = 0; k < bins; ++k) {
        const S w = xk[k + 1] - xk[k];
        for (S th : {0.05, 0.2, 0.37, 0.5, 0.63, 0.8, 0.95}) {
          const S x = xk[k] + th * w;
          const S h = 1e-4 * w;  // the points stay 0.05 w from the knots
          auto diff = [&](S step) {
            S l;
            return (f(x + step, l) - f(x - step, l)) / (2 * step);
          };
          const S fd = (4 * diff(h / 2) - diff(h)) / 3;  // Richardson: O(h^4)
          S ld;
          const S fx = f(x, ld);
          // 1e-7 relative, plus what the differences cannot resolve: the rounding of
          // f(x +- h), about eps (|f| + |x| f'), over the step
          const S noise = 8 * eps<S>() * (std::max(1.0, std::abs(fx)) + std::abs(x) * std::exp(ld)) / h;
          INFO("draw " << draw << ", bin " << k << ", theta " << th << ": exp(log-det) " << std::exp(ld)
                       << ", finite differences " << fd << ", resolution " << noise);
          CHECK(std::abs(std::exp(ld) - fd) <= 1e-7 * fd + noise);
          unresolved += noise > 1e-7 * fd;
          ++checked;
        }
      }
    };
    const spline_t<S> t{};
    const bounded_t<S> tb{};
    check_map([&](S x, S& l) { return t.forward(0, x, p.data(), l); }, kn.x, K);
    check_map([&](S x, S& l) { return tb.forward(0, x, pb.data(), l); }, knb.x, 6);
    // inverse: log dx/dy against differences of the inverse, in y
    check_map([&](S y, S& l) { return t.inverse(0, y, p.data(), l); }, kn.y, K);
    check_map([&](S y, S& l) { return tb.inverse(0, y, pb.data(), l); }, knb.y, 6);
  }
  CHECK(checked == 20 * 7 * (2 * K + 2 * 6));
  // the differences resolve 1e-7 at almost every point (not where the slope is tiny)
  INFO(unresolved << " of " << checked << " points where the differences cannot resolve 1e-7");
  CHECK(unresolved <= checked / 20);
}

namespace {
// The header's value and derivative against the long-double evaluation of CONVENTIONS's
// formulas (its own form of den), at the library's own knots (the knots themselves are
// compared with the long-double construction in the knots test above): this isolates
// the bin formulas. Tolerances: a few ulps, plus what the rounding of the input alone
// moves the exact result by (measured on the reference at x +- 1 ulp).
template <class T, int KK>
void check_against_reference(const typename T::scalar_type* p) {
  using S = typename T::scalar_type;
  ft::detail::rq_knots<S, KK> kn;
  T::knots(p, kn);
  ref_spline<KK> r;
  for (int k = 0; k <= KK; ++k) {
    r.x[k] = kn.x[k];
    r.y[k] = kn.y[k];
    r.d[k] = kn.d[k];
  }
  const T t{};
  const LD e = eps<S>();
  auto sensitivity = [&](S x, LD& dy, LD& dl) {  // change of y and log f over x +- 1 ulp
    LD f0, fm, fp;
    const LD y0 = ref_forward<KK>(r, x, f0);
    const S lo = std::max(kn.x[0], std::nextafter(x, kn.x[0])), hi = std::min(kn.x[KK], std::nextafter(x, kn.x[KK]));
    const LD ym = ref_forward<KK>(r, lo, fm), yp = ref_forward<KK>(r, hi, fp);
    dy = std::max(std::abs(ym - y0), std::abs(yp - y0));
    dl = std::max(std::abs(std::log(fm) - std::log(f0)), std::abs(std::log(fp) - std::log(f0)));
  };
  for (int k = 0; k < KK; ++k) {
    for (double th : {0.0, 1e-6, 0.01, 0.13, 0.29, 0.5, 0.71, 0.87, 0.99, 1 - 1e-6}) {
      const S x = S(kn.x[k] + S(th) * (kn.x[k + 1] - kn.x[k]));
      LD dref, dy, dl;
      const LD yref = ref_forward<KK>(r, LD(x), dref);
      sensitivity(x, dy, dl);
      S ld;
      const S y = t.forward(0, x, p, ld);
      INFO("bin " << k << ", theta " << th << ", x = " << x << ": y " << y << " vs " << double(yref) << ", log-det "
                  << ld << " vs " << double(std::log(dref)));
      // (theta = (x - x_k) / w itself rounds by about an ulp of x: up to a couple of
      // dy, dl; near theta = 1 in a narrow bin that is most of the error)
      CHECK(std::abs(LD(y) - yref) <= 8 * e * std::max<LD>(1, std::abs(yref)) + 4 * dy);
      CHECK(std::abs(LD(ld) - std::log(dref)) <= 64 * e + 4 * dl);
      // the inverse at the rounded reference value: its log-det is minus the log-slope
      // at the x it returns (its accuracy: see the test of the inverse's error below)
      S ldi;
      const S xi = t.inverse(0, S(yref), p, ldi);
      LD di, dyi, dli;
      ref_forward<KK>(r, LD(xi), di);
      sensitivity(xi, dyi, dli);
      CHECK(std::abs(LD(ldi) + std::log(di)) <= 64 * e + 4 * dli);
    }
  }
}
}  // namespace

TEMPLATE_TEST_CASE("spline value and dy/dx against nflows's formulas evaluated independently in long double",
                   "[transformers][spline]", float, double) {
  using S = TestType;
  std::mt19937_64 g(19);
  for (int draw = 0; draw < 16; ++draw) {
    INFO("draw " << draw);
    const double scale = draw < 8 ? 1.0 : 3.0;
    const auto p = random_params<S, 3 * K - 1>(g, scale);
    check_against_reference<spline_t<S>, K>(p.data());
    check_against_reference<spline_ii_t<S>, K>(p.data());
    const auto pb = random_params<S, 3 * 6 + 1>(g, scale);
    check_against_reference<bounded_t<S>, 6>(pb.data());
    const auto pw = random_params<S, 3 * 5 + 1>(g, scale);
    check_against_reference<bounded_wide_t<S>, 5>(pw.data());
  }
}

TEST_CASE("spline: one bin by hand, y and dy/dx from the formulas", "[transformers][spline]") {
  // K = 2 on [-3, 3]; widths softmax(ln 3, 0) = (3/4, 1/4) mixed with min 1e-3:
  // w = 1e-3 + 0.998 * (3/4, 1/4) fractions of 6; heights uniform; the interior
  // derivative 1e-3 + softplus(ln(e^1.5 - 1)) = 1.501.
  using T = ft::Spline<2>::transformer<1, double>;
  const std::array<double, 5> p = {std::log(3.0), 0.0, 0.0, 0.0, std::log(std::expm1(1.5))};
  const LD x0 = -3, x1 = -3 + 6 * (LD(1e-3) + LD(0.998) * 0.75L), y0 = -3, y1 = 0;
  const LD w = x1 - x0, h = y1 - y0, s = h / w, d0 = 1, d1 = LD(1e-3) + 1.5L;
  for (LD th : {0.1L, 0.25L, 0.5L, 0.9L}) {
    const LD x = x0 + th * w;
    // y = y_k + h (s th^2 + d_k th (1 - th)) / (s + (d_k + d_k+1 - 2 s) th (1 - th))
    const LD den = s + (d0 + d1 - 2 * s) * th * (1 - th);
    const LD y = y0 + h * (s * th * th + d0 * th * (1 - th)) / den;
    const LD dydx = s * s * (d1 * th * th + 2 * s * th * (1 - th) + d0 * (1 - th) * (1 - th)) / (den * den);
    double ld;
    const double yl = T{}.forward(0, double(x), p.data(), ld);
    INFO("theta " << double(th));
    CHECK(std::abs(yl - double(y)) <= 1e-14);
    CHECK(std::abs(ld - double(std::log(dydx))) <= 1e-13);
    double ldi;
    CHECK(std::abs(T{}.inverse(0, double(y), p.data(), ldi) - double(x)) <= 1e-14);
    CHECK(std::abs(ldi + double(std::log(dydx))) <= 1e-13);
  }
}

namespace {
// |inverse(forward(x)) - x| against what the problem itself allows: y is rounded to an
// ulp or so, which moves the exact preimage by eps |y| / slope; the result is rounded
// to eps |x|. Also the inverse's log-det against minus the forward log-det at the point
// the inverse returns, allowing for what one ulp of that point changes the log-slope by.
struct round_trip_stats {
  double worst_ratio = 0;    // max |inverse(forward(x)) - x| / (eps |y| / slope + eps |x|)
  int log_det_mismatch = 0;  // points where the log-dets are not opposite
  int not_finite = 0;
};

template <class T>
void round_trip(const typename T::scalar_type* p, typename T::scalar_type lo, typename T::scalar_type hi,
                std::mt19937_64& g, int n, round_trip_stats& st) {
  using S = typename T::scalar_type;
  std::uniform_real_distribution<double> u{double(lo), double(hi)};
  const T t{};
  for (int i = 0; i < n; ++i) {
    const S x = S(u(g));
    S ld, ldi, ldr, ldm, ldp;
    const S y = t.forward(0, x, p, ld);
    const S xr = t.inverse(0, y, p, ldi);
    const double bound = double(eps<S>()) * (std::max(1.0, std::abs(double(y))) / std::exp(double(ld)) +
                                             std::max(1.0, std::abs(double(x))));
    st.worst_ratio = std::max(st.worst_ratio, std::abs(double(xr) - double(x)) / bound);
    st.not_finite += !std::isfinite(xr) || !std::isfinite(ldi) || !std::isfinite(y) || !std::isfinite(ld);
    t.forward(0, xr, p, ldr);
    t.forward(0, std::max(lo, std::nextafter(xr, lo)), p, ldm);
    t.forward(0, std::min(hi, std::nextafter(xr, hi)), p, ldp);
    const double sens = std::max(std::abs(double(ldm - ldr)), std::abs(double(ldp - ldr)));
    // (the log-det is 2 log s + log dnum - 2 log den: terms up to ~10 in size cancel, so
    // its rounding is some hundred eps absolute, more in the narrowest bins)
    st.log_det_mismatch += std::abs(double(ldr + ldi)) > 4e3 * double(eps<S>()) * (1 + std::abs(double(ld))) + 32 * sens;
  }
}

// inverse monotone over a grid of y: returns the largest reversal in units of the
// value's ulp
template <class T>
double inverse_reversal(const typename T::scalar_type* p, typename T::scalar_type lo, typename T::scalar_type hi) {
  using S = typename T::scalar_type;
  const T t{};
  S prev = std::numeric_limits<S>::lowest();
  double worst = 0;
  const int n = 20000;
  for (int i = 0; i <= n; ++i) {
    S ld;
    const S x = t.inverse(0, lo + (hi - lo) * S(i) / S(n), p, ld);
    if (x < prev) worst = std::max(worst, double(prev - x) / double(ulp(prev)));
    prev = std::max(prev, x);
  }
  return worst;
}
}  // namespace

TEMPLATE_TEST_CASE("spline round trips: inverse(forward(x)) = x and the log-dets are opposite",
                   "[transformers][spline]", float, double) {
  using S = TestType;
  std::mt19937_64 g(23);
  round_trip_stats st, stb;
  for (int draw = 0; draw < 40; ++draw) {
    // moderate parameters (what training starts from): raw values N(0, 1)
    const auto p = random_params<S, 3 * K - 1>(g, 1.0);
    const auto pb = random_params<S, 3 * 6 + 1>(g, 1.0);
    round_trip<spline_t<S>>(p.data(), S(-4.5), S(4.5), g, 2000, st);
    round_trip<bounded_t<S>>(pb.data(), S(0), S(1), g, 2000, stb);
  }
  INFO("worst |inverse(forward(x)) - x| / (eps |y| / slope + eps |x|): Spline " << st.worst_ratio << ", BoundedSpline "
                                                                                  << stb.worst_ratio);
  CHECK(st.not_finite == 0);
  CHECK(stb.not_finite == 0);
  CHECK(st.log_det_mismatch == 0);
  CHECK(stb.log_det_mismatch == 0);
  CHECK(st.worst_ratio <= 256);
  CHECK(stb.worst_ratio <= 256);
}

// The inverse's root: theta = 2c / (-b - sqrt(b^2 - 4ac)) alone is free of cancellation
// only for b >= 0; with b = h d_k - delta m < 0 (the upper part of a bin whose mean slope
// s is well below its end derivative) it lost about log10(d_k+1 / (2 s)) digits (inverse(B)
// = B - 9e-5 in float for a last bin with s = 1.4e-3, d_K-1 = 8.6) and was not monotone.
// rq_inverse now solves from the nearer end of the bin with the stable root for either
// sign of b; this test holds the error to a small multiple of the problem's conditioning
// (the worst ratio was ~1e3 before, ~25 after).
TEMPLATE_TEST_CASE("spline inverse: error within the conditioning of the problem, also for steep parameters",
                   "[transformers][spline]", float, double) {
  using S = TestType;
  std::mt19937_64 g(29);
  round_trip_stats st, stb;
  int top_knot_misses = 0;
  double reversal = 0;
  for (int draw = 0; draw < 200; ++draw) {
    const auto p = random_params<S, 3 * K - 1>(g, draw % 2 ? 1.0 : 5.0);
    const auto pb = random_params<S, 3 * 6 + 1>(g, draw % 2 ? 1.0 : 5.0);
    round_trip<spline_t<S>>(p.data(), S(-3.5), S(3.5), g, 500, st);
    round_trip<bounded_t<S>>(pb.data(), S(0), S(1), g, 500, stb);
    S ld;
    top_knot_misses += ulps(spline_t<S>{}.inverse(0, S(3), p.data(), ld), S(3)) > 2;
    top_knot_misses += ulps(bounded_t<S>{}.inverse(0, S(1), pb.data(), ld), S(1)) > 2;
    if (draw < 40) {
      reversal = std::max(reversal, inverse_reversal<spline_t<S>>(p.data(), S(-3), S(3)));
      reversal = std::max(reversal, inverse_reversal<bounded_t<S>>(pb.data(), S(0), S(1)));
    }
  }
  INFO("worst ratio: Spline " << st.worst_ratio << ", BoundedSpline " << stb.worst_ratio
                              << "; inverse(top knot) more than 2 ulps off: " << top_knot_misses
                              << " of 400; largest reversal of the inverse over a grid: " << reversal << " ulps");
  CHECK(st.not_finite + stb.not_finite == 0);
  CHECK(st.log_det_mismatch + stb.log_det_mismatch == 0);
  CHECK(st.worst_ratio <= 64);
  CHECK(stb.worst_ratio <= 64);
  CHECK(top_knot_misses == 0);
  CHECK(reversal <= 4);
}

TEMPLATE_TEST_CASE("BoundedSpline: outside [Lo, Hi] the result is NaN", "[transformers][spline]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  std::array<S, 3 * 6 + 1> p;
  bounded_t<S>::identity_parameters(p.data());
  const bounded_t<S> t{};
  for (S v : {std::nextafter(S(0), S(-1)), std::nextafter(S(1), S(2)), S(-1), S(2), lim::quiet_NaN(), lim::infinity()}) {
    S ld = 0, ldi = 0;
    INFO("v = " << v);
    CHECK(std::isnan(t.forward(0, v, p.data(), ld)));
    CHECK(std::isnan(ld));
    CHECK(std::isnan(t.inverse(0, v, p.data(), ldi)));
    CHECK(std::isnan(ldi));
  }
  // a NaN input of Spline stays NaN (it is not inside, so it is copied)
  std::array<S, 3 * K - 1> q;
  spline_t<S>::identity_parameters(q.data());
  S ld;
  CHECK(std::isnan(spline_t<S>{}.forward(0, lim::quiet_NaN(), q.data(), ld)));
  CHECK(std::isnan(spline_t<S>{}.inverse(0, lim::quiet_NaN(), q.data(), ld)));
}

}  // namespace spline_math_test
