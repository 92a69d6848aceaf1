// flowtmpl/testing.hpp: the conformance kit. Any Bijector, a user's own included, can be
// run through it; it depends on no test framework and returns a report.
//
//   auto report = flowtmpl::testing::check_bijector(b, options);
//   if (!report.ok()) std::cerr << report.text();
//
// What it checks, at `options.points` points drawn from options.domain (per component,
// uniform in [lo, hi]; by default the layer's forward_domain() clipped to [-3, 3], else
// [-3, 3]), plus options.extra_points:
//   round_trip        |inverse(forward(x)) - x| <= round_trip_tol * max(1, |x|), per component
//   log_det           log_det(x) against log|det J| of a central-difference Jacobian
//                     (Richardson-extrapolated, step fd_step * max(1, |x_j|), and at most a
//                     hundredth of the distance to the end of the forward domain; where
//                     that misses, also a tenth and a hundredth of it, for maps that are
//                     C^1 but not C^2, like splines at their knots), within log_det_tol relative
//                     (absolute below 1). Meaningful in double; for float it is still run,
//                     with the float defaults below.
//   inverse_log_det   inverse_log_det(b, forward(x)) == -log_det(x) within log_det_tol
//   fused             forward_and_log_det / inverse_and_log_det agree with the separate calls
//   kind              zero: log_det(x) == 0 exactly; constant: log_det(x) == constant_log_det()
//                     for every x
//   structure         every entry that the declared structure says is zero is exactly
//                     zero: output i does not change at all when input j is moved (by
//                     a large step) for a forbidden (i, j); for permutation structure,
//                     each output depends on exactly one input and each input on one output
//   jacobian          flowtmpl::jacobian(b, x), where has_jacobian_v<B>, against the
//                     central differences within jacobian_tol (relative to max(1, |J|))
//   prepared          prepare(b) computes the same function and log-det within round_trip_tol
//   finite            forward and log_det finite at every point of options.sweep (ordinary
//                     and extreme inputs inside the forward domain: the caller knows where
//                     the outputs are representable), inverse and inverse_log_det finite at
//                     every point of options.inverse_sweep
//   nan               a NaN in one component gives a NaN in the output or log-det (not a
//                     silently finite result)
//
//   auto report = flowtmpl::testing::check_gradients(b, gradient_options<S>{});
//
// checks the vector-Jacobian products of a differentiable bijector
// (flowtmpl/differentiable.hpp) against central differences, in both directions: at
// each point x (drawn as above) and random cotangents (g, gld), the cotangent of the
// input and of every parameter (or of max_parameters of them, evenly spread, when there
// are more) of
//   forward:  L(x) = g . f(x) + gld log|det df/dx|(x)
//   inverse:  L(y) = g . f^-1(y) + gld log|det df^-1/dy|(y),  y = f(x)
// Each derivative is a Richardson-extrapolated central difference with step
// fd_step * max(1, |v|) (and a tenth and a hundredth of it where that misses: kinks of
// relu networks and spline knots); it passes when |analytic - numeric| <= rel_tol *
// max(|analytic|, |numeric|) + abs_tol * max(1, |L|). A parameter that a layer's
// validate() requires to stay 0 (a weight MADE's mask forbids) is not differenced: its
// analytic gradient must be exactly 0. Meant for double.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "detail/eigen.hpp"

#include "core.hpp"
#include "differentiable.hpp"
#include "errors.hpp"
#include "jacobian.hpp"
#include "random.hpp"

