// flowtmpl/host/conditional_entry_points.hpp: the host batch entry points of
// conditional flows (flowtmpl/conditional.hpp). The context batch Ctx is C x N (one
// context per sample) or C x 1 (one for all), C the flow's context_dim; a wrong scalar
// or static row count is a compile-time diagnostic, a wrong run-time row or column
// count a shape_error naming the function called (detail::context_view, host/batch.hpp).
//   forward(b, X, Ctx [, mode]) / inverse(b, Y, Ctx [, mode])                -> D x N
//   forward_and_log_det(b, X, Ctx [, mode]) / inverse_and_log_det(b, Y, Ctx [, mode])
//   log_det(b, X, Ctx [, mode])                                              -> 1 x N
//   log_prob(d, X, Ctx [, mode])                                             -> 1 x N
//   sample(d, n, seed, Ctx [, T]) / sample_and_log_prob(d, n, seed, Ctx [, T])
// mode is flowtmpl::unchecked (the default) or flowtmpl::checked (host/checked_mode.hpp:
// sample by sample, the first problem throws domain_error naming the layer, the sample,
// the component and the value; a non-finite context component is one; for log_prob
// also a non-finite log density of the base distribution, or of the whole flow). T is a
// temperature, for a base that models TemperedDistribution. n and T are refused as in
// host/distribution_entry_points.hpp (n < 0 or too many values to index: shape_error;
// T not finite or below the smallest normal value of the scalar: argument_error),
// before anything is drawn.
// Unchecked, the transform runs layer by layer over blocks of 128 columns
// (host/block_path.hpp), in parallel; sample j draws its base point from
// philox_stream(seed, j) and reads context column j (or the one column). Each block
// copies its context columns.
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
#include "checked_mode.hpp"
#include "distribution_entry_points.hpp"
#include "parallel_loops.hpp"

