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
//            fixed (linear tails, K-1 values): exactly 1 by default, so the spline joins
//            the identity tails with a continuous slope, or nflows's value
//            (spline_end_slopes).
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

#include "../direction.hpp"
#include "../config.hpp"
#include "torch_softmax.hpp"

namespace flowtmpl {
// How the softmax of the knots is rounded: fast (libm's exp, a quotient by the sum; the
// knots agree with nflows's to a few ulp) or as_torch_cpu (torch's CPU kernel to the
// bit, detail/torch_softmax.hpp: nflows's knots exactly, in double; slower without FMA
// instructions).
enum class spline_knots { fast, as_torch_cpu };

// The derivatives at the two ends of a spline with linear tails: one (exactly 1, so the
// slope is continuous at +-B) or as_nflows (nflows's: min_d + softplus_beta(log(e^(1 -
// min_d) - 1)), which is 1 without identity_init and 1.2949913110606213 with it at
// min_d = 1e-3, a kink at +-B; what an nflows model trained with enable_identity_init
// has). Bounded and interval splines train their end derivatives and ignore it.
enum class spline_end_slopes { one, as_nflows };

// The settings of a spline (nflows's defaults). A structural type: Spline<8, 3.0,
// spline_options{.min_derivative = 1e-2}> takes it as a template argument.
struct spline_options {
  double min_bin_width = 1e-3;
  double min_bin_height = 1e-3;
  double min_derivative = 1e-3;
  bool identity_init = false;
  spline_knots knots = spline_knots::fast;
  spline_end_slopes end_slopes = spline_end_slopes::one;
  // The raw widths and heights are divided by these before the softmax (nflows's spline
  // couplings divide both by sqrt(hidden_features) when their net has that attribute:
  // its ResidualNet, not its MLP; nflows 0.14's MADE has none, so its autoregressive
  // spline layers never divide).
  double width_divisor = 1.0;
  double height_divisor = 1.0;
};
}  // namespace flowtmpl

