// flowtmpl/detail/dense_rows.hpp: one dense layer over a block of samples (host),
// out = act(W in + b), the kernel of the networks' block paths (the MLP's and the
// feedforward MADE's evaluate_block and their taped passes; docs/performance.md).
//
// W is R x K row-major (as the networks store it); in (K x n) and out (R x n) are
// row-major, so that a row holds one unit for every sample, contiguously. Each product
// is a broadcast weight times a SIMD vector of samples; a register tile of 4 rows of W
// by V vectors of samples stays in registers over the whole K loop, the bias loaded
// into it first and the activation applied as it is stored. No packing of either
// operand, no separate bias or activation pass over the block.
//
// Every output is the same chain of multiply-adds, bias + w_0 x_0 + w_1 x_1 + ... in
// the order of k, whichever tile, leftover path or scalar tail computes it: the result
// of a sample does not depend on the block it is in, on n, or on the tile (the tests
// compare the tiles bitwise, dense_rows_test.cpp).
#pragma once

#include <array>
#include <cstddef>

#include "eigen.hpp"

namespace flowtmpl::detail {

// The activation that dense_rows applies as it stores its results: none, or
// max(., 0) (a NaN stays NaN, as act::relu).
enum class fused_activation { none, relu };

// The register tile of dense_rows: 4 rows of W by 4 or by 3 SIMD vectors of samples.
//   rows4_vectors4  16 accumulators; the input vectors are read as memory operands.
//                   For targets with 32 SIMD registers (AVX-512, NEON) and for those
//                   without fused multiply-add (plain SSE: a multiply and an add, whose
//                   temporary needs a register of its own).
//   rows4_vectors3  12 accumulators, the 3 input vectors held in registers and one
//                   broadcast weight: the 16 registers of an AVX2 + FMA target. There the
//                   4 x 4 tile spills 2 accumulators and reads its inputs from memory in
//                   every multiply-add (24 loads per 16 FMAs: bound by the load ports at
//                   57% of the FMA peak on a 64 x 64 layer); this tile does 7 loads per 12
//                   FMAs and ran at 96% (docs/performance.md, "What changed").
enum class dense_tile { rows4_vectors4, rows4_vectors3 };

// The tile dense_rows takes on the target it is compiled for (the 4 x 3 tile where the
// register hint below works: GCC and Clang on x86 with FMA and 16 vector registers).
#if defined(__GNUC__) && defined(EIGEN_VECTORIZE_FMA) && defined(EIGEN_VECTORIZE_SSE) && \
    !defined(EIGEN_VECTORIZE_AVX512)
inline constexpr dense_tile target_dense_tile = dense_tile::rows4_vectors3;
#else
inline constexpr dense_tile target_dense_tile = dense_tile::rows4_vectors4;
#endif

namespace dense_rows_kernels {

// Keeps v in a register: the compiler may no longer fold the load that produced it into
// each multiply-add that reads it (it would otherwise load the same input vector once
// per row of the tile). An empty assembler statement on x86 with GCC or Clang; nothing
// elsewhere.
template <class Packet>
EIGEN_ALWAYS_INLINE void keep_in_register(Packet& v) {
#if defined(__GNUC__) && defined(EIGEN_VECTORIZE_SSE)
  __asm__("" : "+x"(v));
#else
  (void)v;
#endif
}

template <class S, fused_activation Fused>
struct kernels {
  using Packet = typename Eigen::internal::packet_traits<S>::type;
  static constexpr int PS = Eigen::internal::packet_traits<S>::size;

  static EIGEN_ALWAYS_INLINE void store(S* to, const Packet& v) {
    namespace ei = Eigen::internal;
    if constexpr (Fused == fused_activation::relu) {
      const Packet zero = ei::pset1<Packet>(S(0));
      ei::pstoreu(to, ei::pselect(ei::pcmp_lt(v, zero), zero, v));
    } else {
      ei::pstoreu(to, v);
    }
  }
  static EIGEN_ALWAYS_INLINE Packet load(const S* from) { return Eigen::internal::ploadu<Packet>(from); }
  static EIGEN_ALWAYS_INLINE Packet broadcast(S v) { return Eigen::internal::pset1<Packet>(v); }
  static EIGEN_ALWAYS_INLINE Packet madd(const Packet& w, const Packet& x, const Packet& a) {
    return Eigen::internal::pmadd(w, x, a);
  }

