// flowtmpl/ode_solvers.hpp: the ODE solvers of continuous flows (bijectors/continuous.hpp)
// and their reverse sweep.
//
//   Dopri5<rtol = 1e-5, atol = 1e-6, max_steps = 1000>
//       adaptive Dormand-Prince 5(4) (Dormand & Prince 1980): 7 stages, first same as
//       last (an accepted step costs 6 evaluations), the 5th-order solution kept, the
//       embedded 4th-order one for the error. A step from y to y1 is accepted when
//         err = max_i w_i |e_i| / (atol + rtol max(|y_i|, |y1_i|)) <= 1
//       (e: the difference of the two solutions; w_i: a weight per component, 1 but for
//       the log-det's, continuous_options::log_det_weight). The next step is
//       h * min(10, max(0.2, 0.9 err^(-1/5))), not larger after a rejection. The first
//       step is chosen from the dynamics at the start (Hairer, Norsett & Wanner, Solving
//       ODEs I, II.4, with the same weights: one more evaluation). At most max_steps
//       attempted steps: a solve that stops there has not reached the end
//       (ode_solve::converged false).
//       Settings (checked at compile time, a static_assert in words): rtol and atol
//       finite, >= 0 and not both 0; max_steps >= 1.
//   RK4<steps = 8>
//       the classical 4th-order Runge-Kutta method with `steps` equal steps: 4 steps
//       evaluations, a cost known at compile time (embedded use, the device path).
//
// Per sample: each sample's solve takes its own steps (its NFE is its own, and does not
// depend on the batch). Every function here is FLOWTMPL_HOST_DEVICE but the checkpoint
// list of an adaptive solve's reverse sweep (std::vector: host only).
//
// The reverse sweep (detail::rk_reverse_step): the exact vector-Jacobian product of one
// computed step y1 = y + h sum_i b_i k_i, k_i = F(t + c_i h, y + h sum_j a_ij k_j), with
// h fixed: with ybar the cotangent of y1, kbar_i = h b_i ybar, then for i from the last
// stage down: ubar_i = vjp(F at stage i)(kbar_i), ybar += ubar_i, kbar_j += h a_ij ubar_i
// (j < i). Replaying the accepted steps backwards gives the gradient of the computed
// solution (discretise-then-optimise). An adaptive solve's step sizes are taken as
// constants: their own dependence on y is left out, a difference of the order of the
// tolerance.
#pragma once

#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "config.hpp"
#include "diagnostics.hpp"

