// Gradients of Planar, Radial and LUConv: the conformance kit's check_gradients (analytic
// vector-Jacobian products against central differences, both directions, every input and
// every raw parameter) away from the identity, through the reparameterisations (planar's
// u_hat where the raw u breaks w^T u > -1, radial's softplus, LUConv's permutation, signs
// and diagonal policies); the points where the kit cannot difference (planar at w = 0,
// radial at z = z0); finiteness at extreme parameters and inputs; float against double;
// and a deliberately wrong inverse gradient that the kit must catch.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include "support/gradients.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace planar_radial_lu_conv_grad_test {

namespace ft = flowtmpl;

namespace {

using flowtmpl_test::randomize;
using flowtmpl_test::require_gradients;

template <class V>
V random_vector(ft::philox_stream& rng, double scale) {
  V v;
  for (int i = 0; i < v.size(); ++i) v[i] = typename V::Scalar(scale * rng.normal<double>());
  return v;
}

template <class B>
std::vector<typename B::scalar_type> parameters_of(const B& b) {
  std::vector<typename B::scalar_type> t(ft::parameter_count_v<B>);
  ft::copy_parameters(b, t.data());
  return t;
}

template <class V>
bool all_finite(const V& v) {
  for (const auto& x : v)
    if (!std::isfinite(double(x))) return false;
  return true;
}

// Both products at x (forward) and at f(x) (inverse), for cotangents drawn with seed:
// every returned cotangent and every parameter cotangent is finite.
template <class B>
void require_finite_gradients(const B& b, const ft::vector_t<B>& x, std::uint64_t seed) {
  using V = ft::vector_t<B>;
  ft::philox_stream rng(seed, 1);
  const V g = random_vector<V>(rng, 1.0);
  const auto gld = typename B::scalar_type(rng.normal<double>());
  B gf = ft::make_gradient(b), gi = ft::make_gradient(b);
  const V gx = b.forward_vjp(x, g, gld, gf);
  const V gy = b.inverse_vjp(b.forward(x), g, gld, gi);
  INFO("x = " << x.transpose());
  CHECK(gx.allFinite());
  CHECK(gy.allFinite());
  CHECK(all_finite(parameters_of(gf)));
  CHECK(all_finite(parameters_of(gi)));
}

// Central difference of h -> loss(h) at 0.
template <class L>
double central(L&& loss, double h = 1e-6) {
  return (loss(h) - loss(-h)) / (2 * h);
}

template <int D>
void check_planar_random(std::uint64_t seed) {
  ft::PlanarBijector<D, double> b;
  randomize(b, seed, -1.5, 1.5);
  require_gradients(b);
}

template <int D>
void check_radial_random(std::uint64_t seed) {
  ft::RadialBijector<D, double> b;
  randomize(b, seed, -1.5, 1.5);
  require_gradients(b);
}

// A random invertible matrix, its largest entries off the diagonal's first position so
// that partial pivoting permutes rows.
template <int D>
Eigen::Matrix<double, D, D> random_matrix(std::uint64_t seed) {
  ft::philox_stream rng(seed, 5);
  Eigen::Matrix<double, D, D> m;
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < D; ++j) m(i, j) = rng.normal<double>();
  m += 0.5 * Eigen::Matrix<double, D, D>::Identity();
  m(0, 0) = 0.05;
  return m;
}

template <class Diag, int D>
void check_lu_random(std::uint64_t seed) {
  ft::LUConvBijector<Diag, D, double> b;
  randomize(b, seed, -0.9, 0.9);
  if constexpr (std::is_same_v<Diag, ft::lu_diag::raw>) {
    // s = raw: away from 0, both signs
    for (int i = 0; i < D; ++i) b.diag[i] = (i % 2 ? -1.0 : 1.0) * (0.6 + 0.2 * i);
  }
  require_gradients(b);
}

template <class Diag, int D>
void check_lu_from_matrix(std::uint64_t seed) {
  auto b = ft::LUConvBijector<Diag, D, double>::from_matrix(random_matrix<D>(seed));
  ft::philox_stream rng(seed, 6);
  for (int i = 0; i < D; ++i) b.bias[i] = rng.normal<double>();
  if constexpr (D > 1) {
    bool identity = true;
    for (int i = 0; i < D; ++i) identity = identity && b.permutation()[i] == i;
    CHECK_FALSE(identity);
  }
  require_gradients(b);
}

