// flowtmpl/testing/bad_input_options.hpp: the settings and the report of the bad-input
// sweep (testing/bad_input.hpp).
//   bad_input_options<S>   more input classes (add_spline: a spline's bounds and knots),
//                          the unchecked finite bound (narrowed only with a reason), the
//                          agreement tolerance, the large batch, the components swept,
//                          the seed and the ordinary contexts' range
//   bad_input_report       the tallies (report.hpp), every failure as one line
//                          ("check: family, entry point | mode | input ...: result"), and
//                          per entry point, mode and input class what happened
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../detail/eigen.hpp"

#include "report.hpp"

namespace flowtmpl::testing {

template <class S>
struct bad_input_options {
  std::vector<S> extra_values;  // more input classes, placed as the built-in ones
  // Above this magnitude unchecked non-finite results are allowed (checked mode must
  // still refuse them); narrowed only with a reason (bound_unchecked_finite).
  S unchecked_finite_bound = std::numeric_limits<S>::max();
  std::string unchecked_finite_reason;
  S agreement_tol = sizeof(S) == 4 ? S(1e-4) : S(1e-10);
  Eigen::Index large_batch = 5000;
  int max_components = 8;  // components a value is placed in one at a time (evenly spread)
  std::uint64_t seed = 2024;
  S context_lo = S(-1), context_hi = S(1);  // ordinary contexts, uniform

  void bound_unchecked_finite(S bound, std::string reason) {
    unchecked_finite_bound = bound;
    unchecked_finite_reason = std::move(reason);
  }
  // A bounded spline on [-B, B] with K bins: +-B, one value inside and outside each, and
  // the knots -B + 2 B k / K (where the bins have equal widths: the identity start).
  void add_spline(S B, int K) {
    for (S b : {B, -B}) {
      extra_values.push_back(b);
      extra_values.push_back(std::nextafter(b, S(0)));
      extra_values.push_back(std::nextafter(b, b * S(2)));
    }
    for (int k = 1; k < K; ++k) extra_values.push_back(-B + S(2) * B * S(k) / S(K));
  }
};

struct bad_input_report {
  std::string family;
  report checks;
  std::vector<std::string> outcomes;  // "entry | mode | input: result"
  std::vector<std::string> failures;  // every failure, "check: family, entry | mode | input ...: result"
  bool ok() const { return checks.ok(); }
  std::string text() const {
    std::string s = family + ": " + checks.text();
    if (!ok())
      for (const auto& o : outcomes) s += "  outcome: " + o + "\n";
    return s;
  }
};

}  // namespace flowtmpl::testing
