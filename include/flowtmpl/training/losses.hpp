// flowtmpl/training/losses.hpp: the training losses of a bound flow distribution on
// the host, each the mean over a batch with its gradient (a value of the flow's type,
// flowtmpl/differentiable.hpp) written into grad:
//   nll_and_gradient(flow, X, grad [, log_probs])  -> S   mean -log p(x) over the
//       columns of X (D x N); per-sample log densities to *log_probs (1 x N) when given.
//       A flow with coupling layers (no context) is differentiated a block of 128
//       samples (host_block_for(D): fewer for D > 256) at a time with matrix-matrix products (training/block_gradient.hpp),
//       others sample by sample (log_prob_vjp per column).
//   nll_and_gradient(flow, X, Ctx, grad [, log_probs])  a conditional flow: the mean of
//       -log p(x_j | c_j), the context batch Ctx C x N (or C x 1 for all); by blocks
//       as the unconditional one where its layers allow (the context block with the
//       samples, through the embedding network where there is one)
//   nll_and_gradient(exec::host, flow, ...)        the same, the policy first
//   reverse_kl_and_gradient(flow, target, n, seed, grad) -> reverse_kl_result
//       mean of log q(x) - log p~(x) over n reparameterised draws x = f(z(eps)), eps_j
//       from philox_stream(seed, j) as sample() draws them; target(x) returns
//       value_and_gradient {log p~(x), d log p~/dx}, p~ unnormalised. Also reports the
//       effective sample size of the importance weights p~/q. The flow's base must
//       model ReparameterizedDistribution.
// Samples are evaluated in blocks of 128 (fewer for D > 256: host/parallel_loops.hpp's
// host_block_for; in parallel with OpenMP when on); each block
// accumulates its own gradient (one flow-sized gradient per block, on the heap) and the
// blocks are summed in order, so the result is bitwise the same for any number of
// threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../differentiable.hpp"
#include "../errors.hpp"
#include "../exec.hpp"
#include "../host/batch.hpp"
#include "../host/conditional_entry_points.hpp"
#include "../host/parallel_loops.hpp"
#include "../parameters.hpp"
#include "../random.hpp"
#include "block_gradient.hpp"

