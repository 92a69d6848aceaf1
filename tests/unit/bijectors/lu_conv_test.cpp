// Tests of flowtmpl/bijectors/lu_conv.hpp: y = W x + bias with W = P L (U + diag(s)),
// for the three parameterisations of s (exp with signs, nflows's softplus, raw).
#include <flowtmpl/bijectors/lu_conv.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/testing.hpp>

#include <Eigen/LU>
#include <Eigen/QR>
#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace lu_conv_test {

namespace {

using flowtmpl_test::cycled_rows;
using flowtmpl_test::domain_error_from;

using flowtmpl::LUConvBijector;
namespace lu_diag = flowtmpl::lu_diag;

template <class S>
S rel_tol() {
  return sizeof(S) == 4 ? S(2e-6) : S(1e-14);
}

// W = Q1 diag(d) Q2 with Q1, Q2 orthogonal (QR of Gaussian matrices) and |d_i| in
// [0.5, 2] with random signs: condition number at most 4, either sign of det. (The test's
// own Eigen work uses dynamic-size matrices: one instantiation for every D, which keeps
// this file's compile time down.)
template <int D>
Eigen::Matrix<double, D, D> well_conditioned(unsigned seed) {
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
  return Eigen::Matrix<double, D, D>(w);
}

template <int D>
Eigen::Matrix<double, D, 1> random_vector(unsigned seed, double scale) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  Eigen::Matrix<double, D, 1> v;
  for (int i = 0; i < D; ++i) v[i] = u(gen);
  return v;
}

// A layer from W (cast to S first: the layer must reproduce the W it was given), with a
// random bias.
template <class Diag, int D, class S>
LUConvBijector<Diag, D, S> from_random_matrix(unsigned seed, Eigen::Matrix<S, D, D>& w) {
  w = well_conditioned<D>(seed).template cast<S>();
  auto b = LUConvBijector<Diag, D, S>::from_matrix(w);
  const Eigen::Matrix<double, D, 1> bias = random_vector<D>(seed + 1000, 2.0);
  for (int i = 0; i < D; ++i) b.bias[std::size_t(i)] = S(bias[i]);
  return b;
}

// nflows's parameterisation cannot come from a matrix: random entries, moderate enough that
// the unit lower L stays well conditioned (entries in [-0.3, 0.3]), s = softplus(raw) + 1e-3
// with raw in [-0.5, 1.5] (s in 0.48 .. 1.7).
template <int D, class S>
LUConvBijector<lu_diag::softplus, D, S> random_softplus_layer(unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  LUConvBijector<lu_diag::softplus, D, S> b;
  for (auto& v : b.lower_entries) v = S(0.3 * u(gen));
  for (auto& v : b.upper_entries) v = S(0.3 * u(gen));
  for (auto& v : b.diag) v = S(0.5 + u(gen));
  for (auto& v : b.bias) v = S(2 * u(gen));
  return b;
}

template <class B>
void run_kit(const B& b, const char* what) {
  using S = typename B::scalar_type;
  flowtmpl::testing::options<S> opt;
  // |W| and |W^-1| are at most a few (condition number <= 4 for the from_matrix layers,
  // similar for the random softplus ones): +-1e30 in any component maps to at most ~1e32,
  // finite in float, both ways.
  opt.sweep = cycled_rows<S>(
      B::dim, {S(0), S(1e-30), S(-1e-30), std::numeric_limits<S>::denorm_min(), S(1e30), S(-1e30), S(1)});
  opt.inverse_sweep = opt.sweep;
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO(what << ", D = " << B::dim << "\n" << r.text());
  CHECK(r.ok());
}

template <int D, class S>
void check_lu_conformance() {
  Eigen::Matrix<S, D, D> w;
  run_kit(from_random_matrix<lu_diag::exp, D, S>(40 + D, w), "LUConv from_matrix");
  // The other two diagonals share all the code but s(i): fewer dimensions keep this file's
  // compile time down (each instantiation of the kit for a dense 8 x 8 layer costs seconds).
  if constexpr (D == 3) run_kit(from_random_matrix<lu_diag::raw, D, S>(50 + D, w), "LUConvT<raw> from_matrix");
  if constexpr (D != 1) run_kit(random_softplus_layer<D, S>(60 + D), "LUConvT<softplus> random");
}

