// The row form of Spline's vector-Jacobian product (vjp_row, rq_vjp_row in
// transformers/spline_row.hpp: one feature of a block of samples, the block gradient of
// couplings and MADE layers) against the path it replaces, transformer_vjp per column:
// both directions, float and double, the parameters and their cotangents in either
// storage order (the MLP's row-major output block, MADE's column-major one), rows of 1
// to 51 samples (every count of whole chunks with every partial chunk at up to 16
// lanes), inputs at +-B, in the tails, infinite, NaN and drawn over [-3.5, 3.5],
// parameters drawn at two scales with a NaN one in some columns, and NaN cotangents.
// The row form uses Eigen's vectorized exp, log, log1p and sqrt, the per-sample one
// libm's: each result agrees to rounding of the terms that made it, and is NaN exactly
// where the per-sample one is.
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>

namespace spline_vjp_row_test {

using flowtmpl::direction;

namespace {

namespace ft = flowtmpl;
namespace fd = flowtmpl::detail;
constexpr int K = 8;

// The tolerance relative to 1 + |per-sample result|. A float spline's derivatives are
// sums and quotients of terms of order 1 to 1e3 at these parameters (derivatives from
// min_d = 1e-3 up; a log-det's derivative divides by them), in which the two paths'
// knots differ by an ulp or two.
template <class S>
constexpr S tolerance = sizeof(S) == 4 ? S(2e-3) : S(1e-9);

template <class S>
bool agrees(S a, S b) {
  if (std::isnan(b) || std::isnan(a)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= tolerance<S> * (S(1) + std::abs(b));
}

// One row of n samples, feature 1 of 2 (its parameters in rows P .. 2P - 1), direction
// Dir: vjp_row against transformer_vjp<Dir> per column from the same gtheta.
template <class S, direction Dir, int ThetaOrder, int GradOrder>
long check_row(Eigen::Index n, std::mt19937_64& gen, long& nan_results) {
  using spline = ft::Spline<K, 3.0>::transformer<2, S>;
  constexpr int P = spline::params_per_feature;
  constexpr Eigen::Index first = P;
  const spline t{};
  std::normal_distribution<double> nd(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const S inf = std::numeric_limits<S>::infinity(), nan = std::numeric_limits<S>::quiet_NaN();
  const S edges[] = {S(-3), S(3), std::nextafter(S(3), inf), std::nextafter(S(-3), -inf), S(0), inf, -inf, nan, S(40)};
  Eigen::Matrix<S, 2 * P, Eigen::Dynamic, ThetaOrder> theta(2 * P, n);
  Eigen::Matrix<S, 2 * P, Eigen::Dynamic, GradOrder> gtheta(2 * P, n);
  Eigen::Matrix<S, 3, Eigen::Dynamic> V(3, n), G(3, n);  // the row: row 1 of each
  const double scale = u(gen) < 0.5 ? 1.0 : 3.0;
  for (Eigen::Index j = 0; j < n; ++j) {
    for (int q = 0; q < 2 * P; ++q) {
      theta(q, j) = S(scale * nd(gen));
      gtheta(q, j) = S(0.25) * S(q % 5);
    }
    if (u(gen) < 0.1) theta(first + Eigen::Index(u(gen) * P), j) = nan;
    for (int r = 0; r < 3; ++r) {
      V(r, j) = S(-7);
      G(r, j) = S(5);
    }
    const double pick = u(gen);
    V(1, j) = pick < 0.2 ? edges[std::size_t(u(gen) * 9)] : S(-3.5 + 7.0 * u(gen));
    G(1, j) = u(gen) < 0.05 ? nan : S(nd(gen));
  }
  const S gld = S(nd(gen));
  const Eigen::Matrix<S, 2 * P, Eigen::Dynamic, GradOrder> gtheta_before = gtheta;
  const Eigen::Matrix<S, 3, Eigen::Dynamic> G_before = G;
  t.template vjp_row<Dir>(1, V.row(1), theta, first, G.row(1), gld, gtheta, nullptr);
  long bad = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    S p[P], gp[P];
    for (int q = 0; q < P; ++q) {
      p[q] = theta(first + q, j);
      gp[q] = gtheta_before(first + q, j);
    }
    const S g_ref = fd::transformer_vjp<Dir>(t, 1, V(1, j), p, G_before(1, j), gld, gp, static_cast<spline*>(nullptr));
    nan_results += std::isnan(g_ref);
    bool ok = agrees(G(1, j), g_ref);
    for (int q = 0; q < P; ++q) {
      ok = ok && agrees(gtheta(first + q, j), gp[q]);
      nan_results += std::isnan(gp[q]);
    }
    // feature 0's rows and the other rows of V and G stay as they were
    for (int q = 0; q < P; ++q) ok = ok && gtheta(q, j) == gtheta_before(q, j);
    ok = ok && G(0, j) == S(5) && G(2, j) == S(5) && V(0, j) == S(-7) && V(2, j) == S(-7);
    if (!ok && bad++ < 3) {
      std::ostringstream params;
      for (int q = 0; q < P; ++q)
        params << "\n  parameter " << q << " = " << p[q] << ": row form " << gtheta(first + q, j) << ", per sample "
               << gp[q];
      INFO("n = " << n << ", column " << j << ": input " << V(1, j) << ", cotangent " << G_before(1, j)
                  << "; input's cotangent " << G(1, j) << " (per sample " << g_ref << ")" << params.str());
      CHECK(ok);
    }
  }
  return bad;
}

template <class S, direction Dir, int ThetaOrder, int GradOrder>
void check_rows(const std::string& what) {
  std::mt19937_64 gen(Dir == direction::forward ? 11 : 12);
  long bad = 0, nan_results = 0, rows = 0;
  for (Eigen::Index n = 1; n <= 51; ++n, ++rows) bad += check_row<S, Dir, ThetaOrder, GradOrder>(n, gen, nan_results);
  for (int rep = 0; rep < 4; ++rep, ++rows) bad += check_row<S, Dir, ThetaOrder, GradOrder>(257, gen, nan_results);
  INFO(what << ": " << rows << " rows, " << nan_results << " NaN results per sample");
  CHECK(rows == 55);
  CHECK(nan_results > 0);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("Spline's vjp_row equals transformer_vjp per column, float", "[transformers][spline][row][gradient]") {
  check_rows<float, direction::forward, Eigen::RowMajor, Eigen::RowMajor>("forward, row-major");
  check_rows<float, direction::inverse, Eigen::RowMajor, Eigen::RowMajor>("inverse, row-major");
  check_rows<float, direction::forward, Eigen::ColMajor, Eigen::ColMajor>("forward, column-major");
  check_rows<float, direction::inverse, Eigen::ColMajor, Eigen::RowMajor>("inverse, mixed orders");
}

TEST_CASE("Spline's vjp_row equals transformer_vjp per column, double", "[transformers][spline][row][gradient]") {
  check_rows<double, direction::forward, Eigen::RowMajor, Eigen::ColMajor>("forward, mixed orders");
  check_rows<double, direction::inverse, Eigen::ColMajor, Eigen::ColMajor>("inverse, column-major");
  check_rows<double, direction::forward, Eigen::ColMajor, Eigen::RowMajor>("forward, mixed orders");
  check_rows<double, direction::inverse, Eigen::RowMajor, Eigen::RowMajor>("inverse, row-major");
}

}  // namespace spline_vjp_row_test