namespace flowtmpl::testing {

template <class S>
struct options {
  int points = 64;
  std::uint64_t seed = 12345;
  S lo = std::numeric_limits<S>::quiet_NaN();  // NaN: from the layer's forward_domain(), clipped to [-3, 3]
  S hi = std::numeric_limits<S>::quiet_NaN();
  S round_trip_tol = sizeof(S) == 4 ? S(1e-5) : S(1e-12);
  S log_det_tol = sizeof(S) == 4 ? S(2e-3) : S(1e-7);
  S jacobian_tol = sizeof(S) == 4 ? S(2e-3) : S(1e-7);
  S fd_step = sizeof(S) == 4 ? S(1e-2) : S(1e-3);
  std::vector<std::vector<S>> extra_points;   // added to the random points
  std::vector<std::vector<S>> sweep;          // forward-finiteness points
  std::vector<std::vector<S>> inverse_sweep;  // inverse-finiteness points
  bool check_nan = true;
};

struct report {
  std::vector<std::string> failures;
  int checks = 0;
  bool ok() const { return failures.empty(); }
  std::string text() const {
    std::ostringstream s;
    s << checks << " checks, " << failures.size() << " failed\n";
    for (const auto& f : failures) s << "  " << f << "\n";
    return s.str();
  }
  void expect(bool cond, const std::string& what) {
    ++checks;
    if (!cond && failures.size() < 50) failures.push_back(what);
  }
};

namespace detail {
// The interval the points are drawn from: [lo, hi] as given, or where either is NaN
// [-3, 3] cut to the layer's forward domain with a margin of 2% inside open ends.
template <class B, class S>
std::pair<S, S> point_range(S lo, S hi) {
  if (std::isnan(double(lo)) || std::isnan(double(hi))) {
    lo = S(-3);
    hi = S(3);
    if constexpr (requires { B::forward_domain(); }) {
      const auto d = B::forward_domain();
      const S m = (std::min(hi, d.hi) - std::max(lo, d.lo)) * S(0.02);
      lo = std::max(lo, d.lo + m);
      hi = std::min(hi, d.hi - m);
    }
  }
  return {lo, hi};
}

template <class V>
std::string show(const V& v) {
  std::ostringstream s;
  s.precision(17);
  s << "(";
  for (int i = 0; i < int(v.size()); ++i) s << (i ? ", " : "") << double(v[i]);
  s << ")";
  return s.str();
}

template <class S>
bool close(S a, S b, S tol) {
  if (std::isnan(double(a)) || std::isnan(double(b))) return false;
  if (a == b) return true;  // equal infinities included
  const S scale = std::max(S(1), std::max(std::abs(a), std::abs(b)));
  return std::abs(a - b) <= tol * scale;
}

// Central-difference Jacobian with one Richardson step: (4 D(h/2) - D(h)) / 3.
template <Bijector B>
Eigen::Matrix<typename B::scalar_type, B::dim, B::dim> fd_jacobian(const B& b, const vector_t<B>& x,
                                                                    typename B::scalar_type h0) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim;
  Eigen::Matrix<S, D, D> j;
  for (int c = 0; c < D; ++c) {
    S h = h0 * std::max(S(1), std::abs(x[c]));
    if constexpr (requires { B::forward_domain(); }) {
      // stay well inside the domain: a hundredth of the distance to its nearest end
      const auto d = B::forward_domain();
      h = std::min(h, S(0.01) * std::min(x[c] - d.lo, d.hi - x[c]));
    }
    auto diff = [&](S step) {
      vector_t<B> xp = x, xm = x;
      xp[c] += step;
      xm[c] -= step;
      return vector_t<B>((b.forward(xp) - b.forward(xm)) / (S(2) * step));
    };
    j.col(c) = (S(4) * diff(h / S(2)) - diff(h)) / S(3);
  }
  return j;
}

template <class M>
typename M::Scalar log_abs_det(const M& m) {
  Eigen::PartialPivLU<M> lu(m);
  typename M::Scalar acc(0);
  for (int i = 0; i < m.rows(); ++i) acc += std::log(std::abs(lu.matrixLU()(i, i)));
  return acc;
}
}  // namespace detail

