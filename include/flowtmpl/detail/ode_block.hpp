// flowtmpl/detail/ode_block.hpp: the solvers of ode_solvers.hpp over a block of
// samples (host), for the block path of Continuous (bijectors/continuous.hpp). Every
// column keeps its own step control, with the per-sample decisions (ode_solvers.hpp's
// integrate, column by column); what is shared is the evaluation: one stage of every
// column still solving is one call of the dynamics on a block, whose network runs as
// matrix-matrix products. A column that has reached the end drops out of the block.
//
//   integrate_block<Solver>(f, t0, t1, Y, weight, st, on_accept)
//       every column of Y (N x n) from t0 to t1; f(cols, tv, U, stage) evaluates the
//       dynamics of the columns `cols` of the block at the times tv and states U
//       (N x m); on_accept(j, t, h, y) before column j's accepted step; st (n entries
//       or null): each column's counts
//   rk_step_block<Solver>(f, tv, hv, Y, k)     one step of every column of Y, with its
//       own time and step size; f(tv, U, stage)
//   rk_reverse_block<Solver>(vjp, hv, Ybar)    rk_reverse_step column-wise
// The stage inputs are formed in the per-sample order (y + (h a) k, term by term), so
// a column's solve differs from its per-sample solve only by the network's sums (and
// so, rarely, in an accept decision at the tolerance's edge).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <vector>

#include "eigen.hpp"

#include "../ode_solvers.hpp"