// from_matrix(W): weight() == W, log_det == log|det W|, forward == W x + bias,
// inverse == W^-1 (y - bias), prepare() the same.
template <class Diag, int D, class S>
void check_against_eigen(unsigned seed) {
  Eigen::Matrix<S, D, D> w;
  const auto b = from_random_matrix<Diag, D, S>(seed, w);
  const S tol = rel_tol<S>() * S(4 * D);
  INFO("D = " << D << ", seed " << seed);
  CHECK((b.weight() - w).cwiseAbs().maxCoeff() <= tol * w.cwiseAbs().maxCoeff());
  // log|det W| from Eigen's own determinant, in double from the same (S-rounded) matrix.
  using MX = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  const MX wd = w;
  const double det = Eigen::MatrixXd(wd.template cast<double>()).determinant();
  REQUIRE(det != 0.0);
  CHECK(double(b.constant_log_det()) == Approx(std::log(std::abs(det))).margin(double(tol)));
  CHECK(double(b.log_det(Eigen::Matrix<S, D, 1>::Zero())) == Approx(std::log(std::abs(det))).margin(double(tol)));

  const Eigen::Matrix<S, Eigen::Dynamic, 1> bias = Eigen::Map<const Eigen::Matrix<S, D, 1>>(b.bias.data());
  const MX x = MX::Random(D, 20) * S(3);
  const MX y_eigen = (wd * x).colwise() + bias;
  const MX x_eigen = wd.partialPivLu().solve(MX(y_eigen.colwise() - bias));
  const S scale = S(1) + y_eigen.cwiseAbs().maxCoeff();
  const auto p = b.prepare();
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    const Eigen::Matrix<S, D, 1> xj = x.col(j), yj = y_eigen.col(j), xe = x_eigen.col(j);
    CHECK((b.forward(xj) - yj).cwiseAbs().maxCoeff() <= tol * scale);
    CHECK((p.forward(xj) - yj).cwiseAbs().maxCoeff() <= tol * scale);
    CHECK((b.inverse(yj) - xe).cwiseAbs().maxCoeff() <= tol * scale);
    CHECK((p.inverse(yj) - xe).cwiseAbs().maxCoeff() <= tol * scale);
  }
  // prepare(): the dense W and W^-1, and the same constant log-det.
  CHECK((MX(p.w) - wd).cwiseAbs().maxCoeff() <= tol * wd.cwiseAbs().maxCoeff());
  const MX w_inv = wd.inverse();
  CHECK((MX(p.w_inv) - w_inv).cwiseAbs().maxCoeff() <= tol * w_inv.cwiseAbs().maxCoeff());
  CHECK((Eigen::Matrix<S, Eigen::Dynamic, 1>(p.bias) - bias).cwiseAbs().maxCoeff() == S(0));
  CHECK(p.constant_log_det() == b.constant_log_det());
  // The host batch path (which uses prepare()).
  const Eigen::Matrix<S, D, Eigen::Dynamic> xf = x, yf = y_eigen;
  const auto r = flowtmpl::forward_and_log_det(b, xf);
  CHECK((MX(r.values) - y_eigen).cwiseAbs().maxCoeff() <= tol * scale);
  CHECK(double(r.log_det[0]) == Approx(std::log(std::abs(det))).margin(double(tol)));
  CHECK((MX(flowtmpl::inverse(b, yf)) - x_eigen).cwiseAbs().maxCoeff() <= tol * scale);
  // The Jacobian of a linear map is W.
  CHECK((b.jacobian(xf.col(0)) - w).cwiseAbs().maxCoeff() <= tol * w.cwiseAbs().maxCoeff());
}

}  // namespace

TEMPLATE_TEST_CASE("LUConv passes the conformance kit", "[bijectors][lu_conv]", float, double) {
  check_lu_conformance<1, TestType>();
  check_lu_conformance<3, TestType>();
  check_lu_conformance<8, TestType>();
}

