// flowtmpl/testing/check_gradients.hpp: check_gradients(b, gradient_options), the
// conformance kit's check of the vector-Jacobian products of a differentiable bijector
// (flowtmpl/differentiable.hpp) against central differences, in both directions: at
// each point x (drawn as options' points) and random cotangents (g, gld), the cotangent
// of the input and of every parameter (or of max_parameters of them, evenly spread,
// when there are more) of
//   forward:  L(x) = g . f(x) + gld log|det df/dx|(x)
//   inverse:  L(y) = g . f^-1(y) + gld log|det df^-1/dy|(y),  y = f(x)
// Each derivative is a Richardson-extrapolated central difference with step
// fd_step * max(1, |v|) (and a tenth and a hundredth of it where that misses: kinks of
// relu networks and spline knots); it passes when |analytic - numeric| <= rel_tol *
// max(|analytic|, |numeric|) + abs_tol * max(1, |L|). State (parameters.hpp: a
// residual layer's power-iteration vectors) is not differenced: its analytic gradient
// must be exactly 0. A parameter that a layer's
// validate() requires to stay 0 (a weight MADE's mask forbids) is not differenced: its
// analytic gradient must be exactly 0. Meant for double.
//
// The checks, as the report counts them: forward_vjp.input, forward_vjp.parameters,
// inverse_vjp.input, inverse_vjp.parameters. A direction switched off in the options,
// and the parameter checks of a layer without parameters, are reported as skipped.
// Cost per point and direction: about 6 (D + checked parameters) layer calls.
// Options out of their domain (testing/options.hpp: points >= 0, tolerances finite and
// >= 0, fd_step finite and > 0, lo <= hi finite or NaN, max_parameters >= 1) are
// refused before any check runs: argument_error, its message starting
// "check_gradients: ".
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "../bijectors/embedded_context.hpp"
#include "../core.hpp"
#include "../differentiable.hpp"
#include "../errors.hpp"
#include "../random.hpp"
#include "finite_differences.hpp"
#include "options.hpp"
#include "report.hpp"

namespace flowtmpl::testing {

namespace detail {
// Whether every layer's validate() (checked mode's parameter invariants) accepts b's
// parameters: a MADE weight its mask forbids must stay 0, so the kit does not perturb
// one (its analytic gradient is 0 by construction; the layer's map ignores the mask).
template <class B>
bool parameters_valid(const B& b) {
  if constexpr (flowtmpl::detail::is_context_bound<B>::value) {
    return parameters_valid(b.bijector);
  } else if constexpr (is_chain<B>::value) {
    bool ok = true;
    b.for_each_layer([&](auto, const auto& layer) { ok = ok && parameters_valid(layer); });
    return ok;
  } else if constexpr (flowtmpl::detail::is_inverse_layer<B>::value) {
    return parameters_valid(b.base);
  } else if constexpr (flowtmpl::detail::is_embedded_context<B>::value) {
    return parameters_valid(b.inner);
  } else if constexpr (requires { b.validate(); }) {
    return b.validate() == nullptr;
  } else {
    return true;
  }
}
}  // namespace detail

template <Bijector B>
  requires DifferentiableBijector<B>
report check_gradients(const B& b, const gradient_options<typename B::scalar_type>& opt = {}) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim;
  using V = vector_t<B>;
  using flowtmpl::detail::message;
  constexpr std::size_t NP = parameter_count_v<B>;
  detail::check_settings(opt, "check_gradients");
  report rep;
  const std::string name = B::name;

  if (!opt.forward) {
    rep.skip("forward_vjp.input", "gradient_options::forward is off");
    rep.skip("forward_vjp.parameters", "gradient_options::forward is off");
  }
  if (!opt.inverse) {
    rep.skip("inverse_vjp.input", "gradient_options::inverse is off");
    rep.skip("inverse_vjp.parameters", "gradient_options::inverse is off");
  }
  if constexpr (NP == 0) {
    rep.skip("forward_vjp.parameters", "the layer has no parameters");
    rep.skip("inverse_vjp.parameters", "the layer has no parameters");
  }

  const auto [lo, hi] = detail::point_range<B>(opt.lo, opt.hi);
  philox_stream rng(opt.seed, 1);
  std::vector<S> theta(NP);
  if constexpr (NP > 0) copy_parameters(b, theta.data());
  const bool valid = detail::parameters_valid(b);
  // the parameters checked: all, or max_parameters evenly spread
  std::vector<std::size_t> which;
  if (NP <= opt.max_parameters) {
    for (std::size_t k = 0; k < NP; ++k) which.push_back(k);
  } else {
    const double stride = double(NP) / double(opt.max_parameters);
    const double offset = rng.uniform<double>() * stride;
    for (std::size_t k = 0; k < opt.max_parameters; ++k) which.push_back(std::min(NP - 1, std::size_t(offset + stride * double(k))));
  }
  std::vector<std::string> names, tensor_names;
  if (!which.empty()) {
    for_each_parameter(b, [&](const std::string& n, const S*, std::size_t k) {
      for (std::size_t i = 0; i < k; ++i) {
        names.push_back(message(n, '[', i, ']'));
        tensor_names.push_back(n);
      }
    });
  }

