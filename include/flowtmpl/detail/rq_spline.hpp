// flowtmpl/detail/rq_spline.hpp: the monotone rational-quadratic spline of Durkan et
// al. 2019 (neural spline flows) for one scalar, in nflows's unnormalised
// parameterisation (docs/design.md, "Conventions with nflows").
//
// From K unnormalised widths uw, K heights uh and the knot derivatives:
//   widths   w = min_w + (1 - min_w K) softmax(uw), knots x_k = left + (right - left) cumsum
//            (x_0 = left and x_K = right exactly); heights and y_k the same way on
//            [bottom, top]
//   interior derivatives d_k = min_d + softplus_beta(ud_k), k = 1 .. K-1; the end
//            derivatives either come from ud too (bounded spline, K+1 values) or are
//            exactly 1 (linear tails, K-1 values), so the spline joins the identity
//            tails with a continuous slope.
//   softplus_beta(u) = log1p(exp(beta u)) / beta, and u itself when beta u > 20 (as
//            torch computes it); beta = 1, or log 2 / (1 - min_d) with identity_init, so
//            that all-zero parameters give d_k = 1 and the identity.
// In bin k with theta = (x - x_k) / w_k, s = h_k / w_k:
//   y = y_k + h_k (s theta^2 + d_k theta (1 - theta)) / den,
//   den = s ((1 - theta)^2 + theta^2) + (d_k + d_k+1) theta (1 - theta)   (> 0: a sum of
//         non-negative terms, algebraically nflows's s + (d_k + d_k+1 - 2 s) theta (1 - theta))
//   dy/dx = s^2 (d_k+1 theta^2 + 2 s theta (1 - theta) + d_k (1 - theta)^2) / den^2.
// Inverse: theta is the root in [0, 1] of a theta^2 + b theta + c = 0 (nflows's
// quadratic), solved from the nearer end of the bin (the map is symmetric) and in the
// form without cancellation for the sign of b; with y clamped into its bin and b^2 - 4ac
// clamped at 0 against rounding, the square root never sees a negative number and no
// denominator vanishes (docs/design.md, "The spline"). The result is kept in its bin.
//
// Bin search: k = the number of interior knots <= v (K-1 comparisons, no branches);
// bins are [x_k, x_k+1), the last one closed, so an input exactly on a knot x_k gives
// theta = 0 and exactly y_k, and v = right gives the last bin with theta = 1. This is
// nflows's searchsorted.
#pragma once

#include <cmath>

#include "../config.hpp"

namespace flowtmpl {
// The settings of a spline (nflows's defaults). A structural type: Spline<8, 3.0,
// spline_options{.min_derivative = 1e-2}> takes it as a template argument.
struct spline_options {
  double min_bin_width = 1e-3;
  double min_bin_height = 1e-3;
  double min_derivative = 1e-3;
  bool identity_init = false;
};
}  // namespace flowtmpl

