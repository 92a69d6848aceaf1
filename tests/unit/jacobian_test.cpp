// flowtmpl::jacobian(b, x) against a central-difference Jacobian written here, for single
// layers, chains, nested chains and inverses; log|det J| against log_det; and exact zeros
// wherever the declared structure forbids a dependency.
#include <flowtmpl/flowtmpl.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/LU>

namespace jacobian_test {

namespace {

using flowtmpl_test::set_actnorm;
using flowtmpl_test::set_affine;
using flowtmpl_test::set_luconv;

namespace ft = flowtmpl;

// ---- a central-difference Jacobian, in double -------------------------------------
// Column j: (f(x + h e_j) - f(x - h e_j)) / 2h with h = 1e-5 max(1, |x_j|). The error
// is O(h^2 f''') plus O(eps / h), about 1e-10 for the smooth maps below.
template <class B>
Eigen::Matrix<double, B::dim, B::dim> central_difference(const B& b, const Eigen::Matrix<double, B::dim, 1>& x) {
  constexpr int D = B::dim;
  Eigen::Matrix<double, D, D> j;
  for (int c = 0; c < D; ++c) {
    const double h = 1e-5 * std::max(1.0, std::abs(x[c]));
    Eigen::Matrix<double, D, 1> xp = x, xm = x;
    xp[c] += h;
    xm[c] -= h;
    j.col(c) = (b.forward(xp) - b.forward(xm)) / (2 * h);
  }
  return j;
}

double log_abs_det(const Eigen::MatrixXd& m) {
  // log|det| from an LU written out here: product of the pivots' magnitudes
  Eigen::MatrixXd a = m;
  const int n = int(a.rows());
  double acc = 0;
  for (int k = 0; k < n; ++k) {
    int p = k;
    for (int i = k + 1; i < n; ++i)
      if (std::abs(a(i, k)) > std::abs(a(p, k))) p = i;
    a.row(k).swap(a.row(p));
    acc += std::log(std::abs(a(k, k)));
    for (int i = k + 1; i < n; ++i) a.row(i) -= (a(i, k) / a(k, k)) * a.row(k);
  }
  return acc;
}

template <class M1, class M2>
double max_rel_diff(const M1& a, const M2& b) {
  const double scale = std::max(1.0, b.cwiseAbs().maxCoeff());
  return (a - b).cwiseAbs().maxCoeff() / scale;
}

// Every forbidden entry of J (by hand: `allowed(i, j)`) is exactly zero.
template <class M, class F>
int nonzero_forbidden(const M& j, F allowed) {
  int bad = 0;
  for (int r = 0; r < j.rows(); ++r)
    for (int c = 0; c < j.cols(); ++c)
      if (!allowed(r, c) && j(r, c) != 0) ++bad;
  return bad;
}

template <class B>
void check_jacobian(const B& b, const std::vector<Eigen::Matrix<double, B::dim, 1>>& xs, double tol = 1e-7) {
  for (const auto& x : xs) {
    const auto j = ft::jacobian(b, x);
    const auto fd = central_difference(b, x);
    INFO("layer " << B::name << " at x = " << x.transpose());
    INFO("jacobian:\n" << j << "\ncentral differences:\n" << fd);
    CHECK(max_rel_diff(j, fd) < tol);
    CHECK(log_abs_det(j) == Approx(b.log_det(x)).epsilon(1e-9).margin(1e-9));
  }
}

template <int D>
std::vector<Eigen::Matrix<double, D, 1>> points(int n, double lo, double hi, std::uint64_t seed) {
  std::vector<Eigen::Matrix<double, D, 1>> pts;
  ft::philox_stream rng(seed, 0);
  for (int p = 0; p < n; ++p) {
    Eigen::Matrix<double, D, 1> x;
    for (int i = 0; i < D; ++i) x[i] = lo + (hi - lo) * rng.uniform<double>();
    pts.push_back(x);
  }
  return pts;
}


// ---- user layers with a triangular and a block-triangular Jacobian ------------------
// D = 3, lower triangular:
//   y0 = x0 + 0.5
//   y1 = exp(0.3 x0) x1 + x0^2 / 4
//   y2 = exp(0.2 x1 - 0.1 x0) x2 + sin(x1)
// log|det| = 0.3 x0 + 0.2 x1 - 0.1 x0.
template <class S>
struct LowerMap {
  using scalar_type = S;
  using structure = ft::structure::lower_triangular;
  static constexpr int dim = 3;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::input_dependent;
  static constexpr const char* name = "LowerMap";
  using vec = Eigen::Matrix<S, 3, 1>;

