// Tests of flowtmpl/bijectors/continuous.hpp (Continuous<Dynamics, Solver, Options>) and
// flowtmpl/ode_solvers.hpp, values and solves:
//   linear       f = A z (an ELU network kept on its linear side): z(1) = exp(A) z(0)
//                and log-det tr A in closed form, both directions, Dopri5 to its
//                tolerance and RK4 converging at 4th order
//   trace        the exact trace equals the trace of the network's dense Jacobian
//                (another code path) to 1e-12, and of central differences
//   odeint       the whole augmented solve against Boost.Odeint's controlled Dopri5 at
//                tight tolerances (an independent integrator)
//   kit          the conformance kit (round trip to the solver's tolerance, log-det
//                against the central-difference Jacobian of the whole solve), with and
//                without a context
//   NFE          solve_status's counts; checked mode reports a solve cut at max_steps
// (gradients: continuous_grad_test.cpp; the Hutchinson trace: continuous_hutchinson_test.cpp)
#include <flowtmpl/bijectors/continuous.hpp>
#include <flowtmpl/conditional.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include <boost/numeric/odeint.hpp>
#include <unsupported/Eigen/MatrixFunctions>

#include <array>
#include <cmath>

#include "support/continuous.hpp"

namespace continuous_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::drawn_continuous;
using flowtmpl_test::linear_dynamics;
using Tight = ft::Dopri5<1e-10, 1e-12>;
}  // namespace

TEST_CASE("Continuous with linear dynamics: exp(A) z and tr A in closed form", "[continuous]") {
  using L = ft::bind_t<ft::Continuous<ft::DynamicsMLP<6>, Tight>, 3, double>;
  Eigen::Matrix3d A;
  A << -0.4, 0.9, 0.1, -0.7, 0.3, 0.5, 0.2, -0.6, 0.8;
  const L b = linear_dynamics<L>(A);
  const Eigen::Vector3d z(0.7, -1.2, 0.4);
  const Eigen::Vector3d x = A.exp() * z;
  const auto f = b.forward_and_log_det(z);
  INFO("forward " << f.value.transpose() << " against " << x.transpose());
  CHECK((f.value - x).cwiseAbs().maxCoeff() <= 1e-8 * x.cwiseAbs().maxCoeff());
  CHECK(f.log_det == Approx(A.trace()).epsilon(1e-12));
  const auto i = b.inverse_and_log_det(x);
  CHECK((i.value - z).cwiseAbs().maxCoeff() <= 1e-8 * z.cwiseAbs().maxCoeff());
  CHECK(i.log_det == Approx(-A.trace()).epsilon(1e-12));

  // Dopri5 at the default tolerances: within a few rtol of the solution
  using Default = ft::bind_t<ft::Continuous<ft::DynamicsMLP<6>>, 3, double>;
  const Default d = linear_dynamics<Default>(A);
  CHECK((d.forward(z) - x).cwiseAbs().maxCoeff() <= 1e-4 * x.cwiseAbs().maxCoeff());

  // RK4: the error falls as h^4 (16x for every halving of h)
  auto rk_error = [&]<int N>() {
    using R = ft::bind_t<ft::Continuous<ft::DynamicsMLP<6>, ft::RK4<N>>, 3, double>;
    const R r = linear_dynamics<R>(A);
    const auto out = r.forward_and_log_det(z);
    CHECK(out.log_det == Approx(A.trace()).epsilon(1e-12));
    return (out.value - x).norm();
  };
  const double e4 = rk_error.template operator()<4>(), e8 = rk_error.template operator()<8>(),
               e16 = rk_error.template operator()<16>();
  INFO("RK4 errors at 4, 8, 16 steps: " << e4 << ", " << e8 << ", " << e16);
  CHECK(e4 / e8 == Approx(16).epsilon(0.25));
  CHECK(e8 / e16 == Approx(16).epsilon(0.15));
}