namespace flowtmpl {

namespace detail {

// The context columns of a block: Ctx has n columns (one per sample) or one (shared).
template <class S, int C, class CtxRef>
Eigen::Matrix<S, C, Eigen::Dynamic> context_block(const CtxRef& ctx, Eigen::Index first, Eigen::Index count) {
  if (ctx.cols() == 1) return ctx.col(0).replicate(1, count);
  return ctx.middleCols(first, count);
}
template <class CtxRef>
Eigen::Index context_column(const CtxRef& ctx, Eigen::Index j) {
  return ctx.cols() == 1 ? 0 : j;
}

// The transform of a conditional flow over the columns of x in direction Dir; what
// names the function the user called, Named the type the user called it on (a flow
// distribution, for log_prob and sampling: the compile-time diagnostics name it).
// on_sample(j, value, log_det) after each sample in checked mode (host/bijector_entry_points.hpp).
template <direction Dir, class Named = void, class B, class DX, class DC, class Mode, class OnSample = no_sample_hook>
batch_result<typename B::scalar_type, B::dim> run_conditional(const B& b, const Eigen::MatrixBase<DX>& xin,
                                                              const Eigen::MatrixBase<DC>& cin, Mode, const char* what,
                                                              const OnSample& on_sample = {}) {
  require_exceptions_for<Mode>();
  using S = typename B::scalar_type;
  using N = std::conditional_t<std::is_void_v<Named>, B, Named>;
  constexpr int C = B::context_dim;
  const auto x = batch_view<N>(xin, what);
  const Eigen::Index n = x.cols();
  const auto ctx = context_view<N>(cin, n, what);
  batch_result<S, B::dim> out{batch_t<S, B::dim>(B::dim, n), row_t<S>(n)};
  if constexpr (std::is_same_v<Mode, checked_t>) {
#if FLOWTMPL_HAS_EXCEPTIONS
    for (Eigen::Index j = 0; j < n; ++j) {
      const context_t<B> c = ctx.col(context_column(ctx, j));
      const auto r = checked_sample(b, Dir, vector_t<B>(x.col(j)), long(j), c.data());
      out.values.col(j) = r.value;
      out.log_det[j] = r.log_det;
      on_sample(j, r.value, r.log_det);
    }
#endif
    (void)on_sample;
  } else {
    const auto p = prepared_for_call(b);
    const S c = detail::constant_part(*p);
    for_each_block(n, [&](Eigen::Index first, Eigen::Index count) {
      batch_t<S, B::dim> V = x.middleCols(first, count);
      const Eigen::Matrix<S, C, Eigen::Dynamic> cb = context_block<S, C>(ctx, first, count);
      row_t<S> ld = row_t<S>::Zero(count);
      eval_block<Dir>(*p, V, ld, &cb);
      out.values.middleCols(first, count) = V;
      out.log_det.segment(first, count) = ld.array() + (Dir == direction::forward ? c : -c);
    }, host_block_for(B::dim));
  }
  return out;
}

// The conditional draw of samples first, ..., first + n - 1: base points from
// philox_stream(seed, j) (at temperature T when given), then the transform forward with
// the context (n columns, or one for all). n and T are checked first.
template <class Dist, class DC, class... T>
batch_result<typename Dist::scalar_type, Dist::dim> draw_conditional_columns(const Dist& d, Eigen::Index first,
                                                                             Eigen::Index n, std::uint64_t seed,
                                                                             const Eigen::MatrixBase<DC>& context,
                                                                             const char* what, const T&... temperature) {
  using S = typename Dist::scalar_type;
  check_sample_count<Dist::dim, S>(n, what);
  (check_temperature(temperature, what), ...);
  (void)context_view<Dist>(context, n, what);  // before drawing anything
  batch_t<S, Dist::dim> z(Dist::dim, n);
  row_t<S> lz(n);
  for_each_column(n, [&](Eigen::Index j) {
    philox_stream rng(seed, std::uint64_t(first + j));
    const vector_t<Dist> zj = d.base.sample(rng, temperature...);
    z.col(j) = zj;
    lz[j] = d.base.log_prob(zj, temperature...);
  });
  auto r = run_conditional<direction::forward, Dist>(d.transform, z, context, unchecked, what);
  r.log_det = lz - r.log_det;
  return r;
}
template <class Dist, class DC, class... T>
batch_result<typename Dist::scalar_type, Dist::dim> draw_conditional(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                                     const Eigen::MatrixBase<DC>& context,
                                                                     const char* what, const T&... temperature) {
  return draw_conditional_columns(d, 0, n, seed, context, what, temperature...);
}

}  // namespace detail

template <ConditionalBijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> forward_and_log_det(const B& b, const Eigen::MatrixBase<DX>& x,
                                                                  const Eigen::MatrixBase<DC>& context,
                                                                  Mode mode = Mode{}) {
  return detail::run_conditional<direction::forward>(b, x, context, mode, "forward_and_log_det");
}
template <ConditionalBijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> inverse_and_log_det(const B& b, const Eigen::MatrixBase<DX>& y,
                                                                  const Eigen::MatrixBase<DC>& context,
                                                                  Mode mode = Mode{}) {
  return detail::run_conditional<direction::inverse>(b, y, context, mode, "inverse_and_log_det");
}
template <ConditionalBijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> forward(const B& b, const Eigen::MatrixBase<DX>& x,
                                                 const Eigen::MatrixBase<DC>& context, Mode mode = Mode{}) {
  return detail::run_conditional<direction::forward>(b, x, context, mode, "forward").values;
}
template <ConditionalBijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> inverse(const B& b, const Eigen::MatrixBase<DX>& y,
                                                 const Eigen::MatrixBase<DC>& context, Mode mode = Mode{}) {
  return detail::run_conditional<direction::inverse>(b, y, context, mode, "inverse").values;
}
template <ConditionalBijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
row_t<typename B::scalar_type> log_det(const B& b, const Eigen::MatrixBase<DX>& x, const Eigen::MatrixBase<DC>& context,
                                       Mode mode = Mode{}) {
  return detail::run_conditional<direction::forward>(b, x, context, mode, "log_det").log_det;
}

// log p(x_j | c_j) for every column j.
template <ConditionalDistribution Dist, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
row_t<typename Dist::scalar_type> log_prob(const Dist& d, const Eigen::MatrixBase<DX>& x,
                                           const Eigen::MatrixBase<DC>& context, Mode mode = Mode{}) {
  using S = typename Dist::scalar_type;
  // checked: the base density too, sample by sample (the first refusal is the first
  // sample with any problem)
  const auto base_check = [&](Eigen::Index j, const vector_t<Dist>& z, S ld) {
    detail::check_log_density(d.base, z, ld, j, "log_prob");
  };
  const auto r = detail::run_conditional<direction::inverse, Dist>(d.transform, x, context, mode, "log_prob", base_check);
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
  return detail::draw_conditional(d, n, seed, context, "sample_and_log_prob");
}
template <ConditionalDistribution Dist, class DC>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      const Eigen::MatrixBase<DC>& context) {
  return detail::draw_conditional(d, n, seed, context, "sample").values;
}
// At temperature T: the base's scale times T (log p is that of the tempered flow).
template <ConditionalDistribution Dist, class DC>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist& d, Eigen::Index n,
                                                                        std::uint64_t seed,
                                                                        const Eigen::MatrixBase<DC>& context,
                                                                        typename Dist::scalar_type temperature) {
  static_assert(detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  return detail::draw_conditional(d, n, seed, context, "sample_and_log_prob", temperature);
}
template <ConditionalDistribution Dist, class DC>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      const Eigen::MatrixBase<DC>& context,
                                                      typename Dist::scalar_type temperature) {
  static_assert(detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  return detail::draw_conditional(d, n, seed, context, "sample", temperature).values;
}

}  // namespace flowtmpl
