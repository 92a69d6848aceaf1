// flowtmpl/transformers/zuko_spline.hpp: the rational-quadratic spline in zuko's
// parameterisation (zuko.transforms.MonotonicRQSTransform, the transformer of zuko's NSF
// and of sbi's default density estimator), so that parameters trained with zuko give
// the same function.
//
// ZukoSpline<K, B = 5.0, Slope = 1e-3>: K bins on [-B, B], identity outside. Raw
// parameters per feature, in zuko's order: K widths, K heights, K - 1 interior
// derivatives (3K - 1). With L = log(Slope) (< 0):
//   widths  w = softmax(u / (1 + |2u / L|))       (soft clipping, no minimum bin size)
//   knots   x_0 = -B, x_k+1 = B (2 (w_0 + .. + w_k) - 1)   (x_K is B only up to rounding)
//   heights and y_k the same way
//   d_0 = d_K = 1, d_k = exp(u / (1 + |u / L|)) for the interior knots (so every slope
//           lies in about [Slope, 1/Slope])
// Inside (x_0, x_K] the spline of detail/rq_spline.hpp (the same rational-quadratic
// formulas as nflows's), the identity elsewhere (log-det 0); the inverse the same on
// (y_0, y_K]. zuko's bins are closed on the right, flowtmpl's on the left: on an
// interior knot both give y_k and log d_k, up to rounding. Every finite input gives a
// finite output and log-det.
// Identity parameters: all zeros.
// Cost per feature and call: the soft clipping and K exps for each of widths and
// heights, the K - 1 interior derivatives' exps, one log (forward) or one sqrt and one
// log (inverse); no row form (the block paths go column by column).
#pragma once

#include <cmath>

#include "../config.hpp"
#include "../detail/rq_spline.hpp"
#include "transformer.hpp"

namespace flowtmpl {

namespace detail {

// zuko's soft clipping u / (1 + |u / c|) and its derivative 1 / (1 + |u / c|)^2
template <class S>
FLOWTMPL_HOST_DEVICE inline S soft_clip(S u, S c) {
  using std::abs;
  return u / (S(1) + abs(u / c));
}
template <class S>
FLOWTMPL_HOST_DEVICE inline S soft_clip_derivative(S u, S c) {
  using std::abs;
  const S r = S(1) + abs(u / c);
  return S(1) / (r * r);
}

template <int N, class S, int K, double B, double Slope>
struct zuko_spline_transformer {
  static_assert(K >= 2, "flowtmpl: ZukoSpline<K>: at least 2 bins (zuko's derivatives are K - 1 >= 1 values)");
  static_assert(B > 0.0, "flowtmpl: ZukoSpline<K, B>: the bound B must be positive");
  static_assert(Slope > 0.0 && Slope < 1.0, "flowtmpl: ZukoSpline<K, B, Slope>: the minimum slope must be in (0, 1)");
  using scalar_type = S;
  static constexpr int features = N;
  static constexpr int bins = K;
  static constexpr int params_per_feature = 3 * K - 1;
  static constexpr bool volume_preserving = false;
  static constexpr const char* name = "ZukoSpline";
  static constexpr double bound = B;
  static constexpr double slope = Slope;

  // the clipping constants: L / 2 for widths and heights, L for the derivatives
  FLOWTMPL_HOST_DEVICE static S size_clip() {
    using std::log;
    return S(log(Slope) / 2.0);
  }
  FLOWTMPL_HOST_DEVICE static S derivative_clip() {
    using std::log;
    return S(log(Slope));
  }

  // the knots of one feature from its raw parameters p
  FLOWTMPL_HOST_DEVICE static void knots(const S* p, rq_knots<S, K>& kn) {
    using std::exp;
    for (int axis = 0; axis < 2; ++axis) {
      const S* u = p + axis * K;
      S* out = axis == 0 ? kn.x : kn.y;
      S c[K];
      for (int k = 0; k < K; ++k) c[k] = soft_clip(u[k], size_clip());
      S m = c[0];
      for (int k = 1; k < K; ++k) m = c[k] > m ? c[k] : m;
      S e[K], sum = S(0);
      for (int k = 0; k < K; ++k) {
        e[k] = exp(c[k] - m);
        sum += e[k];
      }
      S acc = S(0);
      out[0] = S(B) * (S(2) * acc - S(1));
      for (int k = 0; k < K; ++k) {
        acc += e[k] / sum;
        out[k + 1] = S(B) * (S(2) * acc - S(1));
      }
    }
    kn.d[0] = S(1);
    kn.d[K] = S(1);
    for (int k = 1; k < K; ++k) kn.d[k] = exp(soft_clip(p[2 * K + k - 1], derivative_clip()));
  }