// Planar whose inverse_vjp adds the parameters' cotangents with the wrong sign (as if
// the inverse's parameter dependence were the forward's).
struct wrong_planar : ft::PlanarBijector<3, double> {
  static constexpr const char* name = "wrong_planar";
  Eigen::Vector3d inverse_vjp(const Eigen::Vector3d& y, const Eigen::Vector3d& gx, double gld,
                              wrong_planar& grad) const {
    wrong_planar d = ft::make_gradient(*this);
    const Eigen::Vector3d gy = PlanarBijector::inverse_vjp(y, gx, gld, d);
    for (int i = 0; i < 3; ++i) grad.u[i] -= d.u[i], grad.w[i] -= d.w[i];
    grad.b[0] -= d.b[0];
    return gy;
  }
};

}  // namespace

TEST_CASE("Planar gradients, random parameters, D = 1..5", "[gradients]") {
  check_planar_random<1>(11);
  check_planar_random<2>(12);
  check_planar_random<3>(13);
  check_planar_random<4>(14);
  check_planar_random<5>(15);
}

TEST_CASE("Planar gradients where the raw u breaks w^T u > -1 (u_hat differs from u)", "[gradients]") {
  ft::PlanarBijector<3, double> b;
  b.w = {0.8, -0.6, 0.5};
  b.b = {0.2};
  // u = -3 w / |w|^2 + a part orthogonal to w: w^T u = -3
  const Eigen::Vector3d w(0.8, -0.6, 0.5), o(0.6, 0.8, 0.0);
  const Eigen::Vector3d u = -3.0 * w / w.squaredNorm() + o;
  for (int i = 0; i < 3; ++i) b.u[i] = u[i];
  REQUIRE(w.dot(u) == Approx(-3.0));
  CHECK(b.w_dot_uhat() > -1.0);
  CHECK((b.uhat() - u).norm() > 1.0);
  require_gradients(b);

  // further from the constraint: w^T u = -8, m = softplus(-8) - 1, close to -1
  const Eigen::Vector3d u2 = -8.0 * w / w.squaredNorm() + o;
  for (int i = 0; i < 3; ++i) b.u[i] = u2[i];
  CHECK(b.w_dot_uhat() < -0.99);
  ft::testing::gradient_options<double> opt;
  opt.seed = 5;
  require_gradients(b, opt);

  // and large: w^T u = 6 (m about 5)
  const Eigen::Vector3d u3 = 6.0 * w / w.squaredNorm() - o;
  for (int i = 0; i < 3; ++i) b.u[i] = u3[i];
  require_gradients(b);
}

TEST_CASE("Planar gradients with large and small w", "[gradients]") {
  ft::PlanarBijector<4, double> b;
  b.u = {0.3, -1.2, 0.5, 0.9};
  b.w = {2.5, -1.5, 3.0, 0.5};
  b.b = {-0.4};
  require_gradients(b);
  // |w| = 1e-2: u_hat's correction about 1 / |w|
  b.w = {0.006, -0.004, 0.007, 0.002};
  ft::testing::gradient_options<double> opt;
  opt.fd_step = 1e-6;
  opt.rel_tol = 1e-5;
  require_gradients(b, opt);
}

