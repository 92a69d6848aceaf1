// flowtmpl/detail/small_lu.hpp: small_lu<D, S>, an LU factorisation with partial
// pivoting of a fixed-size D x D matrix, usable on the device (no Eigen decomposition,
// no heap): P A = L U, L unit lower and U upper, both in `lu`.
//   small_lu<D, S> f(A);
//   f.log_abs_det()     sum of log |U_ii| (-inf for a singular A)
//   f.solve(b)          A^-1 b
//   f.solve_transpose(b)  A^-T b
// Cost: D^3 / 3 multiply-adds to factor, D^2 per solve. Meant for the D <= 16 of the
// residual layers' exact log-det (bijectors/residual.hpp); a singular A gives inf or
// NaN in the solves, never a read out of bounds.
#pragma once

#include <cmath>

#include "eigen.hpp"

#include "../config.hpp"

namespace flowtmpl::detail {

template <int D, class S>
struct small_lu {
  using mat = Eigen::Matrix<S, D, D>;
  using vec = Eigen::Matrix<S, D, 1>;
  mat lu;
  int perm[D];  // row i of P A is row perm[i] of A

  FLOWTMPL_HOST_DEVICE explicit small_lu(const mat& a) : lu(a) {
    using std::abs;
    for (int i = 0; i < D; ++i) perm[i] = i;
    for (int k = 0; k < D; ++k) {
      int p = k;
      S best = abs(lu(k, k));
      for (int i = k + 1; i < D; ++i)
        if (abs(lu(i, k)) > best) {
          best = abs(lu(i, k));
          p = i;
        }
      if (p != k) {
        for (int j = 0; j < D; ++j) {
          const S t = lu(k, j);
          lu(k, j) = lu(p, j);
          lu(p, j) = t;
        }
        const int t = perm[k];
        perm[k] = perm[p];
        perm[p] = t;
      }
      const S pivot = lu(k, k);
      if (pivot == S(0)) continue;  // singular: the solves give inf or NaN
      for (int i = k + 1; i < D; ++i) {
        const S m = lu(i, k) / pivot;
        lu(i, k) = m;
        for (int j = k + 1; j < D; ++j) lu(i, j) -= m * lu(k, j);
      }
    }
  }

  FLOWTMPL_HOST_DEVICE S log_abs_det() const {
    using std::abs, std::log;
    S s(0);
    for (int i = 0; i < D; ++i) s += log(abs(lu(i, i)));
    return s;
  }

  // A^-1 b: L U x = P b
  FLOWTMPL_HOST_DEVICE vec solve(const vec& b) const {
    vec y;
    for (int i = 0; i < D; ++i) {
      S s = b[perm[i]];
      for (int j = 0; j < i; ++j) s -= lu(i, j) * y[j];
      y[i] = s;
    }
    for (int i = D - 1; i >= 0; --i) {
      S s = y[i];
      for (int j = i + 1; j < D; ++j) s -= lu(i, j) * y[j];
      y[i] = s / lu(i, i);
    }
    return y;
  }

  // A^-T b: A^T = U^T L^T P, so U^T w = b, L^T v = w, x = P^T v
  FLOWTMPL_HOST_DEVICE vec solve_transpose(const vec& b) const {
    vec w;
    for (int i = 0; i < D; ++i) {
      S s = b[i];
      for (int j = 0; j < i; ++j) s -= lu(j, i) * w[j];
      w[i] = s / lu(i, i);
    }
    for (int i = D - 1; i >= 0; --i) {
      S s = w[i];
      for (int j = i + 1; j < D; ++j) s -= lu(j, i) * w[j];
      w[i] = s;
    }
    vec x;
    for (int i = 0; i < D; ++i) x[perm[i]] = w[i];
    return x;
  }

  // A^-T, column by column
  FLOWTMPL_HOST_DEVICE mat inverse_transpose() const {
    mat r;
    for (int j = 0; j < D; ++j) {
      vec e = vec::Zero();
      e[j] = S(1);
      r.col(j) = solve_transpose(e);
    }
    return r;
  }
};

}  // namespace flowtmpl::detail
