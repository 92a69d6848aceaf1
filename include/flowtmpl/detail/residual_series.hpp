// flowtmpl/detail/residual_series.hpp: the random number of terms of the Russian-roulette
// power series of a residual layer's stochastic log-det (bijectors/residual.hpp; Chen
// et al. 2019), and the weights that make the truncated series unbiased.
//
//   log det(I + J) = sum_k>=1 (-1)^(k+1) tr(J^k) / k
//
// is estimated by sum_k=1..n (-1)^(k+1) (v^T J^k v) / k / P(n >= k), v a probe with
// E[v v^T] = I, and n = exact_terms + N:
//   geometric:  N in {1, 2, ...}, P(N = j) = p (1 - p)^(j-1);  P(n >= k) = (1 - p)^(k - exact_terms - 1)
//               for k > exact_terms + 1, else 1
//   poisson:    N in {0, 1, ...}, Poisson(lambda);  P(n >= k) = P(N >= k - exact_terms)
// so the first exact_terms terms (and the next for geometric) are always taken with
// weight 1. n is capped at max_terms (a bias below P(n > max_terms), which is below
// 1e-300 at the defaults).
#pragma once

#include <cmath>

#include "../config.hpp"
#include "../random.hpp"

namespace flowtmpl {

enum class residual_series { geometric, poisson };

namespace detail {

struct residual_series_law {
  residual_series kind;
  double parameter;  // p (geometric) or lambda (poisson)
  int exact_terms;
  int max_terms;

  // n, from one uniform of the stream
  FLOWTMPL_HOST_DEVICE int draw(philox_stream& rng) const {
    using std::floor, std::log, std::exp;
    const double u = 1.0 - rng.uniform<double>();  // in (0, 1]
    double extra;
    if (kind == residual_series::geometric) {
      // P(N > j) = (1 - p)^j: N = 1 + floor(log u / log(1 - p))
      extra = parameter >= 1.0 ? 1.0 : 1.0 + floor(log(u) / log(1.0 - parameter));
    } else {
      // inversion of the cumulative distribution, term by term
      double pmf = exp(-parameter), cdf = pmf;
      int j = 0;
      while (u > cdf && j < max_terms) {
        ++j;
        pmf *= parameter / double(j);
        cdf += pmf;
        if (pmf <= 0) break;
      }
      extra = double(j);
    }
    const double n = double(exact_terms) + extra;
    return n > double(max_terms) ? max_terms : int(n);
  }

  // 1 / P(n >= k)
  FLOWTMPL_HOST_DEVICE double weight(int k) const {
    using std::pow, std::exp;
    const int j = k - exact_terms;  // N >= j
    if (kind == residual_series::geometric) {
      if (j <= 1) return 1.0;
      return pow(1.0 - parameter, -double(j - 1));
    }
    if (j <= 0) return 1.0;
    // P(N >= j) as the sum of the upper tail (no cancellation of 1 - cdf)
    double pmf = exp(-parameter);
    for (int i = 1; i <= j; ++i) pmf *= parameter / double(i);
    double tail = 0;
    for (int i = j; i < j + 400 && pmf > tail * 1e-17; ++i) {
      tail += pmf;
      pmf *= parameter / double(i + 1);
    }
    return tail > 0 ? 1.0 / tail : 0.0;
  }
};

}  // namespace detail
}  // namespace flowtmpl