TEST_CASE("Planar at w = 0: a translation; u and b differentiated, w only through tau", "[gradients]") {
  ft::PlanarBijector<3, double> b;
  b.u = {0.4, -0.7, 1.1};
  b.b = {0.3};
  const Eigen::Vector3d x(0.5, -1.0, 2.0), g(0.7, 0.2, -1.3);
  const double gld = 0.9;
  for (int dir = 0; dir < 2; ++dir) {
    const bool fwd = dir == 0;
    const Eigen::Vector3d in = fwd ? x : b.forward(x);
    auto grad = ft::make_gradient(b);
    const Eigen::Vector3d gin = fwd ? b.forward_vjp(in, g, gld, grad) : b.inverse_vjp(in, g, gld, grad);
    CHECK((gin - g).norm() == 0.0);  // J = I, ld = 0
    auto loss = [&](const ft::PlanarBijector<3, double>& m) {
      const auto r = fwd ? m.forward_and_log_det(in) : m.inverse_and_log_det(in);
      return g.dot(r.value) + gld * r.log_det;
    };
    for (int i = 0; i < 3; ++i) {
      const double fd = central([&](double h) {
        auto m = b;
        m.u[i] += h;
        return loss(m);
      });
      CHECK(grad.u[i] == Approx(fd).epsilon(1e-8).margin(1e-10));
    }
    const double fd_b = central([&](double h) {
      auto m = b;
      m.b[0] += h;
      return loss(m);
    });
    CHECK(grad.b[0] == Approx(fd_b).epsilon(1e-8).margin(1e-10));
    // w: the tau path, c z with c = tanh'(b) (g . u) (z = x both ways)
    const double t = std::tanh(0.3), c = (1 - t * t) * g.dot(Eigen::Vector3d(0.4, -0.7, 1.1));
    for (int i = 0; i < 3; ++i) CHECK(grad.w[i] == Approx((fwd ? 1 : -1) * c * x[i]).epsilon(1e-12));
  }
}

TEST_CASE("Radial gradients, random parameters, D = 1..5", "[gradients]") {
  check_radial_random<1>(21);
  check_radial_random<2>(22);
  check_radial_random<3>(23);
  check_radial_random<4>(24);
  check_radial_random<5>(25);
}

TEST_CASE("Radial gradients, contracting and expanding", "[gradients]") {
  ft::RadialBijector<3, double> b;
  b.z0 = {0.3, -0.5, 0.8};
  SECTION("beta close to -alpha: s = softplus(-4), a strong contraction near z0") {
    b.raw_alpha = {1.2};
    b.raw_beta = {-4.0};
    require_gradients(b);
  }
  SECTION("s >> alpha: a strong expansion") {
    b.raw_alpha = {-2.0};
    b.raw_beta = {2.5};
    require_gradients(b);
  }
  SECTION("points close to z0") {
    b.raw_alpha = {0.4};
    b.raw_beta = {-1.0};
    ft::testing::gradient_options<double> opt;
    opt.lo = -0.2;
    opt.hi = 0.2;
    opt.fd_step = 1e-6;
    require_gradients(b, opt);
  }
}

TEST_CASE("Radial at z = z0: J = (s / alpha) I; the parameters against differences", "[gradients]") {
  ft::RadialBijector<3, double> b;
  b.z0 = {0.3, -0.5, 0.8};
  b.raw_alpha = {0.6};
  b.raw_beta = {-0.9};
  const Eigen::Vector3d z0(0.3, -0.5, 0.8), g(0.7, 0.2, -1.3);
  const double gld = -0.8, rho0 = b.beta() / b.alpha() + 1.0;
  for (int dir = 0; dir < 2; ++dir) {
    const bool fwd = dir == 0;
    auto grad = ft::make_gradient(b);
    const Eigen::Vector3d gin = fwd ? b.forward_vjp(z0, g, gld, grad) : b.inverse_vjp(z0, g, gld, grad);
    CHECK((gin - (fwd ? rho0 : 1 / rho0) * g).norm() <= 1e-14);
    // raw_alpha and raw_beta move neither z0 nor the output there: only the log-det
    auto loss = [&](const ft::RadialBijector<3, double>& m) {
      const auto r = fwd ? m.forward_and_log_det(z0) : m.inverse_and_log_det(z0);
      return g.dot(r.value) + gld * r.log_det;
    };
    const double fa = central([&](double h) {
      auto m = b;
      m.raw_alpha[0] += h;
      return loss(m);
    });
    const double fb = central([&](double h) {
      auto m = b;
      m.raw_beta[0] += h;
      return loss(m);
    });
    CHECK(grad.raw_alpha[0] == Approx(fa).epsilon(1e-8));
    CHECK(grad.raw_beta[0] == Approx(fb).epsilon(1e-8));
    // moving z0 with the input: the output follows, d/dz0 + d/din = g (log-det unchanged)
    CHECK((Eigen::Map<const Eigen::Vector3d>(grad.z0.data()) + gin - g).norm() <= 1e-14);
  }
}

