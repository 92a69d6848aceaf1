// flowtmpl/bijectors/residual.hpp: Residual<Net, Options>, the residual flow layer of
// i-ResNet and Residual Flows (Behrmann et al. 2019; Chen et al. 2019):
//
//   inverse (data -> noise, the density direction):  z = x + g(x)            explicit
//   forward (noise -> data, sampling):               x solves x + g(x) = z   iterative
//
// with g a c-Lipschitz network (Net = LipschitzMLP<...>, conditioners/lipschitz_mlp.hpp;
// c = Options.coefficient < 1, 0.97 by default as in the references), so x + g(x) is
// invertible and its Jacobian I + J_g has no eigenvalue in the disc of radius 1 - c
// around 0. The explicit map is the density direction, as normflows's Residual (its
// default reverse=True) and the references evaluate densities; Inverse<Residual<...>>
// makes sampling explicit instead.
//
// Forward: the fixed-point iteration x_{k+1} = z - g(x_k), x_0 = z (Banach: a contraction
// of rate Lip(g) <= c), stopped when |x_{k+1} - x_k|_inf <= tol max(1, |x_{k+1}|_inf),
// tol = Options.tolerance or, when that is 0 (the default), 8 eps of the scalar; then
// |x - x*| <= c / (1 - c) times that step (32 steps' worth for c = 0.97). At most
// Options.max_iterations (1000) iterations: a solve that stops there has not converged
// and checked mode reports it (layer, sample, iterations and the last step); unchecked,
// the last iterate is returned. Options.newton_steps > 0 finishes with that many Newton
// steps x -= (I + J_g(x))^-1 (x + g(x) - z) on the exact Jacobian (each one LU of the
// D x D matrix), each taken only while it reduces the residual.
//
// Log-det, two modes chosen by type (Options.log_det; automatic: exact for D <=
// Options.exact_up_to = 16, stochastic above):
//   exact       log det(I + J_g(x)) from the analytic Jacobian (the chain of the
//               network's weights and activation derivatives) and a partial-pivoting LU
//               (detail/small_lu.hpp), positive because every eigenvalue of I + J_g has a
//               positive real part. Cost per sample: the Jacobian, about
//               sum_l widths[l+1] widths[l] D multiply-adds, and D^3 / 3 for the LU.
//               residual_log_det::exact with D > exact_up_to is a compile error.
//   stochastic  the Russian-roulette power series with Hutchinson probes (Chen et al.
//               2019; detail/residual_series.hpp): n = exact_terms + N terms, N
//               geometric(p) or Poisson(lambda) (Options.series, series_parameter),
//               sum_k (-1)^(k+1) v^T J^k v / k / P(n >= k), averaged over Options.probes
//               standard normal probes v; unbiased. Each term one product with J^T (the
//               network's backward chain, no Jacobian formed). The probes and n of a
//               sample come from philox_stream(probe_seed, key), key a hash of the bits
//               of the data-side point x (and its context): a sample's estimate depends
//               only on (probe_seed, x), not on the batch, the order or the thread.
//               forward(z) evaluates it at the solved x, so forward and inverse agree
//               where the solve returns x to the bit, and otherwise to the estimator's
//               spread.
// The inverse's log-det is it at x, the forward's minus it at the solved x.
//
// Gradients (flowtmpl/differentiable.hpp; the network's record / backward, lipschitz_
// mlp.hpp, carry the tangents of x through the layers, so the second derivatives of the
// activations enter by hand):
//   inverse  gx = gz + J^T gz + gld d ld/dx, the parameters gz^T dg + gld d ld
//   forward  implicit, never through the solve: v = gx - gld d ld/dx at the solved x,
//            gz = (I + J)^-T v, the parameters and the context -(gz^T dg + gld d ld)
//   exact:       d ld = tr((I + J)^-1 dJ), with (I + J)^-T from the LU
//   stochastic:  the Neumann-series estimator of Chen et al. 2019, d ld ~ w^T dJ v with
//                w = sum_k=0..n-1 (-1)^k (J^T)^k v / P(n >= k + 1), the same probes and
//                n as the estimate: unbiased for the gradient, memory-light (vectors
//                only); the forward solves (I + J)^T w = v by its fixed point.
// The power-iteration state u gets no gradient (parameters.hpp: state).
// Training: fit calls after_optimizer_step after every optimizer step: every layer's
// u settles to W's leading singular vector, so g is c-Lipschitz at every step, and the
// probe seed moves on.
// Structure: dense. Log-det kind: input-dependent. Domain: R^D both ways.
// Parameters: the network's, named "net.<name>" (weights, biases and its spectral-norm
// state). The default-constructed layer is the identity (g = 0). Context: with C > 0
// (Conditional<C, ...>) g reads [x; c] and the layer models ConditionalBijector.
// Every per-sample function is FLOWTMPL_HOST_DEVICE (the device path: device.hpp).
// Settings are compile-time and checked there (static_asserts in words): coefficient in
// (0, 1), tolerance finite and >= 0, max_iterations >= 1, newton_steps, exact_up_to,
// exact_terms and spectral_iterations >= 0, probes >= 1, max_terms >= max(1,
// exact_terms), series_parameter in (0, 1] (geometric) or finite and > 0 (poisson).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../detail/eigen.hpp"

