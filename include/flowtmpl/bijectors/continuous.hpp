// flowtmpl/bijectors/continuous.hpp: Continuous<Dynamics, Solver, Options>, the
// continuous normalizing flow (neural ODE flow: Chen et al. 2018; FFJORD: Grathwohl et
// al. 2019):
//
//   dz/dt = f(z, t, c),   d l / dt = tr(df/dz)
//   forward (noise -> data, sampling):   z(0) = input, t from 0 to 1, output z(1),
//                                        log-det l(1) = int_0^1 tr(df/dz) dt
//   inverse (data -> noise, density):    z(1) = input, t from 1 to 0, output z(0),
//                                        log-det l(0) = -int_0^1 tr(df/dz) dt
// f is Dynamics bound as a network (DynamicsMLP<64, 64>, act::elu, by default:
// conditioners/dynamics_mlp.hpp) reading [z; embed(t); c]:
//   time_embedding::sinusoidal  [cos(k pi t); sin(k pi t)], k = 1 .. frequencies (3)
//   time_embedding::concatenate t itself
// Solver (ode_solvers.hpp): Dopri5<rtol, atol, max_steps> (adaptive, per sample; the
// default Dopri5<1e-5, 1e-6, 1000>) or RK4<steps> (fixed, for embedded use and the
// device path). The state (z, l) is solved as one system; the log-det's error enters
// the step control with weight Options.log_det_weight (1).
//
// Trace (Options.trace; automatic: exact for D <= Options.exact_up_to = 16):
//   exact       tr(df/dz) from the D tangent columns of the identity carried through
//               the network (the weights and the activation slopes): per evaluation
//               about (D + 1) sum_l widths[l+1] widths[l] multiply-adds
//   hutchinson  v^T (df/dz) v with one probe v per sample and solve, fixed during the
//               solve (FFJORD): Rademacher (+-1, the default) or standard normal
//               (Options.probe), from philox_stream(probe_seed, key of the start point
//               and its context); 2 sum_l widths[l+1] widths[l] per evaluation. Unbiased
//               for the exact log-det of the same solve where the steps do not depend on
//               the probe (RK4; Dopri5 with log_det_weight 0).
// The number of evaluations (NFE) of a solve: solve_status(direction, v[, c]).
//
// Gradients (flowtmpl/differentiable.hpp): discretise-then-optimise. The solve keeps
// every accepted step's start (t, h, z, l); the reverse sweep replays the steps
// backwards (ode_solvers.hpp's rk_reverse_step), each stage's vector-Jacobian product
// from the network's backward<K> over the trace of that stage (the trace's own gradient
// through the activations' second derivatives). The result is the exact gradient of
// the computed solution for RK4; for Dopri5 the step sizes are held fixed (a difference
// of the order of the tolerance). Memory per sample: one checkpoint (D + 3 scalars) per
// accepted step and one step's stage traces; time: about 3 times the solve (the stages
// recomputed with their traces, then the reverse sweep). The probe has no gradient.
// Checked mode reports a solve that stopped at Dopri5's max_steps before the end.
// Settings are compile-time and checked there (static_asserts in words): exact_up_to
// >= 0, log_det_weight finite and >= 0, frequencies >= 1 (sinusoidal), the exact trace
// only for D <= exact_up_to; the solver's own in ode_solvers.hpp.
// Structure: dense. Log-det kind: input-dependent. Domain: R^D both ways.
// Parameters: the network's, named "net.<l>.weight" / "net.<l>.bias". The default-
// constructed layer is the identity (f = 0). Context: with C > 0 (Conditional<C, ...>)
// f reads it and the layer models ConditionalBijector.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <type_traits>
#include <vector>

#include "../detail/eigen.hpp"

#include "../conditioners/dynamics_mlp.hpp"
#include "../core.hpp"
#include "../detail/conditioned.hpp"
#include "../direction.hpp"
#include "../ode_solvers.hpp"
#include "../random.hpp"
#include "../structure.hpp"

