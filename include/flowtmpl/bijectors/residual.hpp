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
// Log-det, exact (Options.log_det = residual_log_det::exact, D <= Options.exact_up_to =
// 16): log det(I + J_g(x)) from the analytic Jacobian (the chain of the network's
// weights and activation derivatives) and a partial-pivoting LU, positive because
// every eigenvalue of I + J_g has a positive real part; the inverse's log-det is it at
// x, the forward's minus it at the solved x. Cost per sample: the Jacobian, about
// sum_l widths[l+1] widths[l] D multiply-adds, and D^3 / 3 for the LU. A larger D is a
// compile error: the stochastic estimator (Russian-roulette power series) is not built
// yet.
// Structure: dense. Log-det kind: input-dependent. Domain: R^D both ways.
// Parameters: the network's, named "net.<name>" (weights, biases and its spectral-norm
// state). The default-constructed layer is the identity (g = 0). Context: with C > 0
// (Conditional<C, ...>) g reads [x; c] and the layer models ConditionalBijector.
// Not yet: gradients (training), the stochastic log-det, the device path.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../detail/eigen.hpp"

#include "../conditioners/lipschitz_mlp.hpp"
#include "../core.hpp"
#include "../detail/context_check.hpp"
#include "../detail/members.hpp"
#include "../direction.hpp"
#include "../structure.hpp"

namespace flowtmpl {

enum class residual_log_det { exact };

struct residual_options {
  double coefficient = 0.97;  // Lip(g) <= coefficient < 1
  double tolerance = 0;       // the forward's stopping step, relative; 0: 8 eps of the scalar
  int max_iterations = 1000;  // the forward's fixed-point iterations at most
  int newton_steps = 0;       // Newton steps on the exact Jacobian after the fixed point
  residual_log_det log_det = residual_log_det::exact;
  int exact_up_to = 16;  // the largest D of the exact log-det
};

// How a forward solve went: iterations taken, the last step (relative, as the test
// above) and whether it met the tolerance.
struct residual_solve {
  int iterations = 0;
  double step = 0;
  bool converged = true;
};

template <class Net, residual_options Options, int D, class S, int C>
struct ResidualBijector : detail::parameter_walkers<ResidualBijector<Net, Options, D, S, C>> {
  static_assert(Options.coefficient > 0 && Options.coefficient < 1,
                "flowtmpl: Residual: residual_options::coefficient must be in (0, 1)");
  static_assert(Options.max_iterations >= 1 && Options.newton_steps >= 0 && Options.tolerance >= 0,
                "flowtmpl: Residual: max_iterations >= 1, newton_steps >= 0 and tolerance >= 0");
  static_assert(D <= Options.exact_up_to,
                "flowtmpl: Residual: the exact log-det is for D <= residual_options::exact_up_to (16 by default: "
                "an LU of the D x D Jacobian per sample); the stochastic estimator for larger D is not built yet. "
                "Raise exact_up_to to accept the O(D^3) cost");
  static constexpr int dim = D;
  static constexpr int context_dim = C;
  using scalar_type = S;
  using structure = structure::dense;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::input_dependent;
  static constexpr const char* name = "Residual";
  static constexpr residual_options options = Options;
  using network_type = typename Net::template lipschitz_network<D, D, C, S, Options.coefficient>;
  using vec = Eigen::Matrix<S, D, 1>;
  using mat = Eigen::Matrix<S, D, D>;

  network_type net;

  static S tolerance() {
    return Options.tolerance > 0 ? S(Options.tolerance) : S(8) * std::numeric_limits<S>::epsilon();
  }

  // x + g(x), and log det(I + J_g(x)) when ld is not null
  vec explicit_map(const vec& x, const S* ctx, S* ld) const {
    if (!ld) return x + net.evaluate(x, ctx);
    typename network_type::jacobian_t J;
    const vec z = x + net.evaluate(x, ctx, &J);
    *ld = log_det_of(J);
    return z;
  }
  static S log_det_of(const typename network_type::jacobian_t& J) {
    const mat A = mat::Identity() + J;
    const Eigen::PartialPivLU<mat> lu(A);
    using std::log, std::abs;
    S ld = S(0);
    for (int i = 0; i < D; ++i) ld += log(abs(lu.matrixLU()(i, i)));
    return ld;
  }

  // x with x + g(x) = z, and how the solve went
  vec solve(const vec& z, const S* ctx, residual_solve* status = nullptr) const {
    using std::abs, std::max;
    vec x = z;
    residual_solve st;
    st.converged = false;
    const S tol = tolerance();
    const auto sc = net.scales();  // the same weights at every iteration
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
      const vec cand = x - (mat::Identity() + J).partialPivLu().solve(r);
      const vec rc = cand + net.evaluate(cand, ctx, sc) - z;
      if (!(rc.cwiseAbs().maxCoeff() < r.cwiseAbs().maxCoeff())) break;
      st.step = double((cand - x).cwiseAbs().maxCoeff() / max(S(1), cand.cwiseAbs().maxCoeff()));
      if (st.step <= double(tol)) st.converged = true;
      x = cand;
    }
    if (status) *status = st;
    return x;
  }

  template <direction Dir>
  value_and_log_det<vec, S> apply(const vec& v, const S* ctx) const {
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

  // checked mode (host/checked_mode.hpp): how the forward solve of v went
  residual_solve solve_status(direction dir, const vec& v, const S* ctx) const {
    residual_solve st;
    if (dir == direction::forward) solve(v, ctx, &st);
    return st;
  }

  // ---- the Bijector / ConditionalBijector functions ---------------------------------
  vec forward(const vec& z) const
    requires(C == 0)
  {
    return solve(z, nullptr);
  }
  vec inverse(const vec& x) const
    requires(C == 0)
  {
    return explicit_map(x, nullptr, nullptr);
  }
  S log_det(const vec& z) const
    requires(C == 0)
  {
    return apply<direction::forward>(z, nullptr).log_det;
  }
  value_and_log_det<vec, S> forward_and_log_det(const vec& z) const
    requires(C == 0)
  {
    return apply<direction::forward>(z, nullptr);
  }
  value_and_log_det<vec, S> inverse_and_log_det(const vec& x) const
    requires(C == 0)
  {
    return apply<direction::inverse>(x, nullptr);
  }
  template <class Ctx>
  vec forward(const vec& z, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return solve(z, detail::checked_context<S, C, ResidualBijector>(c, "forward").data());
  }
  template <class Ctx>
  vec inverse(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return explicit_map(x, detail::checked_context<S, C, ResidualBijector>(c, "inverse").data(), nullptr);
  }
  template <class Ctx>
  S log_det(const vec& z, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return apply<direction::forward>(z, detail::checked_context<S, C, ResidualBijector>(c, "log_det").data()).log_det;
  }
  template <class Ctx>
  value_and_log_det<vec, S> forward_and_log_det(const vec& z, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return apply<direction::forward>(z, detail::checked_context<S, C, ResidualBijector>(c, "forward_and_log_det").data());
  }
  template <class Ctx>
  value_and_log_det<vec, S> inverse_and_log_det(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return apply<direction::inverse>(x, detail::checked_context<S, C, ResidualBijector>(c, "inverse_and_log_det").data());
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
  // the power iteration of the network's spectral normalisation (lipschitz_mlp.hpp)
  double update_spectral_norm(int iterations = 1) { return net.update_spectral_norm(iterations); }
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