#include "../conditioners/lipschitz_mlp.hpp"
#include "../core.hpp"
#include "../detail/conditioned.hpp"
#include "../detail/members.hpp"
#include "../detail/residual_series.hpp"
#include "../detail/small_lu.hpp"
#include "../direction.hpp"
#include "../errors.hpp"
#include "../random.hpp"
#include "../structure.hpp"

namespace flowtmpl {

// automatic: exact for D <= exact_up_to, stochastic above
enum class residual_log_det { automatic, exact, stochastic };

struct residual_options {
  double coefficient = 0.97;  // Lip(g) <= coefficient < 1
  double tolerance = 0;       // the forward's stopping step, relative; 0: 8 eps of the scalar
  int max_iterations = 1000;  // the forward's fixed-point iterations at most
  int newton_steps = 0;       // Newton steps on the exact Jacobian after the fixed point
  residual_log_det log_det = residual_log_det::automatic;
  int exact_up_to = 16;  // the largest D of the exact log-det
  // the stochastic log-det (detail/residual_series.hpp)
  int exact_terms = 2;                                 // terms always taken
  residual_series series = residual_series::geometric;  // the law of the further terms
  double series_parameter = 0.5;                        // geometric: p; poisson: lambda
  int probes = 1;                                       // Hutchinson probes per sample
  int max_terms = 1000;                                 // the series' cap
  int spectral_iterations = 100;  // after_optimizer_step's power iterations per layer at most
};

// How a forward solve went: iterations taken, the last step (relative, as the test
// above) and whether it met the tolerance.
struct residual_solve {
  int iterations = 0;
  double step = 0;
  bool converged = true;
};

template <class Net, residual_options Options, int D, class S, int C>
struct ResidualBijector : detail::conditioned_ops<ResidualBijector<Net, Options, D, S, C>, D, S, C, void> {
  static_assert(Options.coefficient > 0 && Options.coefficient < 1,
                "flowtmpl: Residual: residual_options::coefficient must be in (0, 1)");
  static_assert(Options.max_iterations >= 1 && Options.newton_steps >= 0,
                "flowtmpl: Residual: residual_options needs max_iterations >= 1 and newton_steps >= 0");
  static_assert(detail::finite_setting(Options.tolerance) && Options.tolerance >= 0,
                "flowtmpl: Residual: residual_options::tolerance must be a finite number >= 0 (0: 8 eps of the "
                "scalar)");
  static_assert(Options.exact_up_to >= 0 && Options.spectral_iterations >= 0,
                "flowtmpl: Residual: residual_options needs exact_up_to >= 0 and spectral_iterations >= 0");
  static_assert(Options.log_det != residual_log_det::exact || D <= Options.exact_up_to,
                "flowtmpl: Residual: the exact log-det is for D <= residual_options::exact_up_to (16 by default: "
                "an LU of the D x D Jacobian per sample); use residual_log_det::stochastic (or automatic) for "
                "this D, or raise exact_up_to to accept the O(D^3) cost");
  static_assert(Options.exact_terms >= 0 && Options.probes >= 1 && Options.max_terms >= 1 &&
                    Options.max_terms >= Options.exact_terms && detail::finite_setting(Options.series_parameter) &&
                    Options.series_parameter > 0 &&
                    (Options.series != residual_series::geometric || Options.series_parameter <= 1),
                "flowtmpl: Residual: the stochastic log-det needs exact_terms >= 0, probes >= 1, max_terms >= "
                "exact_terms, and series_parameter in (0, 1] (geometric p) or finite and > 0 (poisson lambda)");
  static constexpr int dim = D;
  static constexpr int context_dim = C;
  using scalar_type = S;
  using structure = structure::dense;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::input_dependent;
  static constexpr const char* name = "Residual";
  static constexpr residual_options options = Options;
  static constexpr bool exact = Options.log_det == residual_log_det::exact ||
                                (Options.log_det == residual_log_det::automatic && D <= Options.exact_up_to);
  using network_type = typename Net::template lipschitz_network<D, D, C, S, Options.coefficient>;
  using vec = Eigen::Matrix<S, D, 1>;
  using mat = Eigen::Matrix<S, D, D>;
  using scales_t = typename network_type::scale_array;
  // the pass of the exact mode (the Jacobian) and of one probe of the stochastic mode
  using trace_t = typename network_type::template trace<exact ? D : 1>;

