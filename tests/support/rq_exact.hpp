// The rational-quadratic spline of one bin in long double, from knots given in double:
// the judge where flowtmpl and a reference (nflows, zuko) disagree beyond the tolerance
// (each computes the same function from the same knots, so the one nearer this value
// is the accurate one). The inverse is a bisection of the forward map.
#pragma once

#include <cmath>

namespace flowtmpl_test {

struct rq_exact_value {
  long double value, log_det;
};

// forward at x in the bin [x0, x1] -> [y0, y1] with end derivatives d0, d1
inline rq_exact_value rq_exact_forward(long double x0, long double x1, long double y0, long double y1, long double d0,
                                       long double d1, long double x) {
  const long double w = x1 - x0, h = y1 - y0, s = h / w, t = (x - x0) / w, u = 1 - t;
  const long double den = s * (u * u + t * t) + (d0 + d1) * t * u;
  const long double m = d1 * t * t + 2 * s * t * u + d0 * u * u;
  return {y0 + h * (s * t * t + d0 * t * u) / den, std::log(s * s * m / (den * den))};
}

// inverse at y in that bin, by bisection (the log-det of the inverse, -forward's)
inline rq_exact_value rq_exact_inverse(long double x0, long double x1, long double y0, long double y1, long double d0,
                                       long double d1, long double y) {
  long double lo = x0, hi = x1;
  for (int i = 0; i < 200 && hi > lo; ++i) {
    const long double mid = (lo + hi) / 2;
    if (mid <= lo || mid >= hi) break;
    (rq_exact_forward(x0, x1, y0, y1, d0, d1, mid).value < y ? lo : hi) = mid;
  }
  const long double x = (lo + hi) / 2;
  return {x, -rq_exact_forward(x0, x1, y0, y1, d0, d1, x).log_det};
}

// the bin of v among knots k[0..K] (k[0] <= v <= k[K]): the last j with k[j] <= v, at
// most K - 1
template <int K>
int rq_exact_bin(const double* k, double v) {
  int j = 0;
  while (j < K - 1 && v >= k[j + 1]) ++j;
  return j;
}

}  // namespace flowtmpl_test

#include <algorithm>

namespace flowtmpl_test {

// flowtmpl's value against a reference's, judged by the long-double value where they
// differ by more than tol (relative above 1): agree; reference_inaccurate (flowtmpl
// within tol of the exact value and nearer it than the reference); flowtmpl_wrong.
enum class verdict { agree, reference_inaccurate, flowtmpl_wrong };
inline verdict judge(double ours, double reference, long double exact, double tol) {
  const auto scale = [](long double v) { return std::max(1.0L, std::fabs(v)); };
  if (std::fabs(ours - reference) <= tol * scale(reference)) return verdict::agree;
  const long double eo = std::fabs(ours - exact), er = std::fabs(reference - exact);
  return eo <= tol * scale(exact) && eo < er ? verdict::reference_inaccurate : verdict::flowtmpl_wrong;
}

}  // namespace flowtmpl_test
