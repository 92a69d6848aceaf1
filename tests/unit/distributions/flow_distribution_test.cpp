// FlowDistribution (Flow<Base, compose<...>>): log_prob against the change of variables
// computed here; closed-form densities for affine flows; sampling moments at a
// temperature; sample_and_log_prob; reproducible, index-keyed sampling.
//
// Statistical tolerances: n = 200000 draws; a component's sample mean has standard error
// sigma / sqrt(n) and its sample std sigma / sqrt(2 (n - 1)) (normal data). Checks allow
// 5 standard errors.
#include <flowtmpl/flowtmpl.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include <Eigen/LU>

namespace flow_distribution_test {

namespace {

namespace ft = flowtmpl;

constexpr double pi = 3.14159265358979323846;
constexpr double n_se = 5;

const double ls_v[3] = {0.3, -0.4, 0.1};
const double sh_v[3] = {1.5, -0.5, 0.0};

template <class S>
using vec3 = Eigen::Matrix<S, 3, 1>;

template <class L>
void set_affine(L& a) {
  using S = typename L::scalar_type;
  for (int i = 0; i < 3; ++i) {
    a.log_scale[i] = S(ls_v[i]);
    a.shift[i] = S(sh_v[i]);
  }
}

template <class S>
using AffineTanhFlow = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Tanh>>, 3, S>;
template <class S>
using AffineFlow = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine>>, 3, S>;

template <class S>
AffineTanhFlow<S> make_affine_tanh() {
  AffineTanhFlow<S> d;
  set_affine(d.transform.template get<0>());
  return d;
}
template <class S>
AffineFlow<S> make_affine() {
  AffineFlow<S> d;
  set_affine(d.transform.template get<0>());
  return d;
}

// log N(x; shift, diag((t exp(log_scale))^2)), per component.
template <class V>
double affine_density(const V& x, double t = 1) {
  double lp = 0;
  for (int i = 0; i < 3; ++i) {
    const double sigma = t * std::exp(ls_v[i]);
    const double z = (double(x[i]) - sh_v[i]) / sigma;
    lp += -0.5 * z * z - std::log(sigma) - 0.5 * std::log(2 * pi);
  }
  return lp;
}

// For x -> tanh(exp(ls) z + shift): z = (atanh(x) - shift) exp(-ls) and
// log|det d f^-1/dx| = -sum ls - sum log(1 - x^2).
template <class V>
double affine_tanh_density(const V& x) {
  double lp = 0;
  for (int i = 0; i < 3; ++i) {
    const double xi = double(x[i]);
    const double z = (std::atanh(xi) - sh_v[i]) * std::exp(-ls_v[i]);
    lp += -0.5 * z * z - 0.5 * std::log(2 * pi) - ls_v[i] - std::log(1 - xi * xi);
  }
  return lp;
}

template <class A, class B>
bool bitwise_equal(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  using S = typename A::Scalar;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      const S x = a(i, j), y = b(i, j);
      if (std::memcmp(&x, &y, sizeof(S)) != 0) return false;
    }
  return true;
}

template <class M>
void check_affine_moments(const M& x, double t) {
  const Eigen::MatrixXd d = x.template cast<double>();
  const double n = double(d.cols());
  for (int i = 0; i < 3; ++i) {
    const double sigma = t * std::exp(ls_v[i]);
    const double m = d.row(i).mean();
    const double sd = std::sqrt((d.row(i).array() - m).square().sum() / (n - 1));
    INFO("component " << i << ": mean " << m << ", sd " << sd << ", expected " << sh_v[i] << ", " << sigma);
    CHECK(std::abs(m - sh_v[i]) < n_se * sigma / std::sqrt(n));
    CHECK(std::abs(sd - sigma) < n_se * sigma / std::sqrt(2 * (n - 1)));
  }
}

template <class S>
double tol() {
  return sizeof(S) == 4 ? 2e-5 : 1e-12;
}

}  // namespace

TEMPLATE_TEST_CASE("a flow's log_prob is the base density at f^-1(x) plus the inverse log-det", "[distributions][flow]",
                   float, double) {
  using S = TestType;
  const auto d = make_affine_tanh<S>();
  Eigen::Matrix<S, 3, Eigen::Dynamic> X(3, 200);
  ft::philox_stream rng(1, 0);
  for (Eigen::Index j = 0; j < X.cols(); ++j)
    for (int i = 0; i < 3; ++i) X(i, j) = S(-0.95) + S(1.9) * rng.uniform<S>();
  const auto lp = ft::log_prob(d, X);
  for (Eigen::Index j = 0; j < X.cols(); ++j) {
    const vec3<S> x = X.col(j);
    const double expected = affine_tanh_density(x);
    CHECK(double(d.log_prob(x)) == Approx(expected).epsilon(tol<S>()).margin(tol<S>()));
    CHECK(double(lp[j]) == Approx(expected).epsilon(tol<S>()).margin(tol<S>()));
  }
  // outside the support (|x| >= 1) the density is not a finite number
  CHECK_FALSE(std::isfinite(d.log_prob(vec3<S>(S(1.5), S(0), S(0)))));
}

