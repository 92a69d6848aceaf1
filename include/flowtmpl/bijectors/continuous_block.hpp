// flowtmpl/bijectors/continuous_block.hpp: the host's block path of Continuous
// (continuous.hpp), detail::continuous_block_path<Derived, D, S, C>, the members
// host/block_path.hpp and training/block_gradient.hpp look for:
//   forward_block(V, ld[, Ctx]), inverse_block(V, ld[, Ctx])   a block of samples (D x n)
//       through the solve in place, the log-dets added to ld
//   vjp_block<Dir>(V, G, gld, grad) / (V, Ctx, G, gld, grad, GC)   the gradient of a
//       block: G the output's cotangents on entry and the input's on return, gld every
//       log-det's cotangent, the context's cotangents into *GC when given
// Every column solves with its own steps, as per sample (detail/ode_block.hpp); one
// stage of all the columns still solving is one block evaluation of the network
// (conditioners/tangent_block.hpp: matrix-matrix products). The reverse sweep runs in
// rounds: round q replays the q-th last accepted step of every column that has one.
// The same numbers as the per-sample path up to the order of the products' sums (and
// so, rarely, an accept decision at the tolerance's edge: a difference of the order of
// the tolerance). Memory: the checkpoints per column (std::vector) and one step's stage
// traces for the block.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "../detail/eigen.hpp"

#include "../conditioners/tangent_block.hpp"
#include "../detail/ode_block.hpp"
#include "../direction.hpp"
#include "../ode_solvers.hpp"

namespace flowtmpl::detail {

template <class Derived, int D, class S, int C>
struct continuous_block_path {
  using sample_block = Eigen::Matrix<S, D, Eigen::Dynamic>;
  using state_block = Eigen::Matrix<S, D + 1, Eigen::Dynamic>;
  using context_block = Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic>;
  using tangent_block = Eigen::Matrix<S, D, Eigen::Dynamic>;  // D x K n: K tangents per column
  using time_vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

  const Derived& self() const { return static_cast<const Derived&>(*this); }

  // the probes of the columns of V (K per column)
  tangent_block probe_block(const sample_block& V, const context_block* Ctx) const {
    tangent_block T(D, Derived::tangents * V.cols());
    for (Eigen::Index j = 0; j < V.cols(); ++j) {
      const auto p = self().probe(V.col(j), Ctx ? Ctx->col(j).data() : nullptr);
      // element by element: g++ 12 -O3 reads a 2-float probe with a 4-float load in the
      // vectorised copy (a false -Warray-bounds)
      for (int k = 0; k < Derived::tangents; ++k)
        for (int i = 0; i < D; ++i) T(i, j * Derived::tangents + k) = p(i, k);
    }
    return T;
  }
  // [embed(t_j); c_j] for every column
  static auto extra_block(const time_vector& tv, const context_block* Ctx) {
    Eigen::Matrix<S, Derived::embedding + C, Eigen::Dynamic> E(Derived::embedding + C, tv.size());
    for (Eigen::Index j = 0; j < tv.size(); ++j) E.col(j) = Derived::extra_inputs(tv[j], Ctx ? Ctx->col(j).data() : nullptr);
    return E;
  }
  // F over a block of columns (their probes T, contexts Ctx), the network's trace in tr
  template <class Scales, class Trace>
  state_block dynamics_block(const time_vector& tv, const state_block& U, const context_block* Ctx,
                             const tangent_block& T, const Scales& sc, Trace& tr) const {
    const Eigen::Index m = U.cols();
    state_block out(D + 1, m);
    out.template topRows<D>() =
        tangent_record_block<Derived::tangents>(self().net, U.template topRows<D>(), extra_block(tv, Ctx), sc, T, tr);
    const auto& P = std::get<Derived::network_type::layers - 1>(tr.P);
    for (Eigen::Index j = 0; j < m; ++j) {
      if constexpr (Derived::exact)
        out(D, j) = P.middleCols(j * D, D).trace();
      else
        out(D, j) = T.col(j).dot(P.col(j));
    }
    return out;
  }
  // the columns `cols` of the probes and contexts
  struct gathered {
    tangent_block T;
    context_block ctx;
  };
  gathered gather(const std::vector<Eigen::Index>& cols, const tangent_block& T, const context_block* Ctx) const {
    gathered g{tangent_block(D, Derived::tangents * Eigen::Index(cols.size())), context_block()};
    if constexpr (C > 0) g.ctx.resize(C, Eigen::Index(cols.size()));
    for (std::size_t q = 0; q < cols.size(); ++q) {
      g.T.middleCols(Eigen::Index(q) * Derived::tangents, Derived::tangents) = T.middleCols(cols[q] * Derived::tangents, Derived::tangents);
      if constexpr (C > 0) g.ctx.col(Eigen::Index(q)) = Ctx->col(cols[q]);
    }
    return g;
  }

