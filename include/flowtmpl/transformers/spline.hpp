// flowtmpl/transformers/spline.hpp: rational-quadratic spline transformers (Durkan et
// al. 2019), in exactly nflows's parameterisation (detail/rq_spline.hpp has the
// formulas), so that parameters trained with nflows give the same function.
//
// Spline<K, B = 3.0, Options = spline_options{}>: K bins on [-B, B] with linear
//   (identity) tails, as nflows's unconstrained_rational_quadratic_spline(tails =
//   "linear", tail_bound = B). Raw parameters per feature: K widths, K heights, K - 1
//   interior derivatives (3K - 1), in that order. Inputs with -B <= v <= B (inclusive,
//   both directions) go through the spline, whose end slopes are exactly 1; other
//   inputs are copied with log-det 0. Domain R: every finite input gives a finite
//   output and log-det (tests/unit/transformers/spline_stress_test.cpp), including
//   inputs on knots, at +-B, one float step either side of +-B and up to +-max.
//   Identity parameters: zeros for the sizes, softplus^-1(1 - min_derivative) for the
//   derivatives (zeros with identity_init).
// BoundedSpline<K, Lo = 0.0, Hi = 1.0, Options = spline_options{}>: K bins mapping
//   [Lo, Hi] onto itself with no tails (nflows's rational_quadratic_spline with left =
//   bottom = Lo, right = top = Hi); K + 1 derivatives are trained, so the end slopes are
//   free. Raw parameters per feature: 3K + 1. Domain [Lo, Hi] in both directions;
//   outside it the result is NaN (checked mode reports the input first).
// IntervalSpline<K, Left, Right, Bottom, Top, Options = spline_options{}>: K bins mapping
//   [Left, Right] onto [Bottom, Top] (nflows's rational_quadratic_spline with those four
//   bounds), K + 1 trained derivatives, 3K + 1 raw parameters per feature. Domain
//   [Left, Right] forward, [Bottom, Top] inverse; NaN outside. identity_parameters give
//   the identity only when the intervals are equal (BoundedSpline); otherwise the
//   spline nearest to it, the affine map between the intervals.
// Options: minimum bin width and height (fractions of the interval; K times either
//   must be below 1), minimum derivative, identity_init (nflows's enable_identity_init:
//   derivatives min_d + softplus(u log 2 / (1 - min_d)) / (log 2 / (1 - min_d)), so that
//   all-zero parameters give the identity). Unlike nflows, the end derivatives of
//   Spline are exactly 1 with identity_init too (nflows makes them 1.295, a kink at +-B)
//   unless end_slopes = spline_end_slopes::as_nflows, which gives nflows's value (the
//   identity parameters are then the identity away from the two end bins only); knots
//   = spline_knots::as_torch_cpu rounds the knots as torch does (nflows's to the bit; no
//   row form then, see apply_row); width_divisor and height_divisor divide the raw
//   widths and heights first (nflows's sqrt(hidden_features) in its spline couplings
//   whose net has that attribute).
// Cost per feature and call: K exps for each of widths and heights, 2 softplus (the
//   derivatives at the ends of the bin: rq_make_knots_for; gradients use all K - 1),
//   K - 1 comparisons per search, one log (forward) or one sqrt and one log (inverse);
//   an input in a tail costs one comparison.
#pragma once

#include <array>
#include <cmath>
#include <limits>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../detail/interval.hpp"
#include "../detail/rq_spline.hpp"
#include "spline_row.hpp"
#include "transformer.hpp"

namespace flowtmpl {

namespace detail {
template <int K, spline_options O>
consteval bool valid_spline_options() {
  return O.min_bin_width > 0.0 && O.min_bin_height > 0.0 && O.min_derivative > 0.0 &&
         O.min_bin_width * K < 1.0 && O.min_bin_height * K < 1.0 && O.width_divisor > 0.0 && O.height_divisor > 0.0;
}

// The raw derivative parameter u with min_d + softplus_beta(u) = 1: 0 with
// identity_init, else log(exp(1 - min_d) - 1).
template <spline_options O>
inline double identity_derivative_raw() {
  return O.identity_init ? 0.0 : std::log(std::expm1(1.0 - O.min_derivative));
}

template <int N, class S, int K, double B, spline_options O>
struct spline_transformer {
  static_assert(K >= 2, "flowtmpl: Spline<K>: a spline with linear tails needs at least 2 bins");
  static_assert(B > 0.0, "flowtmpl: Spline<K, B>: the tail bound B must be positive");
  static_assert(valid_spline_options<K, O>(),
                "flowtmpl: Spline: the minimum bin width, height and derivative must be positive, K times the "
                "minimum width (and height) below 1, and the width and height divisors positive");
  using scalar_type = S;
  static constexpr int features = N;
  static constexpr int bins = K;
  static constexpr int params_per_feature = 3 * K - 1;
  static constexpr bool volume_preserving = false;
  static constexpr const char* name = "Spline";
  static constexpr double bound = B;
  static constexpr spline_options options = O;

