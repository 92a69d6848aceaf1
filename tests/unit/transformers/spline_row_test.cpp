// The row form of Spline (apply_row: one feature of a block of samples, the coupling
// and MADE block paths) against its per-sample forward / inverse: every column has its
// own parameters (moderate draws and draws at the limits: one bin taking everything,
// minimum widths, derivatives at their minimum, at 1e4 and at 1e29 / 1e160) and its own input (knots and
// their neighbours, +-B and one step either side, tails, huge values, NaN, infinities,
// uniform draws). The row form uses Eigen's vectorized exp / log / log1p / sqrt, the
// per-sample one libm's: they agree to rounding (near a knot: at an input at most two
// ulp away), the tails exactly, NaN stays NaN.
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace spline_row_test {

using flowtmpl::direction;

namespace {

namespace ft = flowtmpl;
constexpr int K = 8;
constexpr int P = 3 * K - 1;

template <class S>
struct row_case {
  std::vector<std::array<S, P>> params;  // one per column
  std::vector<S> inputs;
};

template <class S>
row_case<S> make_case(bool huge_derivatives) {
  using spline = ft::Spline<K, 3.0>::transformer<1, S>;
  using lim = std::numeric_limits<S>;
  std::mt19937_64 g(515);
  std::vector<std::array<S, P>> draws;
  for (double scale : {0.5, 2.0, 10.0}) {
    std::normal_distribution<double> nd(0.0, scale);
    for (int d = 0; d < 12; ++d) {
      std::array<S, P> p;
      for (auto& v : p) v = S(nd(g));
      draws.push_back(p);
    }
  }
  const S big = S(1e4);
  for (int pattern = 0; pattern < 4; ++pattern) {
    std::array<S, P> p;
    for (int k = 0; k < K; ++k) {
      p[k] = (k == 2 * pattern) ? big : -big;                 // one wide bin, the rest at the minimum
      p[K + k] = (k == 7 - 2 * pattern) ? big : -big;         // another one for the heights
    }
    for (int k = 0; k < K - 1; ++k) p[2 * K + k] = ((k + pattern) % 2) ? big : -big;  // d = 1e4 or min_d
    draws.push_back(p);
  }
  // (the inverse) derivatives so large that its b * b overflows (near 1e19 in float,
  // 1e154 in double): the root of an infinite discriminant is infinite in both forms
  // (Eigen's vectorised float sqrt alone gives NaN there). Not the forward: there, at
  // such derivatives in float, an input within an ulp of a knot moves the log-det by
  // hundreds, beyond what this test's two-ulp neighbourhood allows.
  const S huge = sizeof(S) == 4 ? S(1e29) : S(1e160);
  for (int pattern = 0; pattern < (huge_derivatives ? 4 : 0); ++pattern) {
    std::array<S, P> p;
    std::normal_distribution<double> nd(0.0, 1.0);
    for (int k = 0; k < 2 * K; ++k) p[k] = S(nd(g)) * S(pattern + 1);
    for (int k = 0; k < K - 1; ++k) p[2 * K + k] = ((k + pattern) % 2) ? huge : S(nd(g)) * huge;
    draws.push_back(p);
  }
  row_case<S> c;
  std::uniform_real_distribution<double> u(-4.0, 4.0);
  for (const auto& p : draws) {
    ft::detail::rq_knots<S, K> kn;
    spline::knots(p.data(), kn);
    std::vector<S> in;
    for (int k = 0; k <= K; ++k)
      for (S knot : {kn.x[k], kn.y[k]})
        in.insert(in.end(), {knot, std::nextafter(knot, lim::infinity()), std::nextafter(knot, -lim::infinity())});
    for (S s : {S(1), S(-1)})
      in.insert(in.end(), {s * S(3), std::nextafter(s * S(3), s * lim::infinity()), std::nextafter(s * S(3), S(0)),
                           s * S(1e30), s * lim::max(), s * lim::infinity(), s * lim::denorm_min(), s * S(3.5)});
    in.push_back(lim::quiet_NaN());
    in.push_back(S(0));
    for (int i = 0; i < 40; ++i) in.push_back(S(u(g)));
    for (S v : in) {
      c.params.push_back(p);
      c.inputs.push_back(v);
    }
  }
  return c;
}

template <class S, direction Dir>
void check_row(S tol) {
  using spline = ft::Spline<K, 3.0>::transformer<1, S>;
  const row_case<S> c = make_case<S>(Dir == direction::inverse);
  const Eigen::Index n = Eigen::Index(c.inputs.size());
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> theta(P + 3, n);  // 3 rows before the feature's
  theta.setConstant(S(7));
  Eigen::Matrix<S, 2, Eigen::Dynamic> V(2, n);  // the feature in row 1
  for (Eigen::Index j = 0; j < n; ++j) {
    for (int q = 0; q < P; ++q) theta(3 + q, j) = c.params[std::size_t(j)][std::size_t(q)];
    V(0, j) = S(-5);
    V(1, j) = c.inputs[std::size_t(j)];
  }
  Eigen::Matrix<S, 1, Eigen::Dynamic> ld = Eigen::Matrix<S, 1, Eigen::Dynamic>::Constant(n, S(0.25));
  const spline t{};
  t.template apply_row<Dir>(0, V.row(1), theta, Eigen::Index(3), ld);
  long off = 0, nan_mismatch = 0, tails_not_exact = 0, not_finite = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    const S in = c.inputs[std::size_t(j)];
    const S* p = c.params[std::size_t(j)].data();
    S l;
    const S ref = Dir == direction::forward ? t.forward(0, in, p, l) : t.inverse(0, in, p, l);
    const S got = V(1, j), got_ld = ld[j] - S(0.25);
    if (std::isnan(in)) {
      nan_mismatch += !std::isnan(got) || got_ld != S(0);
      continue;
    }
    if (!(in >= S(-3) && in <= S(3))) {
      tails_not_exact += !(got == in && got_ld == S(0));
      continue;
    }
    not_finite += !std::isfinite(got) || !std::isfinite(got_ld);
    // The knots of the two forms differ by rounding, so an input within an ulp or two
    // of a knot can fall into the neighbouring bin, where at the limits of the
    // parameters (a derivative of 1e4 next to one of 1e-3) the log-det moves by whole
    // units within an ulp of the input: the row form matches the per-sample function at
    // the input or at most two ulp from it.
    auto matches = [&](S x) {
      S lx;
      const S rx = Dir == direction::forward ? t.forward(0, x, p, lx) : t.inverse(0, x, p, lx);
      return std::abs(got - rx) <= tol * (S(1) + std::abs(rx)) && std::abs(got_ld - lx) <= tol * (S(1) + std::abs(lx));
    };
    const S up = std::nextafter(in, S(4)), down = std::nextafter(in, S(-4));
    const bool ok = matches(in) || matches(up) || matches(down) || matches(std::nextafter(up, S(4))) ||
                    matches(std::nextafter(down, S(-4)));
    if (!ok && off++ < 3) {
      INFO("column " << j << ": input " << in << ", row form " << got << " (ld " << got_ld << "), per sample " << ref
                     << " (ld " << l << ")");
      CHECK(ok);
    }
  }
  INFO((Dir == direction::forward ? "forward" : "inverse") << ", " << n << " columns");
  CHECK(n > 2000);
  CHECK(off == 0);
  CHECK(nan_mismatch == 0);
  CHECK(tails_not_exact == 0);
  CHECK(not_finite == 0);
  // the other rows are untouched
  CHECK((V.row(0).array() == S(-5)).all());
}

// A NaN parameter: each column has one (cycling through all 3K - 1), and an input
// drawn inside [-B, B]. The value and the log-det of the row form are NaN in exactly
// the columns where the per-sample ones are (a NaN parameter reaches the result only
// where the input's bin reads it, in either form).
template <class S, direction Dir>
void check_nan_parameters() {
  using spline = ft::Spline<K, 3.0>::transformer<1, S>;
  std::mt19937_64 g(77);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::uniform_real_distribution<double> u(-3.0, 3.0);
  const Eigen::Index n = 4 * P + 5;
  Eigen::Matrix<S, P, Eigen::Dynamic, Eigen::RowMajor> theta(P, n);
  Eigen::Matrix<S, 1, Eigen::Dynamic> v(n), ld = Eigen::Matrix<S, 1, Eigen::Dynamic>::Zero(n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (int q = 0; q < P; ++q) theta(q, j) = S(nd(g));
    theta(j % P, j) = std::numeric_limits<S>::quiet_NaN();
    v[j] = S(u(g));
  }
  const Eigen::Matrix<S, 1, Eigen::Dynamic> in = v;
  const spline t{};
  t.template apply_row<Dir>(0, v, theta, Eigen::Index(0), ld);
  long value_mismatch = 0, ld_mismatch = 0, nan_refs = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    S p[P];
    for (int q = 0; q < P; ++q) p[q] = theta(q, j);
    S l;
    const S ref = Dir == direction::forward ? t.forward(0, in[j], p, l) : t.inverse(0, in[j], p, l);
    nan_refs += std::isnan(ref);
    value_mismatch += std::isnan(ref) != std::isnan(v[j]);
    ld_mismatch += std::isnan(l) != std::isnan(ld[j]);
  }
  INFO((Dir == direction::forward ? "forward" : "inverse") << ", " << n << " columns, " << nan_refs
                                                            << " NaN per sample");
  CHECK(nan_refs > 0);
  CHECK(value_mismatch == 0);
  CHECK(ld_mismatch == 0);
}

