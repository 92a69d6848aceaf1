// flowtmpl/dequantization.hpp: 8-bit data for a continuous flow, and the flow's
// bits per dimension on it.
//
//   uniform_dequantize<D, S>(pixels, seed, first)
//       v = (x + u) / 256 for the bytes x of n = pixels.size() / D samples (D x n), in
//       [0, 1] (in float, 255 + u rounds to 256 for u within 2^-17 of 1),
//       u ~ U[0, 1) per value; sample j's noise from philox_stream(seed, first + j),
//       so it depends on the sample's index alone (not on the batch or thread count)
//   bits_per_dim(log_p_v, D)
//       the bits per dimension of the discrete data that log p_v(v) of one dequantized
//       sample bounds: (-log p_v(v) + D log 256) / (D log 2); D < 1 (shape_error) and a
//       non-finite log_p_v (argument_error) are refused
//   bits_per_dim(flow, V)
//       its mean over the columns of V (log_prob on the host; throws domain_error if a
//       column's density is not finite, naming it)
//
// Why: for 8-bit x and a density p_v on [0, 1]^D, P(x) = 256^-D E_u[p_v((x + u)/256)]
// >= exp(E_u log p_v((x + u)/256) - D log 256) (Jensen), so one uniform draw per sample
// gives an unbiased estimate of an upper bound on -log2 P(x) / D. Every preprocessing
// map (LogitPreprocessing, bijectors/logit_preprocessing.hpp) that is a layer of the
// flow is in log p_v already. A density uniform on [0, 1]^D gives exactly 8.
// Variational dequantization (a learned q(u | x)): training/variational_dequantization.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>

#include "detail/eigen.hpp"

#include "errors.hpp"
#include "host.hpp"
#include "random.hpp"

namespace flowtmpl {

template <int D, class S>
Eigen::Matrix<S, D, Eigen::Dynamic> uniform_dequantize(std::span<const std::uint8_t> pixels, std::uint64_t seed,
                                                       std::uint64_t first = 0) {
  static_assert(D >= 1, "flowtmpl: uniform_dequantize<D, S>: D must be at least 1");
  if (pixels.size() % std::size_t(D) != 0)
    detail::fail_shape(detail::message("uniform_dequantize: ", pixels.size(), " bytes are not a whole number of samples of ",
                                       D, " values"));
  const Eigen::Index n = Eigen::Index(pixels.size() / std::size_t(D));
  Eigen::Matrix<S, D, Eigen::Dynamic> v(D, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    philox_stream rng(seed, first + std::uint64_t(j));
    for (int i = 0; i < D; ++i) v(i, j) = (S(pixels[std::size_t(j) * D + i]) + rng.template uniform<S>()) / S(256);
  }
  return v;
}

inline double bits_per_dim(double log_p_v, int dim) {
  if (dim < 1) detail::fail_shape(detail::message("bits_per_dim: the dimension is ", dim, "; it must be at least 1"));
  if (!std::isfinite(log_p_v))
    detail::fail_argument(detail::message("bits_per_dim: the log density is ", log_p_v, "; it must be finite"));
  return (-log_p_v + dim * std::log(256.0)) / (dim * std::numbers::ln2);
}

template <class Flow, class Derived>
  requires Distribution<Flow>
double bits_per_dim(const Flow& flow, const Eigen::MatrixBase<Derived>& v) {
  const auto lp = flowtmpl::log_prob(flow, v);
  if (lp.size() == 0) detail::fail_shape("bits_per_dim: the batch has no samples");
  double sum = 0;
  for (Eigen::Index j = 0; j < lp.size(); ++j) {
    if (!std::isfinite(double(lp[j])))
      detail::fail_domain(detail::message("bits_per_dim: the flow's log density of sample ", j, " is not finite (",
                                          double(lp[j]), ")"),
                          "bits_per_dim", long(j), -1, double(lp[j]));
    sum += double(lp[j]);
  }
  return bits_per_dim(sum / double(lp.size()), Flow::dim);
}

}  // namespace flowtmpl