namespace flowtmpl {

template <double RelativeTolerance = 1e-5, double AbsoluteTolerance = 1e-6, int MaxSteps = 1000>
struct Dopri5 {
  static_assert(detail::finite_setting(RelativeTolerance) && detail::finite_setting(AbsoluteTolerance),
                "flowtmpl: Dopri5<rtol, atol, max_steps>: the tolerances must be finite numbers (a NaN or infinite "
                "tolerance makes the step test meaningless)");
  static_assert(RelativeTolerance >= 0 && AbsoluteTolerance >= 0 && RelativeTolerance + AbsoluteTolerance > 0,
                "flowtmpl: Dopri5<rtol, atol, max_steps>: the tolerances must be >= 0 and not both 0");
  static_assert(MaxSteps >= 1, "flowtmpl: Dopri5<rtol, atol, max_steps>: max_steps must be at least 1");
  static constexpr const char* name = "Dopri5";
  static constexpr bool adaptive = true;
  static constexpr double rtol = RelativeTolerance;
  static constexpr double atol = AbsoluteTolerance;
  static constexpr int max_steps = MaxSteps;
  static constexpr int stages = 7;
  static constexpr int solution_stages = 6;  // stage 7 (at y1) serves the error and the next step
  static constexpr bool first_same_as_last = true;
  static constexpr double c[stages] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
  static constexpr double a[stages][stages] = {
      {},
      {1.0 / 5},
      {3.0 / 40, 9.0 / 40},
      {44.0 / 45, -56.0 / 15, 32.0 / 9},
      {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
      {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
      {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
  static constexpr double b[stages] = {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0};
  // b minus the embedded 4th-order weights
  static constexpr double e[stages] = {35.0 / 384 - 5179.0 / 57600,     0, 500.0 / 1113 - 7571.0 / 16695,
                                       125.0 / 192 - 393.0 / 640,       -2187.0 / 6784 + 92097.0 / 339200,
                                       11.0 / 84 - 187.0 / 2100,        -1.0 / 40};
};

template <int Steps = 8>
struct RK4 {
  static_assert(Steps >= 1, "flowtmpl: RK4<steps>: steps must be at least 1");
  static constexpr const char* name = "RK4";
  static constexpr bool adaptive = false;
  static constexpr int steps = Steps;
  static constexpr int stages = 4;
  static constexpr int solution_stages = 4;
  static constexpr bool first_same_as_last = false;
  static constexpr double c[stages] = {0, 0.5, 0.5, 1};
  static constexpr double a[stages][stages] = {{}, {0.5}, {0, 0.5}, {0, 0, 1}};
  static constexpr double b[stages] = {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6};
};

// How a solve went: accepted and rejected steps, evaluations of the dynamics (NFE), the
// time it reached and whether that is the end.
struct ode_solve {
  int steps = 0;
  int rejected = 0;
  int evaluations = 0;
  double reached = 0;
  bool converged = true;
};

namespace detail {

// One accepted step: where it started and its size (the reverse sweep replays it).
template <class Y, class S>
struct ode_checkpoint {
  Y y;
  S t;
  S h;
};

// u = y + h sum_{j < I} a[I][j] k_j, the input of stage I, in one fixed order (the
// reverse sweep recomputes it bit for bit)
template <class Solver, int I, class Y, class S, class K>
FLOWTMPL_HOST_DEVICE Y stage_input(const Y& y, S h, const K& k) {
  Y u = y;
  [&]<int... J>(std::integer_sequence<int, J...>) {
    ([&] {
      if constexpr (Solver::a[I][J] != 0) u += (h * S(Solver::a[I][J])) * k[J];
    }(), ...);
  }(std::make_integer_sequence<int, I>{});
  return u;
}

// One step of Solver from (t, y) with step h: the stages k[0 .. solution_stages - 1]
// (k[0] already set when have_first), and the solution y1. F(t, y, stage) -> Y.
template <class Solver, class Y, class S, class F>
FLOWTMPL_HOST_DEVICE Y rk_step(const F& f, S t, S h, const Y& y, std::array<Y, Solver::stages>& k, bool have_first) {
  if (!have_first) k[0] = f(t, y, 0);
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((k[I + 1] = f(t + S(Solver::c[I + 1]) * h, stage_input<Solver, I + 1>(y, h, k), I + 1)), ...);
  }(std::make_integer_sequence<int, Solver::solution_stages - 1>{});
  Y y1 = y;
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ([&] {
      if constexpr (Solver::b[I] != 0) y1 += (h * S(Solver::b[I])) * k[I];
    }(), ...);
  }(std::make_integer_sequence<int, Solver::solution_stages>{});
  return y1;
}

// One stage of the reverse of rk_step: its input's cotangent from kbar[I], added to out
// and passed on to the stages it read (the coefficients as template indices: device
// code may not index the tableau at run time).
template <class Solver, int I, class Y, class S, class VJP, class K>
FLOWTMPL_HOST_DEVICE void reverse_stage(const VJP& vjp, S h, K& kbar, Y& out) {
  const Y ubar = vjp(I, kbar[I]);
  out += ubar;
  [&]<int... J>(std::integer_sequence<int, J...>) {
    ([&] {
      if constexpr (Solver::a[I][J] != 0) kbar[J] += (h * S(Solver::a[I][J])) * ubar;
    }(), ...);
  }(std::make_integer_sequence<int, I>{});
}

// The reverse of rk_step at a fixed h: ybar (the cotangent of y1) becomes y's.
// vjp(stage, ubar_out) -> the cotangent of stage `stage`'s input for the cotangent of
// its output (and adds the parameters' own).
template <class Solver, class Y, class S, class VJP>
FLOWTMPL_HOST_DEVICE Y rk_reverse_step(const VJP& vjp, S h, const Y& ybar) {
  constexpr int n = Solver::solution_stages;
  std::array<Y, n> kbar;
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((kbar[I] = (h * S(Solver::b[I])) * ybar), ...);
  }(std::make_integer_sequence<int, n>{});
  Y out = ybar;
  [&]<int... R>(std::integer_sequence<int, R...>) {
    (reverse_stage<Solver, n - 1 - R>(vjp, h, kbar, out), ...);
  }(std::make_integer_sequence<int, n>{});
  return out;
}

// The error ratio of a Dopri5 step (see the top): k holds all 7 stages.
template <class Solver, class Y, class S>
FLOWTMPL_HOST_DEVICE S error_ratio(const Y& y, const Y& y1, S h, const std::array<Y, Solver::stages>& k, const Y& weight) {
  using std::abs, std::max;
  Y e = Y::Zero(y.rows());
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ([&] {
      if constexpr (Solver::e[I] != 0) e += S(Solver::e[I]) * k[I];
    }(), ...);
  }(std::make_integer_sequence<int, Solver::stages>{});
  e *= h;
  S err(0);
  for (int i = 0; i < y.rows(); ++i) {
    const S sc = S(Solver::atol) + S(Solver::rtol) * max(abs(y[i]), abs(y1[i]));
    err = max(err, weight[i] * abs(e[i]) / sc);
  }
  return err;
}

// Integrates dy/dt = F(t, y) from t0 to t1 (either order) with Solver; on_accept(t, h,
// y) is called before every accepted step is applied (the reverse sweep's checkpoints).
// Returns y at the time reached; st says how the solve went.
template <class Solver, class Y, class S, class F, class OnAccept>
FLOWTMPL_HOST_DEVICE Y integrate(const F& f, S t0, S t1, Y y, const Y& weight, ode_solve& st, OnAccept&& on_accept) {
  using std::abs, std::max, std::min, std::pow, std::sqrt;
  st = ode_solve{};
  std::array<Y, Solver::stages> k;
  const S span = t1 - t0;
  if constexpr (!Solver::adaptive) {
    const S h = span / S(Solver::steps);
    for (int n = 0; n < Solver::steps; ++n) {
      const S t = t0 + S(n) * h;
      on_accept(t, h, y);
      y = rk_step<Solver>(f, t, h, y, k, false);
    }
    st.steps = Solver::steps;
    st.evaluations = Solver::steps * Solver::stages;
    st.reached = double(t1);
    return y;
  } else {
    const S dir = span < S(0) ? S(-1) : S(1);
    const S length = abs(span);
    st.reached = double(t0);
    if (!(length > S(0))) return y;
    // the first step (Hairer, Norsett & Wanner II.4)
    k[0] = f(t0, y, 0);
    st.evaluations = 1;
    S h;
    {
      S d0(0), d1(0);
      for (int i = 0; i < y.rows(); ++i) {
        const S sc = S(Solver::atol) + S(Solver::rtol) * abs(y[i]);
        d0 = max(d0, weight[i] * abs(y[i]) / sc);
        d1 = max(d1, weight[i] * abs(k[0][i]) / sc);
      }
      const S h0 = (d0 < S(1e-5) || d1 < S(1e-5)) ? S(1e-6) : S(0.01) * d0 / d1;
      const Y probe = f(t0 + dir * h0, Y(y + (dir * h0) * k[0]), 0);
      ++st.evaluations;
      S d2(0);
      for (int i = 0; i < y.rows(); ++i) {
        const S sc = S(Solver::atol) + S(Solver::rtol) * abs(y[i]);
        d2 = max(d2, weight[i] * abs(probe[i] - k[0][i]) / sc);
      }
      d2 /= h0;
      const S m = max(d1, d2);
      const S h1 = m <= S(1e-15) ? max(S(1e-6), h0 * S(1e-3)) : S(pow(double(S(0.01) / m), 1.0 / 5));
      h = min(S(100) * h0, h1);
    }
    S t = t0;
    bool rejected_last = false;
    for (int attempt = 0; attempt < Solver::max_steps; ++attempt) {
      const S remaining = abs(t1 - t);
      const bool last = h >= remaining;
      const S step = dir * (last ? remaining : h);
      const Y y1 = rk_step<Solver>(f, t, step, y, k, true);
      k[Solver::stages - 1] = f(t + step, y1, Solver::stages - 1);
      st.evaluations += Solver::solution_stages;
      const S err = error_ratio<Solver>(y, y1, step, k, weight);
      if (err <= S(1)) {
        on_accept(t, step, y);
        y = y1;
        t = last ? t1 : t + step;
        k[0] = k[Solver::stages - 1];
        ++st.steps;
        st.reached = double(t);
        if (last) return y;
      } else {
        ++st.rejected;
      }
      if (!(err == err)) break;  // NaN: stop, reported as not reaching the end
      S factor = err > S(0) ? S(0.9) * S(pow(double(err), -1.0 / 5)) : S(10);
      factor = min(S(10), max(S(0.2), factor));
      if (err > S(1) || rejected_last) factor = min(factor, S(1));
      rejected_last = err > S(1);
      h = (last && err <= S(1)) ? h : abs(step) * factor;
    }
    st.converged = false;
    return y;
  }
}

}  // namespace detail
}  // namespace flowtmpl