  // The weight rows r..r+3.
  static EIGEN_ALWAYS_INLINE std::array<const S*, 4> four_rows(const S* W, int r, int K) {
    const S* w0 = W + std::size_t(r) * std::size_t(K);
    return {w0, w0 + K, w0 + 2 * std::size_t(K), w0 + 3 * std::size_t(K)};
  }

  // Rows r..r+3, samples j..j+4 PS-1.
  static void rows4_vectors4(const S* W, const S* bias, int r, int K, const S* in, S* out, std::size_t n,
                             std::size_t j) {
    const auto [w0, w1, w2, w3] = four_rows(W, r, K);
    Packet a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33;
    a00 = a01 = a02 = a03 = broadcast(bias[r]);
    a10 = a11 = a12 = a13 = broadcast(bias[r + 1]);
    a20 = a21 = a22 = a23 = broadcast(bias[r + 2]);
    a30 = a31 = a32 = a33 = broadcast(bias[r + 3]);
    for (int k = 0; k < K; ++k) {
      const S* x = in + std::size_t(k) * n + j;
      const Packet x0 = load(x), x1 = load(x + PS), x2 = load(x + 2 * PS), x3 = load(x + 3 * PS);
      Packet w = broadcast(w0[k]);
      a00 = madd(w, x0, a00), a01 = madd(w, x1, a01), a02 = madd(w, x2, a02), a03 = madd(w, x3, a03);
      w = broadcast(w1[k]);
      a10 = madd(w, x0, a10), a11 = madd(w, x1, a11), a12 = madd(w, x2, a12), a13 = madd(w, x3, a13);
      w = broadcast(w2[k]);
      a20 = madd(w, x0, a20), a21 = madd(w, x1, a21), a22 = madd(w, x2, a22), a23 = madd(w, x3, a23);
      w = broadcast(w3[k]);
      a30 = madd(w, x0, a30), a31 = madd(w, x1, a31), a32 = madd(w, x2, a32), a33 = madd(w, x3, a33);
    }
    S* o = out + std::size_t(r) * n + j;
    store(o, a00), store(o + PS, a01), store(o + 2 * PS, a02), store(o + 3 * PS, a03);
    o += n;
    store(o, a10), store(o + PS, a11), store(o + 2 * PS, a12), store(o + 3 * PS, a13);
    o += n;
    store(o, a20), store(o + PS, a21), store(o + 2 * PS, a22), store(o + 3 * PS, a23);
    o += n;
    store(o, a30), store(o + PS, a31), store(o + 2 * PS, a32), store(o + 3 * PS, a33);
  }

  // Rows r..r+3, samples j..j+3 PS-1, the input vectors in registers.
  static void rows4_vectors3(const S* W, const S* bias, int r, int K, const S* in, S* out, std::size_t n,
                             std::size_t j) {
    const auto [w0, w1, w2, w3] = four_rows(W, r, K);
    Packet a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32;
    a00 = a01 = a02 = broadcast(bias[r]);
    a10 = a11 = a12 = broadcast(bias[r + 1]);
    a20 = a21 = a22 = broadcast(bias[r + 2]);
    a30 = a31 = a32 = broadcast(bias[r + 3]);
    for (int k = 0; k < K; ++k) {
      const S* x = in + std::size_t(k) * n + j;
      Packet x0 = load(x), x1 = load(x + PS), x2 = load(x + 2 * PS);
      keep_in_register(x0), keep_in_register(x1), keep_in_register(x2);
      Packet w = broadcast(w0[k]);
      a00 = madd(w, x0, a00), a01 = madd(w, x1, a01), a02 = madd(w, x2, a02);
      w = broadcast(w1[k]);
      a10 = madd(w, x0, a10), a11 = madd(w, x1, a11), a12 = madd(w, x2, a12);
      w = broadcast(w2[k]);
      a20 = madd(w, x0, a20), a21 = madd(w, x1, a21), a22 = madd(w, x2, a22);
      w = broadcast(w3[k]);
      a30 = madd(w, x0, a30), a31 = madd(w, x1, a31), a32 = madd(w, x2, a32);
    }
    S* o = out + std::size_t(r) * n + j;
    store(o, a00), store(o + PS, a01), store(o + 2 * PS, a02);
    o += n;
    store(o, a10), store(o + PS, a11), store(o + 2 * PS, a12);
    o += n;
    store(o, a20), store(o + PS, a21), store(o + 2 * PS, a22);
    o += n;
    store(o, a30), store(o + PS, a31), store(o + 2 * PS, a32);
  }

