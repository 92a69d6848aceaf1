// Gradients of flowtmpl/bijectors/residual.hpp (Residual<LipschitzMLP<...>>) with the
// exact log-det:
//   exact       the kit's check_gradients (central differences of every input and
//               parameter, both directions) with the spectral scale binding (weights
//               drawn large) and not binding (small), for lipswish, elu and tanh; the
//               power-iteration state has gradient 0
//   context     with_context(b, c) through the kit, and the context's cotangent gc
//               against central differences in c, both directions
// (the stochastic log-det: residual_stochastic_test.cpp; training: training/
// layer_hooks_test.cpp)
#include <flowtmpl/bijectors/residual.hpp>
#include <flowtmpl/conditional.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include "support/gradients.hpp"
#include "support/residual.hpp"

namespace residual_grad_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::require_gradients;
using flowtmpl_test::largest_normalised_norm;
template <class B>
B drawn(std::uint64_t seed, double factor) {
  return flowtmpl_test::drawn_residual<B>(seed, factor);
}
using Small = ft::LipschitzMLP<8, 8>;
}  // namespace

TEMPLATE_TEST_CASE("Residual, exact log-det: gradients in both directions", "[residual][gradients]", ft::act::lipswish,
                   ft::act::elu, ft::act::tanh) {
  using R = ft::Residual<ft::LipschitzMLPWith<TestType, 8, 8>>;
  for (const double factor : {4.0, 0.3}) {
    INFO("weights times " << factor);
    const auto b = drawn<ft::bind_t<R, 3, double>>(11, factor);
    ft::testing::gradient_options<double> opt;
    opt.points = 3;
    require_gradients(b, opt);
    if (factor > 1) CHECK(largest_normalised_norm(b) == Approx(0.97).epsilon(1e-9));
  }
  // D = 1 and a deeper network
  require_gradients(drawn<ft::bind_t<ft::Residual<ft::LipschitzMLPWith<TestType, 6>>, 1, double>>(12, 4.0));
  require_gradients(drawn<ft::bind_t<ft::Residual<ft::LipschitzMLPWith<TestType, 6, 5, 4>>, 2, double>>(13, 4.0));
}

TEST_CASE("Residual with a context: gradients, and the context's cotangent", "[residual][gradients][conditional]") {
  using R = ft::Residual<Small>;
  using B = ft::bind_t<ft::Conditional<2, R>, 3, double>;
  const B b = drawn<B>(14, 4.0);
  const Eigen::Vector2d c(0.7, -1.3);
  require_gradients(ft::with_context(b, c));
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
      const double h = 1e-5;
      const double fd = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
      INFO((fwd ? "forward" : "inverse") << ", context component " << k);
      CHECK(gc[k] == Approx(fd).epsilon(1e-7).margin(1e-9));
    }
  }
}

}  // namespace residual_grad_test