TEST_CASE("LUConv gradients: Glow's exp diagonal from a matrix (permutation and signs)", "[gradients]") {
  check_lu_from_matrix<ft::lu_diag::exp, 1>(31);
  check_lu_from_matrix<ft::lu_diag::exp, 2>(32);
  check_lu_from_matrix<ft::lu_diag::exp, 3>(33);
  check_lu_from_matrix<ft::lu_diag::exp, 5>(35);
  check_lu_from_matrix<ft::lu_diag::raw, 4>(34);
}

TEMPLATE_TEST_CASE("LUConv gradients, random entries, every diagonal policy", "[gradients]", ft::lu_diag::exp,
                   ft::lu_diag::softplus, ft::lu_diag::raw) {
  check_lu_random<TestType, 1>(41);
  check_lu_random<TestType, 2>(42);
  check_lu_random<TestType, 3>(43);
  check_lu_random<TestType, 4>(44);
  check_lu_random<TestType, 5>(45);
}

TEST_CASE("gradients of chains holding Planar, Radial and LUConv, and their inverses", "[gradients]") {
  using Spec = ft::compose<ft::LUConv, ft::Planar, ft::Radial, ft::Inverse<ft::Planar>,
                           ft::LUConvT<ft::lu_diag::softplus>, ft::Inverse<ft::Radial>, ft::Inverse<ft::LUConv>>;
  ft::bind_t<Spec, 3, double> b;
  randomize(b, 51, -0.8, 0.8);
  ft::testing::gradient_options<double> opt;
  opt.points = 3;
  require_gradients(b, opt);
}

TEMPLATE_TEST_CASE("planar and radial gradients stay finite at extreme parameters and inputs", "[gradients]", float,
                   double) {
  using S = TestType;
  using V = Eigen::Matrix<S, 3, 1>;
  constexpr bool single = sizeof(S) == 4;
  const S huge = single ? S(1e30) : S(1e200), tiny = single ? S(1e-30) : S(1e-200);
  const S subnormal = single ? S(1e-40) : S(1e-310), top = std::numeric_limits<S>::max() / S(2);
  const S past_exp = single ? S(-200) : S(-800);  // softplus of it underflows
  SECTION("planar") {
    ft::PlanarBijector<3, S> b;
    b.u = {S(0.4), S(-0.7), S(1.1)};
    b.b = {S(0.3)};
    for (const V& w : {V(tiny, -tiny / 3, 0), V(subnormal, 0, 0), V(S(1) / tiny, S(-2) / tiny, S(0.1) / tiny),
                       V(S(0.5), S(0.3), S(-0.2))}) {
      for (int i = 0; i < 3; ++i) b.w[i] = w[i];
      INFO("w = " << w.transpose());
      for (const V& x : {V(S(0.5), -1, 2), V(huge, -huge, huge / 3), V(0, 0, 0)}) require_finite_gradients(b, x, 1);
    }
    // m close to -1, on the hyperplane w^T z + b = 0 where g' = 1 + m is smallest
    b.w = {1, 0, 0};
    b.u = {-30, S(0.5), 0};
    b.b = {0};
    REQUIRE(b.w_dot_uhat() < S(-0.999));
    require_finite_gradients(b, V(0, 1, -2), 2);
    require_finite_gradients(b, V(S(1e-8), 1, -2), 3);
    // w^T u beyond the exponent range of softplus
    b.u = {S(-1e6), S(0.5), 0};
    require_finite_gradients(b, V(0, 1, -2), 4);
    b.u = {S(1e6), S(0.5), 0};
    require_finite_gradients(b, V(S(0.3), 1, -2), 5);
  }
  SECTION("radial") {
    ft::RadialBijector<3, S> b;
    b.z0 = {S(0.3), S(-0.5), S(0.8)};
    const V z0(S(0.3), S(-0.5), S(0.8));
    for (S ra : {past_exp, S(-30), S(0.5), S(40), S(1e6)}) {
      for (S rb : {past_exp, S(-30), S(0.5), S(40), S(1e6)}) {
        b.raw_alpha = {ra};
        b.raw_beta = {rb};
        INFO("raw_alpha " << ra << ", raw_beta " << rb);
        for (const V& x : {z0, V(z0 + V(subnormal, 0, 0)), V(z0 + V(S(1e-6), S(-1e-6), 0)), V(1, 2, -3),
                           V(huge, -huge, huge / 3), V(top, top, 0)})
          require_finite_gradients(b, x, 6);
      }
    }
  }
}