namespace flowtmpl::detail {

// The knots of one spline: x_0..x_K, y_0..y_K, d_0..d_K.
template <class S, int K>
struct rq_knots {
  S x[K + 1], y[K + 1], d[K + 1];
};

// torch's softplus with its threshold: (1/beta) log1p(exp(beta u)), u when beta u > 20.
template <class S>
FLOWTMPL_HOST_DEVICE inline S torch_softplus(S u, S beta) {
  using std::exp;
  using std::log1p;
  const S bu = beta * u;
  return bu > S(20) ? u : log1p(exp(bu)) / beta;
}

// cumulative knots from unnormalised sizes: out[0] = lo, out[K] = hi, as nflows.
template <class S, int K>
FLOWTMPL_HOST_DEVICE inline void rq_cumulative(const S* u, S min_size, S lo, S hi, S* out) {
  using std::exp;
  S m = u[0];
  for (int k = 1; k < K; ++k) m = u[k] > m ? u[k] : m;
  S e[K];
  for (int k = 0; k < K; ++k) e[k] = exp(u[k] - m);
  // The softmax's sum in the order torch's CPU kernel adds (4 interleaved partial sums,
  // then those left to right), so that the knots agree with nflows's to the last bit
  // (tests/unit/reference); any order is as accurate.
  S lane[4] = {S(0), S(0), S(0), S(0)};
  for (int k = 0; k < K; ++k) lane[k % 4] += e[k];
  const S sum = ((lane[0] + lane[1]) + lane[2]) + lane[3];
  const S mix = S(1) - min_size * S(K);
  S acc = S(0);
  out[0] = lo;
  for (int k = 0; k < K - 1; ++k) {
    acc += min_size + mix * (e[k] / sum);
    out[k + 1] = (hi - lo) * acc + lo;
  }
  out[K] = hi;
}

// Knots from nflows's parameters. ud has K-1 entries when tails (end derivatives 1)
// and K+1 entries otherwise.
template <class S, int K, bool Tails>
FLOWTMPL_HOST_DEVICE inline void rq_make_knots(const S* uw, const S* uh, const S* ud, S left, S right, S bottom,
                                               S top, const spline_options& st, rq_knots<S, K>& kn) {
  rq_cumulative<S, K>(uw, S(st.min_bin_width), left, right, kn.x);
  rq_cumulative<S, K>(uh, S(st.min_bin_height), bottom, top, kn.y);
  // log(2) / (1 - min_d) for identity_init, as nflows
  const S beta = st.identity_init ? S(0.69314718055994530942 / (1.0 - st.min_derivative)) : S(1);
  const S min_d = S(st.min_derivative);
  if constexpr (Tails) {
    kn.d[0] = S(1);
    kn.d[K] = S(1);
    for (int k = 1; k < K; ++k) kn.d[k] = min_d + torch_softplus(ud[k - 1], beta);
  } else {
    for (int k = 0; k <= K; ++k) kn.d[k] = min_d + torch_softplus(ud[k], beta);
  }
}

// The number of interior knots <= v: the bin of v, for left <= v <= right.
template <class S, int K>
FLOWTMPL_HOST_DEVICE inline int rq_bin(const S* knots, S v) {
  int k = 0;
  for (int j = 1; j < K; ++j) k += (v >= knots[j]) ? 1 : 0;
  return k;
}

// den (the denominator at theta) and log dy/dx at theta, for bin slope s and end
// derivatives d0, d1.
template <class S>
struct rq_den_and_log_derivative {
  S den, log_derivative;
};
template <class S>
FLOWTMPL_HOST_DEVICE inline rq_den_and_log_derivative<S> rq_local(S s, S d0, S d1, S theta) {
  using std::log;
  const S t1 = S(1) - theta;
  const S tt = theta * t1;
  const S den = s * (t1 * t1 + theta * theta) + (d0 + d1) * tt;
  const S dnum = d1 * theta * theta + S(2) * s * tt + d0 * t1 * t1;
  return {den, S(2) * log(s) + log(dnum) - S(2) * log(den)};
}

// y = spline(x) for left <= x <= right; log_dydx = log dy/dx.
template <class S, int K>
FLOWTMPL_HOST_DEVICE inline S rq_forward(const rq_knots<S, K>& kn, S x, S& log_dydx) {
  const int k = rq_bin<S, K>(kn.x, x);
  const S w = kn.x[k + 1] - kn.x[k];
  const S h = kn.y[k + 1] - kn.y[k];
  const S s = h / w;
  S theta = (x - kn.x[k]) / w;
  theta = theta < S(0) ? S(0) : (theta > S(1) ? S(1) : theta);
  const S d0 = kn.d[k], d1 = kn.d[k + 1];
  const auto local = rq_local(s, d0, d1, theta);
  const S num = h * (s * theta * theta + d0 * theta * (S(1) - theta));
  log_dydx = local.log_derivative;
  S y = kn.y[k] + num / local.den;
  // keep the value in its bin against rounding, so that inverse(forward(x)) finds it
  y = y > kn.y[k + 1] ? kn.y[k + 1] : (y < kn.y[k] ? kn.y[k] : y);
  return y;
}

// x = spline^-1(y) for bottom <= y <= top; log_dxdy = log dx/dy.
// The bin's map is symmetric: with theta' = 1 - theta, y_k+1 - y has the same form as
// y - y_k with d_k and d_k+1 swapped. The root is taken from the nearer end of the bin
// (e = the distance of y from it, e0 / e1 the derivatives at that end and at the other),
// and in the form without cancellation for the sign of b: 2c / (-b - sqrt(disc)) for
// b >= 0, (-b + sqrt(disc)) / (2a) for b < 0 (where a = h s - b > 0). x is kept in its bin.
template <class S, int K>
FLOWTMPL_HOST_DEVICE inline S rq_inverse(const rq_knots<S, K>& kn, S y, S& log_dxdy) {
  using std::sqrt;
  const int k = rq_bin<S, K>(kn.y, y);
  const S w = kn.x[k + 1] - kn.x[k];
  const S h = kn.y[k + 1] - kn.y[k];
  const S s = h / w;
  const S d0 = kn.d[k], d1 = kn.d[k + 1];
  S delta = y - kn.y[k];
  delta = delta < S(0) ? S(0) : (delta > h ? h : delta);
  const bool from_top = delta > S(0.5) * h;
  S e = from_top ? kn.y[k + 1] - y : delta;
  e = e < S(0) ? S(0) : (e > h ? h : e);
  const S e0 = from_top ? d1 : d0, e1 = from_top ? d0 : d1;
  const S m = e0 + e1 - S(2) * s;
  const S b = h * e0 - e * m;
  const S c = -s * e;
  const S a = h * s - b;
  S disc = b * b - S(4) * a * c;
  disc = disc > S(0) ? disc : S(0);
  const S r = sqrt(disc);
  // b >= 0: -b - r < 0 whenever c < 0 (and c = 0 gives t = 0); b < 0: a > 0
  S t = c == S(0) ? S(0) : (b >= S(0) ? (S(2) * c) / (-b - r) : (-b + r) / (S(2) * a));
  t = t < S(0) ? S(0) : (t > S(1) ? S(1) : t);
  log_dxdy = -rq_local(s, e0, e1, t).log_derivative;
  S x = from_top ? kn.x[k + 1] - t * w : kn.x[k] + t * w;
  x = x < kn.x[k] ? kn.x[k] : (x > kn.x[k + 1] ? kn.x[k + 1] : x);
  return x;
}

}  // namespace flowtmpl::detail