TEMPLATE_TEST_CASE("LUConv's from_matrix reproduces W, its determinant and W x + bias", "[bijectors][lu_conv]", float,
                   double) {
  using S = TestType;
  for (unsigned seed : {1u, 2u, 3u}) {
    check_against_eigen<lu_diag::exp, 1, S>(seed);
    check_against_eigen<lu_diag::exp, 3, S>(seed);
    check_against_eigen<lu_diag::exp, 8, S>(seed);
    check_against_eigen<lu_diag::raw, 3, S>(seed);
  }
  // A matrix that needs pivoting (zero in the top-left corner) and has a negative determinant.
  Eigen::Matrix<S, 3, 3> w;
  w << S(0), S(2), S(1), S(1), S(0), S(3), S(4), S(1), S(0);
  const auto b = flowtmpl::bind_t<flowtmpl::LUConv, 3, S>::from_matrix(w);
  CHECK((b.weight() - w).cwiseAbs().maxCoeff() <= S(8) * rel_tol<S>());
  // det = 0 (0 - 3) - 2 (0 - 12) + 1 (1 - 0) = 25.
  CHECK(b.constant_log_det() == Approx(std::log(25.0)).epsilon(rel_tol<S>()));
  const Eigen::Matrix<S, 3, 1> x(S(1), S(-1), S(2));
  const Eigen::Matrix<S, 3, 1> y = b.forward(x);
  // W x = (0 - 2 + 2, 1 + 0 + 6, 4 - 1 + 0) = (0, 7, 3).
  CHECK(y[0] == Approx(0.0).margin(8 * rel_tol<S>()));
  CHECK(y[1] == Approx(7.0).epsilon(rel_tol<S>()));
  CHECK(y[2] == Approx(3.0).epsilon(rel_tol<S>()));
  const Eigen::Matrix<S, 3, 1> xr = b.inverse(Eigen::Matrix<S, 3, 1>(S(0), S(7), S(3)));
  CHECK((xr - x).cwiseAbs().maxCoeff() <= S(8) * rel_tol<S>());
  Eigen::Matrix<S, 3, 3> neg = w;
  neg.row(0).swap(neg.row(1));  // det -25
  const auto bn = flowtmpl::bind_t<flowtmpl::LUConvT<lu_diag::raw>, 3, S>::from_matrix(neg);
  CHECK((bn.weight() - neg).cwiseAbs().maxCoeff() <= S(8) * rel_tol<S>());
  CHECK(bn.constant_log_det() == Approx(std::log(25.0)).epsilon(rel_tol<S>()));
  // from_matrix is not offered for the softplus diagonal (it cannot be negative).
  using SP = flowtmpl::bind_t<flowtmpl::LUConvT<lu_diag::softplus>, 3, S>;
  STATIC_REQUIRE_FALSE(requires(const Eigen::Matrix<S, 3, 3>& m) { SP::from_matrix(m); });
  STATIC_REQUIRE(
      requires(const Eigen::Matrix<S, 3, 3>& m) { flowtmpl::bind_t<flowtmpl::LUConv, 3, S>::from_matrix(m); });
}

TEMPLATE_TEST_CASE("LUConv's parameter layout is nflows's: row-major packed triangles", "[bijectors][lu_conv]", float,
                   double) {
  using S = TestType;
  constexpr int D = 4;
  using B = flowtmpl::bind_t<flowtmpl::LUConvT<lu_diag::raw>, D, S>;
  static_assert(B::n_tri == 6);
  static_assert(flowtmpl::parameter_count_v<B> == 6 + 6 + 4 + 4);
  static_assert(std::is_same_v<typename B::structure, flowtmpl::structure::dense>);
  static_assert(B::log_det_kind == flowtmpl::log_det_kind::constant);
  B b;
  for (std::size_t k = 0; k < 6; ++k) {
    b.lower_entries[k] = S(k + 1);
    b.upper_entries[k] = S(-(int(k) + 1));
  }
  b.diag = {S(2), S(-3), S(0.5), S(5)};
  // np.tril_indices(4, -1) and np.triu_indices(4, 1), written out.
  const std::vector<std::pair<int, int>> lower_at = {{1, 0}, {2, 0}, {2, 1}, {3, 0}, {3, 1}, {3, 2}};
  const std::vector<std::pair<int, int>> upper_at = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
  Eigen::Matrix<S, D, D> l = Eigen::Matrix<S, D, D>::Identity(), u = Eigen::Matrix<S, D, D>::Zero();
  for (std::size_t k = 0; k < 6; ++k) {
    l(lower_at[k].first, lower_at[k].second) = S(k + 1);
    u(upper_at[k].first, upper_at[k].second) = S(-(int(k) + 1));
  }
  u.diagonal() << S(2), S(-3), S(0.5), S(5);
  CHECK(b.lower() == l);
  CHECK(b.upper() == u);
  CHECK(b.weight() == l * u);  // small integers and halves: exact
  // log-det: log(2 * 3 * 0.5 * 5) = log 15.
  CHECK(b.constant_log_det() == Approx(std::log(15.0)).epsilon(rel_tol<S>()));
  // The permutation: (P v)_i = v_{perm[i]}.
  b.set_permutation({2, 0, 3, 1});
  CHECK(b.permutation() == std::array<int, D>{2, 0, 3, 1});
  Eigen::Matrix<S, D, D> pm = Eigen::Matrix<S, D, D>::Zero();
  pm(0, 2) = pm(1, 0) = pm(2, 3) = pm(3, 1) = S(1);
  CHECK(b.weight() == pm * l * u);
  const Eigen::Matrix<S, D, 1> x(S(1), S(2), S(-1), S(0.5));
  const Eigen::Matrix<S, D, 1> luv = l * u * x;
  const Eigen::Matrix<S, D, 1> y = b.forward(x);
  CHECK(y == Eigen::Matrix<S, D, 1>(luv[2], luv[0], luv[3], luv[1]));
  CHECK((b.inverse(y) - x).cwiseAbs().maxCoeff() <= S(100) * rel_tol<S>());
}