template <Bijector B>
report check_bijector(const B& b, const options<typename B::scalar_type>& opt = {}) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim;
  using V = vector_t<B>;
  report rep;
  const std::string name = B::name;

  // ---- the points
  const auto [lo, hi] = detail::point_range<B>(opt.lo, opt.hi);
  std::vector<V> pts;
  philox_stream rng(opt.seed, 0);
  for (int p = 0; p < opt.points; ++p) {
    V x;
    for (int i = 0; i < D; ++i) x[i] = lo + (hi - lo) * rng.uniform<S>();
    pts.push_back(x);
  }
  for (const auto& e : opt.extra_points) {
    V x;
    for (int i = 0; i < D; ++i) x[i] = e.at(std::size_t(i));
    pts.push_back(x);
  }

  const auto prepared = flowtmpl::prepare(b);
  constexpr bool has_jacobian = has_jacobian_v<B>;

  for (const V& x : pts) {
    const std::string at = flowtmpl::detail::message(name, " at x = ", detail::show(x));
    const V y = b.forward(x);
    const V xr = b.inverse(y);
    bool rt = true;
    for (int i = 0; i < D; ++i) rt = rt && std::abs(xr[i] - x[i]) <= opt.round_trip_tol * std::max(S(1), std::abs(x[i]));
    rep.expect(rt, flowtmpl::detail::message("round_trip: ", at, ": inverse(forward(x)) = ", detail::show(xr)));

    const S ld = b.log_det(x);
    const auto fl = flowtmpl::forward_and_log_det(b, x);
    rep.expect((fl.value - y).cwiseAbs().maxCoeff() <= opt.round_trip_tol * std::max(S(1), y.cwiseAbs().maxCoeff()) &&
                   detail::close(fl.log_det, ld, opt.round_trip_tol), flowtmpl::detail::message("fused: ", at, ": forward_and_log_det differs from forward and log_det"));
    const auto il = flowtmpl::inverse_and_log_det(b, y);
    rep.expect(detail::close(il.log_det, -ld, opt.log_det_tol), flowtmpl::detail::message("inverse_log_det: ", at, ": inverse log-det ", std::to_string(double(il.log_det)), " is not minus the forward log-det ", std::to_string(double(ld))));
    rep.expect((il.value - xr).cwiseAbs().maxCoeff() <= opt.round_trip_tol * std::max(S(1), x.cwiseAbs().maxCoeff()), flowtmpl::detail::message("fused: ", at, ": inverse_and_log_det's value differs from inverse"));

    if constexpr (B::log_det_kind == log_det_kind::zero) {
      rep.expect(ld == S(0), flowtmpl::detail::message("kind: ", at, ": a zero-log-det layer returned ", std::to_string(double(ld))));
    } else if constexpr (B::log_det_kind == log_det_kind::constant) {
      rep.expect(ld == b.constant_log_det(), flowtmpl::detail::message("kind: ", at, ": log_det differs from constant_log_det()"));
    }

    // Three step sizes (fd_step, /10, /100): a map that is C^1 but not C^2 (a spline at
    // a knot) can defeat the largest; a wrong log-det disagrees at every step size.
    auto jfd = detail::fd_jacobian(b, x, opt.fd_step);
    S ld_fd = detail::log_abs_det(jfd);
    for (S shrink : {S(0.1), S(0.01)}) {
      if (detail::close(ld, ld_fd, opt.log_det_tol)) break;
      const auto j2 = detail::fd_jacobian(b, x, opt.fd_step * shrink);
      const S l2 = detail::log_abs_det(j2);
      if (std::abs(l2 - ld) < std::abs(ld_fd - ld)) {
        jfd = j2;
        ld_fd = l2;
      }
    }
    rep.expect(detail::close(ld, ld_fd, opt.log_det_tol), flowtmpl::detail::message("log_det: ", at, ": ", std::to_string(double(ld)), " but finite differences give ", std::to_string(double(ld_fd))));
    if constexpr (has_jacobian) {
      const auto j = flowtmpl::jacobian(b, x);
      const S scale = std::max(S(1), jfd.cwiseAbs().maxCoeff());
      rep.expect((j - jfd).cwiseAbs().maxCoeff() <= opt.jacobian_tol * scale, flowtmpl::detail::message("jacobian: ", at, ": jacobian(b, x) differs from finite differences by ", std::to_string(double((j - jfd).cwiseAbs().maxCoeff()))));
    }

    // structure: exact independence where the tag forbids a dependency
    Eigen::Matrix<int, D, D> dep = Eigen::Matrix<int, D, D>::Zero();
    for (int c = 0; c < D; ++c) {
      for (S step : {S(0.37), S(-0.61)}) {
        V xp = x;
        xp[c] += step * std::max(S(1), std::abs(x[c]));
        if constexpr (requires { B::forward_domain(); }) {
          if (!B::forward_domain().contains(xp[c])) xp[c] = x[c] + (xp[c] - x[c]) * S(1e-3);
        }
        const V yp = b.forward(xp);
        for (int r = 0; r < D; ++r)
          if (yp[r] != y[r]) dep(r, c) = 1;
      }
    }
    using T = typename B::structure;
    if constexpr (std::is_same_v<T, structure::permutation>) {
      rep.expect((dep.rowwise().sum().array() == 1).all() && (dep.colwise().sum().array() == 1).all(), flowtmpl::detail::message("structure: ", at, ": declared a permutation, but the dependency pattern is not one"));
    } else {
      for (int r = 0; r < D; ++r)
        for (int c = 0; c < D; ++c)
          if (!may_be_nonzero<T>(r, c))
            rep.expect(dep(r, c) == 0, flowtmpl::detail::message("structure: ", at, ": output ", std::to_string(r), " depends on input ", std::to_string(c), ", which the declared structure forbids"));
    }
    if constexpr (std::is_same_v<T, structure::identity>) {
      rep.expect((jfd - decltype(jfd)::Identity()).cwiseAbs().maxCoeff() <= opt.jacobian_tol, flowtmpl::detail::message("structure: ", at, ": declared identity Jacobian, finite differences disagree"));
    }

    // prepared
    const auto pr = flowtmpl::forward_and_log_det(prepared, x);
    rep.expect((pr.value - y).cwiseAbs().maxCoeff() <= opt.round_trip_tol * std::max(S(1), y.cwiseAbs().maxCoeff()) &&
                   detail::close(pr.log_det, ld, opt.round_trip_tol), flowtmpl::detail::message("prepared: ", at, ": prepare(b) computes another forward or log-det"));
    const V xp = prepared.inverse(y);
    rep.expect((xp - x).cwiseAbs().maxCoeff() <= opt.round_trip_tol * std::max(S(1), x.cwiseAbs().maxCoeff()), flowtmpl::detail::message("prepared: ", at, ": prepare(b).inverse differs"));
  }

  auto to_vec = [&](const std::vector<S>& e) {
    V x;
    for (int i = 0; i < D; ++i) x[i] = e.at(std::size_t(i));
    return x;
  };
  for (const auto& e : opt.sweep) {
    const V x = to_vec(e);
    const auto r = flowtmpl::forward_and_log_det(b, x);
    rep.expect(r.value.allFinite() && std::isfinite(double(r.log_det)), flowtmpl::detail::message("finite: ", name, " forward at ", detail::show(x), " gives ", detail::show(r.value), ", log-det ", std::to_string(double(r.log_det))));
  }
  for (const auto& e : opt.inverse_sweep) {
    const V y = to_vec(e);
    const auto r = flowtmpl::inverse_and_log_det(b, y);
    rep.expect(r.value.allFinite() && std::isfinite(double(r.log_det)), flowtmpl::detail::message("finite: ", name, " inverse at ", detail::show(y), " gives ", detail::show(r.value), ", log-det ", std::to_string(double(r.log_det))));
  }
  if (opt.check_nan && !pts.empty()) {
    for (int c = 0; c < D; ++c) {
      V x = pts.front();
      x[c] = std::numeric_limits<S>::quiet_NaN();
      const auto r = flowtmpl::forward_and_log_det(b, x);
      rep.expect(r.value.hasNaN() || std::isnan(double(r.log_det)), flowtmpl::detail::message("nan: ", name, ": a NaN in component ", std::to_string(c), " gave the finite result ", detail::show(r.value)));
      const auto ri = flowtmpl::inverse_and_log_det(b, x);
      rep.expect(ri.value.hasNaN() || std::isnan(double(ri.log_det)), flowtmpl::detail::message("nan: ", name, ": a NaN in component ", std::to_string(c), " of the inverse's input gave a finite result"));
    }
  }
  return rep;
}