namespace flowtmpl::detail {

template <class Solver, class S, int N, class F>
Eigen::Matrix<S, N, Eigen::Dynamic> rk_step_block(const F& f, const Eigen::Matrix<S, Eigen::Dynamic, 1>& tv,
                                                  const Eigen::Matrix<S, Eigen::Dynamic, 1>& hv,
                                                  const Eigen::Matrix<S, N, Eigen::Dynamic>& Y,
                                                  std::array<Eigen::Matrix<S, N, Eigen::Dynamic>, Solver::stages>& k,
                                                  bool have_first) {
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  if (!have_first) k[0] = f(tv, Y, 0);
  for (int i = 1; i < Solver::solution_stages; ++i) {
    Eigen::Matrix<S, N, Eigen::Dynamic> U = Y;
    for (int j = 0; j < i; ++j)
      if (Solver::a[i][j] != 0) U += k[std::size_t(j)] * (hv * S(Solver::a[i][j])).asDiagonal();
    const Vec ti = tv + S(Solver::c[i]) * hv;
    k[std::size_t(i)] = f(ti, U, i);
  }
  Eigen::Matrix<S, N, Eigen::Dynamic> Y1 = Y;
  for (int i = 0; i < Solver::solution_stages; ++i)
    if (Solver::b[i] != 0) Y1 += k[std::size_t(i)] * (hv * S(Solver::b[i])).asDiagonal();
  return Y1;
}

template <class Solver, class S, int N, class VJP>
Eigen::Matrix<S, N, Eigen::Dynamic> rk_reverse_block(const VJP& vjp, const Eigen::Matrix<S, Eigen::Dynamic, 1>& hv,
                                                     const Eigen::Matrix<S, N, Eigen::Dynamic>& Ybar) {
  constexpr int n = Solver::solution_stages;
  std::array<Eigen::Matrix<S, N, Eigen::Dynamic>, n> kbar;
  for (int i = 0; i < n; ++i) kbar[std::size_t(i)] = Ybar * (hv * S(Solver::b[i])).asDiagonal();
  Eigen::Matrix<S, N, Eigen::Dynamic> out = Ybar;
  for (int i = n - 1; i >= 0; --i) {
    const Eigen::Matrix<S, N, Eigen::Dynamic> ubar = vjp(i, kbar[std::size_t(i)]);
    out += ubar;
    for (int j = 0; j < i; ++j)
      if (Solver::a[i][j] != 0) kbar[std::size_t(j)] += ubar * (hv * S(Solver::a[i][j])).asDiagonal();
  }
  return out;
}

template <class Solver, class S, int N, class F, class OnAccept>
void integrate_block(const F& f, S t0, S t1, Eigen::Matrix<S, N, Eigen::Dynamic>& Y, const Eigen::Matrix<S, N, 1>& weight,
                     ode_solve* st, OnAccept&& on_accept) {
  using std::abs, std::max, std::min, std::pow;
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  using Block = Eigen::Matrix<S, N, Eigen::Dynamic>;
  const Eigen::Index n = Y.cols();
  std::vector<Eigen::Index> cols(static_cast<std::size_t>(n));
  for (Eigen::Index j = 0; j < n; ++j) cols[std::size_t(j)] = j;
  if (st)
    for (Eigen::Index j = 0; j < n; ++j) st[j] = ode_solve{};
  std::array<Block, Solver::stages> k;
  const S span = t1 - t0;
  if constexpr (!Solver::adaptive) {
    const S h = span / S(Solver::steps);
    const Vec hv = Vec::Constant(n, h);
    auto fc = [&](const Vec& tv, const Block& U, int stage) { return f(cols, tv, U, stage); };
    for (int s = 0; s < Solver::steps; ++s) {
      const S t = t0 + S(s) * h;
      for (Eigen::Index j = 0; j < n; ++j) on_accept(j, t, h, Y.col(j));
      const Vec tv = Vec::Constant(n, t);
      Y = rk_step_block<Solver>(fc, tv, hv, Y, k, false);
    }
    if (st)
      for (Eigen::Index j = 0; j < n; ++j) {
        st[j].steps = Solver::steps;
        st[j].evaluations = Solver::steps * Solver::stages;
        st[j].reached = double(t1);
      }
  } else {
    const S dir = span < S(0) ? S(-1) : S(1);
    if (!(abs(span) > S(0))) return;
    // the first step of every column (Hairer, Norsett & Wanner II.4), as integrate
    Block first = f(cols, Vec::Constant(n, t0), Y, 0);
    Vec h(n), h0(n), d1v(n);
    for (Eigen::Index j = 0; j < n; ++j) {
      S d0(0), d1(0);
      for (int i = 0; i < N; ++i) {
        const S sc = S(Solver::atol) + S(Solver::rtol) * abs(Y(i, j));
        d0 = max(d0, weight[i] * abs(Y(i, j)) / sc);
        d1 = max(d1, weight[i] * abs(first(i, j)) / sc);
      }
      h0[j] = (d0 < S(1e-5) || d1 < S(1e-5)) ? S(1e-6) : S(0.01) * d0 / d1;
      d1v[j] = d1;
    }
    Block Yp = Y;
    for (Eigen::Index j = 0; j < n; ++j) Yp.col(j) = Y.col(j) + (dir * h0[j]) * first.col(j);
    const Block probe = f(cols, (Vec::Constant(n, t0) + dir * h0).eval(), Yp, 0);
    for (Eigen::Index j = 0; j < n; ++j) {
      S d2(0);
      for (int i = 0; i < N; ++i) {
        const S sc = S(Solver::atol) + S(Solver::rtol) * abs(Y(i, j));
        d2 = max(d2, weight[i] * abs(probe(i, j) - first(i, j)) / sc);
      }
      d2 /= h0[j];
      const S m = max(d1v[j], d2);
      const S h1 = m <= S(1e-15) ? max(S(1e-6), h0[j] * S(1e-3)) : S(pow(double(S(0.01) / m), 1.0 / 5));
      h[j] = min(S(100) * h0[j], h1);
      if (st) st[j].evaluations = 2, st[j].reached = double(t0);
    }
    Vec t = Vec::Constant(n, t0);
    std::vector<char> rejected_last(std::size_t(n), 0), done(std::size_t(n), 0);
    for (int attempt = 0; attempt < Solver::max_steps; ++attempt) {
      std::vector<Eigen::Index> active;
      for (Eigen::Index j = 0; j < n; ++j)
        if (!done[std::size_t(j)]) active.push_back(j);
      if (active.empty()) return;
      const Eigen::Index m = Eigen::Index(active.size());
      Block Ya(N, m);
      Vec ta(m), step(m);
      std::vector<char> last(static_cast<std::size_t>(m));
      for (Eigen::Index q = 0; q < m; ++q) {
        const Eigen::Index j = active[std::size_t(q)];
        Ya.col(q) = Y.col(j);
        ta[q] = t[j];
        const S remaining = abs(t1 - t[j]);
        last[std::size_t(q)] = h[j] >= remaining;
        step[q] = dir * (last[std::size_t(q)] ? remaining : h[j]);
      }
      k[0].resize(N, m);
      for (Eigen::Index q = 0; q < m; ++q) k[0].col(q) = first.col(active[std::size_t(q)]);
      auto fc = [&](const Vec& tv, const Block& U, int stage) { return f(active, tv, U, stage); };
      const Block Y1 = rk_step_block<Solver>(fc, ta, step, Ya, k, true);
      k[Solver::stages - 1] = f(active, (ta + step).eval(), Y1, Solver::stages - 1);
      Block E = Block::Zero(N, m);
      for (int i = 0; i < Solver::stages; ++i)
        if (Solver::e[i] != 0) E += S(Solver::e[i]) * k[std::size_t(i)];
      E = E * step.asDiagonal();
      for (Eigen::Index q = 0; q < m; ++q) {
        const Eigen::Index j = active[std::size_t(q)];
        S err(0);
        for (int i = 0; i < N; ++i) {
          const S sc = S(Solver::atol) + S(Solver::rtol) * max(abs(Ya(i, q)), abs(Y1(i, q)));
          err = max(err, weight[i] * abs(E(i, q)) / sc);
        }
        if (st) st[j].evaluations += Solver::solution_stages;
        const bool is_last = last[std::size_t(q)];
        if (err <= S(1)) {
          on_accept(j, t[j], step[q], Ya.col(q));
          Y.col(j) = Y1.col(q);
          t[j] = is_last ? t1 : t[j] + step[q];
          first.col(j) = k[Solver::stages - 1].col(q);
          if (st) ++st[j].steps, st[j].reached = double(t[j]);
          if (is_last) {
            done[std::size_t(j)] = 1;
            continue;
          }
        } else if (st) {
          ++st[j].rejected;
        }
        if (!(err == err)) {  // NaN: stop, reported as not reaching the end
          done[std::size_t(j)] = 1;
          if (st) st[j].converged = false;
          continue;
        }
        S factor = err > S(0) ? S(0.9) * S(pow(double(err), -1.0 / 5)) : S(10);
        factor = min(S(10), max(S(0.2), factor));
        if (err > S(1) || rejected_last[std::size_t(j)]) factor = min(factor, S(1));
        rejected_last[std::size_t(j)] = err > S(1);
        h[j] = abs(step[q]) * factor;
      }
    }
    if (st)
      for (Eigen::Index j = 0; j < n; ++j)
        if (!done[std::size_t(j)]) st[j].converged = false;
  }
}

}  // namespace flowtmpl::detail
