// flowtmpl/testing/bad_input.hpp: the bad-input sweep of the host entry points, for a
// flow distribution (conditional or not) or a bound bijector (then without log_prob and
// sampling); host only.
//
//   auto rep = flowtmpl::testing::sweep_bad_inputs("RealNVP <float>", flow, opt);
//   if (!rep.ok()) for (const auto& line : rep.failures) std::cerr << line << "\n";
//
// It calls forward, inverse, forward_and_log_det, inverse_and_log_det, log_det (of the
// transform) and log_prob, unchecked and checked, on batches, and the per-sample members
// (forward, inverse, log_det, forward_and_log_det, inverse_and_log_det, log_prob) on each
// column. The input classes: nan, +-inf, +-max, +-1e30 (float) / +-1e300 (double),
// +-denorm_min, +-min, +-0 and options.extra_values (add_spline: +-B, one value inside and
// outside each, the equal-width knots). Each is placed in every component of one column
// and in one component at a time (max_components of them), between ordinary columns
// (uniform in [-3, 3] cut to the forward domain, 2% inside its ends; the inverse side's
// are their images); for a conditional flow also in the contexts. The contract, one
// check each:
//   checked.refuses    checked mode returns only finite values, or throws domain_error
//   checked.message    ... whose what() names its layer (e.layer: the layer's label,
//                      "input", "context" or the base distribution), "sample j" and the
//                      quantity (a component, the log-det, the log density, a solve), and
//                      whose e.sample is the first column refused when evaluated alone,
//                      one that holds a bad input
//   unchecked.agrees   where checked mode accepts a column, the unchecked batch value and
//                      the per-sample member's are finite and equal to checked mode's
//                      within agreement_tol relative to max(1, |value|) (not bitwise: the
//                      batch path sums networks over blocks of 128 in another order; the
//                      largest distance seen, in ulp and relative, is in the notes)
//   unchecked.finite   a column of finite values inside the declared domain (the first
//                      layer's, testing/sweep.hpp's domain_of) with every |value| <=
//                      unchecked_finite_bound (default max), and contexts within it, gives
//                      finite unchecked batch and per-sample results; a bound below max
//                      needs a reason (bound_unchecked_finite), else this check fails
//   isolation          an ordinary column of a batch gives bitwise what it gives when the
//                      bad columns are replaced by ordinary ones (inputs and contexts; for
//                      a conditional draw, nan and inf contexts at columns 255 and 256)
//   batch_size         0, 1, 2 and 257 columns: the right shape, finite, and column j as
//                      in a batch of large_batch columns (checked: bitwise; unchecked:
//                      within agreement_tol); unchecked 257 columns within agreement_tol
//                      of checked mode
//   shape              (Layouts) a dynamic-size batch of D + 1, D - 1 or 0 rows, a context
//                      of C + 1 or C - 1 rows or of 4 columns for 3: shape_error whose
//                      what() starts with the called function's name and a colon
//   views              (Layouts) a Map with an outer stride, one with an inner stride,
//                      .block(), .middleCols() and a row-major matrix (and a row-major
//                      context) give bitwise the plain matrix's results, through forward,
//                      inverse_and_log_det and log_prob, unchecked
//   one_context        (Layouts) a C x 1 context gives bitwise what its n copies give
//   sample             sample / sample_and_log_prob: finite where the base point is in the
//                      forward domain (large_batch draws), the values of both bitwise
//                      equal, column j within agreement_tol of the large draw's; n = -1
//                      (shape_error) and a temperature that is nan, inf, 0 or -1
//                      (argument_error) refused, starting with the function's name
//   no_exception       nothing else throws
// Layouts = false leaves out shape, views and one_context (how a batch is taken in does
// not depend on the scalar; they are about a fifth of the sweep's compile time).
// report.failures has one line per failure: "check: family, entry point | mode | input |
// column j (its values) | path: result"; report.outcomes, per entry point, mode and input
// class, what happened (finite, refused with the message, how many columns finite).
// Cost: per entry point and input class about 4 (3 + max_components) sample evaluations,
// plus 2 large_batch columns unchecked per entry point and 257 checked.
#pragma once

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "bad_input_options.hpp"
#include "bad_input_sweeper.hpp"

namespace flowtmpl::testing {

namespace detail {

template <class S>
std::vector<std::pair<std::string, S>> input_classes(const std::vector<S>& extra) {
  using lim = std::numeric_limits<S>;
  const S huge = sizeof(S) == 4 ? S(1e30) : S(1e300);
  std::vector<std::pair<std::string, S>> v{
      {"nan", lim::quiet_NaN()}, {"+inf", lim::infinity()}, {"-inf", -lim::infinity()}, {"+max", lim::max()},
      {"lowest", lim::lowest()}, {message("+", double(huge)), huge}, {message("-", double(huge)), -huge},
      {"+denorm_min", lim::denorm_min()}, {"-denorm_min", -lim::denorm_min()}, {"+min", lim::min()},
      {"-min", -lim::min()}, {"+0", S(0)}, {"-0", -S(0)}};
  for (S x : extra) v.push_back({message("extra ", double(x)), x});
  return v;
}

}  // namespace detail

// The sweep (see the top of this file) of d, a flow distribution (bind_t<Flow<...>, D, S>,
// conditional or not) or a bound bijector (then without log_prob and sampling); `family`
// starts every line of the report.
template <class T, bool Layouts = true>
bad_input_report sweep_bad_inputs(const std::string& family, const T& d, const bad_input_options<typename T::scalar_type>& opt = {}) {
  using S = typename T::scalar_type;
  bad_input_report rep;
  rep.family = family;
  detail::sweeper<T> sw{d, opt, rep};
  sw.fail("unchecked.finite", opt.unchecked_finite_bound == std::numeric_limits<S>::max() || !opt.unchecked_finite_reason.empty(),
          "the unchecked finite bound is narrowed without a reason");
  if (opt.unchecked_finite_bound != std::numeric_limits<S>::max())
    rep.checks.note(detail::message("unchecked results may be non-finite above ", double(opt.unchecked_finite_bound), ": ",
                                    opt.unchecked_finite_reason));
  const auto classes = detail::input_classes(opt.extra_values);
  // a step that throws what it should not is a failure; the sweep goes on with the next
  auto guarded = [&](const std::string& step, auto&& f) {
    try {
      f();
    } catch (const std::exception& ex) {
      sw.fail("no_exception", false, step + ": threw " + ex.what());
    }
  };
  for (const auto e : detail::entries_of<T>()) {
    const std::string name = detail::entry_name(e);
    for (const auto& [label, v] : classes) {
      guarded(name + " | input " + label, [&] { sw.place(e, label, v, false); });
      if constexpr (context_dim_of<T>() > 0) guarded(name + " | context " + label, [&] { sw.place(e, label, v, true); });
    }
    guarded(name + " | unchecked sizes", [&] { sw.sizes(e, unchecked, "unchecked"); });
    guarded(name + " | checked sizes", [&] { sw.sizes(e, checked, "checked"); });
    if constexpr (Layouts) {
      guarded(name + " | unchecked layouts", [&] { sw.layouts(e, unchecked, "unchecked"); });
      guarded(name + " | checked layouts", [&] { sw.layouts(e, checked, "checked"); });
    }
  }
  guarded("sampling", [&] { sw.sampling(); });
  rep.checks.note(detail::message("checked against unchecked and per-sample values: at most ", sw.worst_ulp, " ulp, ",
                                  sw.worst_rel, " relative"));
  return rep;
}

}  // namespace flowtmpl::testing
