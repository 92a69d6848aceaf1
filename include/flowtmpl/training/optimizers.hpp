// flowtmpl/training/optimizers.hpp: optimizers on the flat parameter vector
// (copy_parameters order), as PyTorch defines them, and gradient clipping.
//   adam<S>   bias-corrected, eps outside the square root, optional decoupled weight
//             decay (AdamW: p -= lr wd p before the step); its moments (two doubles per
//             parameter) are allocated at the first step
//   sgd<S>    momentum buffer b = mu b + g (b = g at the first step), step -lr b;
//             Nesterov: step -lr (g + mu b)
//   clip_grad_norm(g, n, max_norm)   scales g to global 2-norm max_norm when its norm
//             is above it (with PyTorch's 1e-6) and returns the norm before
// The arithmetic is in double whatever S is.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace flowtmpl {

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
    for (std::size_t i = 0; i < n; ++i) {
      const double gi = double(g[i]);
      double pi = double(p[i]);
      if (weight_decay != 0) pi -= lr * weight_decay * pi;
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      pi -= step_size * m[i] / (std::sqrt(v[i]) / sq2 + eps);
      p[i] = S(pi);
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