  FLOWTMPL_HOST_DEVICE static bool inside(S v) { return v >= S(-B) && v <= S(B); }
  FLOWTMPL_HOST_DEVICE static void knots(const S* p, rq_knots<S, K>& kn) {
    rq_make_knots<S, K, rq_ends::linear_tails>(p, p + K, p + 2 * K, S(-B), S(B), S(-B), S(B), O, kn);
  }
  FLOWTMPL_HOST_DEVICE S forward(int, S x, const S* p, S& ld) const {
    if (!inside(x)) {  // tails, and NaN
      ld = S(0);
      return x;
    }
    rq_knots<S, K> kn;
    rq_make_knots_for<S, K, rq_ends::linear_tails, direction::forward>(p, p + K, p + 2 * K, S(-B), S(B), S(-B), S(B), O,
                                                                       x, kn);
    return rq_forward(kn, x, ld);
  }
  FLOWTMPL_HOST_DEVICE S inverse(int, S y, const S* p, S& ld) const {
    if (!inside(y)) {
      ld = S(0);
      return y;
    }
    rq_knots<S, K> kn;
    rq_make_knots_for<S, K, rq_ends::linear_tails, direction::inverse>(p, p + K, p + 2 * K, S(-B), S(B), S(-B), S(B), O,
                                                                       y, kn);
    return rq_inverse(kn, y, ld);
  }
  // Feature i of a block of samples at once (host: the block path of couplings and MADE
  // layers): v (1 x n) in place, its raw parameters in rows first .. first + 3K - 2 of
  // theta, the log-dets added to ld (rq_tails_row, spline_row.hpp).
  // (With spline_knots::as_torch_cpu or a divisor there is no row form: the block path
  // then takes the per-sample formulas column by column.)
  template <direction Dir, class V, class Theta, class L>
    requires(O.knots == spline_knots::fast && O.width_divisor == 1.0 && O.height_divisor == 1.0)
  void apply_row(int, V&& v, const Theta& theta, Eigen::Index first, L&& ld) const {
    rq_tails_row<S, K, Dir>(v, theta, first, S(B), O, ld);
  }
  // transformer_vjp<Dir> of feature i over a block of samples at once (the block gradient
  // of couplings and MADE layers; detail/conditioned.hpp): v (1 x n) the input row in
  // direction Dir, g (1 x n) the output's cotangents on entry and the input's on return,
  // gld every sample's log-det cotangent; the parameters' cotangents are added into rows
  // first .. first + 3K - 2 of gtheta (rq_vjp_row, spline_row.hpp). A Spline has no
  // parameters of its own: grad is not read.
  template <direction Dir, class V, class Theta, class G, class GTheta>
    requires(O.knots == spline_knots::fast && O.width_divisor == 1.0 && O.height_divisor == 1.0)
  void vjp_row(int, const V& v, const Theta& theta, Eigen::Index first, G&& g, S gld, GTheta& gtheta,
               spline_transformer*) const {
    rq_vjp_row<S, K, Dir>(v, theta, first, g, gld, gtheta, S(B), O);
  }
  // forward's y and ld, their derivatives in x and in every raw parameter (the formulas
  // in detail/rq_spline.hpp); in the tails y = x, ld = 0 and every parameter's is 0.
  FLOWTMPL_HOST_DEVICE transformer_derivatives<S> derivatives(int, S x, const S* p, S* dy_dp, S* dld_dp) const {
    if (!inside(x)) {
      for (int q = 0; q < params_per_feature; ++q) {
        dy_dp[q] = S(0);
        dld_dp[q] = S(0);
      }
      return {x, S(0), S(1), S(0)};
    }
    rq_knots<S, K> kn;
    knots(p, kn);
    transformer_derivatives<S> r;
    r.value = rq_forward(kn, x, r.log_det);
    rq_forward_derivatives<S, K, rq_ends::linear_tails>(kn, p, S(-B), S(B), S(-B), S(B), O, x, r.dvalue_dx,
                                                        r.dlog_det_dx, dy_dp, dld_dp);
    return r;
  }
  static void identity_parameters(S* p) {
    for (int k = 0; k < 2 * K; ++k) p[k] = S(0);
    for (int k = 2 * K; k < 3 * K - 1; ++k) p[k] = S(identity_derivative_raw<O>());
  }
};

template <int N, class S, int K, double Left, double Right, double Bottom, double Top, spline_options O>
struct interval_spline_transformer {
  static_assert(K >= 1, "flowtmpl: IntervalSpline<K> / BoundedSpline<K>: at least one bin");
  static_assert(Left < Right && Bottom < Top,
                "flowtmpl: IntervalSpline<K, Left, Right, Bottom, Top> / BoundedSpline<K, Lo, Hi>: each interval's "
                "lower end must be below its upper end");
  static_assert(valid_spline_options<K, O>(),
                "flowtmpl: IntervalSpline / BoundedSpline: the minimum bin width, height and derivative must be "
                "positive, and K times the minimum width (and height) below 1");
  using scalar_type = S;
  static constexpr int features = N;
  static constexpr int bins = K;
  static constexpr int params_per_feature = 3 * K + 1;
  static constexpr bool volume_preserving = false;
  static constexpr const char* name = "IntervalSpline";
  static constexpr spline_options options = O;

