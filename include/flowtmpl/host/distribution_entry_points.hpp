// flowtmpl/host/distribution_entry_points.hpp: the host batch entry points of a
// distribution (a base distribution or a flow distribution):
//   log_prob(d, X [, mode])                 -> 1 x N   log p of every column of X
//   sample(d, n, seed [, T])                -> D x n
//   sample_and_log_prob(d, n, seed [, T])   -> {values, log_prob} (in log_det)
// Sample j draws from philox_stream(seed, j): it does not depend on n, the thread
// count or the backend. T is a temperature (the base's scale times T), for a base that
// models TemperedDistribution. A flow distribution's log_prob is the inverse pass
// (host/bijector_entry_points.hpp) plus the base's log density per column; sampling
// runs the forward pass per column, or over blocks of 128 for a transform on the block
// path. The results are allocated once per call, the prepared transform once.
// Arguments (refused before anything is drawn, in one sentence naming the function):
//   n      0 <= n, and D n values within what one Eigen matrix can index (shape_error);
//          a count that can be indexed but not allocated throws std::bad_alloc
//   T      finite and at least the smallest normal value of the scalar (FLT_MIN,
//          DBL_MIN; argument_error): 0, a negative, NaN, inf and subnormal temperatures
//          (whose draws lose precision, down to all zeros) are refused. The draws are T times the
//          base's scale times a standard normal: where that product overflows the
//          scalar (T near its largest value) the values are +-inf and their log density
//          -inf, as for any draw that overflows.
// Checked log_prob (mode flowtmpl::checked, host/checked_mode.hpp) also throws
// domain_error where the base distribution's log density of a sample is not finite
// (an output of the transform far out in the base's tails: float inputs near 1e30
// overflow -x^2 / 2; a point outside a Uniform base), or where it plus the log-det is
// not: never a non-finite log density without an exception. For a base distribution
// itself, checked log_prob refuses a non-finite input and a non-finite log density.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

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

namespace detail {

// The name of a base distribution in checked mode's messages.
template <class Base>
std::string base_label() {
  if constexpr (requires { Base::name; })
    return message("base distribution (", Base::name, ")");
  else
    return "base distribution";
}

// Checked log_prob of a flow distribution, sample j: its log density finite, else a
// domain_error naming the sample and whether the base's log density or its sum with
// the log-det is the one that is not. z: the transform's output (the base's point).
template <class Base, class Z, class S>
void check_log_density(const Base& base, const Z& z, S log_det, Eigen::Index j, const char* what) {
  const S lb = base.log_prob(Eigen::Matrix<S, Base::dim, 1>(z));
  const S lp = lb + log_det;
  if (std::isfinite(double(lp))) return;
  Eigen::Index i = 0;
  z.cwiseAbs().maxCoeff(&i);
  if (!std::isfinite(double(lb)))
    fail_domain(message(what, ", sample ", j, ": the ", base_label<Base>(), "'s log density is ", lb,
                        " at the transform's output, whose largest component is ", z[i], " (component ", i, ")"),
                base_label<Base>(), long(j), int(i), double(lb));
  fail_domain(message(what, ", sample ", j, ": the log density is ", lp, ", the ", base_label<Base>(), "'s log density ",
                      lb, " plus the transform's log-det ", log_det),
              base_label<Base>(), long(j), -1, double(lp));
}

}  // namespace detail

