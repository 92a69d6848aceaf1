// flowtmpl/transformers/spline_row.hpp: the row forms of Spline (host): one feature of a
// block of samples at once, the block paths of couplings and MADE layers. rq_tails_row
// is Spline's apply_row (the spline in either direction), rq_vjp_row its vjp_row (the
// vector-Jacobian product of a training step's gradient).
//
// The per-sample formulas of detail/rq_spline.hpp in the same order of operations, over
// chunks of one SIMD vector of samples (Eigen's packet of S: 16 floats or 8 doubles with
// AVX-512, 8 or 4 with AVX, 4 or 2 with SSE2). A chunk's K knots, the bin's quantities
// (gathered by blends, one per interior knot) and the spline and its derivatives stay
// in registers, with Eigen's vectorized exp and log, a correctly rounded sqrt, and
// log1p(x) = log(1 + x) x / ((1 + x) - 1) (x itself where 1 + x == 1, as Eigen computes
// it for float). So the results agree with the per-sample ones to a few ulp of the
// terms that made them, the tails and NaN exactly
// (tests/unit/transformers/spline_row_test.cpp, spline_vjp_row_test.cpp). The last
// chunk of a row is padded with zeros (an input at 0 with all-zero parameters: finite
// arithmetic) and only its own columns are written back.
// Cost per sample: 2K exp (the knots), 2 exp and 2 log1p (the derivatives at the bin's
// ends), K - 1 comparisons and 6 (K - 1) blends (the bin), 3 log (forward) or 3 log and
// one sqrt (inverse), whatever the bin; inputs in the tails cost the same. The vjp adds
// the bin's partial derivatives (about 20 divisions), 2 exp for the softplus's
// derivatives and 4K blends for the softmax's sums; inverse, the spline's inverse first.
#pragma once

#include <algorithm>
#include <limits>
#include <type_traits>

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

// The correctly rounded square root over one chunk (std::sqrt's value in every lane).
// Eigen's float psqrt is, with EIGEN_FAST_MATH (its default), a reciprocal-square-root
// estimate and a Newton step, within about 2 ulp and 0 below the smallest normal number;
// with that, the inverse's log-det at raw parameters near 1e10 (derivatives that large,
// next to ones at their minimum) moved by up to 1.3 against the per-sample path's
// (tests/unit/transformers/spline_row_test.cpp checks rq_sqrt against std::sqrt).
// (overloads rather than a comparison of types: a packet type as a template argument
// loses its attributes, which g++ warns about)
template <class P>
inline P rq_sqrt(const P& x) {
  return Eigen::internal::psqrt(x);  // correctly rounded for double packets (but AVX-512's) and scalars
}
#if defined(EIGEN_VECTORIZE_AVX512)
inline Eigen::internal::Packet16f rq_sqrt(const Eigen::internal::Packet16f& x) { return _mm512_sqrt_ps(x); }
inline Eigen::internal::Packet8d rq_sqrt(const Eigen::internal::Packet8d& x) { return _mm512_sqrt_pd(x); }
#endif
#if defined(EIGEN_VECTORIZE_AVX)
inline Eigen::internal::Packet8f rq_sqrt(const Eigen::internal::Packet8f& x) { return _mm256_sqrt_ps(x); }
#endif
#if defined(EIGEN_VECTORIZE_SSE)
inline Eigen::internal::Packet4f rq_sqrt(const Eigen::internal::Packet4f& x) { return _mm_sqrt_ps(x); }
#endif