namespace flowtmpl::detail {

// The derivatives at the spline's two ends: linear_tails, fixed (Spline: the identity
// outside [-B, B]; 1 unless spline_end_slopes::as_nflows; ud holds the K - 1 interior
// derivatives), or trained, from ud like the interior ones (BoundedSpline: ud holds all
// K + 1).
enum class rq_ends { linear_tails, trained };

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

// d/du of torch_softplus(u, beta), of the branch it takes: sigmoid(beta u), 1 past the
// threshold.
template <class S>
FLOWTMPL_HOST_DEVICE inline S torch_softplus_derivative(S u, S beta) {
  using std::exp;
  const S bu = beta * u;
  if (bu > S(20)) return S(1);
  const S e = exp(bu > S(0) ? -bu : bu);  // exp(-|beta u|) <= 1
  return bu > S(0) ? S(1) / (S(1) + e) : e / (S(1) + e);
}

// cumulative knots from unnormalised sizes: out[0] = lo, out[K] = hi, as nflows.
template <class S, int K>
FLOWTMPL_HOST_DEVICE inline void rq_cumulative(const S* raw, S min_size, S lo, S hi, S* out,
                                               spline_knots rounding = spline_knots::fast, S divisor = S(1)) {
  using std::exp;
  S u[K];
  for (int k = 0; k < K; ++k) u[k] = divisor == S(1) ? raw[k] : raw[k] / divisor;
  S sigma[K];
  if (rounding == spline_knots::as_torch_cpu) {
    torch_cpu_softmax<S, K>(u, sigma);
  } else {
    S m = u[0];
    for (int k = 1; k < K; ++k) m = u[k] > m ? u[k] : m;
    S e[K];
    for (int k = 0; k < K; ++k) e[k] = exp(u[k] - m);
    S lane[4] = {S(0), S(0), S(0), S(0)};
    for (int k = 0; k < K; ++k) lane[k % 4] += e[k];
    const S sum = ((lane[0] + lane[1]) + lane[2]) + lane[3];
    for (int k = 0; k < K; ++k) sigma[k] = e[k] / sum;
  }
  const S mix = S(1) - min_size * S(K);
  S acc = S(0);
  out[0] = lo;
  for (int k = 0; k < K - 1; ++k) {
    acc += min_size + mix * sigma[k];
    out[k + 1] = (hi - lo) * acc + lo;
  }
  out[K] = hi;
}

// The softplus's beta of the derivatives: log(2) / (1 - min_d) for identity_init, as
// nflows, else 1.
template <class S>
FLOWTMPL_HOST_DEVICE inline S rq_softplus_beta(const spline_options& st) {
  return st.identity_init ? S(0.69314718055994530942 / (1.0 - st.min_derivative)) : S(1);
}

// The derivative at both ends of a spline with linear tails (spline_end_slopes).
template <class S>
FLOWTMPL_HOST_DEVICE inline S rq_end_derivative(const spline_options& st) {
  using std::exp;
  using std::log;
  if (st.end_slopes == spline_end_slopes::one) return S(1);
  const S raw = S(log(exp(1.0 - st.min_derivative) - 1.0));  // nflows's padding constant
  return S(st.min_derivative) + torch_softplus(raw, rq_softplus_beta<S>(st));
}

// The number of interior knots <= v: the bin of v, for left <= v <= right.
template <class S, int K>
FLOWTMPL_HOST_DEVICE inline int rq_bin(const S* knots, S v) {
  int k = 0;
  for (int j = 1; j < K; ++j) k += (v >= knots[j]) ? 1 : 0;
  return k;
}

// The derivative at knot k (0..K) from the raw parameters ud: what rq_make_knots puts
// in d[k].
template <class S, int K, rq_ends Ends>
FLOWTMPL_HOST_DEVICE inline S rq_knot_derivative(const S* ud, int k, const spline_options& st) {
  if constexpr (Ends == rq_ends::linear_tails) {
    if (k == 0 || k == K) return rq_end_derivative<S>(st);
    return S(st.min_derivative) + torch_softplus(ud[k - 1], rq_softplus_beta<S>(st));
  } else {
    return S(st.min_derivative) + torch_softplus(ud[k], rq_softplus_beta<S>(st));
  }
}

// Knot positions and the derivatives at the two ends of the bin of v only (v in x for
// direction::forward, in y otherwise): rq_forward / rq_inverse read no other derivative, and the
// other K - 1 softplus (a log1p and an exp each) are most of a spline's cost. The
// values are those of rq_make_knots, bit for bit; the other entries of d are unset.
template <class S, int K, rq_ends Ends, direction Dir>
FLOWTMPL_HOST_DEVICE inline void rq_make_knots_for(const S* uw, const S* uh, const S* ud, S left, S right, S bottom,
                                                   S top, const spline_options& st, S v, rq_knots<S, K>& kn) {
  rq_cumulative<S, K>(uw, S(st.min_bin_width), left, right, kn.x, st.knots, S(st.width_divisor));
  rq_cumulative<S, K>(uh, S(st.min_bin_height), bottom, top, kn.y, st.knots, S(st.height_divisor));
  const int k = rq_bin<S, K>(Dir == direction::forward ? kn.x : kn.y, v);
  kn.d[k] = rq_knot_derivative<S, K, Ends>(ud, k, st);
  kn.d[k + 1] = rq_knot_derivative<S, K, Ends>(ud, k + 1, st);
}

// Knots from nflows's parameters. ud has K-1 entries when tails (end derivatives 1)
// and K+1 entries otherwise.
template <class S, int K, rq_ends Ends>
FLOWTMPL_HOST_DEVICE inline void rq_make_knots(const S* uw, const S* uh, const S* ud, S left, S right, S bottom,
                                               S top, const spline_options& st, rq_knots<S, K>& kn) {
  rq_cumulative<S, K>(uw, S(st.min_bin_width), left, right, kn.x, st.knots, S(st.width_divisor));
  rq_cumulative<S, K>(uh, S(st.min_bin_height), bottom, top, kn.y, st.knots, S(st.height_divisor));
  const S beta = rq_softplus_beta<S>(st);
  const S min_d = S(st.min_derivative);
  if constexpr (Ends == rq_ends::linear_tails) {
    kn.d[0] = rq_end_derivative<S>(st);
    kn.d[K] = kn.d[0];
    for (int k = 1; k < K; ++k) kn.d[k] = min_d + torch_softplus(ud[k - 1], beta);
  } else {
    for (int k = 0; k <= K; ++k) kn.d[k] = min_d + torch_softplus(ud[k], beta);
  }
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


// ---- Derivatives (hand-derived; the gradients of Spline and BoundedSpline) -----------
// In bin k, y and ld = log dy/dx depend on x and the bin's knots x_k, x_k+1, y_k, y_k+1,
// d_k, d_k+1 (write d0, d1). With w, h, s, theta as above, t = 1 - theta, D = den and
//   M = d1 theta^2 + 2 s theta t + d0 t^2,   dy/dx = s^2 M / D^2,   ld = 2 log s + log M - 2 log D,
// the partial derivatives are (each a sum of terms of one sign: no cancellation)
//   dy/dx      = s^2 M / D^2
//   dy/dx_k    = -s^2 t^2 (d1 theta^2 + 2 s theta + d0 t (1 + theta)) / D^2
//   dy/dx_k+1  = -s^2 theta^2 (d1 theta (1 + t) + 2 s t + d0 t^2) / D^2
//   dy/dy_k    = t^2 (s^2 (t^2 + theta^2) + 2 s (d0 + d1) theta t + d1 (d0 + d1) theta^2) / D^2
//   dy/dy_k+1  = theta^2 (s^2 (t^2 + theta^2) + 2 s (d0 + d1) theta t + d0 (d0 + d1) t^2) / D^2
//   dy/dd0     = h theta t^2 (s t + d1 theta) / D^2
//   dy/dd1     = -h theta^2 t (s theta + d0 t) / D^2
// (checks: dy/dx + dy/dx_k + dy/dx_k+1 = 0, dy/dy_k + dy/dy_k+1 = 1). For ld, through
// theta = (x - x_k) / w and s = h / w (dtheta/dx = 1/w, dtheta/dx_k = -t/w,
// dtheta/dx_k+1 = -theta/w; ds/dx_k = s/w, ds/dx_k+1 = -s/w, ds/dy_k = -1/w, ds/dy_k+1 = 1/w):
//   L_theta = M'/M - 2 D'/D,   M' = 2 (d1 theta - d0 t + s (t - theta)),   D' = (d0 + d1 - 2 s)(t - theta)
//   L_s     = 2/s + 2 theta t / M - 2 (t^2 + theta^2) / D = 2 theta t ((d0 + d1) M + s D) / (s M D)
//   dld/dx   = L_theta / w
//   dld/dx_k = (s L_s - t L_theta) / w,     dld/dx_k+1 = -(s L_s + theta L_theta) / w
//   dld/dy_k = -L_s / w,                    dld/dy_k+1 = L_s / w
//   dld/dd0  = t^2 / M - 2 theta t / D,     dld/dd1    = theta^2 / M - 2 theta t / D.
// Knots from the raw sizes: x_j = left + (right - left) sum_{m<j} (min_w + mix sigma_m),
// sigma = softmax(uw), mix = 1 - K min_w, x_0 = left and x_K = right fixed:
//   dsigma_m/duw_l = sigma_m ([m = l] - sigma_l)
//   dx_j/duw_l     = (right - left) mix sigma_l ([l < j] - C_j),   C_j = sum_{m<j} sigma_m,
// with 1 - C_j taken as the tail sum T_j = sum_{m>=j} sigma_m (no cancellation); C_0 = 0
// and T_K = 0 make the fixed ends' terms 0. The same for y_j, uh on [bottom, top].
// Knot derivatives: dd_j/dud = softplus_beta'(ud) = sigmoid(beta ud), 1 past torch's
// threshold (the branch the value takes); the end derivatives of the linear-tail spline
// are constants. Then d(y, ld)/dq = sum over the six knot quantities of
// d(y, ld)/d(knot) d(knot)/dq. The bin is forward's (rq_bin: on a knot, the bin to its
// right); the clamps of theta and y only correct rounding and are differentiated as the
// identity.

// Partial derivatives of y and ld in bin k (formulas above): [0] for the bin's left
// knot (x_k, y_k, d_k), [1] for its right one.
template <class S>
struct rq_bin_partials {
  S y_x, ld_x;  // w.r.t. the input x
  S y_xk[2], y_yk[2], y_dk[2];
  S ld_xk[2], ld_yk[2], ld_dk[2];
};
template <class S, int K>
FLOWTMPL_HOST_DEVICE inline rq_bin_partials<S> rq_partials(const rq_knots<S, K>& kn, int k, S x) {
  const S w = kn.x[k + 1] - kn.x[k];
  const S h = kn.y[k + 1] - kn.y[k];
  const S s = h / w;
  S theta = (x - kn.x[k]) / w;
  theta = theta < S(0) ? S(0) : (theta > S(1) ? S(1) : theta);
  const S t = S(1) - theta;
  const S d0 = kn.d[k], d1 = kn.d[k + 1], dd = d0 + d1;
  const S tt = theta * t, th2 = theta * theta, t2 = t * t;
  const S den = s * (t2 + th2) + dd * tt;
  const S m = d1 * th2 + S(2) * s * tt + d0 * t2;
  const S q = S(1) / (den * den);
  const S sq = s * s * q;
  rq_bin_partials<S> r;
  r.y_x = sq * m;
  r.y_xk[0] = -sq * t2 * (d1 * th2 + S(2) * s * theta + d0 * t * (S(1) + theta));
  r.y_xk[1] = -sq * th2 * (d1 * theta * (S(1) + t) + S(2) * s * t + d0 * t2);
  const S common = s * s * (t2 + th2) + S(2) * s * dd * tt;
  r.y_yk[0] = q * t2 * (common + d1 * dd * th2);
  r.y_yk[1] = q * th2 * (common + d0 * dd * t2);
  r.y_dk[0] = q * h * theta * t2 * (s * t + d1 * theta);
  r.y_dk[1] = -q * h * th2 * t * (s * theta + d0 * t);
  const S dm = S(2) * (d1 * theta - d0 * t + s * (t - theta));
  const S dden = (dd - S(2) * s) * (t - theta);
  const S l_theta = dm / m - S(2) * dden / den;
  const S l_s = S(2) * tt * (dd * m + s * den) / (s * m * den);
  r.ld_x = l_theta / w;
  r.ld_xk[0] = (s * l_s - t * l_theta) / w;
  r.ld_xk[1] = -(s * l_s + theta * l_theta) / w;
  r.ld_yk[0] = -l_s / w;
  r.ld_yk[1] = l_s / w;
  const S two_tt_den = S(2) * tt / den;
  r.ld_dk[0] = t2 / m - two_tt_den;
  r.ld_dk[1] = th2 / m - two_tt_den;
  return r;
}

// For the knots of rq_cumulative(u, min_size, lo, hi): writes
//   gy[l] = a0 dknot_k/du_l + a1 dknot_k+1/du_l,   gl[l] = b0 dknot_k/du_l + b1 dknot_k+1/du_l,
// dknot_j/du_l = (hi - lo) mix sigma_l ([l < j] - C_j) with 1 - C_j as the tail sum.
template <class S, int K>
FLOWTMPL_HOST_DEVICE inline void rq_cumulative_derivatives(const S* u, S min_size, S lo, S hi, int k, S a0, S a1,
                                                           S b0, S b1, S* gy, S* gl) {
  using std::exp;
  S mx = u[0];
  for (int j = 1; j < K; ++j) mx = u[j] > mx ? u[j] : mx;
  S e[K];
  for (int j = 0; j < K; ++j) e[j] = exp(u[j] - mx);
  S head0 = S(0), tail1 = S(0);  // sum_{m<k} e_m, sum_{m>k} e_m
  for (int j = 0; j < k; ++j) head0 += e[j];
  for (int j = K - 1; j > k; --j) tail1 += e[j];
  const S head1 = head0 + e[k], tail0 = tail1 + e[k];
  const S sum = head1 + tail1;  // >= 1: the largest e is 1
  // sum^2 C_j and sum^2 T_j enter as (head, tail) / sum, e_l / sum
  const S f = (hi - lo) * (S(1) - min_size * S(K)) / (sum * sum);
  for (int l = 0; l < K; ++l) {
    const S c0 = l < k ? tail0 : -head0;   // sum ([l < k] - C_k)
    const S c1 = l <= k ? tail1 : -head1;  // sum ([l < k+1] - C_k+1)
    const S g = f * e[l];
    gy[l] = g * (a0 * c0 + a1 * c1);
    gl[l] = g * (b0 * c0 + b1 * c1);
  }
}

// Derivatives of y = spline(x) and ld = log dy/dx for left <= x <= right (the knots kn
// made by rq_make_knots<S, K, Ends> from p = (uw[K], uh[K], ud[K - 1 or K + 1])): dy/dx
// and dld/dx, and dy/dp_q, dld/dp_q for every raw parameter q into dy_dp, dld_dp.
template <class S, int K, rq_ends Ends>
FLOWTMPL_HOST_DEVICE inline void rq_forward_derivatives(const rq_knots<S, K>& kn, const S* p, S left, S right,
                                                        S bottom, S top, const spline_options& st, S x, S& dy_dx,
                                                        S& dld_dx, S* dy_dp, S* dld_dp) {
  constexpr bool tails = Ends == rq_ends::linear_tails;
  constexpr int P = tails ? 3 * K - 1 : 3 * K + 1;
  const int k = rq_bin<S, K>(kn.x, x);
  const rq_bin_partials<S> r = rq_partials<S, K>(kn, k, x);
  dy_dx = r.y_x;
  dld_dx = r.ld_x;
  // the softmax's inputs are the raw sizes over their divisors: dknot/draw = dknot/du / divisor
  S uw[K], uh[K];
  for (int q = 0; q < K; ++q) {
    uw[q] = p[q] / S(st.width_divisor);
    uh[q] = p[K + q] / S(st.height_divisor);
  }
  rq_cumulative_derivatives<S, K>(uw, S(st.min_bin_width), left, right, k, r.y_xk[0], r.y_xk[1], r.ld_xk[0],
                                  r.ld_xk[1], dy_dp, dld_dp);
  rq_cumulative_derivatives<S, K>(uh, S(st.min_bin_height), bottom, top, k, r.y_yk[0], r.y_yk[1], r.ld_yk[0],
                                  r.ld_yk[1], dy_dp + K, dld_dp + K);
  for (int q = 0; q < K; ++q) {
    dy_dp[q] /= S(st.width_divisor);
    dld_dp[q] /= S(st.width_divisor);
    dy_dp[K + q] /= S(st.height_divisor);
    dld_dp[K + q] /= S(st.height_divisor);
  }
  for (int q = 2 * K; q < P; ++q) {
    dy_dp[q] = S(0);
    dld_dp[q] = S(0);
  }
  const S beta = rq_softplus_beta<S>(st);
  for (int j = 0; j < 2; ++j) {
    const int knot = k + j;
    if (tails && (knot == 0 || knot == K)) continue;  // end derivatives fixed at 1
    const int q = tails ? 2 * K + knot - 1 : 2 * K + knot;
    const S g = torch_softplus_derivative(p[q], beta);
    dy_dp[q] = r.y_dk[j] * g;
    dld_dp[q] = r.ld_dk[j] * g;
  }
}

}  // namespace flowtmpl::detail