  network_type net;
  // the stochastic log-det's probes: philox_stream(probe_seed, key of the data-side
  // point); not a parameter. after_optimizer_step advances it.
  std::uint64_t probe_seed = 0;

  FLOWTMPL_HOST_DEVICE static S tolerance() {
    return Options.tolerance > 0 ? S(Options.tolerance) : S(8) * std::numeric_limits<S>::epsilon();
  }

  // ---- log det(I + J_g(x)) --------------------------------------------------------
  // exact: the trace's Jacobian, factored
  FLOWTMPL_HOST_DEVICE static detail::small_lu<D, S> factor(const trace_t& tr) {
    return detail::small_lu<D, S>(mat::Identity() + network_type::tangent(tr));
  }
  FLOWTMPL_HOST_DEVICE static mat identity_seed() { return mat::Identity(); }

  // the key of a sample's probe stream: the bits of x and of its context
  FLOWTMPL_HOST_DEVICE static std::uint64_t probe_key(const vec& x, const S* ctx) {
    return detail::point_key(x.data(), D, ctx, C);
  }
  FLOWTMPL_HOST_DEVICE static detail::residual_series_law series_law() {
    return {Options.series, Options.series_parameter, Options.exact_terms, Options.max_terms};
  }

  // The stochastic estimate at x; with grad not null, also the cotangents of the
  // estimate (times gld) and of g (gz, may be null: 0): into grad's parameters (times
  // sign), gctx and the returned cotangent of x (the Neumann-series estimator).
  FLOWTMPL_HOST_DEVICE S stochastic_log_det(const vec& x, const S* ctx, const scales_t& sc, S gld, const vec* gz,
                                            ResidualBijector* grad, S* gctx, vec* gx, trace_t* last = nullptr) const {
    philox_stream rng(probe_seed, probe_key(x, ctx));
    const detail::residual_series_law law = series_law();
    const int n = law.draw(rng);
    S estimate(0);
    if (gx) gx->setZero();
    for (int p = 0; p < Options.probes; ++p) {
      vec v;
      for (int i = 0; i < D; ++i) v[i] = rng.normal<S>();
      trace_t tr;
      net.template record<1>(x, ctx, sc, v, tr);
      vec w = v;  // (J^T)^(k-1) v
      Eigen::Matrix<S, D, 1> omega = vec::Zero();
      S sign(1);
      for (int k = 1; k <= n; ++k) {
        const S wt = S(law.weight(k));
        if (grad) omega += (sign * wt) * w;
        w = net.jacobian_transpose_times(tr, sc, w);
        estimate += sign * wt / S(k) * w.dot(v);
        sign = -sign;
      }
      if (grad) {
        const vec abar = (p == 0 && gz) ? *gz : vec::Zero();
        const vec pbar = (gld / S(Options.probes)) * omega;
        *gx += net.template backward<1>(tr, x, ctx, sc, v, abar, &pbar, grad->net, gctx);
      }
      if (last && p == 0) *last = tr;
    }
    return estimate / S(Options.probes);
  }

  // ---- the two directions ---------------------------------------------------------
  // x + g(x), and log det(I + J_g(x)) when ld is not null
  FLOWTMPL_HOST_DEVICE vec explicit_map(const vec& x, const S* ctx, S* ld) const {
    if (!ld) return x + net.evaluate(x, ctx);
    const scales_t sc = net.scales();
    if constexpr (exact) {
      trace_t tr;
      const vec z = x + net.template record<D>(x, ctx, sc, identity_seed(), tr);
      *ld = factor(tr).log_abs_det();
      return z;
    } else {
      *ld = stochastic_log_det(x, ctx, sc, S(0), nullptr, nullptr, nullptr, nullptr);
      return x + net.evaluate(x, ctx, sc);
    }
  }