// Every chunk shape: rows of 1 to 3 W + 3 columns (W the SIMD lanes of S, up to 16),
// so every count of whole chunks with every partial last chunk, in a row that is a
// strided segment of a larger matrix (only its own columns are written) and with
// parameters in either storage order; a NaN input in a different lane of each row.
template <class S, direction Dir, int Order>
void check_chunk_shapes(S tol) {
  using spline = ft::Spline<K, 3.0>::transformer<1, S>;
  std::mt19937_64 g(2026);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::uniform_real_distribution<double> u(-3.5, 3.5);
  const spline t{};
  long mismatches = 0, untouched_violations = 0, rows = 0;
  for (Eigen::Index n = 1; n <= 3 * 16 + 3; ++n) {
    Eigen::Matrix<S, P, Eigen::Dynamic, Order> theta(P, n);
    Eigen::Matrix<S, 2, Eigen::Dynamic> V(2, n + 2);  // the row: columns 1 .. n of row 1
    for (Eigen::Index j = 0; j < n; ++j)
      for (int q = 0; q < P; ++q) theta(q, j) = S(nd(g));
    for (Eigen::Index j = 0; j < n + 2; ++j) {
      V(0, j) = S(-5);
      V(1, j) = S(u(g));
    }
    V(1, 1 + (n * 5) % n) = std::numeric_limits<S>::quiet_NaN();
    const Eigen::Matrix<S, 2, Eigen::Dynamic> before = V;
    Eigen::Matrix<S, 1, Eigen::Dynamic> ld = Eigen::Matrix<S, 1, Eigen::Dynamic>::Constant(n + 2, S(0.5));
    t.template apply_row<Dir>(0, V.row(1).segment(1, n), theta, Eigen::Index(0), ld.segment(1, n));
    for (Eigen::Index j = 0; j < n; ++j) {
      S p[P];
      for (int q = 0; q < P; ++q) p[q] = theta(q, j);
      const S in = before(1, j + 1);
      S l;
      const S ref = Dir == direction::forward ? t.forward(0, in, p, l) : t.inverse(0, in, p, l);
      const S got = V(1, j + 1), got_ld = ld[j + 1] - S(0.5);
      const bool ok = std::isnan(in) ? (std::isnan(got) && got_ld == S(0))
                                     : std::abs(got - ref) <= tol * (S(1) + std::abs(ref)) &&
                                           std::abs(got_ld - l) <= tol * (S(1) + std::abs(l));
      if (!ok && mismatches++ < 3) {
        INFO("n = " << n << ", column " << j << ": input " << in << ", row form " << got << " (ld " << got_ld
                    << "), per sample " << ref << " (ld " << l << ")");
        CHECK(ok);
      }
    }
    untouched_violations += !(V.row(0).array() == S(-5)).all();
    untouched_violations += !(V(1, 0) == before(1, 0) && V(1, n + 1) == before(1, n + 1));
    untouched_violations += !(ld[0] == S(0.5) && ld[n + 1] == S(0.5));
    ++rows;
  }
  INFO((Dir == direction::forward ? "forward" : "inverse") << ", " << rows << " rows");
  CHECK(rows == 51);
  CHECK(mismatches == 0);
  CHECK(untouched_violations == 0);
}

}  // namespace