  // Rows r..r+3, samples j..j+PS-1: four chains of multiply-adds in flight, the one
  // input vector in a register.
  static void rows4_vector1(const S* W, const S* bias, int r, int K, const S* in, S* out, std::size_t n,
                            std::size_t j) {
    const auto [w0, w1, w2, w3] = four_rows(W, r, K);
    Packet a0 = broadcast(bias[r]), a1 = broadcast(bias[r + 1]), a2 = broadcast(bias[r + 2]),
           a3 = broadcast(bias[r + 3]);
    for (int k = 0; k < K; ++k) {
      Packet x = load(in + std::size_t(k) * n + j);
      keep_in_register(x);
      a0 = madd(broadcast(w0[k]), x, a0), a1 = madd(broadcast(w1[k]), x, a1);
      a2 = madd(broadcast(w2[k]), x, a2), a3 = madd(broadcast(w3[k]), x, a3);
    }
    S* o = out + std::size_t(r) * n + j;
    store(o, a0), store(o + n, a1), store(o + 2 * n, a2), store(o + 3 * n, a3);
  }

  // One row r (the rows left over after the tiles of 4), samples j..j+V PS-1, V = 1, 3 or 4.
  template <int V>
  static void row(const S* W, const S* bias, int r, int K, const S* in, S* out, std::size_t n, std::size_t j) {
    static_assert(V == 1 || V == 3 || V == 4, "dense_rows: a leftover row spans 1, 3 or 4 vectors of samples");
    const S* wr = W + std::size_t(r) * std::size_t(K);
    Packet a0, a1, a2, a3;
    a0 = a1 = a2 = a3 = broadcast(bias[r]);
    for (int k = 0; k < K; ++k) {
      const S* x = in + std::size_t(k) * n + j;
      const Packet w = broadcast(wr[k]);
      a0 = madd(w, load(x), a0);
      if constexpr (V >= 3) a1 = madd(w, load(x + PS), a1), a2 = madd(w, load(x + 2 * PS), a2);
      if constexpr (V == 4) a3 = madd(w, load(x + 3 * PS), a3);
    }
    S* o = out + std::size_t(r) * n + j;
    store(o, a0);
    if constexpr (V >= 3) store(o + PS, a1), store(o + 2 * PS, a2);
    if constexpr (V == 4) store(o + 3 * PS, a3);
  }

  // Sample j, every row: scalar multiply-adds (Eigen's scalar pmadd: a fused
  // multiply-add exactly where the packets' is one).
  static void sample(const S* W, const S* bias, int R, int K, const S* in, S* out, Eigen::Index n, Eigen::Index j) {
    for (int r = 0; r < R; ++r) {
      const S* wr = W + std::size_t(r) * std::size_t(K);
      S a = bias[r];
      for (int k = 0; k < K; ++k) a = Eigen::internal::pmadd(wr[k], in[std::size_t(k) * std::size_t(n) + j], a);
      out[std::size_t(r) * std::size_t(n) + j] = (Fused == fused_activation::relu && a < S(0)) ? S(0) : a;
    }
  }
};

}  // namespace dense_rows_kernels

// out = act(W in + b) for n samples (the layout above). Tile: the register tile, the
// target's by default (target_dense_tile); the tests instantiate both.
template <class S, fused_activation Fused, dense_tile Tile = target_dense_tile>
void dense_rows(const S* W, const S* bias, int R, int K, const S* in, S* out, Eigen::Index n) {
  using kern = dense_rows_kernels::kernels<S, Fused>;
  constexpr int PS = kern::PS;
  constexpr int V = Tile == dense_tile::rows4_vectors4 ? 4 : 3;
  const std::size_t stride = std::size_t(n);
  Eigen::Index j = 0;
  for (; j + V * PS <= n; j += V * PS) {
    int r = 0;
    for (; r + 4 <= R; r += 4) {
      if constexpr (V == 4)
        kern::rows4_vectors4(W, bias, r, K, in, out, stride, std::size_t(j));
      else
        kern::rows4_vectors3(W, bias, r, K, in, out, stride, std::size_t(j));
    }
    for (; r < R; ++r) kern::template row<V>(W, bias, r, K, in, out, stride, std::size_t(j));
  }
  for (; j + PS <= n; j += PS) {  // one vector of samples at a time
    int r = 0;
    for (; r + 4 <= R; r += 4) kern::rows4_vector1(W, bias, r, K, in, out, stride, std::size_t(j));
    for (; r < R; ++r) kern::template row<1>(W, bias, r, K, in, out, stride, std::size_t(j));
  }
  for (; j < n; ++j) kern::sample(W, bias, R, K, in, out, n, j);  // the samples left over
}

}  // namespace flowtmpl::detail
