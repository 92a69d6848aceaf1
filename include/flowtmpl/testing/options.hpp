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
}  // namespace detail

}  // namespace flowtmpl::testing