// rq_cumulative over one chunk: out[0..K] the knots from the K raw sizes th[0..K-1]
// (softmax, minimum size, cumulative sum, scaled to [lo, hi]); e[0..K-1] the softmax's
// exponentials exp(th - max), which its derivatives reuse.
template <class S, int K, class P = rq_packet<S>>
inline void rq_cumulative_chunk(const P* th, S min_size, S lo, S hi, P* out, P* e) {
  namespace ei = Eigen::internal;
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

// Both knot sets of a linear-tail spline on [-B, B] over one chunk, with their softmax's
// exponentials.
template <class S, int K>
struct rq_knots_chunk {
  using P = rq_packet<S>;
  P x[K + 1], y[K + 1];
  P ex[K], ey[K];
  rq_knots_chunk(const P* th, S B, const spline_options& st) {
    rq_cumulative_chunk<S, K>(th, S(st.min_bin_width), -B, B, x, ex);
    rq_cumulative_chunk<S, K>(th + K, S(st.min_bin_height), -B, B, y, ey);
  }
};

// torch_softplus over one chunk: (1/beta) log1p(exp(beta u)), u where beta u > 20
template <class S, class P = rq_packet<S>>
inline P rq_softplus_chunk(const P& u, S beta) {
  namespace ei = Eigen::internal;
  const P bu = ei::pmul(ei::pset1<P>(beta), u), limit = ei::pset1<P>(S(20));
  const P soft = ei::pdiv(ei::generic_plog1p(ei::pexp(ei::pmin(bu, limit))), ei::pset1<P>(beta));
  return ei::pselect(ei::pcmp_lt(limit, bu), u, soft);
}

// The bin of every lane of a chunk (rq_bin: the number of interior knots of ref <= v)
// and the bin's quantities.
template <class S>
struct rq_bin_chunk {
  using P = rq_packet<S>;
  P bin;             // 0 .. K - 1, as a floating-point number
  P x0, x1, y0, y1;  // the bin's knots
  P u0, u1;          // the raw parameters of the derivatives at its ends (0 at a fixed end)
  P d0, d1;          // the derivatives at its ends
};
template <class S, int K, class P = rq_packet<S>>
inline rq_bin_chunk<S> rq_gather_chunk(const P& v, const P* ref, const rq_knots_chunk<S, K>& kn, const P* th,
                                       const spline_options& st) {
  namespace ei = Eigen::internal;
  const P zero = ei::pzero(v), one = ei::pset1<P>(S(1));
  rq_bin_chunk<S> b;
  b.bin = zero;
  for (int j = 1; j < K; ++j) b.bin = ei::padd(b.bin, ei::pand(ei::pcmp_le(ref[j], v), one));
  // interior knots j = 1 .. K-1 have their raw derivative in th[2K + j - 1]
  b.x0 = kn.x[0], b.x1 = kn.x[1], b.y0 = kn.y[0], b.y1 = kn.y[1];
  b.u0 = zero, b.u1 = th[2 * K];
  for (int j = 1; j < K; ++j) {
    const P here = ei::pcmp_eq(b.bin, ei::pset1<P>(S(j)));
    b.x0 = ei::pselect(here, kn.x[j], b.x0);
    b.x1 = ei::pselect(here, kn.x[j + 1], b.x1);
    b.y0 = ei::pselect(here, kn.y[j], b.y0);
    b.y1 = ei::pselect(here, kn.y[j + 1], b.y1);
    b.u0 = ei::pselect(here, th[2 * K + j - 1], b.u0);
    if (j + 1 < K) b.u1 = ei::pselect(here, th[2 * K + j], b.u1);
  }
  const S beta = rq_softplus_beta<S>(st);
  const P min_d = ei::pset1<P>(S(st.min_derivative));
  const P end = ei::pset1<P>(rq_end_derivative<S>(st));
  b.d0 = ei::pselect(ei::pcmp_eq(b.bin, zero), end, ei::padd(min_d, rq_softplus_chunk<S>(b.u0, beta)));
  const P last = ei::pset1<P>(S(K - 1));
  b.d1 = ei::pselect(ei::pcmp_eq(b.bin, last), end, ei::padd(min_d, rq_softplus_chunk<S>(b.u1, beta)));
  return b;
}

// rq_forward (direction::forward) or rq_inverse of the linear-tail spline on [-B, B] over
// one chunk with its knots: the inputs in, the 3K - 1 raw parameters th; the outputs
// (inputs outside [-B, B], and NaN, copied) and the log-dets (0 there).
template <class S, int K, direction Dir, class P = rq_packet<S>>
inline void rq_spline_chunk(const P& in, const rq_knots_chunk<S, K>& kn, const P* th, S B, const spline_options& st,
                            P& result, P& log_det) {
  namespace ei = Eigen::internal;
  const P zero = ei::pzero(in), one = ei::pset1<P>(S(1)), two = ei::pset1<P>(S(2));
  const rq_bin_chunk<S> bn = rq_gather_chunk<S, K>(in, Dir == direction::forward ? kn.x : kn.y, kn, th, st);
  const P &x0 = bn.x0, &x1 = bn.x1, &y0 = bn.y0, &y1 = bn.y1, &d0 = bn.d0, &d1 = bn.d1;
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
    // for derivatives near 1e19 in float) keeps its root +inf
    const P disc = ei::psub(ei::pmul(b, b), ei::pmul(ei::pmul(ei::pset1<P>(S(4)), a), c));
    const P positive = ei::pselect(ei::pcmp_lt(zero, disc), disc, zero);
    const P inf = ei::pset1<P>(std::numeric_limits<S>::infinity());
    const P r = ei::pselect(ei::pcmp_eq(positive, inf), positive, rq_sqrt(positive));
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

// rq_spline_chunk with the chunk's knots made from th
template <class S, int K, direction Dir, class P = rq_packet<S>>
inline void rq_tails_chunk(const P& in, const P* th, S B, const spline_options& st, P& result, P& log_det) {
  rq_spline_chunk<S, K, Dir>(in, rq_knots_chunk<S, K>(th, B, st), th, B, st, result, log_det);
}

// Whether a row's coefficients are contiguous in memory (a row of a row-major block):
// a whole chunk of it is then one unaligned vector load or store.
template <class Row>
inline constexpr bool rq_contiguous_row = bool(std::remove_cvref_t<Row>::Flags & Eigen::DirectAccessBit) &&
                                          std::remove_cvref_t<Row>::InnerStrideAtCompileTime == 1;

// The columns c0 .. c0 + lanes - 1 of a row (any stride) as one packet, the lanes past
// them 0; and of the Q rows first .. first + Q - 1 of theta (either storage order).
template <class S, class Row>
inline rq_packet<S> rq_load_lanes(const Row& row, Eigen::Index c0, int lanes) {
  if constexpr (rq_contiguous_row<Row>)
    if (lanes == rq_lanes<S>) return Eigen::internal::ploadu<rq_packet<S>>(row.data() + c0);
  S buf[rq_lanes<S>];
  for (int i = 0; i < lanes; ++i) buf[i] = row(c0 + i);
  for (int i = lanes; i < rq_lanes<S>; ++i) buf[i] = S(0);
  return Eigen::internal::ploadu<rq_packet<S>>(buf);
}
// The first `lanes` lanes of x into the columns c0 .. of a row: written (Op::assign) or
// added to or subtracted from what is there
enum class rq_store_op { assign, add, subtract };
template <class S, rq_store_op Op, class Row>
inline void rq_store_lanes(Row&& row, Eigen::Index c0, int lanes, const rq_packet<S>& x) {
  namespace ei = Eigen::internal;
  if constexpr (rq_contiguous_row<Row>) {
    if (lanes == rq_lanes<S>) {
      S* p = row.data() + c0;
      if constexpr (Op == rq_store_op::assign)
        ei::pstoreu(p, x);
      else if constexpr (Op == rq_store_op::add)
        ei::pstoreu(p, ei::padd(ei::ploadu<rq_packet<S>>(p), x));
      else
        ei::pstoreu(p, ei::psub(ei::ploadu<rq_packet<S>>(p), x));
      return;
    }
  }
  S buf[rq_lanes<S>];
  ei::pstoreu(buf, x);
  for (int i = 0; i < lanes; ++i) {
    if constexpr (Op == rq_store_op::assign)
      row(c0 + i) = buf[i];
    else if constexpr (Op == rq_store_op::add)
      row(c0 + i) += buf[i];
    else
      row(c0 + i) -= buf[i];
  }
}
template <class S, int Q, class Theta>
inline void rq_load_parameters(const Theta& theta, Eigen::Index first, Eigen::Index c0, int lanes, rq_packet<S>* th) {
  for (int q = 0; q < Q; ++q) th[q] = rq_load_lanes<S>(theta.row(first + q), c0, lanes);
}

// rq_tails_chunk over a row: v (1 x n, any stride) in place, the raw parameters of
// every column in rows first .. first + 3K - 2 of theta (either storage order), the
// log-dets added to ld.
template <class S, int K, direction Dir, class V, class Theta, class L>
void rq_tails_row(V&& v, const Theta& theta, Eigen::Index first, S B, const spline_options& st, L&& ld) {
  using P = rq_packet<S>;
  constexpr int W = rq_lanes<S>;
  constexpr int Q = 3 * K - 1;
  const Eigen::Index n = v.cols();
  P th[Q];
  for (Eigen::Index c0 = 0; c0 < n; c0 += W) {
    const int lanes = int(std::min<Eigen::Index>(W, n - c0));
    rq_load_parameters<S, Q>(theta, first, c0, lanes, th);
    P out, l;
    rq_tails_chunk<S, K, Dir>(rq_load_lanes<S>(v, c0, lanes), th, B, st, out, l);
    rq_store_lanes<S, rq_store_op::assign>(v, c0, lanes, out);
    rq_store_lanes<S, rq_store_op::add>(ld, c0, lanes, l);
  }
}


// ---- the vector-Jacobian product over a row (a training step's gradient) ----------

// torch_softplus_derivative over one chunk: sigmoid(beta u), 1 past the threshold
template <class S, class P = rq_packet<S>>
inline P rq_softplus_derivative_chunk(const P& u, S beta) {
  namespace ei = Eigen::internal;
  const P zero = ei::pzero(u), one = ei::pset1<P>(S(1));
  const P bu = ei::pmul(ei::pset1<P>(beta), u);
  const P e = ei::pexp(ei::pnegate(ei::pabs(bu)));  // exp(-|beta u|) <= 1
  const P one_e = ei::padd(one, e);
  const P sig = ei::pselect(ei::pcmp_lt(zero, bu), ei::pdiv(one, one_e), ei::pdiv(e, one_e));
  return ei::pselect(ei::pcmp_lt(ei::pset1<P>(S(20)), bu), one, sig);
}

// rq_partials over one chunk: the partial derivatives of y and ld in each lane's bin, [0]
// for the bin's left knot (x_k, y_k, d_k), [1] for its right one
template <class S>
struct rq_partials_chunk {
  using P = rq_packet<S>;
  P y_x, ld_x;
  P y_xk[2], y_yk[2], y_dk[2];
  P ld_xk[2], ld_yk[2], ld_dk[2];
};
template <class S, class P = rq_packet<S>>
inline rq_partials_chunk<S> rq_partials_of(const rq_bin_chunk<S>& b, const P& x) {
  namespace ei = Eigen::internal;
  const P zero = ei::pzero(x), one = ei::pset1<P>(S(1)), two = ei::pset1<P>(S(2));
  const P w = ei::psub(b.x1, b.x0), h = ei::psub(b.y1, b.y0), s = ei::pdiv(h, w);
  const P theta = ei::pmin(ei::pmax(ei::pdiv(ei::psub(x, b.x0), w), zero), one);
  const P t = ei::psub(one, theta);
  const P &d0 = b.d0, &d1 = b.d1;
  const P dd = ei::padd(d0, d1);
  const P tt = ei::pmul(theta, t), th2 = ei::pmul(theta, theta), t2 = ei::pmul(t, t);
  const P two_s = ei::pmul(two, s);
  const P den = ei::padd(ei::pmul(s, ei::padd(t2, th2)), ei::pmul(dd, tt));
  const P m = ei::padd(ei::padd(ei::pmul(d1, th2), ei::pmul(two_s, tt)), ei::pmul(d0, t2));
  const P q = ei::pdiv(one, ei::pmul(den, den));
  const P sq = ei::pmul(ei::pmul(s, s), q);
  rq_partials_chunk<S> r;
  r.y_x = ei::pmul(sq, m);
  r.y_xk[0] = ei::pmul(ei::pmul(ei::pnegate(sq), t2),
                       ei::padd(ei::padd(ei::pmul(d1, th2), ei::pmul(two_s, theta)),
                                ei::pmul(ei::pmul(d0, t), ei::padd(one, theta))));
  r.y_xk[1] = ei::pmul(ei::pmul(ei::pnegate(sq), th2),
                       ei::padd(ei::padd(ei::pmul(ei::pmul(d1, theta), ei::padd(one, t)), ei::pmul(two_s, t)),
                                ei::pmul(d0, t2)));
  const P common = ei::padd(ei::pmul(ei::pmul(s, s), ei::padd(t2, th2)), ei::pmul(ei::pmul(two_s, dd), tt));
  r.y_yk[0] = ei::pmul(ei::pmul(q, t2), ei::padd(common, ei::pmul(ei::pmul(d1, dd), th2)));
  r.y_yk[1] = ei::pmul(ei::pmul(q, th2), ei::padd(common, ei::pmul(ei::pmul(d0, dd), t2)));
  const P qh = ei::pmul(q, h);
  r.y_dk[0] = ei::pmul(ei::pmul(ei::pmul(qh, theta), t2), ei::padd(ei::pmul(s, t), ei::pmul(d1, theta)));
  r.y_dk[1] = ei::pmul(ei::pmul(ei::pmul(ei::pnegate(qh), th2), t), ei::padd(ei::pmul(s, theta), ei::pmul(d0, t)));
  const P dm = ei::pmul(two, ei::padd(ei::psub(ei::pmul(d1, theta), ei::pmul(d0, t)), ei::pmul(s, ei::psub(t, theta))));
  const P dden = ei::pmul(ei::psub(dd, two_s), ei::psub(t, theta));
  const P l_theta = ei::psub(ei::pdiv(dm, m), ei::pdiv(ei::pmul(two, dden), den));
  const P l_s = ei::pdiv(ei::pmul(ei::pmul(two, tt), ei::padd(ei::pmul(dd, m), ei::pmul(s, den))),
                         ei::pmul(ei::pmul(s, m), den));
  r.ld_x = ei::pdiv(l_theta, w);
  r.ld_xk[0] = ei::pdiv(ei::psub(ei::pmul(s, l_s), ei::pmul(t, l_theta)), w);
  r.ld_xk[1] = ei::pdiv(ei::pnegate(ei::padd(ei::pmul(s, l_s), ei::pmul(theta, l_theta))), w);
  r.ld_yk[0] = ei::pdiv(ei::pnegate(l_s), w);
  r.ld_yk[1] = ei::pdiv(l_s, w);
  const P two_tt_den = ei::pdiv(ei::pmul(two, tt), den);
  r.ld_dk[0] = ei::psub(ei::pdiv(t2, m), two_tt_den);
  r.ld_dk[1] = ei::psub(ei::pdiv(th2, m), two_tt_den);
  return r;
}

// rq_cumulative_derivatives over one chunk, for the knots made from the softmax terms e
// (rq_cumulative_chunk) with each lane's bin: out[l] = a0 dknot_k/du_l + a1 dknot_k+1/du_l,
// dknot_j/du_l = (hi - lo) mix sigma_l ([l < j] - C_j), 1 - C_j as the tail sum.
template <class S, int K, class P = rq_packet<S>>
inline void rq_cumulative_vjp_chunk(const P* e, const P& bin, S min_size, S lo, S hi, const P& a0, const P& a1,
                                    P* out) {
  namespace ei = Eigen::internal;
  const P zero = ei::pzero(bin);
  P head0 = zero, tail1 = zero, ek = zero;  // sum_{l<k} e_l, sum_{l>k} e_l, e_k
  for (int l = 0; l < K; ++l) head0 = ei::padd(head0, ei::pselect(ei::pcmp_lt(ei::pset1<P>(S(l)), bin), e[l], zero));
  for (int l = K - 1; l >= 0; --l)
    tail1 = ei::padd(tail1, ei::pselect(ei::pcmp_lt(bin, ei::pset1<P>(S(l))), e[l], zero));
  for (int l = 0; l < K; ++l) ek = ei::pselect(ei::pcmp_eq(bin, ei::pset1<P>(S(l))), e[l], ek);
  const P head1 = ei::padd(head0, ek), tail0 = ei::padd(tail1, ek);
  const P sum = ei::padd(head1, tail1);
  const P f = ei::pdiv(ei::pset1<P>((hi - lo) * (S(1) - min_size * S(K))), ei::pmul(sum, sum));
  for (int l = 0; l < K; ++l) {
    const P c0 = ei::pselect(ei::pcmp_lt(ei::pset1<P>(S(l)), bin), tail0, ei::pnegate(head0));
    const P c1 = ei::pselect(ei::pcmp_le(ei::pset1<P>(S(l)), bin), tail1, ei::pnegate(head1));
    out[l] = ei::pmul(ei::pmul(f, e[l]), ei::padd(ei::pmul(a0, c0), ei::pmul(a1, c1)));
  }
}

// transformer_vjp<Dir> of Spline over one chunk: v the layer's input in direction Dir (x
// forward, y inverse) and g the cotangent of its output; returns the cotangent of v and
// writes wy dy/dp_q + wld dld/dp_q into gth[q] (q < 3K - 1; the per-sample path adds it
// to the parameters' cotangents forward, subtracts it inverse). As the per-sample path,
// the inverse differentiates the forward at x = tau^-1(y), and a lane whose x is
// outside [-B, B] (or NaN) is the identity: cotangent g, the parameters' 0 wy + 0 wld.
template <class S, int K, direction Dir, class P = rq_packet<S>>
inline P rq_vjp_chunk(const P& v, const P* th, const P& g, S gld, S B, const spline_options& st, P* gth) {
  namespace ei = Eigen::internal;
  const P zero = ei::pzero(v), one = ei::pset1<P>(S(1)), gl = ei::pset1<P>(gld);
  const rq_knots_chunk<S, K> kn(th, B, st);
  P x = v;
  if constexpr (Dir == direction::inverse) {
    P unused;
    rq_spline_chunk<S, K, direction::inverse>(v, kn, th, B, st, x, unused);
  }
  const P inside = ei::pand(ei::pcmp_le(ei::pset1<P>(-B), x), ei::pcmp_le(x, ei::pset1<P>(B)));
  const rq_bin_chunk<S> b = rq_gather_chunk<S, K>(x, kn.x, kn, th, st);
  const rq_partials_chunk<S> r = rq_partials_of<S>(b, x);
  // derivatives() outside: dy/dx = 1, dld/dx = 0
  const P y_x = ei::pselect(inside, r.y_x, one), ld_x = ei::pselect(inside, r.ld_x, zero);
  P wy, g_in;
  if constexpr (Dir == direction::forward) {
    wy = g;
    g_in = ei::padd(ei::pmul(g, y_x), ei::pmul(gl, ld_x));
  } else {
    wy = ei::pdiv(ei::psub(g, ei::pmul(gl, ld_x)), y_x);
    g_in = wy;
  }
  const auto weigh = [&](const P& dy, const P& dld) { return ei::padd(ei::pmul(wy, dy), ei::pmul(gl, dld)); };
  rq_cumulative_vjp_chunk<S, K>(kn.ex, b.bin, S(st.min_bin_width), -B, B, weigh(r.y_xk[0], r.ld_xk[0]),
                                weigh(r.y_xk[1], r.ld_xk[1]), gth);
  rq_cumulative_vjp_chunk<S, K>(kn.ey, b.bin, S(st.min_bin_height), -B, B, weigh(r.y_yk[0], r.ld_yk[0]),
                                weigh(r.y_yk[1], r.ld_yk[1]), gth + K);
  // the derivatives at the bin's ends: interior knot j's raw parameter is th[2K + j - 1]
  const S beta = rq_softplus_beta<S>(st);
  const P g0 = ei::pmul(weigh(r.y_dk[0], r.ld_dk[0]), rq_softplus_derivative_chunk<S>(b.u0, beta));
  const P g1 = ei::pmul(weigh(r.y_dk[1], r.ld_dk[1]), rq_softplus_derivative_chunk<S>(b.u1, beta));
  // (a derivative the bin does not read gets 0 wy + 0 wld, as per sample: NaN with a NaN
  // cotangent)
  const P outside = weigh(zero, zero);
  for (int j = 1; j < K; ++j) {
    const P left = ei::pcmp_eq(b.bin, ei::pset1<P>(S(j)));       // knot j = k
    const P right = ei::pcmp_eq(b.bin, ei::pset1<P>(S(j - 1)));  // knot j = k + 1
    gth[2 * K + j - 1] = ei::pselect(left, g0, ei::pselect(right, g1, outside));
  }
  for (int q = 0; q < 3 * K - 1; ++q) gth[q] = ei::pselect(inside, gth[q], outside);
  return g_in;
}

// rq_vjp_chunk over a row: v (1 x n) the layer's input row in direction Dir, g (1 x n)
// the cotangents of the output on entry, of the input on return; the raw parameters in
// rows first .. first + 3K - 2 of theta, their cotangents added into the same rows of
// gtheta (either storage order, each).
template <class S, int K, direction Dir, class V, class Theta, class G, class GTheta>
void rq_vjp_row(const V& v, const Theta& theta, Eigen::Index first, G&& g, S gld, GTheta& gtheta, S B,
                const spline_options& st) {
  using P = rq_packet<S>;
  constexpr int W = rq_lanes<S>;
  constexpr int Q = 3 * K - 1;
  const Eigen::Index n = v.cols();
  P th[Q], gth[Q];
  for (Eigen::Index c0 = 0; c0 < n; c0 += W) {
    const int lanes = int(std::min<Eigen::Index>(W, n - c0));
    rq_load_parameters<S, Q>(theta, first, c0, lanes, th);
    const P g_in = rq_vjp_chunk<S, K, Dir>(rq_load_lanes<S>(v, c0, lanes), th, rq_load_lanes<S>(g, c0, lanes), gld, B,
                                           st, gth);
    rq_store_lanes<S, rq_store_op::assign>(g, c0, lanes, g_in);
    constexpr rq_store_op accumulate = Dir == direction::forward ? rq_store_op::add : rq_store_op::subtract;
    for (int q = 0; q < Q; ++q) rq_store_lanes<S, accumulate>(gtheta.row(first + q), c0, lanes, gth[q]);
  }
}

}  // namespace flowtmpl::detail
