// Gradients of the layers with a conditioner and of the literature's chains, through
// the conformance kit (analytic vector-Jacobian products against central differences,
// both directions, every input and every parameter or an even spread of 256), and the
// float path against the double one.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include "support/gradients.hpp"

#include <string>
#include <vector>

namespace chain_grad_test {

namespace ft = flowtmpl;

namespace {

using flowtmpl_test::randomize;
using flowtmpl_test::require_gradients;

// MADE weights must respect the masks: draw through reset_parameters instead.
template <class B>
B drawn(std::uint64_t seed) {
  B b;
  ft::reset_parameters(b, seed, ft::init::uniform);
  return b;
}

using Small = ft::MLP<8, 8>;
using SmallTanh = ft::MLP<8, 8>::with<ft::act::tanh>;

}  // namespace

TEMPLATE_TEST_CASE("coupling gradients: every transformer, mask and activation", "[gradients]",
                   (ft::Coupling<ft::Additive, Small>), (ft::Coupling<ft::Affine, Small, ft::mask::even>),
                   (ft::Coupling<ft::BoundedAffine<2.0, ft::affine_bound::learnable>, SmallTanh, ft::mask::half_flipped>),
                   (ft::Coupling<ft::SoftplusAffine, ft::MLP<8>::with<ft::act::silu>, ft::mask::odd>),
                   (ft::Coupling<ft::Spline<4>, ft::MLP<8>::with<ft::act::elu>>),
                   (ft::Coupling<ft::Spline<8>, Small, ft::mask::bits<1, 0, 1>>),
                   (ft::Coupling<ft::Affine, ft::ResidualNet<6, 2>::with<ft::act::tanh>>),
                   (ft::Coupling<ft::SigmoidAffine, ft::ResidualNet<6, 1>, ft::mask::odd>)) {
  auto b3 = drawn<ft::bind_t<TestType, 3, double>>(1);
  require_gradients(b3);
  auto far = drawn<ft::bind_t<TestType, 3, double>>(2);
  randomize(far, 7, -0.4, 0.4);  // every parameter, the transformer's own included
  require_gradients(far);
}

TEST_CASE("bounded spline coupling gradients inside [Lo, Hi]", "[gradients]") {
  auto b = drawn<ft::bind_t<ft::Coupling<ft::BoundedSpline<5, -1.0, 2.0>, Small>, 4, double>>(3);
  ft::testing::gradient_options<double> opt;
  opt.lo = -0.9;
  opt.hi = 1.9;
  require_gradients(b, opt);
}

TEMPLATE_TEST_CASE("autoregressive gradients, parallel and sequential directions", "[gradients]",
                   (ft::MaskedAutoregressive<ft::Affine, ft::MADE<8, 8>>),
                   (ft::InverseAutoregressive<ft::Affine, ft::MADE<8, 8>>),
                   (ft::MaskedAutoregressive<ft::SoftplusAffine, ft::ResidualMADE<8, 2>>),
                   (ft::InverseAutoregressive<ft::Spline<4>, ft::MADE<8>>),
                   (ft::MaskedAutoregressive<ft::Spline<4>, ft::ResidualMADE<8, 1>>),
                   (ft::MaskedAutoregressive<ft::Additive, ft::MADE<8>::with<ft::act::tanh>>)) {
  require_gradients(drawn<ft::bind_t<TestType, 1, double>>(4));
  require_gradients(drawn<ft::bind_t<TestType, 4, double>>(5));
}

TEST_CASE("conditional layers: gradients at a fixed context through with_context", "[gradients]") {
  using C = ft::Conditional<2, ft::compose<ft::Coupling<ft::Spline<4>, Small>, ft::Permute<ft::Reverse>,
                                           ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>>;
  auto b = drawn<ft::bind_t<C, 3, double>>(6);
  const Eigen::Vector2d c(0.3, -1.1);
  require_gradients(ft::with_context(b, c));
  // nflows's ResidualNet gates every block by the context
  using R = ft::Conditional<2, ft::Coupling<ft::Spline<4>, ft::ResidualNet<6, 2>::with<ft::act::silu>, ft::mask::even>>;
  require_gradients(ft::with_context(drawn<ft::bind_t<R, 3, double>>(7), c));
}

namespace {
// The four literature chains at D = 4, networks of 8 units (the structure, not the
// width, is what the gradients depend on).
template <class T>
using Couplings4 = ft::compose<ft::Coupling<T, Small>, ft::Permute<ft::Reverse>, ft::Coupling<T, Small, ft::mask::even>,
                               ft::Permute<ft::Random<3>>, ft::Coupling<T, Small>>;
using RealNVP = Couplings4<ft::Affine>;
using NSF = Couplings4<ft::Spline<8>>;
using Glow = ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Affine, Small>, ft::ActNorm, ft::LUConv,
                         ft::Coupling<ft::Affine, Small>>;
using MAF = ft::compose<ft::Inverse<ft::InverseAutoregressive<ft::SoftplusAffine, ft::MADE<8, 8>>>, ft::Permute<ft::Reverse>,
                        ft::MaskedAutoregressive<ft::Affine, ft::MADE<8, 8>>, ft::Permute<ft::Reverse>,
                        ft::MaskedAutoregressive<ft::Affine, ft::ResidualMADE<8, 1>>>;
}  // namespace

TEMPLATE_TEST_CASE("gradients of the RealNVP, Glow-style, NSF and MAF chains", "[gradients]", RealNVP, NSF, Glow, MAF) {
  auto b = drawn<ft::bind_t<TestType, 4, double>>(8);
  if constexpr (std::is_same_v<TestType, Glow>) {
    // ActNorm and LUConv start at the identity: move them
    b.template get<0>().log_scale = {0.2, -0.3, 0.1, 0.4};
    b.template get<0>().shift = {0.5, -0.5, 0.1, 0.0};
  }
  ft::testing::gradient_options<double> opt;
  opt.points = 3;
  require_gradients(b, opt);
}

TEST_CASE("a flow distribution's log_prob_vjp: base and transform parameters", "[gradients]") {
  using F = ft::bind_t<ft::Flow<ft::DiagonalNormal, NSF>, 4, double>;
  F f;
  ft::reset_parameters(f, 9, ft::init::uniform);
  f.base.mean = {0.1, -0.2, 0.3, 0.0};
  f.base.log_scale = {0.2, -0.1, 0.0, 0.3};
  const Eigen::Vector4d x(0.4, -1.2, 0.7, 2.0);
  F grad = ft::make_gradient(f);
  Eigen::Vector4d gx;
  const double lp = ft::log_prob_vjp(f, x, 1.0, grad, &gx);
  CHECK(lp == Approx(f.log_prob(x)).epsilon(1e-14));
  std::vector<double> theta(ft::parameter_count_v<F>), g(theta.size());
  ft::copy_parameters(f, theta.data());
  ft::copy_parameters(grad, g.data());
  for (std::size_t k = 0; k < theta.size(); k += 7) {
    auto lp_at = [&](double h) {
      F m = f;
      std::vector<double> t = theta;
      t[k] += h;
      ft::assign_parameters(m, t.data());
      return m.log_prob(x);
    };
    const double fd = (lp_at(1e-6) - lp_at(-1e-6)) / 2e-6;
    INFO("parameter " << k);
    CHECK(g[k] == Approx(fd).epsilon(1e-6).margin(1e-8));
  }
  for (int i = 0; i < 4; ++i) {
    auto lp_at = [&](double h) {
      Eigen::Vector4d y = x;
      y[i] += h;
      return f.log_prob(y);
    };
    CHECK(gx[i] == Approx((lp_at(1e-6) - lp_at(-1e-6)) / 2e-6).epsilon(1e-6).margin(1e-8));
  }
}

TEST_CASE("the float gradient path agrees with the double one", "[gradients]") {
  using Fd = ft::bind_t<ft::Flow<ft::StandardNormal, NSF>, 4, double>;
  using Ff = ft::bind_t<ft::Flow<ft::StandardNormal, NSF>, 4, float>;
  Fd fd;
  ft::reset_parameters(fd, 10, ft::init::uniform);
  std::vector<double> theta(ft::parameter_count_v<Fd>);
  ft::copy_parameters(fd, theta.data());
  std::vector<float> theta_f(theta.begin(), theta.end());
  Ff ff;
  ft::assign_parameters(ff, theta_f.data());
  // evaluate double at the float parameters, so that only the arithmetic differs
  std::vector<double> back(theta_f.begin(), theta_f.end());
  ft::assign_parameters(fd, back.data());
  Fd gd = ft::make_gradient(fd);
  Ff gf = ft::make_gradient(ff);
  const Eigen::Vector4d x(0.3, -0.8, 1.1, -0.2);
  ft::log_prob_vjp(fd, x, 1.0, gd);
  ft::log_prob_vjp(ff, Eigen::Vector4f(x.cast<float>()), 1.0f, gf);
  std::vector<double> a(theta.size());
  std::vector<float> b(theta.size());
  ft::copy_parameters(gd, a.data());
  ft::copy_parameters(gf, b.data());
  double scale = 0;
  for (double v : a) scale = std::max(scale, std::abs(v));
  for (std::size_t k = 0; k < a.size(); ++k) {
    INFO("parameter " << k);
    CHECK(std::abs(double(b[k]) - a[k]) <= 1e-4 * scale);
  }
}

}  // namespace chain_grad_test