template <class S>
struct gradient_options {
  int points = 4;
  std::uint64_t seed = 777;
  S lo = std::numeric_limits<S>::quiet_NaN();  // as options: NaN takes the forward domain, clipped to [-3, 3]
  S hi = std::numeric_limits<S>::quiet_NaN();
  S rel_tol = S(1e-6);
  S abs_tol = S(1e-9);
  S fd_step = S(1e-4);
  std::size_t max_parameters = 256;
  bool forward = true;
  bool inverse = true;
};

namespace detail {
// Richardson-extrapolated central difference of L at step h, retried at h/10, h/100
// when it misses `analytic`; returns the best.
template <class S, class L>
S fd_derivative(L&& loss, S h, S analytic, S rel_tol, S abs_tol, S scale) {
  S best = std::numeric_limits<S>::quiet_NaN();
  for (S shrink : {S(1), S(0.1), S(0.01)}) {
    const S s = h * shrink;
    const S d1 = (loss(s) - loss(-s)) / (S(2) * s);
    const S d2 = (loss(s / S(2)) - loss(-s / S(2))) / s;
    const S d = (S(4) * d2 - d1) / S(3);
    if (std::isnan(double(best)) || std::abs(d - analytic) < std::abs(best - analytic)) best = d;
    if (std::abs(best - analytic) <= rel_tol * std::max(std::abs(best), std::abs(analytic)) + abs_tol * scale) break;
  }
  return best;
}

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
  constexpr std::size_t NP = parameter_count_v<B>;
  report rep;
  const std::string name = B::name;

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

