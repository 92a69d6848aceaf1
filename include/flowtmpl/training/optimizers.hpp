// flowtmpl/training/optimizers.hpp: optimizers on the flat parameter vector
// (copy_parameters order), as PyTorch defines them, and gradient clipping.
//   adam<S>   bias-corrected, eps outside the square root, optional decoupled weight
//             decay (AdamW: p -= lr wd p before the step); its moments (two doubles per
//             parameter) are allocated at the first step
//   sgd<S>    momentum buffer b = mu b + g (b = g at the first step), step -lr b;
//             Nesterov: step -lr (g + mu b)
//   clip_grad_norm(g, n, max_norm)   scales g to global 2-norm max_norm when its norm
//             is above it (with PyTorch's 1e-6) and returns the norm before
// The arithmetic is in double whatever S is. adam's step runs over the parameters in
// fixed chunks (adam_chunk), in parallel where OpenMP is on, each chunk as SIMD
// arithmetic over pieces of 256 (its square roots and divisions vectorised): every
// parameter's update is the same operations in the same order whatever the number of
// threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "../detail/eigen.hpp"
#include "../host/parallel_loops.hpp"

namespace flowtmpl {

// The parameters of one chunk of adam's step (a thread's share is whole chunks).
inline constexpr Eigen::Index adam_chunk = 4096;

template <class S>
struct adam {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;  // decoupled (AdamW): p -= lr wd p before the step
  std::vector<double> m, v;
  long t = 0;
  void step(S* p, const S* g, std::size_t n, double lr) {
    if (m.size() != n) {
      m.assign(n, 0.0);
      v.assign(n, 0.0);
      t = 0;
    }
    ++t;
    const double bc1 = 1 - std::pow(beta1, double(t)), bc2 = 1 - std::pow(beta2, double(t));
    const double step_size = lr / bc1, sq2 = std::sqrt(bc2);
    detail::for_each_block(
        Eigen::Index(n),
        [&](Eigen::Index first, Eigen::Index count) { update(p, g, first, count, lr, step_size, sq2); }, adam_chunk);
  }

 private:
  // Parameters first..first+count-1, in pieces converted to double on the stack, so that
  // the whole update is Eigen's SIMD arithmetic (a scalar std::sqrt, which may set errno,
  // keeps a compiler from vectorising the loop).
  void update(S* p, const S* g, Eigen::Index first, Eigen::Index count, double lr, double step_size, double sq2) {
    using A = Eigen::Array<double, Eigen::Dynamic, 1>;
    constexpr Eigen::Index piece = 256;
    alignas(64) double gbuf[piece], pbuf[piece];
    for (Eigen::Index at = first; at < first + count; at += piece) {
      const Eigen::Index len = std::min(piece, first + count - at);
      for (Eigen::Index i = 0; i < len; ++i) gbuf[i] = double(g[at + i]), pbuf[i] = double(p[at + i]);
      Eigen::Map<A> M(m.data() + at, len), V(v.data() + at, len), P(pbuf, len);
      const Eigen::Map<const A> G(gbuf, len);
      M = beta1 * M + (1 - beta1) * G;
      V = beta2 * V + ((1 - beta2) * G) * G;
      if (weight_decay != 0) P = P - (lr * weight_decay) * P;
      P = P - (step_size * M) / (V.sqrt() / sq2 + eps);
      for (Eigen::Index i = 0; i < len; ++i) p[at + i] = S(pbuf[i]);
    }
  }
};

template <class S>
struct sgd {
  double momentum = 0.9;
  bool nesterov = false;
  std::vector<double> buffer;
  bool started = false;
  void step(S* p, const S* g, std::size_t n, double lr) {
    if (buffer.size() != n) {
      buffer.assign(n, 0.0);
      started = false;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const double gi = double(g[i]);
      double d = gi;
      if (momentum != 0) {
        buffer[i] = started ? momentum * buffer[i] + gi : gi;
        d = nesterov ? gi + momentum * buffer[i] : buffer[i];
      }
      p[i] = S(double(p[i]) - lr * d);
    }
    started = true;
  }
};

// Scales g[0..n) to global 2-norm max_norm when its norm is above (as PyTorch's
// clip_grad_norm_, with its 1e-6); returns the norm before clipping.
template <class S>
double clip_grad_norm(S* g, std::size_t n, double max_norm) {
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i) ss += double(g[i]) * double(g[i]);
  const double norm = std::sqrt(ss);
  if (max_norm > 0 && norm > max_norm) {
    const double c = max_norm / (norm + 1e-6);
    for (std::size_t i = 0; i < n; ++i) g[i] = S(double(g[i]) * c);
  }
  return norm;
}

}  // namespace flowtmpl