  static constexpr interval<S> domain() { return {S(Left), S(Right), true, true}; }
  static constexpr interval<S> image() { return {S(Bottom), S(Top), true, true}; }
  FLOWTMPL_HOST_DEVICE static void knots(const S* p, rq_knots<S, K>& kn) {
    rq_make_knots<S, K, rq_ends::trained>(p, p + K, p + 2 * K, S(Left), S(Right), S(Bottom), S(Top), O, kn);
  }
  FLOWTMPL_HOST_DEVICE S forward(int, S x, const S* p, S& ld) const {
    if (!(x >= S(Left) && x <= S(Right))) {
      ld = std::numeric_limits<S>::quiet_NaN();
      return std::numeric_limits<S>::quiet_NaN();
    }
    rq_knots<S, K> kn;
    rq_make_knots_for<S, K, rq_ends::trained, direction::forward>(p, p + K, p + 2 * K, S(Left), S(Right), S(Bottom),
                                                                  S(Top), O, x, kn);
    return rq_forward(kn, x, ld);
  }
  FLOWTMPL_HOST_DEVICE S inverse(int, S y, const S* p, S& ld) const {
    if (!(y >= S(Bottom) && y <= S(Top))) {
      ld = std::numeric_limits<S>::quiet_NaN();
      return std::numeric_limits<S>::quiet_NaN();
    }
    rq_knots<S, K> kn;
    rq_make_knots_for<S, K, rq_ends::trained, direction::inverse>(p, p + K, p + 2 * K, S(Left), S(Right), S(Bottom),
                                                                  S(Top), O, y, kn);
    return rq_inverse(kn, y, ld);
  }
  // forward's y and ld, their derivatives in x and in every raw parameter (the formulas
  // in detail/rq_spline.hpp); outside [Left, Right] all NaN, as forward.
  FLOWTMPL_HOST_DEVICE transformer_derivatives<S> derivatives(int, S x, const S* p, S* dy_dp, S* dld_dp) const {
    if (!(x >= S(Left) && x <= S(Right))) {
      const S nan = std::numeric_limits<S>::quiet_NaN();
      for (int q = 0; q < params_per_feature; ++q) {
        dy_dp[q] = nan;
        dld_dp[q] = nan;
      }
      return {nan, nan, nan, nan};
    }
    rq_knots<S, K> kn;
    knots(p, kn);
    transformer_derivatives<S> r;
    r.value = rq_forward(kn, x, r.log_det);
    rq_forward_derivatives<S, K, rq_ends::trained>(kn, p, S(Left), S(Right), S(Bottom), S(Top), O, x, r.dvalue_dx,
                                                   r.dlog_det_dx, dy_dp, dld_dp);
    return r;
  }
  // the identity only where the two intervals are one: elsewhere the spline closest to
  // it, the affine map of [Left, Right] onto [Bottom, Top] (equal bins, all derivatives
  // the intervals' ratio where min_d + softplus reaches it; its raw value is clamped
  // above min_d otherwise)
  static void identity_parameters(S* p) {
    for (int k = 0; k < 2 * K; ++k) p[k] = S(0);
    const double ratio = (Top - Bottom) / (Right - Left);
    const double target = ratio - O.min_derivative > 1e-6 ? ratio - O.min_derivative : 1e-6;
    const double beta = O.identity_init ? 0.69314718055994530942 / (1.0 - O.min_derivative) : 1.0;
    const double raw = Left == Bottom && Right == Top ? identity_derivative_raw<O>()
                                                      : std::log(std::expm1(beta * target)) / beta;
    for (int k = 2 * K; k < 3 * K + 1; ++k) p[k] = S(raw);
  }
};

// BoundedSpline<K, Lo, Hi>: the interval spline of [Lo, Hi] onto itself.
template <int N, class S, int K, double Lo, double Hi, spline_options O>
struct bounded_spline_transformer : interval_spline_transformer<N, S, K, Lo, Hi, Lo, Hi, O> {
  static constexpr const char* name = "BoundedSpline";
};
}  // namespace detail

template <int K, double B = 3.0, spline_options O = spline_options{}>
struct Spline {
  template <int N, class S>
  using transformer = detail::spline_transformer<N, S, K, B, O>;
};

template <int K, double Lo = 0.0, double Hi = 1.0, spline_options O = spline_options{}>
struct BoundedSpline {
  template <int N, class S>
  using transformer = detail::bounded_spline_transformer<N, S, K, Lo, Hi, O>;
};

template <int K, double Left, double Right, double Bottom, double Top, spline_options O = spline_options{}>
struct IntervalSpline {
  template <int N, class S>
  using transformer = detail::interval_spline_transformer<N, S, K, Left, Right, Bottom, Top, O>;
};

}  // namespace flowtmpl