  for (int p = 0; p < opt.points; ++p) {
    V x, g;
    for (int i = 0; i < D; ++i) x[i] = lo + (hi - lo) * rng.uniform<S>();
    for (int i = 0; i < D; ++i) g[i] = rng.normal<S>();
    const S gld = rng.normal<S>();
    const V y = b.forward(x);
    for (int dir = 0; dir < 2; ++dir) {
      const bool fwd = dir == 0;
      if ((fwd && !opt.forward) || (!fwd && !opt.inverse)) continue;
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
      const std::string at = flowtmpl::detail::message(name, fwd ? " forward_vjp" : " inverse_vjp", " at ",
                                                       fwd ? "x = " : "y = ", detail::show(in));
      for (int c = 0; c < D; ++c) {
        const S h = opt.fd_step * std::max(S(1), std::abs(in[c]));
        const S num = detail::fd_derivative(
            [&](S step) {
              V v = in;
              v[c] += step;
              return loss_of(b, v);
            },
            h, gin[c], opt.rel_tol, opt.abs_tol, scale);
        rep.expect(std::abs(num - gin[c]) <= opt.rel_tol * std::max(std::abs(num), std::abs(gin[c])) + opt.abs_tol * scale,
                   flowtmpl::detail::message("gradient: ", at, ": input component ", c, ": analytic ", double(gin[c]),
                                             ", central differences ", double(num)));
      }
      std::vector<std::string> names;
      if (!which.empty()) {
        for_each_parameter(b, [&](const std::string& n, const S*, std::size_t k) {
          for (std::size_t i = 0; i < k; ++i) names.push_back(flowtmpl::detail::message(n, '[', i, ']'));
        });
      }
      for (std::size_t k : which) {
        B m = b;
        std::vector<S> t = theta;
        const S h = opt.fd_step * std::max(S(1), std::abs(theta[k]));
        if (valid) {  // a parameter held at 0 by a layer's invariant (a masked weight)
          t[k] = theta[k] + h;
          assign_parameters(m, t.data());
          const bool stays_valid = detail::parameters_valid(m);
          t[k] = theta[k];
          if (!stays_valid) {
            rep.expect(gtheta[k] == S(0), flowtmpl::detail::message("gradient: ", at, ": parameter ", names[k],
                                                                     " is held at 0 by the layer, but its gradient is ",
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
        rep.expect(std::abs(num - gtheta[k]) <= opt.rel_tol * std::max(std::abs(num), std::abs(gtheta[k])) + opt.abs_tol * scale,
                   flowtmpl::detail::message("gradient: ", at, ": parameter ", names[k], ": analytic ", double(gtheta[k]),
                                             ", central differences ", double(num)));
      }
    }
  }
  return rep;
}

}  // namespace flowtmpl::testing