namespace flowtmpl {

enum class continuous_trace { automatic, exact, hutchinson };
enum class trace_probe { rademacher, gaussian };
enum class time_embedding { sinusoidal, concatenate };

struct continuous_options {
  continuous_trace trace = continuous_trace::automatic;
  int exact_up_to = 16;  // automatic: the exact trace up to this D
  trace_probe probe = trace_probe::rademacher;
  time_embedding time = time_embedding::sinusoidal;
  int frequencies = 3;         // sinusoidal: k pi t for k = 1 .. frequencies
  double log_det_weight = 1;  // the log-det's weight in Dopri5's error test (0: z only)
};

template <class Dynamics, class Solver, continuous_options Options, int D, class S, int C>
struct ContinuousBijector
    : detail::conditioned_ops<ContinuousBijector<Dynamics, Solver, Options, D, S, C>, D, S, C, void> {
  static_assert(Options.exact_up_to >= 0, "flowtmpl: Continuous: continuous_options::exact_up_to must be >= 0");
  static_assert(detail::finite_setting(Options.log_det_weight) && Options.log_det_weight >= 0,
                "flowtmpl: Continuous: continuous_options::log_det_weight must be a finite number >= 0 (0: the "
                "log-det's error left out of Dopri5's step control)");
  static_assert(Options.time != time_embedding::sinusoidal || Options.frequencies >= 1,
                "flowtmpl: Continuous: continuous_options::frequencies must be >= 1 for the sinusoidal time "
                "embedding");
  static_assert(Options.trace != continuous_trace::exact || D <= Options.exact_up_to,
                "flowtmpl: Continuous: the exact trace is for D <= continuous_options::exact_up_to (16 by default: "
                "D tangents through the network per evaluation); use continuous_trace::hutchinson (or automatic) for "
                "this D, or raise exact_up_to to accept the cost");
  static constexpr int dim = D;
  static constexpr int context_dim = C;
  using scalar_type = S;
  using structure = structure::dense;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::input_dependent;
  static constexpr const char* name = "Continuous";
  static constexpr continuous_options options = Options;
  using solver_type = Solver;
  static constexpr bool exact = Options.trace == continuous_trace::exact ||
                                (Options.trace == continuous_trace::automatic && D <= Options.exact_up_to);
  static constexpr int embedding = Options.time == time_embedding::sinusoidal ? 2 * Options.frequencies : 1;
  static constexpr int tangents = exact ? D : 1;
  using network_type = typename Dynamics::template dynamics_network<D, D, embedding + C, S>;
  using vec = Eigen::Matrix<S, D, 1>;
  using state = Eigen::Matrix<S, D + 1, 1>;  // (z, l)
  using extra_t = Eigen::Matrix<S, embedding + C, 1>;  // [embed(t); c]
  using seed_t = typename network_type::template seed_t<tangents>;
  using trace_t = typename network_type::template trace<tangents>;
  using scales_t = typename network_type::scale_array;

  network_type net;
  // the Hutchinson probes: philox_stream(probe_seed, key of the start point); not a
  // parameter. after_optimizer_step advances it.
  std::uint64_t probe_seed = 0;

  // [embed(t); c], the network's inputs after z
  FLOWTMPL_HOST_DEVICE static extra_t extra_inputs(S t, const S* ctx) {
    extra_t e;
    if constexpr (Options.time == time_embedding::sinusoidal) {
      using std::cos, std::sin;
      for (int k = 0; k < Options.frequencies; ++k) {
        const S w = S(k + 1) * std::numbers::pi_v<S> * t;
        e[k] = cos(w);
        e[Options.frequencies + k] = sin(w);
      }
    } else {
      e[0] = t;
    }
    if constexpr (C > 0)
      for (int c = 0; c < C; ++c) e[embedding + c] = ctx[c];
    (void)ctx;
    return e;
  }

  // the tangent directions: the identity (exact) or the sample's probe (Hutchinson)
  FLOWTMPL_HOST_DEVICE seed_t probe(const vec& start, const S* ctx) const {
    if constexpr (exact) {
      (void)start;
      (void)ctx;
      return seed_t::Identity();
    } else {
      philox_stream rng(probe_seed, detail::point_key(start.data(), D, ctx, C));
      seed_t v;
      for (int i = 0; i < D; ++i) {
        if constexpr (Options.probe == trace_probe::rademacher)
          v(i, 0) = (rng.next_u32() & 1u) ? S(1) : S(-1);
        else
          v(i, 0) = rng.normal<S>();
      }
      return v;
    }
  }

  // F(t, y) = [f(z, t, c); tr(df/dz)] (or its Hutchinson estimate), the trace tr kept
  FLOWTMPL_HOST_DEVICE state dynamics(S t, const state& y, const S* ctx, const scales_t& sc, const seed_t& T,
                                      trace_t& tr) const {
    const extra_t e = extra_inputs(t, ctx);
    const vec z = y.template head<D>();
    state out;
    out.template head<D>() = net.template record<tangents>(z, e.data(), sc, T, tr);
    const auto& P = network_type::tangent(tr);  // (df/dz) T
    if constexpr (exact)
      out[D] = P.trace();
    else
      out[D] = T.col(0).dot(P.col(0));
    return out;
  }

  // the solve of direction Dir from v, with on_accept(t, h, y) at every accepted step
  template <direction Dir, class OnAccept>
  FLOWTMPL_HOST_DEVICE state solve(const vec& v, const S* ctx, const seed_t& T, ode_solve& st,
                                   OnAccept&& on_accept) const {
    const S t0 = Dir == direction::forward ? S(0) : S(1);
    const S t1 = S(1) - t0;
    state y;
    y.template head<D>() = v;
    y[D] = S(0);
    state weight = state::Ones();
    weight[D] = S(Options.log_det_weight);
    const scales_t sc = net.scales();
    trace_t tr;
    auto F = [&](S t, const state& u, int) { return dynamics(t, u, ctx, sc, T, tr); };
    return detail::integrate<Solver>(F, t0, t1, y, weight, st, on_accept);
  }

  // for detail::conditioned_ops: forward, inverse, log_det, the fused forms, with and
  // without a context
  template <direction Dir>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> apply(const vec& v, const S* ctx) const {
    ode_solve st;
    const state y = solve<Dir>(v, ctx, probe(v, ctx), st, [](S, S, const state&) {});
    return {y.template head<D>(), y[D]};
  }

  // How the solve of direction dir from v goes: steps, rejections, evaluations (NFE),
  // whether it reached the end. Checked mode (host/checked_mode.hpp) reports a solve
  // that did not.
  FLOWTMPL_HOST_DEVICE ode_solve solve_status(direction dir, const vec& v, const S* ctx) const {
    ode_solve st;
    if (dir == direction::forward)
      solve<direction::forward>(v, ctx, probe(v, ctx), st, [](S, S, const state&) {});
    else
      solve<direction::inverse>(v, ctx, probe(v, ctx), st, [](S, S, const state&) {});
    return st;
  }
  ode_solve solve_status(direction dir, const vec& v) const
    requires(C == 0)
  {
    return solve_status(dir, v, nullptr);
  }
  template <class Ctx>
  ode_solve solve_status(direction dir, const vec& v, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return solve_status(dir, v, detail::checked_context<S, C, ContinuousBijector>(c, "solve_status").data());
  }

  // ---- gradients: the reverse sweep over the accepted steps -------------------------
  using checkpoint = detail::ode_checkpoint<state, S>;
  // where the solve's checkpoints go: a list (Dopri5, host) or a fixed array (RK4)
  static constexpr int fixed_steps = [] {
    if constexpr (Solver::adaptive)
      return 1;
    else
      return Solver::steps;
  }();
  struct checkpoints {
    std::conditional_t<Solver::adaptive, std::vector<checkpoint>, std::array<checkpoint, fixed_steps>> list{};
    int count = 0;
    FLOWTMPL_HOST_DEVICE void add(S t, S h, const state& y) {
      if constexpr (Solver::adaptive)
        list.push_back({y, t, h});
      else
        list[std::size_t(count)] = {y, t, h};
      ++count;
    }
  };

  template <direction Dir>
  FLOWTMPL_HOST_DEVICE vec apply_vjp(const vec& v, const S* ctx, const vec& g, S gld, ContinuousBijector& grad,
                                     S* gctx) const {
    const seed_t T = probe(v, ctx);
    checkpoints cps;
    ode_solve st;
    solve<Dir>(v, ctx, T, st, [&](S t, S h, const state& y) { cps.add(t, h, y); });
    const scales_t sc = net.scales();
    state ybar;
    ybar.template head<D>() = g;
    ybar[D] = gld;
    for (int n = cps.count - 1; n >= 0; --n) {
      const checkpoint& cp = cps.list[std::size_t(n)];
      // the step's stages again, each with its trace
      std::array<trace_t, Solver::stages> trs;
      std::array<state, Solver::stages> inputs, k;
      std::array<S, Solver::stages> times;
      auto F = [&](S t, const state& u, int stage) {
        inputs[std::size_t(stage)] = u;
        times[std::size_t(stage)] = t;
        return dynamics(t, u, ctx, sc, T, trs[std::size_t(stage)]);
      };
      detail::rk_step<Solver>(F, cp.t, cp.h, cp.y, k, false);
      auto vjp = [&](int i, const state& kbar) {
        const std::size_t s = std::size_t(i);
        const extra_t e = extra_inputs(times[s], ctx);
        extra_t ge = extra_t::Zero();
        const vec abar = kbar.template head<D>();
        const vec z = inputs[s].template head<D>();
        vec zbar;
        if (kbar[D] != S(0)) {
          const seed_t Pbar = kbar[D] * T;  // exact: d tr(P) / dP = I; Hutchinson: d v^T P / dP = v
          zbar = net.template backward<tangents>(trs[s], z, e.data(), sc, T, abar, &Pbar, grad.net,
                                                 (C > 0 && gctx) ? ge.data() : nullptr);
        } else {
          zbar = net.template backward<tangents>(trs[s], z, e.data(), sc, T, abar, nullptr, grad.net,
                                                 (C > 0 && gctx) ? ge.data() : nullptr);
        }
        if constexpr (C > 0)
          if (gctx)
            for (int c = 0; c < C; ++c) gctx[c] += ge[embedding + c];
        state ubar;
        ubar.template head<D>() = zbar;
        ubar[D] = S(0);
        return ubar;
      };
      ybar = detail::rk_reverse_step<Solver>(vjp, cp.h, ybar);
    }
    return ybar.template head<D>();
  }

  // the forward's Jacobian (jacobian.hpp): row i is the reverse sweep of e_i, so it is
  // the derivative of the computed solution, as the gradients are
  Eigen::Matrix<S, D, D> jacobian(const vec& z) const
    requires(C == 0)
  {
    Eigen::Matrix<S, D, D> J;
    ContinuousBijector scratch{};
    for (int i = 0; i < D; ++i)
      J.row(i) = apply_vjp<direction::forward>(z, nullptr, vec::Unit(i), S(0), scratch, nullptr).transpose();
    return J;
  }

  // ---- parameters -------------------------------------------------------------------
  static constexpr std::size_t parameter_count = network_type::parameter_count;
  void reset_parameters(std::uint64_t seed, init scheme = init::identity_start) {
    philox_stream rng(seed, 0);
    net.reset_parameters(rng, scheme, nullptr);
  }
  // training/fit.hpp, after every optimizer step: fresh Hutchinson probes
  void after_optimizer_step(long step) { probe_seed = probe_seed * 0x9e3779b97f4a7c15ull + std::uint64_t(step) + 1; }
  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    detail::for_each_member_tensor(self.net, "net.", f);
  }
};

template <class Dynamics = DynamicsMLP<64, 64>, class Solver = Dopri5<>, continuous_options Options = continuous_options{}>
struct Continuous : bijector_spec {
  static_assert(requires { typename Dynamics::template dynamics_network<1, 1, 1, double>; },
                "flowtmpl: Continuous<Dynamics, Solver>: Dynamics must be a dynamics network, DynamicsMLP<hidden...> "
                "(conditioners/dynamics_mlp.hpp), not a coupling conditioner such as MLP<...>");
  static_assert(requires {
    Solver::adaptive;
    Solver::stages;
  }, "flowtmpl: Continuous<Dynamics, Solver>: Solver must be Dopri5<rtol, atol, max_steps> or RK4<steps> (ode_solvers.hpp)");
  template <int D, class S>
  using bind = ContinuousBijector<Dynamics, Solver, Options, D, S, 0>;
  template <int D, class S, int C>
  using bind_with_context = ContinuousBijector<Dynamics, Solver, Options, D, S, C>;
};

}  // namespace flowtmpl
