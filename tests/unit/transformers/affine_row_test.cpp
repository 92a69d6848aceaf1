// The row form of BoundedAffine's vector-Jacobian product (vjp_row: one feature of a
// block of samples, the block gradient of couplings and MADE layers) against the path it
// replaces, transformer_vjp per column: both directions, the fixed and the learnable
// bound, the parameters in either storage order (the MLP's row-major output block and
// MADE's column-major one), row lengths around every SIMD width (1 to 131 samples), and
// inputs, parameters and cotangents that are NaN in some columns. The row form uses
// Eigen's vectorized tanh and exp, the per-sample one libm's: they agree to a few ulp
// of the terms summed, and each result is NaN exactly where the per-sample one is.
// (Infinite inputs are left out: there Eigen's exp of -inf is the smallest normal
// number, libm's 0, so inf x sech^2 can be inf in one and NaN in the other.)
#include <flowtmpl/transformers/affine.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

namespace affine_row_test {

using flowtmpl::direction;

namespace {

namespace ft = flowtmpl;
namespace fd = flowtmpl::detail;

template <class S>
constexpr S relative_tolerance = sizeof(S) == 4 ? S(2e-5) : S(2e-13);
template <class S>
constexpr S absolute_floor = sizeof(S) == 4 ? S(1e-30) : S(1e-290);

// a equals the per-sample result b up to rtol times mag (the size of the terms that
// made b), NaN exactly where b is NaN
template <class S>
bool agrees(S a, S b, S mag) {
  if (std::isnan(b) || std::isnan(a)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= relative_tolerance<S> * mag + absolute_floor<S>;
}

template <class S>
S draw(std::mt19937_64& gen, double scale, const S* specials, int n_specials) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double pick = u(gen);
  if (pick < 0.05) return std::numeric_limits<S>::quiet_NaN();
  if (pick < 0.15) return specials[std::uniform_int_distribution<int>(0, n_specials - 1)(gen)];
  return S(std::normal_distribution<double>(0.0, scale)(gen));
}

// One row of n samples, feature i = 1 of 2, in direction Dir: vjp_row against
// transformer_vjp<Dir> per column, from the same start of gtheta and of the learnable
// bound's gradient.
template <class T, direction Dir, int ThetaOrder>
void check_row(const T& t, Eigen::Index n, std::mt19937_64& gen, const std::string& what) {
  using S = typename T::scalar_type;
  constexpr int P = T::params_per_feature;
  constexpr int i = 1;
  constexpr Eigen::Index first = i * P;
  using Theta = Eigen::Matrix<S, 2 * P, Eigen::Dynamic, ThetaOrder>;
  const S r_specials[] = {S(0), S(-0.0), S(1e-6), S(-1e-6), S(30), S(-30), S(1e30), S(-1e30)};
  const S v_specials[] = {S(0), S(1e-30), S(-1e20), S(1e20), S(3)};
  const S gld = std::uniform_int_distribution<int>(0, 1)(gen) ? S(0) : S(-0.7);
  for (double scale : {0.1, 1.0, 10.0}) {
    Theta theta(2 * P, n), gtheta(2 * P, n);
    Eigen::Matrix<S, 3, Eigen::Dynamic> V(3, n);  // the row read is V's row 2: strided, as in a block
    Eigen::Matrix<S, 1, Eigen::Dynamic> g(n);
    for (Eigen::Index c = 0; c < n; ++c) {
      for (int k = 0; k < 2 * P; ++k) {
        theta(k, c) = draw<S>(gen, scale, r_specials, 8);
        gtheta(k, c) = S(std::normal_distribution<double>(0.0, 1.0)(gen));
      }
      for (int k = 0; k < 3; ++k) V(k, c) = draw<S>(gen, 2.0, v_specials, 5);
      g[c] = draw<S>(gen, 1.0, v_specials, 1);
    }
    const Theta gtheta_start = gtheta;
    T grad_row{}, grad_ref{};
    if constexpr (requires { grad_row.log_bound; }) {
      grad_row.log_bound.fill(S(0.25)), grad_ref.log_bound.fill(S(0.25));
    }
    Eigen::Matrix<S, 1, Eigen::Dynamic> g_row = g;
    t.template vjp_row<Dir>(i, V.row(2), theta, first, g_row, gld, gtheta, &grad_row);

    S bound_mag = 0;
    for (Eigen::Index c = 0; c < n; ++c) {
      const S p[P] = {theta(first, c), theta(first + 1, c)};
      S gp[P] = {gtheta_start(first, c), gtheta_start(first + 1, c)};
      const S g_ref = fd::transformer_vjp<Dir>(t, i, S(V(2, c)), p, g[c], gld, gp, &grad_ref);
      // the size of every term summed (the per-sample derivatives at the forward's input)
      S x = V(2, c), unused;
      if constexpr (Dir == direction::inverse) x = t.inverse(i, S(V(2, c)), p, unused);
      S dy[P], dl[P];
      const auto d = t.derivatives(i, x, p, dy, dl);
      const S gy = Dir == direction::forward ? g[c] : g[c] / d.dvalue_dx;
      INFO(what << ", n = " << n << ", column " << c << ": v = " << V(2, c) << ", r = " << p[0] << ", t = " << p[1]
                << ", g = " << g[c] << ", gld = " << gld);
      CHECK(agrees(g_row[c], g_ref, std::abs(g_ref)));
      for (int k = 0; k < P; ++k) {
        const S mag = std::abs(gtheta_start(first + k, c)) + std::abs(gy * dy[k]) + std::abs(gld * dl[k]);
        CHECK(agrees(gtheta(first + k, c), gp[k], mag));
      }
      // the other feature's rows are not touched
      for (int k = 0; k < P; ++k) CHECK(gtheta(k, c) == gtheta_start(k, c));
      if constexpr (requires { grad_row.log_bound; }) {
        const S c_i = t.bound(i);
        bound_mag += (std::abs(gy) * std::exp(std::abs(t.log_scale(i, p[0]))) * std::abs(x) + std::abs(gld)) *
                     std::abs(c_i * fd::tanh_minus_z_sech_squared(p[0] / c_i));
      }
    }
    if constexpr (requires { grad_row.log_bound; }) {
      INFO(what << ", n = " << n << ": the bound's gradient");
      CHECK(agrees(grad_row.log_bound[i], grad_ref.log_bound[i], bound_mag + S(0.25)));
      CHECK(grad_row.log_bound[0] == S(0.25));
    }
  }
}

template <class T>
void check_transformer(const T& t, const std::string& name) {
  std::mt19937_64 gen(2326);
  for (Eigen::Index n : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 128, 131}) {
    for (int rep = 0; rep < 6; ++rep) {
      check_row<T, direction::forward, Eigen::RowMajor>(t, n, gen, name + " forward, row-major parameters");
      check_row<T, direction::inverse, Eigen::RowMajor>(t, n, gen, name + " inverse, row-major parameters");
      check_row<T, direction::forward, Eigen::ColMajor>(t, n, gen, name + " forward, column-major parameters");
      check_row<T, direction::inverse, Eigen::ColMajor>(t, n, gen, name + " inverse, column-major parameters");
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("BoundedAffine: the row form of the vjp agrees with the per-sample vjp, NaN where it is NaN",
                   "[transformers][affine][gradient]", float, double) {
  check_transformer(ft::BoundedAffine<>::transformer<2, TestType>{}, "BoundedAffine<3>");
  check_transformer(ft::BoundedAffine<0.5>::transformer<2, TestType>{}, "BoundedAffine<0.5>");
  ft::BoundedAffine<2.0, ft::affine_bound::learnable>::transformer<2, TestType> learnable;
  learnable.log_bound = {TestType(0.3), TestType(-0.4)};
  check_transformer(learnable, "BoundedAffine<2, learnable>");
}

TEST_CASE("BoundedAffine: the row form of the vjp fails this test when it is wrong", "[transformers][affine][gradient]") {
  // the comparison itself: a result one part in 1e3 off, or NaN where the reference is
  // not, does not agree
  CHECK_FALSE(agrees(1.001, 1.0, 1.0));
  CHECK_FALSE(agrees(std::numeric_limits<double>::quiet_NaN(), 1.0, 1.0));
  CHECK_FALSE(agrees(1.0, std::numeric_limits<double>::quiet_NaN(), 1.0));
  CHECK(agrees(1.0 + 1e-15, 1.0, 1.0));
}

}  // namespace affine_row_test
