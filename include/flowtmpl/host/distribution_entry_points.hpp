// flowtmpl/host/distribution_entry_points.hpp: the host batch entry points of a
// distribution (a base distribution or a flow distribution):
//   log_prob(d, X [, mode])                 -> 1 x N   log p of every column of X
//   sample(d, n, seed [, T])                -> D x n
//   sample_and_log_prob(d, n, seed [, T])   -> {values, log_prob} (in log_det)
// Sample j draws from philox_stream(seed, j): it does not depend on n, the thread
// count or the backend. T is a temperature (the base's scale times T), for a base that
// models TemperedDistribution. A flow distribution's log_prob is the inverse pass
// (host/bijector_entry_points.hpp) plus the base's log density per column; sampling
// runs the forward pass per column, or over blocks of 256 for a transform on the block
// path. The results are allocated once per call, the prepared transform once.
#pragma once

#include <cstdint>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../errors.hpp"
#include "../random.hpp"
#include "batch.hpp"
#include "bijector_entry_points.hpp"
#include "block_path.hpp"
#include "checked_mode.hpp"
#include "parallel_loops.hpp"

namespace flowtmpl {

template <Distribution Dist, class Derived, detail::evaluation_mode Mode = unchecked_t>
row_t<typename Dist::scalar_type> log_prob(const Dist& d, const Eigen::MatrixBase<Derived>& xin, Mode mode = Mode{}) {
  using S = typename Dist::scalar_type;
  if constexpr (detail::is_flow_distribution<Dist>::value) {
    const auto r = inverse_and_log_det(d.transform, xin, mode);
    row_t<S> lp(r.values.cols());
    detail::for_each_column(r.values.cols(), [&](Eigen::Index j) {
      lp[j] = d.base.log_prob(vector_t<Dist>(r.values.col(j))) + r.log_det[j];
    });
    return lp;
  } else {
    const auto x = detail::batch_view<Dist>(xin, "log_prob");
    row_t<S> lp(x.cols());
    detail::for_each_column(x.cols(), [&](Eigen::Index j) { lp[j] = d.log_prob(vector_t<Dist>(x.col(j))); });
    return lp;
  }
}

namespace detail {

// A flow distribution whose transform takes the block path.
template <class Dist>
consteval bool flow_uses_blocks() {
  if constexpr (is_flow_distribution<Dist>::value)
    return uses_blocks<typename Dist::transform_type>();
  else
    return false;
}

// Samples first, ..., first + n - 1 of the stream of seed (sample j from
// philox_stream(seed, j)); a block-path flow evaluates them in blocks that start at
// column first (mpi/sampling.hpp starts them at a block boundary of the whole draw).
template <class Dist, class... T>
batch_result<typename Dist::scalar_type, Dist::dim> draw_columns(const Dist& d, Eigen::Index first_column,
                                                                 Eigen::Index n, std::uint64_t seed, bool with_lp,
                                                                 const T&... temperature) {
  using S = typename Dist::scalar_type;
  if (n < 0) fail_shape("sample: the number of samples is negative");
  batch_result<S, Dist::dim> out{batch_t<S, Dist::dim>(Dist::dim, n), row_t<S>(with_lp ? n : 0)};
  if constexpr (flow_uses_blocks<Dist>()) {
    const auto p = prepared_on_heap(d.transform);
    const S c = detail::constant_part(*p);
    for_each_block(n, [&](Eigen::Index first, Eigen::Index count) {
      batch_t<S, Dist::dim> V(Dist::dim, count);
      row_t<S> lz(count);
      for (Eigen::Index j = 0; j < count; ++j) {
        philox_stream rng(seed, std::uint64_t(first_column + first + j));
        const vector_t<Dist> z = d.base.sample(rng, temperature...);
        V.col(j) = z;
        if (with_lp) lz[j] = d.base.log_prob(z, temperature...);
      }
      row_t<S> ld = row_t<S>::Zero(count);
      eval_block<direction::forward>(*p, V, ld, static_cast<const batch_t<S, 1>*>(nullptr));
      out.values.middleCols(first, count) = V;
      if (with_lp) out.log_det.segment(first, count) = lz.array() - (ld.array() + c);
    }, host_block_for(Dist::dim));
  } else if constexpr (is_flow_distribution<Dist>::value) {
    const auto p = prepared_on_heap(d.transform);
    const S c = detail::constant_part(*p);
    for_each_column(n, [&](Eigen::Index j) {
      philox_stream rng(seed, std::uint64_t(first_column + j));
      const vector_t<Dist> z = d.base.sample(rng, temperature...);
      const auto r = detail::forward_varying(*p, z);
      out.values.col(j) = r.value;
      if (with_lp) out.log_det[j] = d.base.log_prob(z, temperature...) - (r.log_det + c);
    });
  } else {
    for_each_column(n, [&](Eigen::Index j) {
      philox_stream rng(seed, std::uint64_t(first_column + j));
      const vector_t<Dist> x = d.sample(rng, temperature...);
      out.values.col(j) = x;
      if (with_lp) out.log_det[j] = d.log_prob(x, temperature...);
    });
  }
  return out;
}
template <class Dist, class... T>
batch_result<typename Dist::scalar_type, Dist::dim> draw(const Dist& d, Eigen::Index n, std::uint64_t seed, bool with_lp,
                                                         const T&... temperature) {
  return draw_columns(d, 0, n, seed, with_lp, temperature...);
}

}  // namespace detail

template <Distribution Dist>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed) {
  return detail::draw(d, n, seed, false).values;
}
template <Distribution Dist>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      typename Dist::scalar_type temperature) {
  static_assert(detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  return detail::draw(d, n, seed, false, temperature).values;
}
// {samples, log_prob}: values and log_det (the log density) of the result.
template <Distribution Dist>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist& d, Eigen::Index n, std::uint64_t seed) {
  return detail::draw(d, n, seed, true);
}
template <Distribution Dist>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                                        typename Dist::scalar_type temperature) {
  static_assert(detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  return detail::draw(d, n, seed, true, temperature);
}

}  // namespace flowtmpl