  vec forward(const vec& x) const {
    using std::exp, std::sin;
    return vec(x[0] + S(0.5), exp(S(0.3) * x[0]) * x[1] + x[0] * x[0] / S(4),
               exp(S(0.2) * x[1] - S(0.1) * x[0]) * x[2] + sin(x[1]));
  }
  vec inverse(const vec& y) const {
    using std::exp, std::sin;
    vec x;
    x[0] = y[0] - S(0.5);
    x[1] = (y[1] - x[0] * x[0] / S(4)) * exp(S(-0.3) * x[0]);
    x[2] = (y[2] - sin(x[1])) * exp(-(S(0.2) * x[1] - S(0.1) * x[0]));
    return x;
  }
  S log_det(const vec& x) const { return S(0.3) * x[0] + S(0.2) * x[1] - S(0.1) * x[0]; }
  Eigen::Matrix<S, 3, 3> jacobian(const vec& x) const {
    using std::exp, std::cos;
    const S e1 = exp(S(0.3) * x[0]), e2 = exp(S(0.2) * x[1] - S(0.1) * x[0]);
    Eigen::Matrix<S, 3, 3> j = Eigen::Matrix<S, 3, 3>::Zero();
    j(0, 0) = S(1);
    j(1, 0) = S(0.3) * e1 * x[1] + x[0] / S(2);
    j(1, 1) = e1;
    j(2, 0) = S(-0.1) * e2 * x[2];
    j(2, 1) = S(0.2) * e2 * x[2] + cos(x[1]);
    j(2, 2) = e2;
    return j;
  }
};

// D = 4, block lower triangular for the blocks {0, 1}, {2, 3}:
//   (y0, y1) = [[2, 0.5], [-1, 1]] (x0, x1) + (0, 0.1)          (block determinant 2.5)
//   y2 = exp(0.3 x0) x2 + x1
//   y3 = exp(-0.2 x1) x3 + 0.4 x2 + sin(x0)
// log|det| = log 2.5 + 0.3 x0 - 0.2 x1.
template <class S>
struct BlockMap {
  using scalar_type = S;
  using structure = ft::structure::block_triangular<2, 2>;
  static constexpr int dim = 4;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::input_dependent;
  static constexpr const char* name = "BlockMap";
  using vec = Eigen::Matrix<S, 4, 1>;