TEST_CASE("Continuous's exact trace is the trace of the dense Jacobian of f", "[continuous]") {
  using L = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>::with<ft::act::tanh>>, 5, double>;
  const L b = drawn_continuous<L>(3, 1.0);
  const L::scales_t sc = b.net.scales();
  ft::philox_stream rng(4, 0);
  for (int k = 0; k < 8; ++k) {
    L::state y;
    for (int i = 0; i < 6; ++i) y[i] = 2 * rng.normal<double>();
    const double t = rng.uniform<double>();
    L::trace_t tr;
    const L::state F = b.dynamics(t, y, nullptr, sc, L::seed_t::Identity(), tr);
    const L::extra_t e = L::extra_inputs(t, nullptr);
    typename L::network_type::jacobian_t J;
    const Eigen::Matrix<double, 5, 1> f = b.net.evaluate(y.head<5>(), e.data(), sc, &J);
    CHECK((F.head<5>() - f).cwiseAbs().maxCoeff() <= 1e-14 * (1 + f.cwiseAbs().maxCoeff()));
    INFO("trace " << F[5] << ", dense Jacobian's " << J.trace());
    CHECK(std::abs(F[5] - J.trace()) <= 1e-12 * (1 + J.cwiseAbs().sum()));
    // and the central differences of f
    double fd = 0;
    for (int i = 0; i < 5; ++i) {
      auto at = [&](double h) {
        Eigen::Matrix<double, 5, 1> z = y.head<5>();
        z[i] += h;
        return b.net.evaluate(z, e.data(), sc)[i];
      };
      fd += (at(1e-5) - at(-1e-5)) / 2e-5;
    }
    CHECK(F[5] == Approx(fd).epsilon(1e-7));
  }
}

TEST_CASE("Continuous's Dopri5 agrees with Boost.Odeint's controlled Dopri5", "[continuous]") {
  // tanh: smooth dynamics (ELU's second derivative jumps at 0, and the trace with it,
  // where both solvers' error estimates are no longer of the order they assume)
  using L = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>::with<ft::act::tanh>, Tight>, 3, double>;
  const L b = drawn_continuous<L>(5, 1.5);
  const L::scales_t sc = b.net.scales();
  using state_t = std::array<double, 4>;
  const Eigen::Vector3d z(0.8, -0.3, 1.1);
  auto rhs = [&](const state_t& y, state_t& dy, double t) {
    L::state u;
    for (int i = 0; i < 4; ++i) u[i] = y[std::size_t(i)];
    L::trace_t tr;
    const L::state F = b.dynamics(t, u, nullptr, sc, L::seed_t::Identity(), tr);
    for (int i = 0; i < 4; ++i) dy[std::size_t(i)] = F[i];
  };
  namespace odeint = boost::numeric::odeint;
  for (const bool forward : {true, false}) {
    state_t y{z[0], z[1], z[2], 0.0};
    const double t0 = forward ? 0.0 : 1.0, t1 = 1.0 - t0;
    const std::size_t steps = odeint::integrate_adaptive(
        odeint::make_controlled<odeint::runge_kutta_dopri5<state_t>>(1e-13, 1e-13), rhs, y, t0, t1,
        forward ? 0.01 : -0.01);
    const auto r = forward ? b.forward_and_log_det(z) : b.inverse_and_log_det(z);
    INFO((forward ? "forward" : "inverse") << ": odeint took " << steps << " steps");
    CHECK(steps > 5);
    for (int i = 0; i < 3; ++i) CHECK(r.value[i] == Approx(y[std::size_t(i)]).epsilon(1e-8).margin(1e-10));
    CHECK(r.log_det == Approx(y[3]).epsilon(1e-8).margin(1e-10));
    CHECK(std::abs(r.log_det) > 0.05);  // the dynamics are not near the identity
  }
}

TEMPLATE_TEST_CASE("Continuous passes the conformance kit", "[continuous][kit]", float, double) {
  using S = TestType;
  using Solver = std::conditional_t<std::is_same_v<S, double>, Tight, ft::Dopri5<1e-6, 1e-7>>;
  using L = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>, Solver>, 3, S>;
  const L b = drawn_continuous<L>(6, 1.0);
  ft::testing::options<S> opt;
  opt.points = 16;
  flowtmpl_test::solver_tolerances(opt);
  const auto r = ft::testing::check_bijector(b, opt);
  INFO(r.text());
  CHECK(r.ok());
  CHECK(r.checks() >= 16 * 6);
}