  // x with x + g(x) = z, and how the solve went
  FLOWTMPL_HOST_DEVICE vec solve(const vec& z, const S* ctx, residual_solve* status = nullptr) const {
    using std::abs, std::max;
    vec x = z;
    residual_solve st;
    st.converged = false;
    const S tol = tolerance();
    const scales_t sc = net.scales();  // the same weights at every iteration
    for (int k = 0; k < Options.max_iterations; ++k) {
      const vec next = z - net.evaluate(x, ctx, sc);
      const S step = (next - x).cwiseAbs().maxCoeff() / max(S(1), next.cwiseAbs().maxCoeff());
      x = next;
      st.iterations = k + 1;
      st.step = double(step);
      if (step <= tol) {
        st.converged = true;
        break;
      }
      if (!(step == step)) break;  // NaN: stop, reported as not converged
    }
    for (int k = 0; k < Options.newton_steps; ++k) {
      typename network_type::jacobian_t J;
      const vec r = x + net.evaluate(x, ctx, sc, &J) - z;
      const vec cand = x - detail::small_lu<D, S>(mat::Identity() + J).solve(r);
      const vec rc = cand + net.evaluate(cand, ctx, sc) - z;
      if (!(rc.cwiseAbs().maxCoeff() < r.cwiseAbs().maxCoeff())) break;
      st.step = double((cand - x).cwiseAbs().maxCoeff() / max(S(1), cand.cwiseAbs().maxCoeff()));
      if (st.step <= double(tol)) st.converged = true;
      x = cand;
    }
    if (status) *status = st;
    return x;
  }

  // for detail::conditioned_ops: forward, inverse, log_det, the fused forms, with and
  // without a context
  template <direction Dir>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> apply(const vec& v, const S* ctx) const {
    S ld;
    if constexpr (Dir == direction::inverse) {
      const vec z = explicit_map(v, ctx, &ld);
      return {z, ld};
    } else {
      const vec x = solve(v, ctx);
      explicit_map(x, ctx, &ld);
      return {x, -ld};
    }
  }

