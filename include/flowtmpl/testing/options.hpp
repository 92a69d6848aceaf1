// flowtmpl/testing/options.hpp: the settings of the conformance kit's checks.
//
//   options<S>             check_bijector: the points, the tolerances, the finiteness
//                          sweep (testing/sweep.hpp) and its narrowing
//   gradient_options<S>    check_gradients
//   sweep_range<S>         a narrowing of the default sweep in one direction: [lo, hi]
//                          (closed) and the reason, which the report prints; or none
//                          of it (drop_sweep), with the reason
//
// The points of the per-point checks are drawn per component uniformly from [lo, hi];
// where lo or hi is NaN (the default) from [-3, 3] cut to the layer's forward_domain(),
// 2% of the width inside its ends (detail::point_range).
//
// The default sweep covers each direction's whole declared domain. A test narrows it
// only with a reason:
//   opt.narrow_sweep(direction::forward, lowest, log_max, "exp(x) overflows above log(max)");
//   opt.drop_sweep(direction::inverse, "the chain's image is not a box");
// A narrowed or dropped range without a reason is a failure of the check "sweep".
//
// The settings' domains, checked when check_bijector / check_gradients starts (one
// sentence naming the function, argument_error; a point of the wrong length:
// shape_error): points, random_sweep_points >= 0 (0 points: the per-point checks are
// skipped, with the reason); every tolerance finite and >= 0; fd_step finite and > 0;
// lo and hi NaN (the default) or both finite with lo <= hi; max_parameters >= 1; each
// of extra_points, sweep and inverse_sweep of the layer's dimension.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../direction.hpp"
#include "../errors.hpp"

namespace flowtmpl::testing {

template <class S>
struct sweep_range {
  S lo = -std::numeric_limits<S>::infinity();  // closed ends, cut to the layer's domain
  S hi = std::numeric_limits<S>::infinity();
  std::string reason;  // why the sweep stops short of the domain: required when narrowed
  bool narrowed() const { return lo != -std::numeric_limits<S>::infinity() || hi != std::numeric_limits<S>::infinity(); }
  bool dropped() const { return lo > hi; }  // no default sweep at all (drop_sweep)
};

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
  std::vector<std::vector<S>> extra_points;  // added to the random points

  // The finiteness sweep: the default points (testing/sweep.hpp) in each direction's
  // domain, cut to forward_sweep_range / inverse_sweep_range, plus the points given here.
  sweep_range<S> forward_sweep_range;
  sweep_range<S> inverse_sweep_range;
  int random_sweep_points = 32;               // random rows of the default sweep, per direction
  std::vector<std::vector<S>> sweep;          // more forward points, checked as given
  std::vector<std::vector<S>> inverse_sweep;  // more inverse points, checked as given

  bool check_nan = true;

  // The default sweep of direction `dir` only over [lo, hi] (and the domain), because
  // of `reason` (printed in the report: say why the layer cannot be finite beyond).
  void narrow_sweep(direction dir, S lo_, S hi_, std::string reason) {
    sweep_range<S>& r = dir == direction::forward ? forward_sweep_range : inverse_sweep_range;
    r.lo = lo_;
    r.hi = hi_;
    r.reason = std::move(reason);
  }
  // No default sweep in direction `dir` (the points given in sweep / inverse_sweep still
  // run), because of `reason`: for inputs that no interval per component describes (the
  // image of a chain that declares no domain).
  void drop_sweep(direction dir, std::string reason) {
    narrow_sweep(dir, std::numeric_limits<S>::infinity(), -std::numeric_limits<S>::infinity(), std::move(reason));
  }
};

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

// The settings' checks (see the top of this header); what: the function called.
template <class S>
void check_tolerance(S v, const char* what, const char* name) {
  if (!(std::isfinite(double(v)) && v >= S(0)))
    flowtmpl::detail::fail_argument(flowtmpl::detail::message(what, ": ", name, " is ", v, "; it must be finite and at least 0"));
}
template <class S>
void check_step(S v, const char* what, const char* name) {
  if (!(std::isfinite(double(v)) && v > S(0)))
    flowtmpl::detail::fail_argument(flowtmpl::detail::message(what, ": ", name, " is ", v, "; it must be finite and positive"));
}
inline void check_count(long long v, const char* what, const char* name, long long least) {
  if (v < least)
    flowtmpl::detail::fail_argument(flowtmpl::detail::message(what, ": ", name, " is ", v, "; it must be at least ", least));
}
template <class S>
void check_point_range(S lo, S hi, const char* what) {
  if (std::isnan(double(lo)) || std::isnan(double(hi))) return;  // the layer's domain
  if (!(std::isfinite(double(lo)) && std::isfinite(double(hi)) && lo <= hi))
    flowtmpl::detail::fail_argument(flowtmpl::detail::message(what, ": the points' range [lo, hi] is [", lo, ", ", hi,
                                                              "]; it must be finite with lo <= hi (or NaN: the "
                                                              "layer's domain)"));
}
template <class S>
void check_point_lengths(const std::vector<std::vector<S>>& points, int dim, const char* what, const char* name) {
  for (std::size_t k = 0; k < points.size(); ++k)
    if (points[k].size() != std::size_t(dim))
      flowtmpl::detail::fail_shape(flowtmpl::detail::message(what, ": ", name, "[", k, "] has ", points[k].size(),
                                                             " values; the layer's dimension is ", dim));
}

template <class S>
void check_settings(const options<S>& o, int dim, const char* what) {
  check_count(o.points, what, "options.points", 0);
  check_count(o.random_sweep_points, what, "options.random_sweep_points", 0);
  check_point_range(o.lo, o.hi, what);
  check_tolerance(o.round_trip_tol, what, "options.round_trip_tol");
  check_tolerance(o.log_det_tol, what, "options.log_det_tol");
  check_tolerance(o.jacobian_tol, what, "options.jacobian_tol");
  check_step(o.fd_step, what, "options.fd_step");
  check_point_lengths(o.extra_points, dim, what, "options.extra_points");
  check_point_lengths(o.sweep, dim, what, "options.sweep");
  check_point_lengths(o.inverse_sweep, dim, what, "options.inverse_sweep");
}
template <class S>
void check_settings(const gradient_options<S>& o, const char* what) {
  check_count(o.points, what, "gradient_options.points", 0);
  check_point_range(o.lo, o.hi, what);
  check_tolerance(o.rel_tol, what, "gradient_options.rel_tol");
  check_tolerance(o.abs_tol, what, "gradient_options.abs_tol");
  check_step(o.fd_step, what, "gradient_options.fd_step");
  if (o.max_parameters < 1)
    flowtmpl::detail::fail_argument(flowtmpl::detail::message(
        what, ": gradient_options.max_parameters is 0; it must be at least 1 (to skip the parameters, switch a "
              "direction off)"));
}
}  // namespace detail

}  // namespace flowtmpl::testing
