// Gradients of flowtmpl/bijectors/continuous.hpp (discretise-then-optimise: the reverse
// sweep over the accepted steps), against central differences of the whole solve:
//   RK4       the kit's check_gradients (every input and parameter, both directions) at
//             its default 1e-6 relative: the exact gradient of the computed solution
//   Dopri5    the same at tight tolerances (tanh dynamics), the step sizes held fixed
//   context   the context's cotangent gc against central differences in c
// (the Hutchinson trace's gradients: continuous_hutchinson_test.cpp)
#include <flowtmpl/bijectors/continuous.hpp>
#include <flowtmpl/conditional.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include "support/continuous.hpp"
#include "support/gradients.hpp"

namespace continuous_grad_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::drawn_continuous;
using flowtmpl_test::require_gradients;
}  // namespace

TEMPLATE_TEST_CASE("Continuous with RK4: exact gradients of the computed solution", "[continuous][gradients]",
                   ft::act::elu, ft::act::tanh) {
  using L = ft::bind_t<ft::Continuous<ft::DynamicsMLPWith<TestType, 8, 8>, ft::RK4<6>>, 3, double>;
  const L b = drawn_continuous<L>(21, 1.5);
  ft::testing::gradient_options<double> opt;
  opt.points = 2;
  opt.max_parameters = 64;  // evenly spread over every layer's weights and biases: each is 4 solves
  require_gradients(b, opt);
  // the concatenated time, and D = 1
  using T = ft::bind_t<ft::Continuous<ft::DynamicsMLPWith<TestType, 6>, ft::RK4<3>,
                                      ft::continuous_options{.time = ft::time_embedding::concatenate}>,
                       1, double>;
  require_gradients(drawn_continuous<T>(22, 1.5), opt);
}

TEST_CASE("Continuous with Dopri5 at tight tolerances: gradients", "[continuous][gradients]") {
  // tanh: with ELU (a jump in the second derivative at 0) the trace has kinks, where the
  // tight step control rejects steps and the solve's central differences jump
  using L = ft::bind_t<ft::Continuous<ft::DynamicsMLP<8, 8>::with<ft::act::tanh>, ft::Dopri5<1e-10, 1e-12>>, 2, double>;
  const L b = drawn_continuous<L>(23, 1.5);
  ft::testing::gradient_options<double> opt;
  opt.points = 1;
  opt.max_parameters = 16;  // each one 4 solves of about 100 steps at this tolerance
  require_gradients(b, opt);
}

TEST_CASE("Continuous with a context: gradients, and the context's cotangent", "[continuous][gradients][conditional]") {
  using B = ft::bind_t<ft::Conditional<2, ft::Continuous<ft::DynamicsMLP<8>, ft::RK4<4>>>, 3, double>;
  const B b = drawn_continuous<B>(24, 1.5);
  const Eigen::Vector2d c(0.7, -1.3);
  ft::testing::gradient_options<double> opt;
  opt.points = 2;
  opt.max_parameters = 48;
  require_gradients(ft::with_context(b, c), opt);
  const Eigen::Vector3d v(0.4, -0.9, 1.2), g(0.3, 1.1, -0.6);
  const double gld = 0.8;
  for (const ft::direction dir : {ft::direction::forward, ft::direction::inverse}) {
    const bool fwd = dir == ft::direction::forward;
    auto loss = [&](const Eigen::Vector2d& cc) {
      const auto r = fwd ? b.forward_and_log_det(v, cc) : b.inverse_and_log_det(v, cc);
      return g.dot(r.value) + gld * r.log_det;
    };
    B grad = ft::make_gradient(b);
    Eigen::Vector2d gc = Eigen::Vector2d::Zero();
    if (fwd)
      b.forward_vjp(v, c, g, gld, grad, gc);
    else
      b.inverse_vjp(v, c, g, gld, grad, gc);
    for (int k = 0; k < 2; ++k) {
      auto at = [&](double h) {
        Eigen::Vector2d cc = c;
        cc[k] += h;
        return loss(cc);
      };
      const double h = 1e-4;
      const double fd = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
      INFO((fwd ? "forward" : "inverse") << ", context component " << k);
      CHECK(std::abs(gc[k]) > 1e-4);
      CHECK(gc[k] == Approx(fd).epsilon(1e-7).margin(1e-10));
    }
  }
}

TEST_CASE("Continuous's jacobian is the derivative of the computed solution", "[continuous][gradients]") {
  using L = ft::bind_t<ft::Continuous<ft::DynamicsMLP<8, 8>, ft::RK4<48>>, 3, double>;
  const L b = drawn_continuous<L>(25, 1.5);
  const Eigen::Vector3d z(0.2, -0.4, 0.9);
  const Eigen::Matrix3d J = ft::jacobian(b, z);
  for (int j = 0; j < 3; ++j) {
    auto at = [&](double h) {
      Eigen::Vector3d zz = z;
      zz[j] += h;
      return Eigen::Vector3d(b.forward(zz));
    };
    const double h = 1e-4;
    const Eigen::Vector3d fd = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
    CHECK((J.col(j) - fd).cwiseAbs().maxCoeff() <= 1e-9);
  }
  // and its log-determinant is the layer's log-det to RK4's accuracy (the two are
  // different discretisations of the same integral: O(h^4) apart)
  CHECK(std::log(std::abs(J.determinant())) == Approx(b.log_det(z)).epsilon(1e-7));
}

}  // namespace continuous_grad_test