namespace flowtmpl {

template <class S, int D>
struct value_and_gradient {
  S value;
  Eigen::Matrix<S, D, 1> gradient;
};

namespace detail {

// One block's gradient, on a 64-byte boundary. Eigen's vectorised assignment into a
// parameter block (an unaligned Map) chooses which entries it adds as packets from the
// block's address, and a packet's sum over the columns is associated differently from a
// scalar's: at a fixed alignment, a block's part has the same bits whichever block it is
// (its index in the vector, the process that computes it: mpi/fit.hpp relies on it).
template <class F>
struct alignas(64) gradient_part {
  F value;
};
template <class F>
using gradient_parts = std::vector<gradient_part<F>>;

// grad = sum of parts in order.
template <class F>
void sum_gradients(gradient_parts<F>& parts, F& grad) {
  constexpr std::size_t n = parameter_count_v<F>;
  std::vector<typename F::scalar_type> acc(n, typename F::scalar_type(0)), tmp(n);
  for (auto& p : parts) {
    copy_parameters(p.value, tmp.data());
    for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += tmp[i];
  }
  assign_parameters(grad, acc.data());
}

// How nll_and_gradient differentiates a block of host_block columns: log_prob_vjp per
// column, or all of them at once (training/block_gradient.hpp).
enum class gradient_path { per_sample, blocks };

template <class F>
inline constexpr gradient_path gradient_path_of =
    block_gradient_ok<F>() ? gradient_path::blocks : gradient_path::per_sample;

// The blocks of X (D x n) taken by the given path, in parallel: block b's gradient of w
// times its log densities into parts[b] (zeroed first), the sum of its log densities
// into sums[b], every column's log density into lp[j]; ctx: the checked context batch
// of a conditional flow (C x n or C x 1), else nullptr. X may be the columns of a larger
// batch that start at one of its block boundaries (w is then -1 over that batch's
// size): the blocks are the same, so the parts are those the whole batch gives there.
template <gradient_path Path, class F, class XR, class Ctx>
void nll_gradient_parts(const F& flow, const XR& X, const Ctx* ctx, typename F::scalar_type w, gradient_parts<F>& parts,
                        std::vector<typename F::scalar_type>& sums, typename F::scalar_type* lp) {
  using S = typename F::scalar_type;
  constexpr Eigen::Index block = detail::host_block_for(F::dim);
  const Eigen::Index n = X.cols();
  const std::size_t blocks = std::size_t((n + block - 1) / block);
  parts.assign(blocks, gradient_part<F>{make_gradient(flow)});
  sums.assign(blocks, S(0));
  detail::for_each_numbered_block(n, [&](Eigen::Index b, Eigen::Index first, Eigen::Index count) {
    S acc(0);
    if constexpr (Path == gradient_path::blocks) {
      if constexpr (context_dim_of<F>() > 0) {
        const context_block_of<F> cb = context_block<S, context_dim_of<F>()>(*ctx, first, count);
        log_prob_vjp_block(flow, X.middleCols(first, count), w, parts[std::size_t(b)].value, lp + first, &cb);
      } else {
        log_prob_vjp_block(flow, X.middleCols(first, count), w, parts[std::size_t(b)].value, lp + first);
      }
      for (Eigen::Index j = first; j < first + count; ++j) acc += lp[j];
    } else {
      for (Eigen::Index j = first; j < first + count; ++j) {
        const typename F::vec x = X.col(j);
        if constexpr (context_dim_of<F>() > 0) {
          const context_t<F> c = ctx->col(context_column(*ctx, j));
          lp[j] = log_prob_vjp_at(flow, x, c.data(), w, parts[std::size_t(b)].value, nullptr);
        } else {
          lp[j] = log_prob_vjp(flow, x, w, parts[std::size_t(b)].value);
        }
        acc += lp[j];
      }
    }
    sums[std::size_t(b)] = acc;
  }, block);
}

// The mean NLL's gradient, by blocks of host_block columns (nll_gradient_parts: in
// parallel, each block into its own part), the parts summed in block order; ctx: the
// checked context batch of a conditional flow (C x N or C x 1), else nullptr.
template <gradient_path Path, class F, class Derived, class Ctx>
typename F::scalar_type nll_and_gradient_impl(const F& flow, const Eigen::MatrixBase<Derived>& Xin, const Ctx* ctx,
                                              F& grad, Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* log_probs,
                                              const char* what) {
  using S = typename F::scalar_type;
  const auto X = detail::batch_view<F>(Xin, what);
  const Eigen::Index n = X.cols();
  if (n < 1) detail::fail_shape(message(what, ": the batch is empty"));
  gradient_parts<F> parts;
  std::vector<S> sums;
  Eigen::Matrix<S, 1, Eigen::Dynamic> lp(n);
  nll_gradient_parts<Path>(flow, X, ctx, S(-1) / S(n), parts, sums, lp.data());
  detail::sum_gradients(parts, grad);
  S total(0);
  for (S s : sums) total += s;
  if (log_probs) *log_probs = lp;
  return -total / S(n);
}

// The per-sample path whatever the flow (log_prob_vjp per column): the reference of the
// block path's tests, and the host counterpart of the device backend's gradient.
template <class F, class Derived>
typename F::scalar_type nll_and_gradient_per_sample(const F& flow, const Eigen::MatrixBase<Derived>& X, F& grad,
                                                    Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* log_probs =
                                                        nullptr) {
  return nll_and_gradient_impl<gradient_path::per_sample>(flow, X, static_cast<const batch_t<typename F::scalar_type, 1>*>(nullptr),
                                                          grad, log_probs, "nll_and_gradient");
}
template <class F, class DX, class DC>
typename F::scalar_type nll_and_gradient_per_sample(const F& flow, const Eigen::MatrixBase<DX>& X,
                                                    const Eigen::MatrixBase<DC>& context, F& grad,
                                                    Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* log_probs =
                                                        nullptr) {
  const auto ctx = context_view<F>(context, X.cols(), "nll_and_gradient");
  return nll_and_gradient_impl<gradient_path::per_sample>(flow, X, &ctx, grad, log_probs, "nll_and_gradient");
}

}  // namespace detail

// Mean negative log-likelihood of the columns of X, and its gradient into grad
// (overwritten). Per-sample log densities go to *log_probs when given (1 x N). A flow
// with coupling or autoregressive layers is differentiated a block of 128 samples at a
// time with matrix-matrix products (detail::log_prob_vjp_block), others sample by sample.
template <class F, class Derived>
  requires(!ConditionalDistribution<F>)
typename F::scalar_type nll_and_gradient(const F& flow, const Eigen::MatrixBase<Derived>& X, F& grad,
                                         Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* log_probs = nullptr) {
  return detail::nll_and_gradient_impl<detail::gradient_path_of<F>>(
      flow, X, static_cast<const batch_t<typename F::scalar_type, 1>*>(nullptr), grad, log_probs, "nll_and_gradient");
}
// A conditional flow: the mean of -log p(x_j | c_j) over the columns of X, with the
// context batch (C x N, or C x 1 for all).
template <ConditionalDistribution F, class DX, class DC>
typename F::scalar_type nll_and_gradient(const F& flow, const Eigen::MatrixBase<DX>& X,
                                         const Eigen::MatrixBase<DC>& context, F& grad,
                                         Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* log_probs = nullptr) {
  const auto ctx = detail::context_view<F>(context, X.cols(), "nll_and_gradient");
  return detail::nll_and_gradient_impl<detail::gradient_path_of<F>>(flow, X, &ctx, grad, log_probs,
                                                                    "nll_and_gradient");
}
template <class F, class... A>
typename F::scalar_type nll_and_gradient(exec::host_t, const F& flow, A&&... a) {
  return nll_and_gradient(flow, std::forward<A>(a)...);
}
// Without its context, or with one for a flow that reads none: compile-time errors in
// words (diagnostics.hpp).
template <ConditionalDistribution F, class DX>
typename F::scalar_type nll_and_gradient(const F&, const Eigen::MatrixBase<DX>&, F&,
                                         Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* = nullptr) {
  (void)sizeof(diagnostic::conditional_flow_called_without_its_context<F>);
  return 0;
}
template <Distribution F, class DX, class DC>
typename F::scalar_type nll_and_gradient(const F&, const Eigen::MatrixBase<DX>&, const Eigen::MatrixBase<DC>&, F&,
                                         Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* = nullptr) {
  (void)sizeof(diagnostic::flow_without_context_given_a_context<F>);
  return 0;
}

template <class S>
struct reverse_kl_result {
  S loss;             // mean of log q(x) - log p~(x): KL(q || p) - log Z
  S ess;              // effective sample size of the weights p~(x)/q(x), in [1, n]
  S ess_fraction;     // ess / n
  S log_normalizer;   // log of the mean weight: an estimate of log Z
};

// Reverse KL by reparameterised draws (see the top of this header). The flow's base
// must model ReparameterizedDistribution.
template <class F, class Target>
reverse_kl_result<typename F::scalar_type> reverse_kl_and_gradient(const F& flow, Target&& target, Eigen::Index n,
                                                                   std::uint64_t seed, F& grad) {
  using S = typename F::scalar_type;
  using V = typename F::vec;
  using B = typename F::transform_type;
  static_assert(ReparameterizedDistribution<typename F::base_type>,
                "flowtmpl: reverse_kl_and_gradient: the flow's base distribution has no reparameterised draw "
                "(from_noise); use StandardNormal or DiagonalNormal");
  if (n < 1) detail::fail_shape("reverse_kl_and_gradient: the number of draws must be positive");
  const S w = S(1) / S(n);
  const Eigen::Index blocks = (n + detail::host_block - 1) / detail::host_block;
  detail::gradient_parts<F> parts(std::size_t(blocks), detail::gradient_part<F>{make_gradient(flow)});
  std::vector<S> log_w(static_cast<std::size_t>(n));
  detail::for_each_numbered_block(n, [&](Eigen::Index b, Eigen::Index first, Eigen::Index count) {
    F& g = parts[std::size_t(b)].value;
    for (Eigen::Index j = first; j < first + count; ++j) {
      philox_stream rng(seed, std::uint64_t(j));
      V eps;
      for (int i = 0; i < F::dim; ++i) eps[i] = rng.normal<S>();
      const V z = flow.base.from_noise(eps, S(1));
      tape_t<B, direction::forward> tape;
      const auto r = record<direction::forward>(flow.transform, z, nullptr, tape);
      const S lq = flow.base.log_prob(z) - r.log_det;
      const auto t = target(r.value);
      log_w[std::size_t(j)] = S(t.value) - lq;
      // d/dtheta of w (log base(z) - ld(z) - log p~(x)), x = f(z), z = from_noise(eps)
      V gz = backward<direction::forward>(flow.transform, tape, nullptr, V(-w * t.gradient), -w, g.transform);
      gz += flow.base.log_prob_vjp(z, w, g.base);
      flow.base.from_noise_vjp(eps, S(1), gz, g.base);
    }
  });
  detail::sum_gradients(parts, grad);
  // loss and ESS from the log weights, in double
  double mean = 0, mx = -std::numeric_limits<double>::infinity();
  for (S v : log_w) {
    mean -= double(v);
    mx = std::max(mx, double(v));
  }
  mean /= double(n);
  double s1 = 0, s2 = 0;
  for (S v : log_w) {
    const double e = std::exp(double(v) - mx);
    s1 += e;
    s2 += e * e;
  }
  const double ess = (std::isfinite(mx) && s2 > 0) ? s1 * s1 / s2 : 0.0;
  return {S(mean), S(ess), S(ess / double(n)), S(mx + std::log(s1 / double(n)))};
}

}  // namespace flowtmpl