TEST_CASE("Continuous with RK4 and with a context passes the conformance kit", "[continuous][kit]") {
  using R = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16>::with<ft::act::tanh>, ft::RK4<64>,
                                      ft::continuous_options{.time = ft::time_embedding::concatenate}>,
                       2, double>;
  const R r = drawn_continuous<R>(7, 1.0);
  ft::testing::options<double> opt;
  opt.points = 16;
  opt.round_trip_tol = 1e-7;  // RK4 forward then backward is not the identity: O(h^4)
  flowtmpl_test::solver_tolerances(opt);
  const auto rep = ft::testing::check_bijector(r, opt);
  INFO(rep.text());
  CHECK(rep.ok());

  using B = ft::bind_t<ft::Conditional<2, ft::Continuous<ft::DynamicsMLP<16>, Tight>>, 3, double>;
  static_assert(ft::ConditionalBijector<B>);
  const B b = drawn_continuous<B>(8, 1.0);
  for (const Eigen::Vector2d& c : {Eigen::Vector2d(0, 0), Eigen::Vector2d(1.5, -2)}) {
    ft::testing::options<double> o;
    o.points = 16;
    flowtmpl_test::solver_tolerances(o);
    const auto rc = ft::testing::check_bijector(ft::with_context(b, c), o);
    INFO(rc.text());
    CHECK(rc.ok());
  }
  // the context changes the map
  const Eigen::Vector3d v(0.3, 0.2, -0.5);
  CHECK((b.forward(v, Eigen::Vector2d(0, 0)) - b.forward(v, Eigen::Vector2d(1.5, -2))).norm() > 1e-3);
}

TEST_CASE("Continuous reports its evaluations, and checked mode a solve cut short", "[continuous][checked]") {
  using L = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>>, 2, double>;
  const L b = drawn_continuous<L>(9, 1.5);
  const Eigen::Vector2d v(0.5, -1);
  for (const ft::direction dir : {ft::direction::forward, ft::direction::inverse}) {
    const ft::ode_solve st = b.solve_status(dir, v);
    INFO(st.steps << " steps, " << st.rejected << " rejected, " << st.evaluations << " evaluations");
    CHECK(st.converged);
    CHECK(st.reached == (dir == ft::direction::forward ? 1.0 : 0.0));
    CHECK(st.steps >= 2);
    // two to choose the first step, then six per attempted step (the seventh is the next first)
    CHECK(st.evaluations == 2 + 6 * (st.steps + st.rejected));
  }
  using R = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>, ft::RK4<5>>, 2, double>;
  CHECK(drawn_continuous<R>(9, 1.5).solve_status(ft::direction::inverse, v).evaluations == 20);

  using Capped = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>, ft::Dopri5<1e-10, 1e-12, 2>>, 2, double>;
  const Capped c = drawn_continuous<Capped>(9, 1.5);
  CHECK_FALSE(c.solve_status(ft::direction::forward, v).converged);
  Eigen::Matrix<double, 2, Eigen::Dynamic> X(2, 3);
  X << 0.5, 1, -2, -1, 0.3, 0.7;
  CHECK_THROWS_WITH(ft::forward(c, X, ft::checked), Catch::Contains("(Continuous)") && Catch::Contains("sample 0") &&
                                                         Catch::Contains("ODE solve stopped at t = ") &&
                                                         Catch::Contains("max_steps"));
  CHECK_THROWS_WITH(ft::inverse(c, X, ft::checked), Catch::Contains("ODE solve stopped"));
  CHECK_NOTHROW(ft::forward(b, X, ft::checked));
}

TEST_CASE("Continuous starts as the identity and names its parameters", "[continuous]") {
  using L = ft::bind_t<ft::Continuous<>, 2, float>;
  L b;
  b.reset_parameters(1);
  const Eigen::Vector2f z(0.3f, -2.f);
  const auto f = b.forward_and_log_det(z);
  CHECK(f.value == z);
  CHECK(f.log_det == 0.f);
  CHECK(L::parameter_count == (2 + 6) * 64 + 64 + 64 * 64 + 64 + 64 * 2 + 2);
  std::vector<std::string> names;
  ft::for_each_parameter_tensor(b, [&](const std::string& n, auto&&...) { names.push_back(n); });
  CHECK(names == std::vector<std::string>{"net.0.weight", "net.0.bias", "net.1.weight", "net.1.bias", "net.2.weight",
                                          "net.2.bias"});
}

}  // namespace continuous_test