  template <direction Dir, class OnAccept>
  state_block solve_block(const sample_block& V, const context_block* Ctx, const tangent_block& T, ode_solve* st,
                          OnAccept&& on_accept) const {
    using Solver = typename Derived::solver_type;
    const S t0 = Dir == direction::forward ? S(0) : S(1);
    state_block Y(D + 1, V.cols());
    Y.template topRows<D>() = V;
    Y.row(D).setZero();
    typename Derived::state weight = Derived::state::Ones();
    weight[D] = S(Derived::options.log_det_weight);
    const auto sc = self().net.scales();
    typename Derived::block_trace tr;
    auto F = [&](const std::vector<Eigen::Index>& cols, const time_vector& tv, const state_block& U, int) {
      const gathered g = gather(cols, T, Ctx);
      return dynamics_block(tv, U, C > 0 ? &g.ctx : nullptr, g.T, sc, tr);
    };
    integrate_block<Solver>(F, t0, S(1) - t0, Y, weight, st, on_accept);
    return Y;
  }
  template <direction Dir>
  void apply_block(sample_block& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld, const context_block* Ctx) const {
    const state_block Y =
        solve_block<Dir>(V, Ctx, probe_block(V, Ctx), nullptr, [](Eigen::Index, S, S, const auto&) {});
    V = Y.template topRows<D>();
    ld += Y.row(D);
  }
  void forward_block(sample_block& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) const
    requires(C == 0)
  {
    apply_block<direction::forward>(V, ld, nullptr);
  }
  void inverse_block(sample_block& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) const
    requires(C == 0)
  {
    apply_block<direction::inverse>(V, ld, nullptr);
  }
  void forward_block(sample_block& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld, const context_block& Ctx) const
    requires(C > 0)
  {
    apply_block<direction::forward>(V, ld, &Ctx);
  }
  void inverse_block(sample_block& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld, const context_block& Ctx) const
    requires(C > 0)
  {
    apply_block<direction::inverse>(V, ld, &Ctx);
  }

