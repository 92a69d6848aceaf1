// flowtmpl/host/bijector_entry_points.hpp: the host batch entry points of a bound
// bijector (samples are the columns of X, D x N; see flowtmpl/host.hpp):
//   forward(b, X [, mode]) / inverse(b, Y [, mode])          -> D x N
//   forward_and_log_det(b, X [, mode]) / inverse_and_log_det  -> {values, log_det}
//   log_det(b, X [, mode])                                    -> 1 x N
// mode is flowtmpl::unchecked (the default) or flowtmpl::checked (host/checked_mode.hpp).
// Unchecked: the bijector is prepared once per call (one heap allocation), the constant
// part of the log-det computed once, then the columns run in parallel blocks of 128:
// whole chains per column, or layer by layer over a block (host/block_path.hpp) when a
// layer has a conditioner. forward and inverse without the log-det skip it altogether
// on the per-column path. The results are allocated once per call.
#pragma once

#include <type_traits>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "batch.hpp"
#include "block_path.hpp"
#include "checked_mode.hpp"
#include "parallel_loops.hpp"

namespace flowtmpl {

namespace detail {

// A checked evaluation's hook after each sample (log_prob checks the base density
// there, so that the first sample refused is the first with any problem).
struct no_sample_hook {
  template <class... A>
  void operator()(const A&...) const {}
};

// what: the entry point the user called, for shape errors (default: forward / inverse);
// on_sample(j, value, log_det) after each sample in checked mode
template <direction Dir, Bijector B, class Derived, class Mode, class OnSample = no_sample_hook>
batch_result<typename B::scalar_type, B::dim> run_bijector(const B& b, const Eigen::MatrixBase<Derived>& xin, Mode,
                                                           const char* what = nullptr,
                                                           const OnSample& on_sample = {}) {
  require_exceptions_for<Mode>();
  using S = typename B::scalar_type;
  const auto x = batch_view<B>(xin, what ? what : Dir == direction::forward ? "forward" : "inverse");
  const Eigen::Index n = x.cols();
  batch_result<S, B::dim> out{batch_t<S, B::dim>(B::dim, n), row_t<S>(n)};
  if constexpr (std::is_same_v<Mode, checked_t>) {
#if FLOWTMPL_HAS_EXCEPTIONS
    for (Eigen::Index j = 0; j < n; ++j) {
      const auto r = checked_sample(b, Dir, vector_t<B>(x.col(j)), long(j));
      out.values.col(j) = r.value;
      out.log_det[j] = r.log_det;
      on_sample(j, r.value, r.log_det);
    }
#endif
    (void)on_sample;
  } else if constexpr (uses_blocks<B>()) {
    const auto p = prepared_for_call(b);
    const S c = detail::constant_part(*p);
    for_each_block(n, [&](Eigen::Index first, Eigen::Index count) {
      batch_t<S, B::dim> V = x.middleCols(first, count);
      row_t<S> ld = row_t<S>::Zero(count);
      eval_block<Dir>(*p, V, ld, static_cast<const batch_t<S, 1>*>(nullptr));
      out.values.middleCols(first, count) = V;
      out.log_det.segment(first, count) = ld.array() + (Dir == direction::forward ? c : -c);
    }, host_block_for(B::dim));
  } else {
    const auto p = prepared_for_call(b);
    const S c = detail::constant_part(*p);
    for_each_column(n, [&](Eigen::Index j) {
      const vector_t<B> v = x.col(j);
      if constexpr (Dir == direction::forward) {
        const auto r = detail::forward_varying(*p, v);
        out.values.col(j) = r.value;
        out.log_det[j] = r.log_det + c;
      } else {
        const auto r = detail::inverse_varying(*p, v);
        out.values.col(j) = r.value;
        out.log_det[j] = r.log_det - c;
      }
    });
  }
  return out;
}

}  // namespace detail

template <Bijector B, class Derived, detail::evaluation_mode Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> forward_and_log_det(const B& b, const Eigen::MatrixBase<Derived>& x,
                                                                  Mode mode = Mode{}) {
  return detail::run_bijector<direction::forward>(b, x, mode, "forward_and_log_det");
}
template <Bijector B, class Derived, detail::evaluation_mode Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> inverse_and_log_det(const B& b, const Eigen::MatrixBase<Derived>& y,
                                                                  Mode mode = Mode{}) {
  return detail::run_bijector<direction::inverse>(b, y, mode, "inverse_and_log_det");
}

namespace detail {

// Values only, no log-det: the unchecked path skips the log-dets altogether.
template <direction Dir, Bijector B, class Derived, class Mode>
batch_t<typename B::scalar_type, B::dim> run_values(const B& b, const Eigen::MatrixBase<Derived>& in, Mode mode) {
  if constexpr (std::is_same_v<Mode, checked_t> || uses_blocks<B>()) {
    return run_bijector<Dir>(b, in, mode).values;
  } else {
    const auto x = batch_view<B>(in, Dir == direction::forward ? "forward" : "inverse");
    batch_t<typename B::scalar_type, B::dim> out(B::dim, x.cols());
    const auto p = prepared_for_call(b);
    for_each_column(x.cols(), [&](Eigen::Index j) {
      const vector_t<B> v = x.col(j);
      if constexpr (Dir == direction::forward)
        out.col(j) = p->forward(v);
      else
        out.col(j) = p->inverse(v);
    });
    return out;
  }
}

}  // namespace detail

template <Bijector B, class Derived, detail::evaluation_mode Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> forward(const B& b, const Eigen::MatrixBase<Derived>& x, Mode mode = Mode{}) {
  return detail::run_values<direction::forward>(b, x, mode);
}
template <Bijector B, class Derived, detail::evaluation_mode Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> inverse(const B& b, const Eigen::MatrixBase<Derived>& y, Mode mode = Mode{}) {
  return detail::run_values<direction::inverse>(b, y, mode);
}
template <Bijector B, class Derived, detail::evaluation_mode Mode = unchecked_t>
row_t<typename B::scalar_type> log_det(const B& b, const Eigen::MatrixBase<Derived>& x, Mode mode = Mode{}) {
  return detail::run_bijector<direction::forward>(b, x, mode, "log_det").log_det;
}

}  // namespace flowtmpl