TEST_CASE("the float products agree with the double ones", "[gradients]") {
  auto compare = [](const auto& bd, auto bf, std::uint64_t seed) {
    using Bd = std::decay_t<decltype(bd)>;
    using Vd = ft::vector_t<Bd>;
    using Vf = ft::vector_t<decltype(bf)>;
    // the double layer at the float parameters, so that only the arithmetic differs
    auto td = parameters_of(bd);
    std::vector<float> tf(td.begin(), td.end());
    ft::assign_parameters(bf, tf.data());
    Bd b = bd;
    std::vector<double> back(tf.begin(), tf.end());
    ft::assign_parameters(b, back.data());
    ft::philox_stream rng(seed, 2);
    for (int p = 0; p < 4; ++p) {
      const Vd x = random_vector<Vd>(rng, 1.5), g = random_vector<Vd>(rng, 1.0);
      const double gld = rng.normal<double>();
      const Vf gf = g.template cast<float>();
      for (int dir = 0; dir < 2; ++dir) {
        const bool fwd = dir == 0;
        Bd grad_d = ft::make_gradient(b);
        auto grad_f = ft::make_gradient(bf);
        const Vd in = fwd ? x : b.forward(x);
        const Vf in_f = in.template cast<float>();
        const Vd gd = fwd ? b.forward_vjp(in, g, gld, grad_d) : b.inverse_vjp(in, g, gld, grad_d);
        const Vf gfl =
            fwd ? bf.forward_vjp(in_f, gf, float(gld), grad_f) : bf.inverse_vjp(in_f, gf, float(gld), grad_f);
        const auto a = parameters_of(grad_d);
        const auto c = parameters_of(grad_f);
        double scale = gd.cwiseAbs().maxCoeff();
        for (double v : a) scale = std::max(scale, std::abs(v));
        INFO(Bd::name << (fwd ? " forward" : " inverse") << " at " << in.transpose());
        CHECK((gfl.template cast<double>() - gd).cwiseAbs().maxCoeff() <= 1e-4 * scale);
        for (std::size_t k = 0; k < a.size(); ++k) CHECK(std::abs(double(c[k]) - a[k]) <= 1e-4 * scale);
      }
    }
  };
  ft::PlanarBijector<4, double> pd;
  randomize(pd, 61, -1.2, 1.2);
  compare(pd, ft::PlanarBijector<4, float>{}, 1);
  ft::RadialBijector<4, double> rd;
  randomize(rd, 62, -1.2, 1.2);
  compare(rd, ft::RadialBijector<4, float>{}, 2);
  ft::LUConvBijector<ft::lu_diag::softplus, 4, double> ld;
  randomize(ld, 63, -0.8, 0.8);
  compare(ld, ft::LUConvBijector<ft::lu_diag::softplus, 4, float>{}, 3);
  ft::LUConvBijector<ft::lu_diag::exp, 4, double> le;
  randomize(le, 64, -0.8, 0.8);
  compare(le, ft::LUConvBijector<ft::lu_diag::exp, 4, float>{}, 4);
}

TEST_CASE("the kit catches an inverse gradient with the parameters' sign flipped", "[gradients]") {
  wrong_planar b;
  b.u = {0.5, -0.3, 0.8};
  b.w = {0.7, 0.2, -0.4};
  b.b = {0.3};
  const auto rep = ft::testing::check_gradients(b);
  CHECK_FALSE(rep.ok());
  CHECK(rep.failed("inverse_vjp.parameters") > 0);
  CHECK_THAT(rep.text(), Catch::Contains("inverse_vjp") && Catch::Contains("parameter u"));
  // the forward's checks ran and passed
  CHECK(rep.count("forward_vjp.parameters") > 0);
  CHECK(rep.failed("forward_vjp.input") == 0);
  CHECK(rep.failed("forward_vjp.parameters") == 0);
}

}  // namespace planar_radial_lu_conv_grad_test
