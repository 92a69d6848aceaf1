// flowtmpl/testing/check_bijector.hpp: check_bijector(b, options), the conformance kit's
// check of the Bijector laws (concepts.hpp) on any Bijector, a user's own included. The
// checks, by the names the report counts them under, are listed in flowtmpl/testing.hpp.
// A check that cannot run on b (jacobian without has_jacobian_v<B>, prepared without a
// prepare() member, kind for an input-dependent log-det, structure for a dense one, nan
// when switched off, any per-point check without points) is reported as skipped, with
// the reason. Cost per point: 6 D + 7 to 14 D + 7 calls of the layer (the
// finite-difference Jacobian, 4 D calls at each of up to three steps, dominates), plus
// the sweep (testing/sweep.hpp). Options out of their domain (testing/options.hpp) are
// refused before any check runs: argument_error (a point of the wrong length:
// shape_error), its message starting "check_bijector: ".
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../direction.hpp"
#include "../errors.hpp"
#include "../jacobian.hpp"
#include "../random.hpp"
#include "../structure.hpp"
#include "finite_differences.hpp"
#include "options.hpp"
#include "report.hpp"
#include "sweep.hpp"

namespace flowtmpl::testing {

template <Bijector B>
report check_bijector(const B& b, const options<typename B::scalar_type>& opt = {}) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim;
  using V = vector_t<B>;
  using flowtmpl::detail::message;
  using T = typename B::structure;
  detail::check_settings(opt, D, "check_bijector");
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

  // ---- the checks that cannot run on this layer
  constexpr bool has_prepare = requires { b.prepare(); };
  if constexpr (!has_jacobian_v<B>)
    rep.skip("jacobian", "the layer has no jacobian(x) member (has_jacobian_v is false)");
  if constexpr (!has_prepare) rep.skip("prepared", "the layer has no prepare(): prepare(b) is a copy of it");
  if constexpr (B::log_det_kind == log_det_kind::input_dependent)
    rep.skip("kind", "the log-det is input-dependent: no value it must take");
  if constexpr (std::is_same_v<T, structure::dense>)
    rep.skip("structure", "the structure is dense: no entry is declared zero");
  if (!opt.check_nan) rep.skip("nan", "options::check_nan is off");

  const auto prepared = flowtmpl::prepare(b);

