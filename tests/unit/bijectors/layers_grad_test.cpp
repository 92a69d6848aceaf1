// Gradients of the layers without a conditioner, of chains and inverses, and of the
// base distributions: the conformance kit's check_gradients (analytic vector-Jacobian
// products against central differences, both directions, every input and parameter).
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include "support/gradients.hpp"

#include <string>
#include <vector>

namespace layers_grad_test {

namespace ft = flowtmpl;

namespace {

using flowtmpl_test::randomize;
using flowtmpl_test::require_gradients;

template <class Spec, int D>
void check_spec(std::uint64_t seed, ft::testing::gradient_options<double> opt = {}) {
  ft::bind_t<Spec, D, double> b;
  randomize(b, seed);
  require_gradients(b, opt);
}

// A layer whose forward_vjp counts the log-det's cotangent twice.
struct wrong : ft::AffineBijector<2, double> {
  static constexpr const char* name = "wrong";
  Eigen::Vector2d forward_vjp(const Eigen::Vector2d& x, const Eigen::Vector2d& gy, double gld, wrong& grad) const {
    return AffineBijector::forward_vjp(x, gy, 2.0 * gld, grad);
  }
  Eigen::Vector2d inverse_vjp(const Eigen::Vector2d& y, const Eigen::Vector2d& gx, double gld, wrong& grad) const {
    return AffineBijector::inverse_vjp(y, gx, gld, grad);
  }
};

}  // namespace

TEMPLATE_TEST_CASE("gradients of the parameter-free and affine layers", "[gradients]", ft::Identity, ft::Shift, ft::Scale,
                   ft::Affine, ft::ActNorm, ft::Exp, ft::Sigmoid, ft::Softplus, ft::Tanh, ft::LeakyReLU,
                   ft::Permute<ft::Reverse>, ft::Permute<ft::Random<5>>, ft::Inverse<ft::Affine>, ft::Inverse<ft::Exp>) {
  check_spec<TestType, 1>(1);
  check_spec<TestType, 3>(2);
  check_spec<TestType, 5>(3);
}

TEST_CASE("gradients of Logit inside its domain (0, 1)", "[gradients]") {
  ft::bind_t<ft::Logit, 3, double> b;
  ft::testing::gradient_options<double> opt;
  opt.lo = 0.05;
  opt.hi = 0.95;
  require_gradients(b, opt);
}

TEST_CASE("LeakyReLU gradients on both sides of 0, with another slope", "[gradients]") {
  ft::LeakyReLUBijector<4, double> b(0.3);
  require_gradients(b);
}

TEST_CASE("a kit check_gradients catches a wrong gradient", "[gradients]") {
  wrong w;
  w.log_scale = {0.3, -0.2};
  const auto rep = ft::testing::check_gradients(w);
  CHECK_FALSE(rep.ok());
  CHECK(rep.failed("forward_vjp.parameters") > 0);
  CHECK_THAT(rep.text(), Catch::Contains("forward_vjp") && Catch::Contains("log_scale"));
  // the inverse's checks ran and passed
  CHECK(rep.count("inverse_vjp.parameters") > 0);
  CHECK(rep.failed("inverse_vjp.input") == 0);
  CHECK(rep.failed("inverse_vjp.parameters") == 0);
}

TEST_CASE("gradients of chains with nested chains and inverses", "[gradients]") {
  // each layer's output inside the next one's domain: Softplus > 0 feeds the inverse of
  // (Scale, Exp), a log; Sigmoid's (0, 1) feeds Inverse<Sigmoid>, a logit
  using Spec = ft::compose<ft::ActNorm, ft::Affine, ft::Softplus, ft::Permute<ft::Reverse>,
                           ft::Inverse<ft::compose<ft::Scale, ft::Exp>>, ft::Tanh, ft::Shift, ft::Sigmoid,
                           ft::Inverse<ft::Sigmoid>, ft::Inverse<ft::Inverse<ft::Affine>>>;
  ft::bind_t<Spec, 3, double> b;
  randomize(b, 9);
  ft::testing::gradient_options<double> opt;
  opt.lo = -1.5;
  opt.hi = 1.5;
  require_gradients(b, opt);
}

TEMPLATE_TEST_CASE("base distributions: log_prob_vjp and the reparameterised draw", "[gradients]",
                   (ft::StandardNormalDistribution<3, double>), (ft::DiagonalNormalDistribution<3, double>)) {
  using Dist = TestType;
  using V = Eigen::Vector3d;
  Dist d;
  randomize(d, 4);
  ft::philox_stream rng(5, 0);
  for (int rep = 0; rep < 5; ++rep) {
    V x, eps, gz;
    for (int i = 0; i < 3; ++i) x[i] = 2 * rng.normal<double>(), eps[i] = rng.normal<double>(), gz[i] = rng.normal<double>();
    const double w = 0.7, t = 0.8;
    Dist grad = ft::make_gradient(d);
    const V gx = d.log_prob_vjp(x, w, grad);
    d.from_noise_vjp(eps, t, gz, grad);
    std::vector<double> analytic(ft::parameter_count_v<ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::Identity>, 3, double>>);
    for (int i = 0; i < 3; ++i) {
      auto lp = [&](double h) {
        V xp = x;
        xp[i] += h;
        return w * d.log_prob(xp);
      };
      CHECK(gx[i] == Approx((lp(1e-5) - lp(-1e-5)) / 2e-5).epsilon(1e-7));
    }
    // the draw: from_noise(eps, t) is what sample(rng, t) gives for the same noise
    ft::philox_stream a(11, 2), b2(11, 2);
    V e;
    for (int i = 0; i < 3; ++i) e[i] = b2.normal<double>();
    CHECK((d.sample(a, t) - d.from_noise(e, t)).norm() <= 1e-15);
    // parameters: w log_prob(x) + gz . from_noise(eps, t)
    std::size_t k = 0;
    ft::for_each_parameter(grad, [&](const std::string& name, double* gp, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i, ++k) {
        auto obj = [&](double h) {
          Dist m = d;
          std::size_t j = 0;
          ft::for_each_parameter(m, [&](const std::string&, double* p, std::size_t nn) {
            for (std::size_t ii = 0; ii < nn; ++ii, ++j)
              if (j == k) p[ii] += h;
          });
          return w * m.log_prob(x) + gz.dot(m.from_noise(eps, t));
        };
        INFO(name << "[" << i << "]");
        CHECK(gp[i] == Approx((obj(1e-5) - obj(-1e-5)) / 2e-5).epsilon(1e-7).margin(1e-9));
      }
    });
  }
}

}  // namespace layers_grad_test