  // Inputs that may be inside: a cheap test first (x_K is B up to rounding), the exact
  // one against the knots after.
  FLOWTMPL_HOST_DEVICE static bool maybe_inside(S v) { return v > S(-B) && v <= S(B) * S(1.0 + 1e-6); }

  FLOWTMPL_HOST_DEVICE S forward(int, S x, const S* p, S& ld) const {
    ld = S(0);
    if (!maybe_inside(x)) return x;  // tails, and NaN
    rq_knots<S, K> kn;
    knots(p, kn);
    if (!(x > kn.x[0] && x <= kn.x[K])) return x;
    return rq_forward(kn, x, ld);
  }
  FLOWTMPL_HOST_DEVICE S inverse(int, S y, const S* p, S& ld) const {
    ld = S(0);
    if (!maybe_inside(y)) return y;
    rq_knots<S, K> kn;
    knots(p, kn);
    if (!(y > kn.y[0] && y <= kn.y[K])) return y;
    return rq_inverse(kn, y, ld);
  }

  // forward's y and ld, their derivatives in x and in every raw parameter: the knots'
  // partials of detail/rq_spline.hpp, through the cumulative softmax (no minimum size:
  // the mix is 1, x_K fixed at B as it is exactly) and the soft clipping; in the tails
  // y = x, ld = 0 and every parameter's derivative is 0.
  FLOWTMPL_HOST_DEVICE transformer_derivatives<S> derivatives(int, S x, const S* p, S* dy_dp, S* dld_dp) const {
    for (int q = 0; q < params_per_feature; ++q) {
      dy_dp[q] = S(0);
      dld_dp[q] = S(0);
    }
    transformer_derivatives<S> r{x, S(0), S(1), S(0)};
    if (!maybe_inside(x)) return r;
    rq_knots<S, K> kn;
    knots(p, kn);
    if (!(x > kn.x[0] && x <= kn.x[K])) return r;
    r.value = rq_forward(kn, x, r.log_det);
    const int k = rq_bin<S, K>(kn.x, x);
    const rq_bin_partials<S> pr = rq_partials<S, K>(kn, k, x);
    r.dvalue_dx = pr.y_x;
    r.dlog_det_dx = pr.ld_x;
    S clipped[2 * K];
    for (int q = 0; q < 2 * K; ++q) clipped[q] = soft_clip(p[q], size_clip());
    rq_cumulative_derivatives<S, K>(clipped, S(0), S(-B), S(B), k, pr.y_xk[0], pr.y_xk[1], pr.ld_xk[0], pr.ld_xk[1],
                                    dy_dp, dld_dp);
    rq_cumulative_derivatives<S, K>(clipped + K, S(0), S(-B), S(B), k, pr.y_yk[0], pr.y_yk[1], pr.ld_yk[0],
                                    pr.ld_yk[1], dy_dp + K, dld_dp + K);
    for (int q = 0; q < 2 * K; ++q) {
      const S g = soft_clip_derivative(p[q], size_clip());
      dy_dp[q] *= g;
      dld_dp[q] *= g;
    }
    for (int j = 0; j < 2; ++j) {
      const int knot = k + j;
      if (knot == 0 || knot == K) continue;  // end derivatives fixed at 1
      const int q = 2 * K + knot - 1;
      const S g = kn.d[knot] * soft_clip_derivative(p[q], derivative_clip());
      dy_dp[q] = pr.y_dk[j] * g;
      dld_dp[q] = pr.ld_dk[j] * g;
    }
    return r;
  }
  static void identity_parameters(S* p) {
    for (int q = 0; q < params_per_feature; ++q) p[q] = S(0);
  }
};

}  // namespace detail

template <int K, double B = 5.0, double Slope = 1e-3>
struct ZukoSpline {
  template <int N, class S>
  using transformer = detail::zuko_spline_transformer<N, S, K, B, Slope>;
};

}  // namespace flowtmpl
