// flowtmpl/host/conditional_entry_points.hpp: the host batch entry points of
// conditional flows (flowtmpl/conditional.hpp). The context batch Ctx is C x N (one
// context per sample) or C x 1 (one for all); a wrong row or column count throws
// shape_error.
//   forward(b, X, Ctx) / inverse(b, Y, Ctx)                       -> D x N
//   forward_and_log_det(b, X, Ctx) / inverse_and_log_det(b, Y, Ctx) -> {values, log_det}
//   log_prob(d, X, Ctx)                                           -> 1 x N
//   sample(d, n, seed, Ctx) / sample_and_log_prob(d, n, seed, Ctx)
// The transform runs layer by layer over blocks of 256 columns (host/block_path.hpp),
// in parallel; sample j draws its base point from philox_stream(seed, j) and reads
// context column j (or the one column). Checked mode is not available for them yet.
// Each call copies the context once and each block its context columns.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../errors.hpp"
#include "../random.hpp"
#include "batch.hpp"
#include "block_path.hpp"
#include "parallel_loops.hpp"

namespace flowtmpl {

namespace detail {

// The context columns of a block: Ctx has n columns (one per sample) or one (shared).
template <class S, int C, class CtxRef>
Eigen::Matrix<S, C, Eigen::Dynamic> context_block(const CtxRef& ctx, Eigen::Index first, Eigen::Index count) {
  if (ctx.cols() == 1) return ctx.col(0).replicate(1, count);
  return ctx.middleCols(first, count);
}
template <class B, class Derived>
Eigen::Matrix<typename B::scalar_type, B::context_dim, Eigen::Dynamic> context_view(const Eigen::MatrixBase<Derived>& c,
                                                                                    Eigen::Index n, const char* what) {
  static_assert(std::is_same_v<typename Derived::Scalar, typename B::scalar_type>,
                "flowtmpl: the context batch's scalar type differs from the flow's scalar_type");
  if (c.rows() != B::context_dim)
    fail_shape(message(what, ": the context has ", c.rows(), " rows, the flow reads ", B::context_dim,
                       " context components (contexts are columns)"));
  if (c.cols() != n && c.cols() != 1)
    fail_shape(message(what, ": the context has ", c.cols(), " columns; it needs one per sample (", n,
                       ") or one for all"));
  return c;
}

template <direction Dir, class B, class DX, class DC>
batch_result<typename B::scalar_type, B::dim> run_conditional(const B& b, const Eigen::MatrixBase<DX>& xin,
                                                              const Eigen::MatrixBase<DC>& cin) {
  using S = typename B::scalar_type;
  constexpr int C = B::context_dim;
  const auto x = batch_view<B>(xin, Dir == direction::forward ? "forward" : "inverse");
  const Eigen::Index n = x.cols();
  const auto ctx = context_view<B>(cin, n, Dir == direction::forward ? "forward" : "inverse");
  batch_result<S, B::dim> out{batch_t<S, B::dim>(B::dim, n), row_t<S>(n)};
  const auto p = prepared_on_heap(b);
  const S c = detail::constant_part(*p);
  for_each_block(n, [&](Eigen::Index first, Eigen::Index count) {
    batch_t<S, B::dim> V = x.middleCols(first, count);
    const Eigen::Matrix<S, C, Eigen::Dynamic> cb = context_block<S, C>(ctx, first, count);
    row_t<S> ld = row_t<S>::Zero(count);
    eval_block<Dir>(*p, V, ld, &cb);
    out.values.middleCols(first, count) = V;
    out.log_det.segment(first, count) = ld.array() + (Dir == direction::forward ? c : -c);
  });
  return out;
}

}  // namespace detail

template <ConditionalBijector B, class DX, class DC>
batch_result<typename B::scalar_type, B::dim> forward_and_log_det(const B& b, const Eigen::MatrixBase<DX>& x,
                                                                  const Eigen::MatrixBase<DC>& context) {
  return detail::run_conditional<direction::forward>(b, x, context);
}
template <ConditionalBijector B, class DX, class DC>
batch_result<typename B::scalar_type, B::dim> inverse_and_log_det(const B& b, const Eigen::MatrixBase<DX>& y,
                                                                  const Eigen::MatrixBase<DC>& context) {
  return detail::run_conditional<direction::inverse>(b, y, context);
}
template <ConditionalBijector B, class DX, class DC>
batch_t<typename B::scalar_type, B::dim> forward(const B& b, const Eigen::MatrixBase<DX>& x,
                                                 const Eigen::MatrixBase<DC>& context) {
  return detail::run_conditional<direction::forward>(b, x, context).values;
}
template <ConditionalBijector B, class DX, class DC>
batch_t<typename B::scalar_type, B::dim> inverse(const B& b, const Eigen::MatrixBase<DX>& y,
                                                 const Eigen::MatrixBase<DC>& context) {
  return detail::run_conditional<direction::inverse>(b, y, context).values;
}

// log p(x_j | c_j) for every column j.
template <ConditionalDistribution Dist, class DX, class DC>
row_t<typename Dist::scalar_type> log_prob(const Dist& d, const Eigen::MatrixBase<DX>& x,
                                           const Eigen::MatrixBase<DC>& context) {
  using S = typename Dist::scalar_type;
  const auto r = inverse_and_log_det(d.transform, x, context);
  row_t<S> lp(r.values.cols());
  detail::for_each_column(r.values.cols(), [&](Eigen::Index j) {
    lp[j] = d.base.log_prob(vector_t<Dist>(r.values.col(j))) + r.log_det[j];
  });
  return lp;
}

// n samples of x | c: sample j draws its base point from philox_stream(seed, j) and
// reads context column j (or the one column for all). Values and log p(x | c).
template <ConditionalDistribution Dist, class DC>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist& d, Eigen::Index n,
                                                                        std::uint64_t seed,
                                                                        const Eigen::MatrixBase<DC>& context) {
  using S = typename Dist::scalar_type;
  if (n < 0) detail::fail_shape("sample: the number of samples is negative");
  batch_t<S, Dist::dim> z(Dist::dim, n);
  row_t<S> lz(n);
  detail::for_each_column(n, [&](Eigen::Index j) {
    philox_stream rng(seed, std::uint64_t(j));
    const vector_t<Dist> zj = d.base.sample(rng);
    z.col(j) = zj;
    lz[j] = d.base.log_prob(zj);
  });
  auto r = forward_and_log_det(d.transform, z, context);
  r.log_det = lz - r.log_det;
  return r;
}
template <ConditionalDistribution Dist, class DC>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      const Eigen::MatrixBase<DC>& context) {
  return sample_and_log_prob(d, n, seed, context).values;
}

}  // namespace flowtmpl