TEMPLATE_TEST_CASE("an affine flow has the closed-form normal density", "[distributions][flow]", float, double) {
  using S = TestType;
  const auto d = make_affine<S>();
  for (const vec3<S>& x : {vec3<S>(S(0), S(0), S(0)), vec3<S>(S(1.5), S(-0.5), S(0)), vec3<S>(S(-3), S(2), S(4.5))}) {
    CHECK(double(d.log_prob(x)) == Approx(affine_density(x)).epsilon(tol<S>()));
    // at temperature T: N(shift, (T exp(log_scale))^2)
    CHECK(double(d.log_prob(x, S(0.5))) == Approx(affine_density(x, 0.5)).epsilon(tol<S>()));
    CHECK(double(d.log_prob(x, S(1.7))) == Approx(affine_density(x, 1.7)).epsilon(tol<S>()));
  }
}

TEST_CASE("a flow with a DiagonalNormal base and an LUConv from a matrix", "[distributions][flow]") {
  // x = W z with W chosen here; z ~ N(m, diag(s^2)):
  // log p(x) = log N(W^-1 x; m, s^2) - log|det W|
  Eigen::Matrix3d W;
  W << 0.5, 2.0, -1.0, 1.0, 0.3, 0.2, -0.7, 0.1, 1.5;
  ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::LUConv>>, 3, double> d;
  d.base.mean = {0.5, -1, 2};
  d.base.log_scale = {0.1, 0.2, -0.3};
  d.transform.get<0>() = ft::bind_t<ft::LUConv, 3, double>::from_matrix(W);
  const double log_abs_det_w = std::log(std::abs(W.determinant()));
  for (const Eigen::Vector3d& x : {Eigen::Vector3d(0, 0, 0), Eigen::Vector3d(1, -2, 0.5), Eigen::Vector3d(-3, 0.2, 4)}) {
    const Eigen::Vector3d z = W.lu().solve(x);
    double lp = -log_abs_det_w;
    for (int i = 0; i < 3; ++i) {
      const double sigma = std::exp(d.base.log_scale[i]);
      const double u = (z[i] - d.base.mean[i]) / sigma;
      lp += -0.5 * u * u - std::log(sigma) - 0.5 * std::log(2 * pi);
    }
    CHECK(d.log_prob(x) == Approx(lp).epsilon(1e-12));
  }
}

TEST_CASE("a flow's density integrates to one (D = 1, Affine then Tanh)", "[distributions][flow]") {
  ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Tanh>>, 1, double> d;
  d.transform.get<0>().log_scale[0] = -0.2;
  d.transform.get<0>().shift[0] = 0.4;
  // substitute x = tanh(u) to integrate over u in [-12, 12]: dx = (1 - x^2) du
  const int steps = 40000;
  const double lo = -12, hi = 12, h = (hi - lo) / steps;
  double sum = 0;
  for (int k = 0; k <= steps; ++k) {
    const double x = std::tanh(lo + k * h);
    const double w = (k == 0 || k == steps) ? 0.5 : 1.0;
    sum += w * std::exp(d.log_prob(Eigen::Matrix<double, 1, 1>(x))) * (1 - x * x);
  }
  CHECK(sum * h == Approx(1.0).epsilon(1e-8));
}

TEST_CASE("a flow from a Uniform base through Logit has the logistic density", "[distributions][flow]") {
  // x = logit(u), u ~ U(0, 1): log p(x) = -x - 2 log(1 + exp(-x)); mean 0, variance pi^2 / 3
  ft::bind_t<ft::Flow<ft::Uniform, ft::compose<ft::Logit>>, 2, double> d;
  for (const double x : {-5.0, -1.0, 0.0, 0.3, 2.5, 8.0}) {
    const double expected = 2 * (-x - 2 * std::log1p(std::exp(-x)));  // two components
    CHECK(d.log_prob(Eigen::Vector2d(x, x)) == Approx(expected).epsilon(1e-12));
  }
  const Eigen::Index n = 200000;
  const auto s = ft::sample(d, n, 5);
  for (int i = 0; i < 2; ++i) {
    const Eigen::ArrayXd r = s.row(i).transpose().array();
    const double m = r.mean(), var = (r - m).square().sum() / double(n - 1);
    const double sigma2 = pi * pi / 3;
    CHECK(std::abs(m) < n_se * std::sqrt(sigma2 / double(n)));
    // the logistic's excess kurtosis is 6/5: Var(s^2) ~ (mu4 - sigma^4) / n = sigma^4 (3 + 6/5 - 1) / n
    CHECK(std::abs(var - sigma2) < n_se * sigma2 * std::sqrt(3.2 / double(n)));
  }
  const auto r = ft::sample_and_log_prob(d, 100, 6);
  for (Eigen::Index j = 0; j < 100; ++j) CHECK(r.log_det[j] == Approx(d.log_prob(Eigen::Vector2d(r.values.col(j)))).epsilon(1e-10));
}

