// flowtmpl/detail/torch_softmax.hpp: the softmax of a short vector with the roundings of
// PyTorch's CPU kernel, so that a spline's knots equal those nflows computes to the last
// bit (spline_knots::as_torch_cpu; docs/design.md, "The spline").
//
// What torch computes for softmax over the last dimension of a double tensor (its
// vectorized kernel, built for AVX-512, 8 doubles per vector; checked bit for bit
// against torch 2.x here, tests/unit/transformers/spline_torch_knots_test.cpp):
//   m   = max_k u_k
//   e_k = exp(u_k - m) by SLEEF's exp with a maximum error of 1.0 ulp (its FMA form: a
//         Cody-Waite reduction by ln 2 in two parts, a degree-10 polynomial in Estrin's
//         scheme, three Horner steps, scaling by 2^q in two halves)
//   sum = 8 lane sums (lane l adds e_l, e_l+8, ... in order), then the lanes added left
//         to right
//   sigma_k = e_k * (1 / sum)   (a product with the reciprocal, not a quotient)
// On a CPU where torch uses 4-double vectors (AVX2) the lane sums differ for K > 4, and
// the knots may then differ from this machine's torch by an ulp.
//
// Bit-exact where the compiler keeps a * b + c as two roundings (g++ and clang++ on
// x86-64 without -mfma do; with FMA enabled, add -ffp-contract=off), since torch rounds
// the products and sums of the knots' formula separately.
//
// Cost: std::fma is one instruction where the compiler may use FMA (-mfma, -march=
// haswell or later, CUDA), and a library call otherwise (about 10 times libm's exp per
// value); the spline's default knots use libm's exp.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "../config.hpp"

namespace flowtmpl::detail {

// 2^q for -1022 <= q <= 1023, exactly.
FLOWTMPL_HOST_DEVICE inline double power_of_two(int q) {
  const std::uint64_t bits = std::uint64_t(q + 1023) << 52;
  double r;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}

// exp(d) with the roundings of SLEEF's double exp (1.0 ulp, FMA form), which torch's
// vectorized CPU kernels use. Exact for every d torch's softmax passes it (d <= 0).
FLOWTMPL_HOST_DEVICE inline double torch_cpu_exp(double d) {
  using std::fma;
  constexpr double log2_e = 1.442695040888963407359924681001892137426645954152985934135449406931;
  constexpr double ln2_hi = .69314718055966295651160180568695068359375;  // ln 2 = hi + lo
  constexpr double ln2_lo = .28235290563031577122588448175013436025525412068e-12;
  if (d != d) return d;
  if (d < -1000.0) return 0.0;
  if (d > 709.78271289338399678773454114191496482) return HUGE_VAL;
  const double u = std::rint(d * log2_e);  // ties to even, as the vector rounding
  const int q = int(u);
  double s = fma(u, -ln2_hi, d);
  s = fma(u, -ln2_lo, s);
  const double s2 = s * s, s4 = s2 * s2, s8 = s4 * s4;
  // the polynomial 1/10! .. 1/2! (minimax coefficients) in Estrin's scheme
  const double c98 = fma(s, 0.2081276378237164457e-8, 0.2511210703042288022e-7);
  const double c76 = fma(s, 0.2755762628169491192e-6, 0.2755723402025388239e-5);
  const double c54 = fma(s, 0.2480158687479686264e-4, 0.1984126989855865850e-3);
  const double c32 = fma(s, 0.1388888888914497797e-2, 0.8333333333314938210e-2);
  const double c10 = fma(s, 0.4166666666666602598e-1, 0.1666666666666669072e+0);
  double p = fma(s8, c98, fma(s4, fma(s2, c76, c54), fma(s2, c32, c10)));
  p = fma(p, s, 0.5);
  p = fma(p, s, 1.0);
  p = fma(p, s, 1.0);
  const int q_half = q >> 1;  // floor(q / 2), as SLEEF splits the scaling
  return p * power_of_two(q_half) * power_of_two(q - q_half);
}

// sigma[0..K) = softmax(u[0..K)) rounded as torch's CPU kernel rounds it (above), and
// e[0..K) the unnormalised exp(u_k - max u). S = double is bit-exact; for float the
// same structure with std::exp (torch's float kernel uses another exp).
template <class S, int K>
FLOWTMPL_HOST_DEVICE inline void torch_cpu_softmax(const S* u, S* sigma) {
  constexpr int lanes = 8;
  S m = u[0];
  for (int k = 1; k < K; ++k) m = u[k] > m ? u[k] : m;
  S e[K];
  for (int k = 0; k < K; ++k) {
    if constexpr (sizeof(S) == sizeof(double))
      e[k] = S(torch_cpu_exp(double(u[k] - m)));
    else
      e[k] = std::exp(u[k] - m);
  }
  S lane[lanes] = {};
  for (int k = 0; k < K; ++k) lane[k % lanes] += e[k];
  S sum = lane[0];
  for (int l = 1; l < (K < lanes ? K : lanes); ++l) sum += lane[l];
  const S reciprocal = S(1) / sum;
  for (int k = 0; k < K; ++k) sigma[k] = e[k] * reciprocal;
}

}  // namespace flowtmpl::detail