TEST_CASE("Spline's row form is NaN where the per-sample form is, with a NaN parameter", "[transformers][spline][row]") {
  check_nan_parameters<float, direction::forward>();
  check_nan_parameters<float, direction::inverse>();
  check_nan_parameters<double, direction::forward>();
  check_nan_parameters<double, direction::inverse>();
}

// rq_sqrt, the inverse's square root over a chunk, is std::sqrt's value in every lane:
// over all float exponents (denormals, the largest finite, +inf) and 0; NaN for NaN
template <class S>
void check_sqrt() {
  namespace fd = flowtmpl::detail;
  constexpr int W = fd::rq_lanes<S>;
  std::mt19937_64 g(3);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  using lim = std::numeric_limits<S>;
  std::vector<S> xs = {S(0), lim::denorm_min(), lim::min(), lim::max(), lim::infinity(), lim::quiet_NaN()};
  for (int e = lim::min_exponent - lim::digits; e < lim::max_exponent; ++e)
    for (int k = 0; k < 8; ++k) xs.push_back(std::ldexp(S(mant(g)), e - 1));
  long differ = 0;
  for (std::size_t i = 0; i < xs.size(); i += W) {
    S in[W], out[W];
    for (int l = 0; l < W; ++l) in[l] = xs[std::min(xs.size() - 1, i + std::size_t(l))];
    Eigen::internal::pstoreu(out, fd::rq_sqrt(Eigen::internal::ploadu<fd::rq_packet<S>>(in)));
    for (int l = 0; l < W; ++l) {
      const S ref = std::sqrt(in[l]);
      differ += std::isnan(ref) ? !std::isnan(out[l]) : out[l] != ref;
    }
  }
  INFO(xs.size() << " values, " << W << " lanes");
  CHECK(xs.size() > 2000);
  CHECK(differ == 0);
}