  for (int p = 0; p < opt.points; ++p) {
    V x, g;
    for (int i = 0; i < D; ++i) x[i] = lo + (hi - lo) * rng.uniform<S>();
    for (int i = 0; i < D; ++i) g[i] = rng.normal<S>();
    const S gld = rng.normal<S>();
    const V y = b.forward(x);
    for (const direction dir : {direction::forward, direction::inverse}) {
      const bool fwd = dir == direction::forward;
      if ((fwd && !opt.forward) || (!fwd && !opt.inverse)) continue;
      const std::string input_check = fwd ? "forward_vjp.input" : "inverse_vjp.input";
      const std::string parameter_check = fwd ? "forward_vjp.parameters" : "inverse_vjp.parameters";
      const V in = fwd ? x : y;
      auto loss_of = [&](const B& m, const V& v) {
        const auto r = fwd ? flowtmpl::forward_and_log_det(m, v) : flowtmpl::inverse_and_log_det(m, v);
        return S(g.dot(r.value) + gld * r.log_det);
      };
      B grad = make_gradient(b);
      const V gin = fwd ? flowtmpl::forward_vjp(b, in, g, gld, grad) : flowtmpl::inverse_vjp(b, in, g, gld, grad);
      std::vector<S> gtheta(NP);
      if constexpr (NP > 0) copy_parameters(grad, gtheta.data());
      const S scale = std::max(S(1), std::abs(loss_of(b, in)));
      const std::string at = message(name, fwd ? " forward_vjp" : " inverse_vjp", " at ", fwd ? "x = " : "y = ",
                                     detail::show(in));
      for (int c = 0; c < D; ++c) {
        const S h = opt.fd_step * std::max(S(1), std::abs(in[c]));
        const S num = detail::fd_derivative(
            [&](S step) {
              V v = in;
              v[c] += step;
              return loss_of(b, v);
            },
            h, gin[c], opt.rel_tol, opt.abs_tol, scale);
        rep.expect(input_check,
                   std::abs(num - gin[c]) <= opt.rel_tol * std::max(std::abs(num), std::abs(gin[c])) + opt.abs_tol * scale,
                   message(at, ": input component ", c, ": analytic ", double(gin[c]), ", central differences ",
                           double(num)));
      }
      for (std::size_t k : which) {
        if (is_state_parameter(tensor_names[k])) {  // state (parameters.hpp): never differentiated
          rep.expect(parameter_check, gtheta[k] == S(0),
                     message(at, ": ", names[k], " is state, not a parameter, but its gradient is ", double(gtheta[k])));
          continue;
        }
        B m = b;
        std::vector<S> t = theta;
        const S h = opt.fd_step * std::max(S(1), std::abs(theta[k]));
        if (valid) {  // a parameter held at 0 by a layer's invariant (a masked weight)
          t[k] = theta[k] + h;
          assign_parameters(m, t.data());
          const bool stays_valid = detail::parameters_valid(m);
          t[k] = theta[k];
          if (!stays_valid) {
            rep.expect(parameter_check, gtheta[k] == S(0),
                       message(at, ": parameter ", names[k], " is held at 0 by the layer, but its gradient is ",
                               double(gtheta[k])));
            continue;
          }
        }
        const S num = detail::fd_derivative(
            [&](S step) {
              t[k] = theta[k] + step;
              assign_parameters(m, t.data());
              return loss_of(m, in);
            },
            h, gtheta[k], opt.rel_tol, opt.abs_tol, scale);
        rep.expect(parameter_check,
                   std::abs(num - gtheta[k]) <= opt.rel_tol * std::max(std::abs(num), std::abs(gtheta[k])) +
                                                    opt.abs_tol * scale,
                   message(at, ": parameter ", names[k], ": analytic ", double(gtheta[k]), ", central differences ",
                           double(num)));
      }
    }
  }
  rep.skip_unrun({"forward_vjp.input", "forward_vjp.parameters", "inverse_vjp.input", "inverse_vjp.parameters"},
                 "no points (gradient_options::points is 0)");
  return rep;
}

}  // namespace flowtmpl::testing
