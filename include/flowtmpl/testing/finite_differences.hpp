// flowtmpl/testing/finite_differences.hpp: the numerical references of the conformance
// kit (all in flowtmpl::testing::detail).
//
//   close(a, b, tol)               |a - b| <= tol * max(1, |a|, |b|); NaN is never close
//   fd_jacobian(b, x, h0)          the central-difference Jacobian of b.forward at x, one
//                                  Richardson step: (4 D(h/2) - D(h)) / 3, per column the
//                                  step h0 * max(1, |x_c|), at most a hundredth of the
//                                  distance to the nearer end of the forward domain.
//                                  Cost: 4 D forward calls.
//   log_abs_det(m)                 log|det m| by partial-pivot LU
//   fd_derivative(L, h, a, ...)    the Richardson central difference of L at step h, retried
//                                  at h/10 and h/100 while it misses the analytic value a;
//                                  the one nearest a
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "../detail/eigen.hpp"

#include "../concepts.hpp"

namespace flowtmpl::testing::detail {

template <class S>
bool close(S a, S b, S tol) {
  if (std::isnan(double(a)) || std::isnan(double(b))) return false;
  if (a == b) return true;  // equal infinities included
  const S scale = std::max(S(1), std::max(std::abs(a), std::abs(b)));
  return std::abs(a - b) <= tol * scale;
}

template <Bijector B>
Eigen::Matrix<typename B::scalar_type, B::dim, B::dim> fd_jacobian(const B& b, const vector_t<B>& x,
                                                                    typename B::scalar_type h0) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim;
  Eigen::Matrix<S, D, D> j;
  for (int c = 0; c < D; ++c) {
    S h = h0 * std::max(S(1), std::abs(x[c]));
    if constexpr (requires { B::forward_domain(); }) {
      // stay well inside the domain: a hundredth of the distance to its nearest end
      const auto d = B::forward_domain();
      h = std::min(h, S(0.01) * std::min(x[c] - d.lo, d.hi - x[c]));
    }
    auto diff = [&](S step) {
      vector_t<B> xp = x, xm = x;
      xp[c] += step;
      xm[c] -= step;
      return vector_t<B>((b.forward(xp) - b.forward(xm)) / (S(2) * step));
    };
    j.col(c) = (S(4) * diff(h / S(2)) - diff(h)) / S(3);
  }
  return j;
}

template <class M>
typename M::Scalar log_abs_det(const M& m) {
  Eigen::PartialPivLU<M> lu(m);
  typename M::Scalar acc(0);
  for (int i = 0; i < m.rows(); ++i) acc += std::log(std::abs(lu.matrixLU()(i, i)));
  return acc;
}

// A miss is |d - analytic| > rel_tol * max(|d|, |analytic|) + abs_tol * scale.
template <class S, class L>
S fd_derivative(L&& loss, S h, S analytic, S rel_tol, S abs_tol, S scale) {
  S best = std::numeric_limits<S>::quiet_NaN();
  for (S shrink : {S(1), S(0.1), S(0.01)}) {
    const S s = h * shrink;
    const S d1 = (loss(s) - loss(-s)) / (S(2) * s);
    const S d2 = (loss(s / S(2)) - loss(-s / S(2))) / s;
    const S d = (S(4) * d2 - d1) / S(3);
    if (std::isnan(double(best)) || std::abs(d - analytic) < std::abs(best - analytic)) best = d;
    if (std::abs(best - analytic) <= rel_tol * std::max(std::abs(best), std::abs(analytic)) + abs_tol * scale) break;
  }
  return best;
}

}  // namespace flowtmpl::testing::detail