TEMPLATE_TEST_CASE("LUConv's diagonal parameterisations", "[bijectors][lu_conv]", float, double) {
  using S = TestType;
  // All three start as the identity.
  const Eigen::Matrix<S, 3, 1> x(S(1.5), S(-2), S(0.25));
  const flowtmpl::bind_t<flowtmpl::LUConv, 3, S> e;
  const flowtmpl::bind_t<flowtmpl::LUConvT<lu_diag::raw>, 3, S> r;
  const flowtmpl::bind_t<flowtmpl::LUConvT<lu_diag::softplus>, 3, S> sp;
  CHECK(e.forward(x) == x);
  CHECK(e.constant_log_det() == S(0));
  CHECK(r.forward(x) == x);
  CHECK(r.constant_log_det() == S(0));
  // nflows's identity init: softplus(log(exp(1 - eps) - 1)) + eps = 1, to rounding.
  CHECK((sp.forward(x) - x).cwiseAbs().maxCoeff() <= S(4) * rel_tol<S>());
  CHECK(sp.constant_log_det() == Approx(0.0).margin(S(4) * rel_tol<S>()));
  CHECK(double(sp.diag[0]) == Approx(std::log(std::exp(1 - 1e-3) - 1)).epsilon(rel_tol<S>()));

  // s_i for given raw values, computed here.
  flowtmpl::bind_t<flowtmpl::LUConvT<lu_diag::softplus>, 3, S> s3;
  s3.diag = {S(-2), S(0), S(30)};
  CHECK(s3.s(0) == Approx(std::log1p(std::exp(-2.0)) + 1e-3).epsilon(rel_tol<S>()));
  CHECK(s3.s(1) == Approx(std::log(2.0) + 1e-3).epsilon(rel_tol<S>()));
  CHECK(s3.s(2) == Approx(30.001).epsilon(rel_tol<S>()));
  CHECK(s3.constant_log_det() ==
        Approx(std::log(std::log1p(std::exp(-2.0)) + 1e-3) + std::log(std::log(2.0) + 1e-3) + std::log(30.001))
            .epsilon(rel_tol<S>()));
  // A very negative raw value still gives s = eps > 0.
  s3.diag[0] = S(-1000);
  CHECK(s3.s(0) == Approx(1e-3).epsilon(rel_tol<S>()));
  CHECK(s3.validate() == nullptr);

  flowtmpl::bind_t<flowtmpl::LUConv, 3, S> e3;
  e3.diag = {S(std::log(2.0)), S(0), S(-std::log(4.0))};
  e3.set_signs({S(1), S(-1), S(-1)});
  CHECK(e3.sign() == std::array<S, 3>{S(1), S(-1), S(-1)});
  CHECK(e3.s(0) == Approx(2.0).epsilon(rel_tol<S>()));
  CHECK(e3.s(1) == S(-1));
  CHECK(e3.s(2) == Approx(-0.25).epsilon(rel_tol<S>()));
  // log|s|: log 2 + 0 - log 4 = -log 2, whatever the signs.
  CHECK(e3.constant_log_det() == Approx(-std::log(2.0)).epsilon(rel_tol<S>()));
  CHECK(e3.forward(x) ==
        Eigen::Matrix<S, 3, 1>(S(e3.s(0) * x[0]), S(-x[1]), S(e3.s(2) * x[2])));  // diagonal W: one product each
}