TEST_CASE("The row form's square root is correctly rounded", "[transformers][spline][row]") {
  check_sqrt<float>();
  check_sqrt<double>();
}

TEST_CASE("Spline's row form on rows of every chunk shape, in either parameter order", "[transformers][spline][row]") {
  // the tolerances of check_row: a float log-det near 0 is the difference of logs of
  // order 1 (here one of 0.0196 per sample and in the row form alike, 0.0191 in double)
  check_chunk_shapes<float, direction::forward, Eigen::RowMajor>(2e-3f);
  check_chunk_shapes<float, direction::inverse, Eigen::ColMajor>(2e-3f);
  check_chunk_shapes<double, direction::forward, Eigen::ColMajor>(1e-9);
  check_chunk_shapes<double, direction::inverse, Eigen::RowMajor>(1e-9);
}

TEST_CASE("Spline's row form equals its per-sample forward and inverse, float", "[transformers][spline][row]") {
  check_row<float, direction::forward>(2e-3f);
  check_row<float, direction::inverse>(2e-3f);
}

TEST_CASE("Spline's row form equals its per-sample forward and inverse, double", "[transformers][spline][row]") {
  check_row<double, direction::forward>(1e-9);
  check_row<double, direction::inverse>(1e-9);
}

}  // namespace spline_row_test