  for (const V& x : pts) {
    const std::string at = message(name, " at x = ", detail::show(x));
    const V y = b.forward(x);
    const V xr = b.inverse(y);
    bool rt = true;
    for (int i = 0; i < D; ++i) rt = rt && std::abs(xr[i] - x[i]) <= opt.round_trip_tol * std::max(S(1), std::abs(x[i]));
    rep.expect("round_trip", rt, message(at, ": inverse(forward(x)) = ", detail::show(xr)));

    const S ld = b.log_det(x);
    const auto fl = flowtmpl::forward_and_log_det(b, x);
    rep.expect("fused",
               (fl.value - y).cwiseAbs().maxCoeff() <= opt.round_trip_tol * std::max(S(1), y.cwiseAbs().maxCoeff()) &&
                   detail::close(fl.log_det, ld, opt.round_trip_tol),
               message(at, ": forward_and_log_det differs from forward and log_det"));
    const auto il = flowtmpl::inverse_and_log_det(b, y);
    rep.expect("inverse_log_det", detail::close(il.log_det, -ld, opt.log_det_tol),
               message(at, ": inverse log-det ", double(il.log_det), " is not minus the forward log-det ", double(ld)));
    rep.expect("fused",
               (il.value - xr).cwiseAbs().maxCoeff() <= opt.round_trip_tol * std::max(S(1), x.cwiseAbs().maxCoeff()),
               message(at, ": inverse_and_log_det's value differs from inverse"));

    if constexpr (B::log_det_kind == log_det_kind::zero) {
      rep.expect("kind", ld == S(0), message(at, ": a zero-log-det layer returned ", double(ld)));
    } else if constexpr (B::log_det_kind == log_det_kind::constant) {
      rep.expect("kind", ld == b.constant_log_det(), message(at, ": log_det differs from constant_log_det()"));
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
    rep.expect("log_det", detail::close(ld, ld_fd, opt.log_det_tol),
               message(at, ": ", double(ld), " but finite differences give ", double(ld_fd)));
    if constexpr (has_jacobian_v<B>) {
      const auto j = flowtmpl::jacobian(b, x);
      const S scale = std::max(S(1), jfd.cwiseAbs().maxCoeff());
      rep.expect("jacobian", (j - jfd).cwiseAbs().maxCoeff() <= opt.jacobian_tol * scale,
                 message(at, ": jacobian(b, x) differs from finite differences by ",
                         double((j - jfd).cwiseAbs().maxCoeff())));
    }

    // structure: exact independence where the tag forbids a dependency
    if constexpr (!std::is_same_v<T, structure::dense>) {
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
      if constexpr (std::is_same_v<T, structure::permutation>) {
        rep.expect("structure",
                   (dep.rowwise().sum().array() == 1).all() && (dep.colwise().sum().array() == 1).all(),
                   message(at, ": declared a permutation, but the dependency pattern is not one"));
      } else {
        for (int r = 0; r < D; ++r)
          for (int c = 0; c < D; ++c)
            if (!may_be_nonzero<T>(r, c))
              rep.expect("structure", dep(r, c) == 0,
                         message(at, ": output ", r, " depends on input ", c, ", which the declared structure forbids"));
      }
      if constexpr (std::is_same_v<T, structure::identity>) {
        rep.expect("structure", (jfd - decltype(jfd)::Identity()).cwiseAbs().maxCoeff() <= opt.jacobian_tol,
                   message(at, ": declared identity Jacobian, finite differences disagree"));
      }
    }

    if constexpr (has_prepare) {
      const auto pr = flowtmpl::forward_and_log_det(prepared, x);
      rep.expect("prepared",
                 (pr.value - y).cwiseAbs().maxCoeff() <= opt.round_trip_tol * std::max(S(1), y.cwiseAbs().maxCoeff()) &&
                     detail::close(pr.log_det, ld, opt.round_trip_tol),
                 message(at, ": prepare(b) computes another forward or log-det"));
      const auto pi = flowtmpl::inverse_and_log_det(prepared, y);
      rep.expect("prepared",
                 (pi.value - x).cwiseAbs().maxCoeff() <= opt.round_trip_tol * std::max(S(1), x.cwiseAbs().maxCoeff()) &&
                     detail::close(pi.log_det, -ld, opt.log_det_tol),
                 message(at, ": prepare(b)'s inverse or inverse log-det differs"));
    }
  }

  detail::check_sweep<direction::forward>(b, opt, rep);
  detail::check_sweep<direction::inverse>(b, opt, rep);

  if (opt.check_nan && !pts.empty()) {
    for (int c = 0; c < D; ++c) {
      V x = pts.front();
      x[c] = std::numeric_limits<S>::quiet_NaN();
      const auto r = flowtmpl::forward_and_log_det(b, x);
      rep.expect("nan", r.value.hasNaN() || std::isnan(double(r.log_det)),
                 message(name, ": a NaN in component ", c, " gave the finite result ", detail::show(r.value)));
      const auto ri = flowtmpl::inverse_and_log_det(b, x);
      rep.expect("nan", ri.value.hasNaN() || std::isnan(double(ri.log_det)),
                 message(name, ": a NaN in component ", c, " of the inverse's input gave a finite result"));
    }
  }

  rep.skip_unrun({"round_trip", "fused", "inverse_log_det", "log_det", "kind", "jacobian", "structure", "prepared",
                  "nan"},
                 "no points (options::points is 0 and no extra_points)");
  return rep;
}

}  // namespace flowtmpl::testing