TEMPLATE_TEST_CASE("LUConv's validate() reports a zero or non-finite diagonal", "[bijectors][lu_conv]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::LUConvT<lu_diag::raw>, 3, S> r;
  CHECK(r.validate() == nullptr);
  r.diag[1] = S(0);
  const char* msg = r.validate();
  REQUIRE(msg != nullptr);
  CHECK_THAT(std::string(msg), Catch::Contains("zero"));
  r.diag[1] = std::numeric_limits<S>::quiet_NaN();
  REQUIRE(r.validate() != nullptr);
  CHECK_THAT(std::string(r.validate()), Catch::Contains("non-finite"));
  r.diag[1] = std::numeric_limits<S>::infinity();
  CHECK(r.validate() != nullptr);
  r.diag[1] = S(-0.5);  // negative is fine for raw
  CHECK(r.validate() == nullptr);

  // The permutation and the signs can only be set to valid values.
  CHECK_THROWS_AS(r.set_permutation({0, 1, 3}), flowtmpl::shape_error);
  CHECK_THROWS_AS(r.set_permutation({0, -1, 2}), flowtmpl::shape_error);
  CHECK_THROWS_AS(r.set_permutation({1, 1, 2}), flowtmpl::shape_error);
  CHECK(r.permutation() == std::array<int, 3>{0, 1, 2});  // unchanged by the failures
  r.set_permutation({2, 0, 1});
  CHECK(r.permutation() == std::array<int, 3>{2, 0, 1});
  flowtmpl::bind_t<flowtmpl::LUConv, 3, S> sg;
  CHECK_THROWS_AS(sg.set_signs({S(1), S(0.5), S(-1)}), flowtmpl::shape_error);
  CHECK_THROWS_AS(sg.set_signs({S(1), S(0), S(-1)}), flowtmpl::shape_error);
  CHECK(sg.sign() == std::array<S, 3>{S(1), S(1), S(1)});

  // exp: s = exp(raw) underflows to 0 for raw = -1000 and overflows for +1000.
  flowtmpl::bind_t<flowtmpl::LUConv, 3, S> e;
  CHECK(e.validate() == nullptr);
  e.diag[0] = S(-1000);
  REQUIRE(e.validate() != nullptr);
  CHECK_THAT(std::string(e.validate()), Catch::Contains("zero"));
  e.diag[0] = S(1000);
  CHECK(e.validate() != nullptr);
}

TEMPLATE_TEST_CASE("LUConv with a zero on the diagonal: inf or NaN unchecked, domain_error checked",
                   "[bijectors][lu_conv]", float, double) {
  using S = TestType;
  constexpr int D = 3;
  Eigen::Matrix<S, D, D> w;
  auto b = from_random_matrix<lu_diag::raw, D, S>(77, w);
  b.diag[1] = S(0);
  Eigen::Matrix<S, D, Eigen::Dynamic> y(D, 4);
  y << S(1), S(2), S(3), S(4), S(-1), S(0.5), S(2), S(1), S(0.25), S(3), S(-2), S(1);
  // Per sample: the division by zero gives inf or NaN, no crash.
  CHECK_FALSE(b.inverse(y.col(0)).allFinite());
  // Batch, unchecked: the same, in every sample (each one divides by s_1 = 0).
  const auto x = flowtmpl::inverse(b, y);
  CHECK(x.cols() == 4);
  for (Eigen::Index j = 0; j < 4; ++j) CHECK_FALSE(x.col(j).allFinite());
  // The forward is a product with a singular W: finite. The log-det log|0| is -inf.
  CHECK(b.forward(y.col(0)).allFinite());
  CHECK(b.constant_log_det() == -std::numeric_limits<S>::infinity());

  // Checked mode, in both directions, rejects the layer, naming it.
  for (int dir = 0; dir < 2; ++dir) {
    INFO((dir == 0 ? "inverse" : "forward"));
    const auto e = domain_error_from([&] {
      if (dir == 0)
        (void)flowtmpl::inverse(b, y, flowtmpl::checked);
      else
        (void)flowtmpl::forward(b, y, flowtmpl::checked);
    });
    REQUIRE(e.has_value());
    CHECK(e->sample == 0);
    CHECK(e->component == -1);
    CHECK_THAT(e->layer, Catch::Contains("LUConv"));
    CHECK_THAT(std::string(e->what()), Catch::Contains("LUConv") && Catch::Contains("zero on the diagonal"));
  }
  // Repaired, checked mode agrees with unchecked.
  b.diag[1] = S(0.75);
  const auto c = flowtmpl::inverse_and_log_det(b, y, flowtmpl::checked);
  const auto u = flowtmpl::inverse_and_log_det(b, y);
  CHECK((c.values - u.values).cwiseAbs().maxCoeff() <= S(100) * rel_tol<S>());
  CHECK(c.log_det[0] == Approx(u.log_det[0]).epsilon(rel_tol<S>()));
}

}  // namespace lu_conv_test