  // The gradient of a block (training/block_gradient.hpp): V the input, G the output's
  // cotangents on entry and the input's on return, gld every log-det's cotangent; the
  // context's into *GC when given. The reverse sweep in rounds: round q replays the
  // q-th last accepted step of every column that has one.
  template <direction Dir>
  void vjp_block_impl(const sample_block& V, const context_block* Ctx, sample_block& G, S gld,
                      Derived& grad, context_block* GC) const {
    using Solver = typename Derived::solver_type;
    const Eigen::Index n = V.cols();
    const tangent_block T = probe_block(V, Ctx);
    std::vector<std::vector<typename Derived::checkpoint>> cps(static_cast<std::size_t>(n));
    solve_block<Dir>(V, Ctx, T, nullptr, [&](Eigen::Index j, S t, S h, const auto& y) {
      cps[std::size_t(j)].push_back({typename Derived::state(y), t, h});
    });
    const auto sc = self().net.scales();
    state_block Ybar(D + 1, n);
    Ybar.template topRows<D>() = G;
    Ybar.row(D).setConstant(gld);
    std::size_t rounds = 0;
    for (const auto& c : cps) rounds = std::max(rounds, c.size());
    for (std::size_t q = 0; q < rounds; ++q) {
      std::vector<Eigen::Index> cols;
      for (Eigen::Index j = 0; j < n; ++j)
        if (cps[std::size_t(j)].size() > q) cols.push_back(j);
      const Eigen::Index m = Eigen::Index(cols.size());
      state_block Yc(D + 1, m), Yb(D + 1, m);
      time_vector tv(m), hv(m);
      for (Eigen::Index i = 0; i < m; ++i) {
        const auto& list = cps[std::size_t(cols[std::size_t(i)])];
        const typename Derived::checkpoint& cp = list[list.size() - 1 - q];
        Yc.col(i) = cp.y;
        tv[i] = cp.t;
        hv[i] = cp.h;
        Yb.col(i) = Ybar.col(cols[std::size_t(i)]);
      }
      const gathered g = gather(cols, T, Ctx);
      const context_block* Cm = C > 0 ? &g.ctx : nullptr;
      std::array<typename Derived::block_trace, Solver::stages> trs;
      std::array<state_block, Solver::stages> inputs, k;
      std::array<time_vector, Solver::stages> times;
      auto F = [&](const time_vector& tt, const state_block& U, int stage) {
        inputs[std::size_t(stage)] = U;
        times[std::size_t(stage)] = tt;
        return dynamics_block(tt, U, Cm, g.T, sc, trs[std::size_t(stage)]);
      };
      rk_step_block<Solver>(F, tv, hv, Yc, k, false);
      auto vjp = [&](int i, const state_block& Kbar) {
        const std::size_t s = std::size_t(i);
        tangent_block Pbar = g.T;  // exact: d tr(P) / dP = I; Hutchinson: d v^T P / dP = v
        for (Eigen::Index j = 0; j < m; ++j) Pbar.middleCols(j * Derived::tangents, Derived::tangents) *= Kbar(D, j);
        Eigen::Matrix<S, Derived::embedding + C, Eigen::Dynamic> GE;
        const bool want_ctx = C > 0 && GC;
        if (want_ctx) GE.setZero(Derived::embedding + C, m);
        const sample_block abar = Kbar.template topRows<D>();
        const sample_block zbar = tangent_backward_block<Derived::tangents>(
            self().net, trs[s], inputs[s].template topRows<D>(), extra_block(times[s], Cm), sc, g.T, abar, &Pbar, grad.net,
            want_ctx ? &GE : nullptr);
        if constexpr (C > 0)
          if (want_ctx)
            for (Eigen::Index j = 0; j < m; ++j) GC->col(cols[std::size_t(j)]) += GE.template bottomRows<C>().col(j);
        state_block ubar(D + 1, m);
        ubar.template topRows<D>() = zbar;
        ubar.row(D).setZero();
        return ubar;
      };
      Yb = rk_reverse_block<Solver>(vjp, hv, Yb);
      for (Eigen::Index i = 0; i < m; ++i) Ybar.col(cols[std::size_t(i)]) = Yb.col(i);
    }
    G = Ybar.template topRows<D>();
  }
  template <direction Dir>
  void vjp_block(const sample_block& V, sample_block& G, S gld, Derived& grad) const
    requires(C == 0)
  {
    vjp_block_impl<Dir>(V, nullptr, G, gld, grad, nullptr);
  }
  template <direction Dir>
  void vjp_block(const sample_block& V, const context_block& Ctx, sample_block& G, S gld, Derived& grad,
                 context_block* GC) const
    requires(C > 0)
  {
    vjp_block_impl<Dir>(V, &Ctx, G, gld, grad, GC);
  }
};

}  // namespace flowtmpl::detail
