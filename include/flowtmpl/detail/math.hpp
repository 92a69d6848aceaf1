// flowtmpl/detail/math.hpp: numerically careful elementwise functions on Eigen arrays,
// shared by the elementwise bijectors, and the networks' product kernels (product,
// dense_rows). Each elementwise function returns a plain array (never an expression
// that could outlive its operands). Every one is finite for every finite input
// where the mathematical value is finite, and propagates NaN.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "eigen.hpp"

#include "../config.hpp"

namespace flowtmpl::detail {

// W * x for a network layer. A single sample (x a fixed-size vector): Eigen's lazy,
// coefficient-based product, inlined at the fixed sizes (for a 64 x 64 weight its
// general matrix-vector kernel, called out of line with run-time sizes, took most of
// the time of a per-sample log_prob; docs/performance.md). A block of samples: the
// ordinary product (a matrix-matrix kernel).
template <class W, class X>
FLOWTMPL_HOST_DEVICE auto product(const Eigen::MatrixBase<W>& w, const Eigen::MatrixBase<X>& x) {
  if constexpr (X::ColsAtCompileTime == 1)
    return w.derived().lazyProduct(x.derived());
  else
    return w.derived() * x.derived();
}

// The activation that dense_rows applies as it stores its results: none, or
// max(., 0) (a NaN stays NaN, as act::relu).
enum class fused_activation { none, relu };

// One dense layer over a block of samples (host): out = W in + b, then the activation
// Fused, for n samples at once. W is R x K row-major
// (as the MLP stores it); in (K x n) and out (R x n) are row-major, so that a row holds
// one unit for every sample, contiguously. Each product is a broadcast weight times a
// vector of samples: 4 rows x 4 SIMD vectors of samples in registers over the whole
// K loop, the bias loaded into them first and the activation applied as they are
// stored. No packing of either operand, no separate bias or activation pass over the
// block (the MLP's and the feedforward MADE's evaluate_block; docs/performance.md).
template <class S, fused_activation Fused>
void dense_rows(const S* W, const S* bias, int R, int K, const S* in, S* out, Eigen::Index n) {
  namespace ei = Eigen::internal;
  using Packet = typename ei::packet_traits<S>::type;
  constexpr int PS = ei::packet_traits<S>::size;
  const Packet zero = ei::pset1<Packet>(S(0));
  constexpr bool relu = Fused == fused_activation::relu;
  auto store = [&](S* to, const Packet& v) {
    if constexpr (relu)
      ei::pstoreu(to, ei::pselect(ei::pcmp_lt(v, zero), zero, v));
    else
      ei::pstoreu(to, v);
  };
  Eigen::Index j = 0;
  for (; j + 4 * PS <= n; j += 4 * PS) {
    int r = 0;
    for (; r + 4 <= R; r += 4) {
      const S* w0 = W + std::size_t(r) * K;
      const S* w1 = w0 + K;
      const S* w2 = w1 + K;
      const S* w3 = w2 + K;
      Packet a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33;
      a00 = a01 = a02 = a03 = ei::pset1<Packet>(bias[r]);
      a10 = a11 = a12 = a13 = ei::pset1<Packet>(bias[r + 1]);
      a20 = a21 = a22 = a23 = ei::pset1<Packet>(bias[r + 2]);
      a30 = a31 = a32 = a33 = ei::pset1<Packet>(bias[r + 3]);
      for (int k = 0; k < K; ++k) {
        const S* x = in + std::size_t(k) * std::size_t(n) + j;
        const Packet x0 = ei::ploadu<Packet>(x), x1 = ei::ploadu<Packet>(x + PS), x2 = ei::ploadu<Packet>(x + 2 * PS),
                     x3 = ei::ploadu<Packet>(x + 3 * PS);
        Packet w = ei::pset1<Packet>(w0[k]);
        a00 = ei::pmadd(w, x0, a00), a01 = ei::pmadd(w, x1, a01), a02 = ei::pmadd(w, x2, a02), a03 = ei::pmadd(w, x3, a03);
        w = ei::pset1<Packet>(w1[k]);
        a10 = ei::pmadd(w, x0, a10), a11 = ei::pmadd(w, x1, a11), a12 = ei::pmadd(w, x2, a12), a13 = ei::pmadd(w, x3, a13);
        w = ei::pset1<Packet>(w2[k]);
        a20 = ei::pmadd(w, x0, a20), a21 = ei::pmadd(w, x1, a21), a22 = ei::pmadd(w, x2, a22), a23 = ei::pmadd(w, x3, a23);
        w = ei::pset1<Packet>(w3[k]);
        a30 = ei::pmadd(w, x0, a30), a31 = ei::pmadd(w, x1, a31), a32 = ei::pmadd(w, x2, a32), a33 = ei::pmadd(w, x3, a33);
      }
      S* o = out + std::size_t(r) * std::size_t(n) + j;
      store(o, a00), store(o + PS, a01), store(o + 2 * PS, a02), store(o + 3 * PS, a03);
      o += n;
      store(o, a10), store(o + PS, a11), store(o + 2 * PS, a12), store(o + 3 * PS, a13);
      o += n;
      store(o, a20), store(o + PS, a21), store(o + 2 * PS, a22), store(o + 3 * PS, a23);
      o += n;
      store(o, a30), store(o + PS, a31), store(o + 2 * PS, a32), store(o + 3 * PS, a33);
    }
    for (; r < R; ++r) {  // the rows left over, one at a time
      const S* wr = W + std::size_t(r) * K;
      Packet a0, a1, a2, a3;
      a0 = a1 = a2 = a3 = ei::pset1<Packet>(bias[r]);
      for (int k = 0; k < K; ++k) {
        const S* x = in + std::size_t(k) * std::size_t(n) + j;
        const Packet w = ei::pset1<Packet>(wr[k]);
        a0 = ei::pmadd(w, ei::ploadu<Packet>(x), a0), a1 = ei::pmadd(w, ei::ploadu<Packet>(x + PS), a1);
        a2 = ei::pmadd(w, ei::ploadu<Packet>(x + 2 * PS), a2), a3 = ei::pmadd(w, ei::ploadu<Packet>(x + 3 * PS), a3);
      }
      S* o = out + std::size_t(r) * std::size_t(n) + j;
      store(o, a0), store(o + PS, a1), store(o + 2 * PS, a2), store(o + 3 * PS, a3);
    }
  }
  for (; j + PS <= n; j += PS)  // one vector of samples at a time
    for (int r = 0; r < R; ++r) {
      const S* wr = W + std::size_t(r) * K;
      Packet a = ei::pset1<Packet>(bias[r]);
      for (int k = 0; k < K; ++k)
        a = ei::pmadd(ei::pset1<Packet>(wr[k]), ei::ploadu<Packet>(in + std::size_t(k) * std::size_t(n) + j), a);
      store(out + std::size_t(r) * std::size_t(n) + j, a);
    }
  for (; j < n; ++j)  // the samples left over
    for (int r = 0; r < R; ++r) {
      const S* wr = W + std::size_t(r) * K;
      S a = bias[r];
      for (int k = 0; k < K; ++k) a += wr[k] * in[std::size_t(k) * std::size_t(n) + j];
      out[std::size_t(r) * std::size_t(n) + j] = (relu && a < S(0)) ? S(0) : a;
    }
}

template <class S>
inline constexpr S log_min_normal_v = sizeof(S) == 4 ? S(-87.33654475) : S(-708.3964185322641);

// exp, elementwise, correct below the normal range too. Eigen 3.4's vectorized exp
// returns a fixed floor (2^-128 in float, 2^-1024 in double) for inputs below about
// log(min), in the components that fill a SIMD packet, and the exact value (a
// subnormal or 0) in the others; those components are recomputed with std::exp, so
// the result is right and the same in every component.
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject exp(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  typename A::PlainObject y = x.exp();
  for (Eigen::Index i = 0; i < y.size(); ++i)
    if (x.coeff(i) < log_min_normal_v<S>) y.coeffRef(i) = std::exp(x.coeff(i));
  return y;
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject softplus(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  return (x > S(0)).select(x, S(0)) + detail::exp(-x.abs()).log1p();
}

// 1 / (1 + exp(-x)) with one exp of a non-positive argument.
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject sigmoid(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  const typename A::PlainObject e = detail::exp(-x.abs());
  return (x >= S(0)).select(S(1) / (S(1) + e), e / (S(1) + e));
}

// log sigmoid'(x) = log(sigmoid(x)) + log(sigmoid(-x)) = -(|x| + 2 log1p(exp(-|x|))).
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject log_sigmoid_derivative(const Eigen::ArrayBase<A>& x) {
  using S = typename A::Scalar;
  return -(x.abs() + S(2) * detail::exp(-x.abs()).log1p());
}

// log(y) - log(1 - y), for y in (0, 1).
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject logit(const Eigen::ArrayBase<A>& y) {
  return y.log() - (-y).log1p();
}

// log|d logit(y)/dy| = -log(y) - log(1 - y).
template <class A>
FLOWTMPL_HOST_DEVICE typename A::PlainObject log_logit_derivative(const Eigen::ArrayBase<A>& y) {
  return -(y.log() + (-y).log1p());
}

// Scalar forms, for the per-sample code of layers with a few scalar parameters.
// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
template <class S>
FLOWTMPL_HOST_DEVICE S softplus_scalar(S x) {
  using std::abs, std::exp, std::log1p;
  return (x > S(0) ? x : S(0)) + log1p(exp(-abs(x)));
}
// 1 / (1 + exp(-x)) with one exp of a non-positive argument.
template <class S>
FLOWTMPL_HOST_DEVICE S sigmoid_scalar(S x) {
  using std::abs, std::exp;
  const S e = exp(-abs(x));
  return x >= S(0) ? S(1) / (S(1) + e) : e / (S(1) + e);
}
// x clamped to [lowest, max], the finite numbers; NaN stays NaN.
template <class S>
FLOWTMPL_HOST_DEVICE S clamp_finite(S x) {
  using lim = std::numeric_limits<S>;
  return x > lim::max() ? lim::max() : (x < lim::lowest() ? lim::lowest() : x);
}
// log(exp(p) + exp(q)); NaN if either is NaN, -inf if both are -inf.
template <class S>
FLOWTMPL_HOST_DEVICE S log_add_exp(S p, S q) {
  using std::exp, std::log1p;
  const S hi = p > q ? p : q, lo = p > q ? q : p;
  if (hi == -std::numeric_limits<S>::infinity()) return hi;
  return hi + log1p(exp(lo - hi));
}

template <class S>
inline constexpr S log_max_v = sizeof(S) == 4 ? S(88.72283) : S(709.782712893384);

}  // namespace flowtmpl::detail
