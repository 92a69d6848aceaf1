// flowtmpl/transformers/spline_row.hpp: the row form of Spline (host): one feature of a
// block of samples at once, the block paths of couplings and MADE layers.
//
// The per-sample formulas of detail/rq_spline.hpp in the same order of operations, over
// chunks of one SIMD vector of samples (Eigen's packet of S: 8 floats or 4 doubles with
// AVX, 4 or 2 with SSE2). A chunk's K knots, the bin's quantities (gathered by
// blends, one per interior knot) and the spline itself stay in registers, with Eigen's
// vectorized exp, log and sqrt and log1p(x) = log(1 + x) x / ((1 + x) - 1) (x itself
// where 1 + x == 1, as Eigen computes it for float). So the results agree with the
// per-sample ones to a few ulp, the tails and NaN exactly
// (tests/unit/transformers/spline_row_test.cpp). The last chunk of a row is padded with
// zeros (an input at 0 with all-zero parameters: finite arithmetic) and only its own
// columns are written back.
// Cost per sample: 2K exp (the knots), 2 exp and 2 log1p (the derivatives at the bin's
// ends), K - 1 comparisons and 6 (K - 1) blends (the bin), 3 log (forward) or 3 log and
// one sqrt (inverse), whatever the bin; inputs in the tails cost the same.
#pragma once

#include <algorithm>
#include <limits>

#include "../detail/eigen.hpp"
#include "../detail/rq_spline.hpp"
#include "../direction.hpp"