template <Distribution Dist, class Derived, detail::evaluation_mode Mode = unchecked_t>
row_t<typename Dist::scalar_type> log_prob(const Dist& d, const Eigen::MatrixBase<Derived>& xin, Mode mode = Mode{}) {
  using S = typename Dist::scalar_type;
  detail::require_exceptions_for<Mode>();
  constexpr bool checked_mode = std::is_same_v<Mode, checked_t>;
  if constexpr (detail::is_flow_distribution<Dist>::value) {
    // checked: the base density too, sample by sample (the first refusal is the first
    // sample with any problem)
    const auto base_check = [&](Eigen::Index j, const vector_t<Dist>& z, S ld) {
      detail::check_log_density(d.base, z, ld, j, "log_prob");
    };
    const auto r = detail::run_bijector<direction::inverse>(d.transform, xin, mode, "log_prob", base_check);
    row_t<S> lp(r.values.cols());
    detail::for_each_column(r.values.cols(), [&](Eigen::Index j) {
      lp[j] = d.base.log_prob(vector_t<Dist>(r.values.col(j))) + r.log_det[j];
    });
    return lp;
  } else {
    const auto x = detail::batch_view<Dist>(xin, "log_prob");
    row_t<S> lp(x.cols());
    if constexpr (checked_mode) {
#if FLOWTMPL_HAS_EXCEPTIONS
      for (Eigen::Index j = 0; j < x.cols(); ++j) {
        const vector_t<Dist> xj = x.col(j);
        detail::check_finite("input", xj.data(), Dist::dim, long(j));
        lp[j] = d.log_prob(xj);
        if (!std::isfinite(double(lp[j])))
          detail::fail_domain(detail::message("log_prob, sample ", j, ": the ", detail::base_label<Dist>(),
                                              "'s log density is ", lp[j]),
                              detail::base_label<Dist>(), long(j), -1, double(lp[j]));
      }
#endif
    } else {
      detail::for_each_column(x.cols(), [&](Eigen::Index j) { lp[j] = d.log_prob(vector_t<Dist>(x.col(j))); });
    }
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

// The arguments of a sampling call (what: the function the user called), refused
// before anything is drawn: see the top of this header.
template <int D, class S>
void check_sample_count(Eigen::Index n, const char* what) {
  constexpr Eigen::Index most = std::numeric_limits<Eigen::Index>::max() / Eigen::Index(sizeof(S)) / D;
  if (n < 0) fail_shape(message(what, ": the number of samples is ", n, "; it must be at least 0"));
  if (n > most)
    fail_shape(message(what, ": ", n, " samples of dimension ", D, " are more values than one batch can index (at most ",
                       most, " samples)"));
}
template <class S>
void check_temperature(S temperature, const char* what) {
  if (!(std::isfinite(temperature) && temperature >= std::numeric_limits<S>::min()))
    fail_argument(message(what, ": the temperature is ", temperature, "; it must be finite and positive, at least ",
                          std::numeric_limits<S>::min(), " (the smallest normal ",
                          std::is_same_v<S, float> ? "float" : "double", ")"));
}

// Samples first, ..., first + n - 1 of the stream of seed (sample j from
// philox_stream(seed, j)); a block-path flow evaluates them in blocks that start at
// column first (mpi/sampling.hpp starts them at a block boundary of the whole draw).
template <class Dist, class... T>
batch_result<typename Dist::scalar_type, Dist::dim> draw_columns(const Dist& d, Eigen::Index first_column,
                                                                 Eigen::Index n, std::uint64_t seed, bool with_lp,
                                                                 const T&... temperature) {
  using S = typename Dist::scalar_type;
  batch_result<S, Dist::dim> out{batch_t<S, Dist::dim>(Dist::dim, n), row_t<S>(with_lp ? n : 0)};
  if constexpr (flow_uses_blocks<Dist>()) {
    const auto p = prepared_for_call(d.transform);
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
    const auto p = prepared_for_call(d.transform);
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
// A whole draw, its arguments checked first.
template <class Dist, class... T>
batch_result<typename Dist::scalar_type, Dist::dim> draw(const Dist& d, Eigen::Index n, std::uint64_t seed, bool with_lp,
                                                         const char* what, const T&... temperature) {
  check_sample_count<Dist::dim, typename Dist::scalar_type>(n, what);
  (check_temperature(temperature, what), ...);
  return draw_columns(d, 0, n, seed, with_lp, temperature...);
}

}  // namespace detail

template <Distribution Dist>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed) {
  return detail::draw(d, n, seed, false, "sample").values;
}
template <Distribution Dist>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      typename Dist::scalar_type temperature) {
  static_assert(detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  return detail::draw(d, n, seed, false, "sample", temperature).values;
}
// {samples, log_prob}: values and log_det (the log density) of the result.
template <Distribution Dist>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist& d, Eigen::Index n, std::uint64_t seed) {
  return detail::draw(d, n, seed, true, "sample_and_log_prob");
}
template <Distribution Dist>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                                        typename Dist::scalar_type temperature) {
  static_assert(detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  return detail::draw(d, n, seed, true, "sample_and_log_prob", temperature);
}

}  // namespace flowtmpl