TEMPLATE_TEST_CASE("an affine flow's samples have mean shift and std T exp(log_scale)", "[distributions][flow]", float,
                   double) {
  using S = TestType;
  const auto d = make_affine<S>();
  const Eigen::Index n = 200000;
  SECTION("T = 1, sample(d, n, seed)") { check_affine_moments(ft::sample(d, n, 31), 1.0); }
  SECTION("T = 1, sample(d, n, seed, 1)") { check_affine_moments(ft::sample(d, n, 32, S(1)), 1.0); }
  SECTION("T = 0.6") { check_affine_moments(ft::sample(d, n, 33, S(0.6)), 0.6); }
  SECTION("T = 1.5") { check_affine_moments(ft::sample(d, n, 34, S(1.5)), 1.5); }
}

TEMPLATE_TEST_CASE("a flow's sample_and_log_prob gives the log_prob of the returned samples", "[distributions][flow]", float,
                   double) {
  using S = TestType;
  const auto d = make_affine_tanh<S>();
  const Eigen::Index n = 2000;
  const double t_lp = sizeof(S) == 4 ? 2e-4 : 1e-9;
  // In float, a sample that Tanh saturates to within 1e-3 of +-1 is stored with a
  // relative error in 1 - |x| above 6e-5, and the density of the stored value differs
  // from that of the exact one by more than t_lp: such samples are compared in double only.
  auto comparable = [](const auto& x) { return sizeof(S) == 8 || double(x.cwiseAbs().maxCoeff()) < 0.999; };
  SECTION("T = 1") {
    const auto r = ft::sample_and_log_prob(d, n, 41);
    REQUIRE(r.log_det.cols() == n);
    const auto lp = ft::log_prob(d, r.values);
    Eigen::Index compared = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (!comparable(r.values.col(j))) continue;
      ++compared;
      CHECK(double(r.log_det[j]) == Approx(double(lp[j])).epsilon(t_lp).margin(t_lp));
      CHECK(double(r.log_det[j]) == Approx(affine_tanh_density(r.values.col(j))).epsilon(t_lp).margin(t_lp));
    }
    CHECK(compared > n * 3 / 4);
    CHECK(bitwise_equal(r.values, ft::sample(d, n, 41)));
  }
  SECTION("T = 0.8") {
    const auto r = ft::sample_and_log_prob(d, n, 42, S(0.8));
    Eigen::Index compared = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
      const vec3<S> x = r.values.col(j);
      if (!comparable(x)) continue;
      ++compared;
      CHECK(double(r.log_det[j]) == Approx(double(d.log_prob(x, S(0.8)))).epsilon(t_lp).margin(t_lp));
    }
    CHECK(compared > n * 3 / 4);
    CHECK(bitwise_equal(r.values, ft::sample(d, n, 42, S(0.8))));
  }
  SECTION("the per-sample member") {
    ft::philox_stream rng(43, 0);
    const auto r = d.sample_and_log_prob(rng);
    CHECK(double(r.log_det) == Approx(affine_tanh_density(r.value)).epsilon(t_lp).margin(t_lp));
  }
}

TEMPLATE_TEST_CASE("a flow's sampling is reproducible and keyed by sample index", "[distributions][flow]", float, double) {
  using S = TestType;
  const auto d = make_affine_tanh<S>();
  const auto a = ft::sample(d, 300, 7);
  const auto b = ft::sample(d, 300, 7);
  const auto c = ft::sample(d, 300, 8);
  const auto big = ft::sample(d, 3000, 7);
  CHECK(bitwise_equal(a, b));
  int equal_columns = 0;
  for (Eigen::Index j = 0; j < 300; ++j) equal_columns += (a.col(j) == c.col(j)) ? 1 : 0;
  CHECK(equal_columns == 0);
  // sample j of a batch of n is sample j of a larger batch with the same seed
  CHECK(bitwise_equal(a, big.leftCols(300)));
  const auto ta = ft::sample_and_log_prob(d, 50, 9, S(0.5));
  const auto tb = ft::sample_and_log_prob(d, 500, 9, S(0.5));
  CHECK(bitwise_equal(ta.values, tb.values.leftCols(50)));
  CHECK(bitwise_equal(ta.log_det, tb.log_det.leftCols(50)));
  // sample j is f(z_j) with z_j drawn from philox_stream(seed, j)
  for (Eigen::Index j : {Eigen::Index(0), Eigen::Index(17), Eigen::Index(2999)}) {
    ft::philox_stream rng(7, std::uint64_t(j));
    const vec3<S> z = d.base.sample(rng);
    vec3<S> x;
    for (int i = 0; i < 3; ++i) x[i] = S(std::tanh(double(z[i]) * std::exp(ls_v[i]) + sh_v[i]));
    for (int i = 0; i < 3; ++i) CHECK(double(big(i, j)) == Approx(double(x[i])).epsilon(tol<S>()).margin(tol<S>()));
    ft::philox_stream rng2(7, std::uint64_t(j));
    CHECK(vec3<S>(big.col(j)).isApprox(d.sample(rng2), S(sizeof(S) == 4 ? 1e-6 : 1e-14)));
  }
}

}  // namespace flow_distribution_test