  // The host's block path (host/block_path.hpp), exact mode: the density direction over
  // a block of columns, the network and its Jacobians as matrix-matrix products
  // (lipschitz_mlp.hpp's evaluate_block), then one D x D LU per column. The same
  // numbers as the per-sample path up to the order of the products' sums.
  void inverse_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) const
    requires(exact && C == 0)
  {
    inverse_block_impl(V, ld, static_cast<const Eigen::Matrix<S, 1, Eigen::Dynamic>*>(nullptr));
  }
  void inverse_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                     const Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic>& Ctx) const
    requires(exact && C > 0)
  {
    inverse_block_impl(V, ld, &Ctx);
  }
  template <class CtxBlock>
  void inverse_block_impl(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                          const CtxBlock* Ctx) const {
    Eigen::Matrix<S, D, Eigen::Dynamic> Js;
    V += net.evaluate_block(V, Ctx, &Js);
    for (Eigen::Index j = 0; j < V.cols(); ++j) {
      const mat A = mat::Identity() + Js.middleCols(j * D, D);
      ld[j] += detail::small_lu<D, S>(A).log_abs_det();
    }
  }

  // ---- gradients (flowtmpl/differentiable.hpp) --------------------------------------
  // inverse (z = x + g(x), ld(x)): gx = gz + J^T gz + gld d ld/dx.
  // forward (x = f^-1(z), -ld(x)): v = gx - gld d ld/dx, gz = w = (I + J)^-T v, and the
  // parameters and context get -(w^T dg + gld d ld) at x.
  // d ld = tr((I + J)^-1 dJ) (exact), the Neumann-series estimate (stochastic).
  template <direction Dir>
  FLOWTMPL_HOST_DEVICE vec apply_vjp(const vec& v, const S* ctx, const vec& g, S gld, ResidualBijector& grad,
                                     S* gctx) const {
    const scales_t sc = net.scales();
    const vec x = Dir == direction::inverse ? v : solve(v, ctx);
    if constexpr (exact) {
      trace_t tr;
      net.template record<D>(x, ctx, sc, identity_seed(), tr);
      const detail::small_lu<D, S> lu = factor(tr);
      if constexpr (Dir == direction::inverse) {
        if (gld == S(0)) return g + net.template backward<D>(tr, x, ctx, sc, identity_seed(), g, nullptr, grad.net, gctx);
        const mat pbar = gld * lu.inverse_transpose();
        return g + net.template backward<D>(tr, x, ctx, sc, identity_seed(), g, &pbar, grad.net, gctx);
      } else {
        vec u = g;
        if (gld != S(0)) {
          const mat pbar = -gld * lu.inverse_transpose();
          u += net.template backward<D>(tr, x, ctx, sc, identity_seed(), vec::Zero(), &pbar, grad.net, gctx);
        }
        const vec w = lu.solve_transpose(u);
        net.template backward<D>(tr, x, ctx, sc, identity_seed(), -w, nullptr, grad.net, gctx);
        return w;
      }
    } else {
      if constexpr (Dir == direction::inverse) {
        vec gx;
        stochastic_log_det(x, ctx, sc, gld, &g, &grad, gctx, &gx);
        return g + gx;
      } else {
        vec gx;
        trace_t tr;
        stochastic_log_det(x, ctx, sc, -gld, nullptr, &grad, gctx, &gx, &tr);
        const vec u = g + gx;
        // (I + J)^T w = u by the fixed point w = u - J^T w (a contraction of rate c)
        vec w = u;
        using std::max;
        for (int k = 0; k < Options.max_iterations; ++k) {
          const vec next = u - net.jacobian_transpose_times(tr, sc, w);
          const S step = (next - w).cwiseAbs().maxCoeff() / max(S(1), next.cwiseAbs().maxCoeff());
          w = next;
          if (!(step > tolerance())) break;
        }
        net.template backward<1>(tr, x, ctx, sc, vec::Zero(), -w, nullptr, grad.net, gctx);
        return w;
      }
    }
  }

  // checked mode (host/checked_mode.hpp): how the forward solve of v went
  residual_solve solve_status(direction dir, const vec& v, const S* ctx) const {
    residual_solve st;
    if (dir == direction::forward) solve(v, ctx, &st);
    return st;
  }

  // the forward's Jacobian (jacobian.hpp): (I + J_g(x))^-1 at the solved x
  mat jacobian(const vec& z) const
    requires(C == 0)
  {
    const vec x = solve(z, nullptr);
    typename network_type::jacobian_t J;
    net.evaluate(x, nullptr, &J);
    return (mat::Identity() + J).inverse();
  }

  // ---- parameters -------------------------------------------------------------------
  static constexpr std::size_t parameter_count = network_type::parameter_count;
  void reset_parameters(std::uint64_t seed, init scheme = init::identity_start) {
    philox_stream rng(seed, 0);
    net.reset_parameters(rng, scheme, nullptr);
  }
  // the power iteration of the network's spectral normalisation (lipschitz_mlp.hpp),
  // `iterations` >= 0 times (a negative count: argument_error)
  double update_spectral_norm(int iterations = 1) {
    if (iterations < 0)
      detail::fail_argument(detail::message("update_spectral_norm: the number of iterations is ", iterations,
                                            "; it must be at least 0"));
    return net.update_spectral_norm(iterations);
  }
  // training/fit.hpp, after every optimizer step: every layer's u settled to W's
  // leading singular vector (lipschitz_mlp.hpp's settle_spectral_norm: warm-started
  // power iterations, at most spectral_iterations, then an eigendecomposition where
  // they have not converged), so the next step's g is c-Lipschitz to rounding; and
  // fresh probes for the stochastic log-det.
  void after_optimizer_step(long step) {
    net.settle_spectral_norm(Options.spectral_iterations);
    probe_seed = probe_seed * 0x9e3779b97f4a7c15ull + std::uint64_t(step) + 1;
  }
  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    detail::for_each_member_tensor(self.net, "net.", f);
  }
};

template <class Net = LipschitzMLP<64, 64>, residual_options Options = residual_options{}>
struct Residual : bijector_spec {
  template <int D, class S>
  using bind = ResidualBijector<Net, Options, D, S, 0>;
  template <int D, class S, int C>
  using bind_with_context = ResidualBijector<Net, Options, D, S, C>;
};

}  // namespace flowtmpl