namespace flowtmpl::detail {

// Eigen's packet of S, and its number of lanes (1 where Eigen does not vectorize S: the
// same code then runs on scalars)
template <class S>
using rq_packet = typename Eigen::internal::packet_traits<S>::type;
template <class S>
inline constexpr int rq_lanes = Eigen::internal::unpacket_traits<rq_packet<S>>::size;

// rq_cumulative over one chunk: out[0..K] the knots from the K raw sizes th[0..K-1]
// (softmax, minimum size, cumulative sum, scaled to [lo, hi]).
template <class S, int K, class P = rq_packet<S>>
inline void rq_cumulative_chunk(const P* th, S min_size, S lo, S hi, P* out) {
  namespace ei = Eigen::internal;
  P e[K];
  P m = th[0];
  for (int k = 1; k < K; ++k) m = ei::pselect(ei::pcmp_lt(m, th[k]), th[k], m);
  for (int k = 0; k < K; ++k) e[k] = ei::pexp(ei::psub(th[k], m));
  P lane[4] = {ei::pzero(m), ei::pzero(m), ei::pzero(m), ei::pzero(m)};
  for (int k = 0; k < K; ++k) lane[k % 4] = ei::padd(lane[k % 4], e[k]);
  const P sum = ei::padd(ei::padd(ei::padd(lane[0], lane[1]), lane[2]), lane[3]);
  const P min_p = ei::pset1<P>(min_size), mix = ei::pset1<P>(S(1) - min_size * S(K));
  const P span = ei::pset1<P>(hi - lo), lo_p = ei::pset1<P>(lo);
  P acc = ei::pzero(m);
  out[0] = lo_p;
  for (int k = 0; k < K - 1; ++k) {
    acc = ei::padd(acc, ei::padd(min_p, ei::pmul(mix, ei::pdiv(e[k], sum))));
    out[k + 1] = ei::padd(ei::pmul(span, acc), lo_p);
  }
  out[K] = ei::pset1<P>(hi);
}

// torch_softplus over one chunk: (1/beta) log1p(exp(beta u)), u where beta u > 20
template <class S, class P = rq_packet<S>>
inline P rq_softplus_chunk(const P& u, S beta) {
  namespace ei = Eigen::internal;
  const P bu = ei::pmul(ei::pset1<P>(beta), u), limit = ei::pset1<P>(S(20));
  const P soft = ei::pdiv(ei::generic_plog1p(ei::pexp(ei::pmin(bu, limit))), ei::pset1<P>(beta));
  return ei::pselect(ei::pcmp_lt(limit, bu), u, soft);
}

// rq_forward (direction::forward) or rq_inverse of the linear-tail spline on [-B, B] over
// one chunk: the inputs in, the 3K - 1 raw parameters th; the outputs (inputs outside
// [-B, B], and NaN, copied) and the log-dets (0 there).
template <class S, int K, direction Dir, class P = rq_packet<S>>
inline void rq_tails_chunk(const P& in, const P* th, S B, const spline_options& st, P& result, P& log_det) {
  namespace ei = Eigen::internal;
  const P zero = ei::pzero(in), one = ei::pset1<P>(S(1)), two = ei::pset1<P>(S(2));
  P kx[K + 1], ky[K + 1];
  rq_cumulative_chunk<S, K>(th, S(st.min_bin_width), -B, B, kx);
  rq_cumulative_chunk<S, K>(th + K, S(st.min_bin_height), -B, B, ky);
  // the bin (rq_bin): the number of interior knots <= the input
  const P* ref = Dir == direction::forward ? kx : ky;
  P bin = zero;
  for (int j = 1; j < K; ++j) bin = ei::padd(bin, ei::pand(ei::pcmp_le(ref[j], in), one));
  // the bin's knots, and the raw derivative parameters at its ends (interior knots
  // j = 1 .. K-1 are th[2K + j - 1]; the ends have derivative 1)
  P x0 = kx[0], x1 = kx[1], y0 = ky[0], y1 = ky[1];
  P u0 = zero, u1 = th[2 * K];
  for (int j = 1; j < K; ++j) {
    const P here = ei::pcmp_eq(bin, ei::pset1<P>(S(j)));
    x0 = ei::pselect(here, kx[j], x0);
    x1 = ei::pselect(here, kx[j + 1], x1);
    y0 = ei::pselect(here, ky[j], y0);
    y1 = ei::pselect(here, ky[j + 1], y1);
    u0 = ei::pselect(here, th[2 * K + j - 1], u0);
    if (j + 1 < K) u1 = ei::pselect(here, th[2 * K + j], u1);
  }
  const S beta = rq_softplus_beta<S>(st);
  const P min_d = ei::pset1<P>(S(st.min_derivative));
  const P end = ei::pset1<P>(rq_end_derivative<S>(st));
  const P d0 = ei::pselect(ei::pcmp_eq(bin, zero), end, ei::padd(min_d, rq_softplus_chunk<S>(u0, beta)));
  const P d1 = ei::pselect(ei::pcmp_eq(bin, ei::pset1<P>(S(K - 1))), end, ei::padd(min_d, rq_softplus_chunk<S>(u1, beta)));
  const P w = ei::psub(x1, x0), h = ei::psub(y1, y0), s = ei::pdiv(h, w);
  P out, l;
  if constexpr (Dir == direction::forward) {
    const P th_ = ei::pmin(ei::pmax(ei::pdiv(ei::psub(in, x0), w), zero), one);
    const P t1 = ei::psub(one, th_), tt = ei::pmul(th_, t1);
    const P den = ei::padd(ei::pmul(s, ei::padd(ei::pmul(t1, t1), ei::pmul(th_, th_))), ei::pmul(ei::padd(d0, d1), tt));
    const P dnum = ei::padd(ei::padd(ei::pmul(ei::pmul(d1, th_), th_), ei::pmul(ei::pmul(two, s), tt)),
                            ei::pmul(ei::pmul(d0, t1), t1));
    l = ei::psub(ei::padd(ei::pmul(two, ei::plog(s)), ei::plog(dnum)), ei::pmul(two, ei::plog(den)));
    const P num = ei::pmul(h, ei::padd(ei::pmul(ei::pmul(s, th_), th_), ei::pmul(ei::pmul(d0, th_), t1)));
    out = ei::pmax(ei::pmin(ei::padd(y0, ei::pdiv(num, den)), y1), y0);
  } else {
    const P delta = ei::pmin(ei::pmax(ei::psub(in, y0), zero), h);
    const P from_top = ei::pcmp_lt(ei::pmul(ei::pset1<P>(S(0.5)), h), delta);
    const P e = ei::pmin(ei::pmax(ei::pselect(from_top, ei::psub(y1, in), delta), zero), h);
    const P e0 = ei::pselect(from_top, d1, d0), e1 = ei::pselect(from_top, d0, d1);
    const P m = ei::psub(ei::padd(e0, e1), ei::pmul(two, s));
    const P b = ei::psub(ei::pmul(h, e0), ei::pmul(e, m));
    const P c = ei::pmul(ei::pnegate(s), e);
    const P a = ei::psub(ei::pmul(h, s), b);
    // as the per-sample path: a NaN discriminant counts as 0, and +inf (b * b overflows
    // for derivatives near 1e19 in float) keeps its root +inf: Eigen's vectorised float
    // sqrt may compute x * rsqrt(x), NaN at +inf
    const P disc = ei::psub(ei::pmul(b, b), ei::pmul(ei::pmul(ei::pset1<P>(S(4)), a), c));
    const P positive = ei::pselect(ei::pcmp_lt(zero, disc), disc, zero);
    const P inf = ei::pset1<P>(std::numeric_limits<S>::infinity());
    const P r = ei::pselect(ei::pcmp_eq(positive, inf), positive, ei::psqrt(positive));
    const P root = ei::pselect(ei::pcmp_le(zero, b), ei::pdiv(ei::pmul(two, c), ei::psub(ei::pnegate(b), r)),
                               ei::pdiv(ei::padd(ei::pnegate(b), r), ei::pmul(two, a)));
    const P t = ei::pmin(ei::pmax(ei::pselect(ei::pcmp_eq(c, zero), zero, root), zero), one);
    const P t1 = ei::psub(one, t), tt = ei::pmul(t, t1);
    const P den = ei::padd(ei::pmul(s, ei::padd(ei::pmul(t1, t1), ei::pmul(t, t))), ei::pmul(ei::padd(e0, e1), tt));
    const P dnum = ei::padd(ei::padd(ei::pmul(ei::pmul(e1, t), t), ei::pmul(ei::pmul(two, s), tt)),
                            ei::pmul(ei::pmul(e0, t1), t1));
    l = ei::pnegate(ei::psub(ei::padd(ei::pmul(two, ei::plog(s)), ei::plog(dnum)), ei::pmul(two, ei::plog(den))));
    const P tw = ei::pmul(t, w);
    out = ei::pmin(ei::pmax(ei::pselect(from_top, ei::psub(x1, tw), ei::padd(x0, tw)), x0), x1);
  }
  const P inside = ei::pand(ei::pcmp_le(ei::pset1<P>(-B), in), ei::pcmp_le(in, ei::pset1<P>(B)));
  result = ei::pselect(inside, out, in);
  log_det = ei::pselect(inside, l, zero);
}

// rq_tails_chunk over a row: v (1 x n, any stride) in place, the raw parameters of
// every column in rows first .. first + 3K - 2 of theta (either storage order), the
// log-dets added to ld.
template <class S, int K, direction Dir, class V, class Theta, class L>
void rq_tails_row(V&& v, const Theta& theta, Eigen::Index first, S B, const spline_options& st, L&& ld) {
  namespace ei = Eigen::internal;
  using P = rq_packet<S>;
  constexpr int W = rq_lanes<S>;
  constexpr int Q = 3 * K - 1;
  const Eigen::Index n = v.cols();
  S th_lanes[Q][W], in_lanes[W], out_lanes[W], ld_lanes[W];
  P th[Q];
  for (Eigen::Index c0 = 0; c0 < n; c0 += W) {
    const int lanes = int(std::min<Eigen::Index>(W, n - c0));
    for (int q = 0; q < Q; ++q) {
      for (int i = 0; i < lanes; ++i) th_lanes[q][i] = theta(first + q, c0 + i);
      for (int i = lanes; i < W; ++i) th_lanes[q][i] = S(0);
      th[q] = ei::ploadu<P>(th_lanes[q]);
    }
    for (int i = 0; i < lanes; ++i) in_lanes[i] = v(c0 + i);
    for (int i = lanes; i < W; ++i) in_lanes[i] = S(0);
    P out, l;
    rq_tails_chunk<S, K, Dir>(ei::ploadu<P>(in_lanes), th, B, st, out, l);
    ei::pstoreu(out_lanes, out);
    ei::pstoreu(ld_lanes, l);
    for (int i = 0; i < lanes; ++i) {
      v(c0 + i) = out_lanes[i];
      ld(c0 + i) += ld_lanes[i];
    }
  }
}

}  // namespace flowtmpl::detail