  vec forward(const vec& x) const {
    using std::exp, std::sin;
    return vec(S(2) * x[0] + S(0.5) * x[1], -x[0] + x[1] + S(0.1), exp(S(0.3) * x[0]) * x[2] + x[1],
               exp(S(-0.2) * x[1]) * x[3] + S(0.4) * x[2] + sin(x[0]));
  }
  vec inverse(const vec& y) const {
    using std::exp, std::sin;
    vec x;
    x[0] = (y[0] - S(0.5) * (y[1] - S(0.1))) / S(2.5);
    x[1] = y[1] - S(0.1) + x[0];
    x[2] = (y[2] - x[1]) * exp(S(-0.3) * x[0]);
    x[3] = (y[3] - S(0.4) * x[2] - sin(x[0])) * exp(S(0.2) * x[1]);
    return x;
  }
  S log_det(const vec& x) const {
    using std::log;
    return log(S(2.5)) + S(0.3) * x[0] - S(0.2) * x[1];
  }
  Eigen::Matrix<S, 4, 4> jacobian(const vec& x) const {
    using std::exp, std::cos;
    Eigen::Matrix<S, 4, 4> j = Eigen::Matrix<S, 4, 4>::Zero();
    j(0, 0) = S(2);
    j(0, 1) = S(0.5);
    j(1, 0) = S(-1);
    j(1, 1) = S(1);
    j(2, 0) = S(0.3) * exp(S(0.3) * x[0]) * x[2];
    j(2, 1) = S(1);
    j(2, 2) = exp(S(0.3) * x[0]);
    j(3, 0) = cos(x[0]);
    j(3, 1) = S(-0.2) * exp(S(-0.2) * x[1]) * x[3];
    j(3, 2) = S(0.4);
    j(3, 3) = exp(S(-0.2) * x[1]);
    return j;
  }
};

bool lower_allowed(int i, int j) { return j <= i; }
bool block22_allowed(int i, int j) { return !(i < 2 && j >= 2); }
bool diagonal_allowed(int i, int j) { return i == j; }

}  // namespace

TEST_CASE("the user layers of this file have correct jacobians and inverses", "[jacobian]") {
  // (the test's own layers are checked first, so that the tests below can rely on them)
  LowerMap<double> lm;
  BlockMap<double> bm;
  for (const auto& x : points<3>(10, -1.5, 1.5, 1)) {
    CHECK(max_rel_diff(lm.jacobian(x), central_difference(lm, x)) < 1e-8);
    CHECK(max_rel_diff(lm.inverse(lm.forward(x)), x) < 1e-12);
  }
  for (const auto& x : points<4>(10, -1.5, 1.5, 2)) {
    CHECK(max_rel_diff(bm.jacobian(x), central_difference(bm, x)) < 1e-8);
    CHECK(max_rel_diff(bm.inverse(bm.forward(x)), x) < 1e-12);
  }
}

TEST_CASE("jacobian of single layers matches central differences", "[jacobian]") {
  const auto xs = points<4>(12, -2.0, 2.0, 3);
  SECTION("ActNorm") {
    ft::bind_t<ft::ActNorm, 4, double> b;
    set_actnorm(b);
    check_jacobian(b, xs);
    // diag(exp(log_scale)) exactly where it must be zero
    for (const auto& x : xs) CHECK(nonzero_forbidden(ft::jacobian(b, x), diagonal_allowed) == 0);
  }
  SECTION("LUConv: the dense W = P L (U + diag(s)), computed here by hand") {
    ft::bind_t<ft::LUConv, 4, double> b;
    set_luconv(b);
    check_jacobian(b, xs);
    Eigen::Matrix4d L = Eigen::Matrix4d::Identity(), U = Eigen::Matrix4d::Zero(), P = Eigen::Matrix4d::Zero();
    // row-major packed entries: lower (1,0) (2,0) (2,1) (3,0) (3,1) (3,2); upper (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    L(1, 0) = 0.3, L(2, 0) = -0.2, L(2, 1) = 0.5, L(3, 0) = 0.1, L(3, 1) = 0.4, L(3, 2) = -0.3;
    U(0, 1) = 0.2, U(0, 2) = -0.1, U(0, 3) = 0.3, U(1, 2) = 0.25, U(1, 3) = -0.4, U(2, 3) = 0.15;
    U(0, 0) = std::exp(0.1), U(1, 1) = -std::exp(-0.2), U(2, 2) = std::exp(0.3), U(3, 3) = std::exp(0.05);
    const int perm[4] = {2, 0, 3, 1};
    for (int i = 0; i < 4; ++i) P(i, perm[i]) = 1;
    const Eigen::Matrix4d W = P * L * U;
    CHECK(max_rel_diff(ft::jacobian(b, xs[0]), W) < 1e-14);
  }
  SECTION("Tanh, Softplus, Sigmoid, Exp: diagonal") {
    ft::bind_t<ft::Tanh, 4, double> t;
    ft::bind_t<ft::Softplus, 4, double> s;
    ft::bind_t<ft::Sigmoid, 4, double> g;
    ft::bind_t<ft::Exp, 4, double> e;
    check_jacobian(t, xs);
    check_jacobian(s, xs);
    check_jacobian(g, xs);
    check_jacobian(e, xs);
    for (const auto& x : xs) {
      CHECK(nonzero_forbidden(ft::jacobian(t, x), diagonal_allowed) == 0);
      CHECK(nonzero_forbidden(ft::jacobian(s, x), diagonal_allowed) == 0);
      // by hand: d tanh(x)/dx = 1 - tanh(x)^2
      for (int i = 0; i < 4; ++i)
        CHECK(ft::jacobian(t, x)(i, i) == Approx(1 - std::tanh(x[i]) * std::tanh(x[i])).epsilon(1e-12));
    }
  }
  SECTION("LeakyReLU away from its kink") {
    ft::bind_t<ft::LeakyReLU, 4, double> b(0.3);
    std::vector<Eigen::Vector4d> away;
    for (const auto& x : xs)
      if (x.cwiseAbs().minCoeff() > 0.01) away.push_back(x);
    REQUIRE(away.size() >= 6);
    check_jacobian(b, away);
  }
  SECTION("Permute<Indices<2, 0, 3, 1>>: the permutation matrix") {
    ft::bind_t<ft::Permute<ft::Indices<2, 0, 3, 1>>, 4, double> b;
    check_jacobian(b, xs);
    Eigen::Matrix4d P = Eigen::Matrix4d::Zero();
    P(0, 2) = P(1, 0) = P(2, 3) = P(3, 1) = 1;  // y_i = x_{perm[i]}
    CHECK(ft::jacobian(b, xs[1]) == P);
  }
  SECTION("Shift and Identity") {
    ft::bind_t<ft::Shift, 4, double> s;
    s.shift = {1, 2, 3, 4};
    check_jacobian(s, xs);
    CHECK(ft::jacobian(s, xs[0]) == Eigen::Matrix4d::Identity());
    CHECK(ft::jacobian(ft::bind_t<ft::Identity, 4, double>{}, xs[0]) == Eigen::Matrix4d::Identity());
  }
}

TEST_CASE("jacobian of chains matches central differences", "[jacobian][chain]") {
  const auto xs = points<4>(12, -2.0, 2.0, 4);
  SECTION("compose<ActNorm, LUConv, Permute<Reverse>, Tanh>") {
    ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh>, 4, double> f;
    set_actnorm(f.get<0>());
    set_luconv(f.get<1>());
    check_jacobian(f, xs);
    // the chain rule by hand: J = J_tanh(c) R W diag(exp(log_scale))
    for (const auto& x : xs) {
      const Eigen::Vector4d a = f.get<0>().forward(x), b = f.get<1>().forward(a), c = f.get<2>().forward(b);
      Eigen::Matrix4d R = Eigen::Matrix4d::Zero();
      for (int i = 0; i < 4; ++i) R(i, 3 - i) = 1;
      Eigen::Vector4d dt, ds;
      for (int i = 0; i < 4; ++i) dt[i] = 1 - std::tanh(c[i]) * std::tanh(c[i]);
      const double ls[4] = {0.3, -0.2, 0.1, 0.4};
      for (int i = 0; i < 4; ++i) ds[i] = std::exp(ls[i]);
      const Eigen::Matrix4d expected = dt.asDiagonal() * R * f.get<1>().weight() * ds.asDiagonal();
      CHECK(max_rel_diff(ft::jacobian(f, x), expected) < 1e-13);
    }
  }
  SECTION("compose<Affine, LeakyReLU, LUConv, Softplus> away from the kink") {
    ft::bind_t<ft::compose<ft::Affine, ft::LeakyReLU, ft::LUConv, ft::Softplus>, 4, double> f;
    set_affine(f.get<0>());
    f.get<1>().negative_slope = 0.2;
    set_luconv(f.get<2>());
    std::vector<Eigen::Vector4d> away;
    for (const auto& x : xs)
      if (f.get<0>().forward(x).cwiseAbs().minCoeff() > 0.01) away.push_back(x);
    REQUIRE(away.size() >= 6);
    check_jacobian(f, away);
  }
  SECTION("nested chains") {
    ft::bind_t<ft::compose<ft::compose<ft::Affine, ft::Tanh>, ft::compose<ft::compose<ft::LUConv>, ft::Softplus>>, 4,
               double>
        f;
    set_affine(f.get<0>().get<0>());
    set_luconv(f.get<1>().get<0>().get<0>());
    check_jacobian(f, xs);
  }
  SECTION("user layers in a chain") {
    const auto f = ft::chain(LowerMap<double>{}, ft::bind_t<ft::Tanh, 3, double>{}, LowerMap<double>{});
    check_jacobian(f, points<3>(10, -1.5, 1.5, 5));
    const auto g = ft::chain(BlockMap<double>{}, ft::bind_t<ft::Softplus, 4, double>{}, BlockMap<double>{});
    check_jacobian(g, xs);
  }
}

TEST_CASE("jacobian of inverses matches central differences", "[jacobian][inverse]") {
  SECTION("Inverse<LUConv>: W^-1") {
    ft::bind_t<ft::Inverse<ft::LUConv>, 4, double> b;
    set_luconv(b.base);
    const auto xs = points<4>(8, -2.0, 2.0, 6);
    check_jacobian(b, xs);
    CHECK(max_rel_diff(ft::jacobian(b, xs[0]), Eigen::Matrix4d(b.base.weight().inverse())) < 1e-12);
  }
  SECTION("Inverse<Tanh>: atanh on (-1, 1)") {
    ft::bind_t<ft::Inverse<ft::Tanh>, 4, double> b;
    const auto ys = points<4>(8, -0.9, 0.9, 7);
    check_jacobian(b, ys);
    for (const auto& y : ys) {
      CHECK(nonzero_forbidden(ft::jacobian(b, y), diagonal_allowed) == 0);
      for (int i = 0; i < 4; ++i) CHECK(ft::jacobian(b, y)(i, i) == Approx(1 / (1 - y[i] * y[i])).epsilon(1e-12));
    }
  }
  SECTION("Inverse<Permute<Indices<...>>>: the transposed permutation") {
    ft::bind_t<ft::Inverse<ft::Permute<ft::Indices<2, 0, 3, 1>>>, 4, double> b;
    const auto xs = points<4>(4, -2.0, 2.0, 8);
    check_jacobian(b, xs);
    Eigen::Matrix4d P = Eigen::Matrix4d::Zero();
    P(0, 2) = P(1, 0) = P(2, 3) = P(3, 1) = 1;
    CHECK(ft::jacobian(b, xs[0]) == P.transpose());
  }
  SECTION("Inverse<compose<ActNorm, LUConv, Tanh>> on (-1, 1)") {
    ft::bind_t<ft::Inverse<ft::compose<ft::ActNorm, ft::LUConv, ft::Tanh>>, 4, double> b;
    set_actnorm(b.base.get<0>());
    set_luconv(b.base.get<1>());
    check_jacobian(b, points<4>(10, -0.9, 0.9, 9));
  }
  SECTION("an inverse inside a chain") {
    ft::bind_t<ft::compose<ft::Sigmoid, ft::Inverse<ft::compose<ft::Affine, ft::Sigmoid>>, ft::LUConv>, 4, double> f;
    set_affine(f.get<1>().base.get<0>());
    set_luconv(f.get<2>());
    check_jacobian(f, points<4>(10, -2.0, 2.0, 10));
  }
  SECTION("the inverse of a user layer") {
    const auto b = ft::invert(LowerMap<double>{});
    check_jacobian(b, points<3>(10, -1.5, 1.5, 11));
    const auto c = ft::invert(ft::chain(BlockMap<double>{}, ft::bind_t<ft::Tanh, 4, double>{}));
    check_jacobian(c, points<4>(10, -0.9, 0.9, 12));
  }
}

TEST_CASE("jacobian has exact zeros where the structure forbids a dependency", "[jacobian][structure]") {
  SECTION("a chain of diagonal layers is diagonal") {
    using F = ft::bind_t<ft::compose<ft::Affine, ft::Tanh, ft::Softplus, ft::ActNorm>, 4, double>;
    STATIC_REQUIRE(std::is_same_v<F::structure, ft::structure::diagonal>);
    F f;
    set_affine(f.get<0>());
    set_actnorm(f.get<3>());
    for (const auto& x : points<4>(10, -2.0, 2.0, 13)) CHECK(nonzero_forbidden(ft::jacobian(f, x), diagonal_allowed) == 0);
  }
  SECTION("a chain of permutations and shifts is a permutation matrix") {
    using F = ft::bind_t<ft::compose<ft::Permute<ft::Indices<2, 0, 3, 1>>, ft::Shift, ft::Permute<ft::Reverse>>, 4, double>;
    STATIC_REQUIRE(std::is_same_v<F::structure, ft::structure::permutation>);
    F f;
    f.get<1>().shift = {1, -1, 2, -2};
    // y_i = x_{perm[3 - i]}: rows of the identity in the order perm[3], perm[2], perm[1], perm[0]
    Eigen::Matrix4d P = Eigen::Matrix4d::Zero();
    const int perm[4] = {2, 0, 3, 1};
    for (int i = 0; i < 4; ++i) P(i, perm[3 - i]) = 1;
    for (const auto& x : points<4>(5, -2.0, 2.0, 14)) CHECK(ft::jacobian(f, x) == P);
  }
  SECTION("a lower triangular user layer with diagonal layers stays lower triangular") {
    using F = ft::Chain<ft::AffineBijector<3, double>, LowerMap<double>, ft::TanhBijector<3, double>, LowerMap<double>>;
    STATIC_REQUIRE(std::is_same_v<F::structure, ft::structure::lower_triangular>);
    F f;
    f.get<0>().log_scale = {0.2, -0.3, 0.1};
    for (const auto& x : points<3>(10, -1.5, 1.5, 15)) CHECK(nonzero_forbidden(ft::jacobian(f, x), lower_allowed) == 0);
  }
  SECTION("a block triangular user layer with a diagonal layer stays block triangular") {
    using F = ft::Chain<BlockMap<double>, ft::SoftplusBijector<4, double>, BlockMap<double>>;
    STATIC_REQUIRE(std::is_same_v<F::structure, ft::structure::block_triangular<2, 2>>);
    F f;
    for (const auto& x : points<4>(10, -1.5, 1.5, 16)) CHECK(nonzero_forbidden(ft::jacobian(f, x), block22_allowed) == 0);
  }
  SECTION("the inverse of a lower triangular layer is lower triangular") {
    // The points make |J(1, 0)| > |J(0, 0)| = 1, so that a pivoting LU of J swaps rows.
    const auto b = ft::invert(LowerMap<double>{});
    STATIC_REQUIRE(std::is_same_v<decltype(b)::structure, ft::structure::lower_triangular>);
    for (const auto& y : points<3>(10, 1.5, 3.0, 17)) {
      const auto j = ft::jacobian(b, y);
      INFO("y = " << y.transpose() << "\njacobian of the inverse:\n" << j);
      CHECK(nonzero_forbidden(j, lower_allowed) == 0);
    }
  }
  SECTION("the inverse of a block triangular chain is block triangular") {
    const auto b = ft::invert(ft::chain(BlockMap<double>{}, ft::bind_t<ft::Tanh, 4, double>{}));
    STATIC_REQUIRE(std::is_same_v<decltype(b)::structure, ft::structure::block_triangular<2, 2>>);
    for (const auto& y : points<4>(10, -0.9, 0.9, 18)) {
      const auto j = ft::jacobian(b, y);
      INFO("y = " << y.transpose() << "\njacobian of the inverse:\n" << j);
      CHECK(nonzero_forbidden(j, block22_allowed) == 0);
    }
  }
}

TEST_CASE("jacobian in float agrees with the double one", "[jacobian]") {
  ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh>, 4, float> ff;
  ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh>, 4, double> fd;
  set_actnorm(ff.get<0>());
  set_luconv(ff.get<1>());
  set_actnorm(fd.get<0>());
  set_luconv(fd.get<1>());
  for (const auto& x : points<4>(10, -1.5, 1.5, 19)) {
    const Eigen::Matrix4d jd = ft::jacobian(fd, x);
    const Eigen::Matrix4d jf = ft::jacobian(ff, Eigen::Vector4f(x.cast<float>())).cast<double>();
    CHECK(max_rel_diff(jf, jd) < 1e-5);
  }
}

}  // namespace jacobian_test
