// tests/unit/hardening/hardening.hpp: what the bad-input sweeps of every family
// (unit/hardening/*_test.cpp) share: parameters drawn away from the identity start, and
// the sweep run with its whole report printed when it fails.
#pragma once

#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing/bad_input.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <iostream>
#include <string>
#include <type_traits>

namespace flowtmpl_test {

namespace ft = flowtmpl;

// reset_parameters(seed, init::uniform), then every parameter that is not a state block
// moved by a uniform draw in [-scale, scale]: no layer keeps its identity start (ActNorm,
// LUConv, Planar and Radial have no drawn start of their own). Scale 0 for MADE: the
// weights its masks forbid must stay 0 (init::uniform draws every layer of it already).
template <class F>
F drawn(std::uint64_t seed, double scale = 0.1) {
  F f;
  ft::reset_parameters(f, seed, ft::init::uniform);
  if (scale == 0) return f;
  ft::philox_stream rng(seed, 1);
  ft::for_each_parameter(f, [&](const std::string& name, auto* p, std::size_t k) {
    using S = std::remove_cvref_t<decltype(*p)>;
    if (ft::is_state_parameter(name)) return;
    for (std::size_t i = 0; i < k; ++i) p[i] += S(scale) * (S(2) * rng.uniform<S>() - S(1));
  });
  return f;
}

// A flow distribution's finite range (docs/robustness.md): its log density is finite
// while the base's -|z|^2 / 2 is, |z| below sqrt(2 max) (1.8e19 in float, 1.3e154 in
// double), and the layers carry an input further out (a network's sums, LUConv's W x, a
// coupling's shift): the sweep's +-1e30 (float), +-1e300 (double) and +-max are outside
// it, where unchecked results may overflow and checked mode must refuse them. Inside it,
// +-1e12 (float) and +-1e100 (double) are swept as well.
template <class S>
void within_flow_range(ft::testing::bad_input_options<S>& opt) {
  if (opt.unchecked_finite_bound != std::numeric_limits<S>::max()) return;  // a family's own
  opt.bound_unchecked_finite(std::sqrt(std::numeric_limits<S>::max()) / S(1000),
                             "a flow's log density is finite while the base's -|z|^2 / 2 is (|z| below sqrt(2 max)), "
                             "and its layers carry large inputs further out (docs/robustness.md)");
  const S large = sizeof(S) == 4 ? S(1e12) : S(1e100);
  opt.extra_values.push_back(large);
  opt.extra_values.push_back(-large);
}

// The sweep of f (a flow distribution's within its finite range); on failure the tallies
// and every failing line (family, entry point, mode, input, result) are printed,
// unwrapped, to stderr.
template <class F>
void require_clean_sweep(const std::string& family, const F& f,
                         ft::testing::bad_input_options<typename F::scalar_type> opt = {}) {
  if constexpr (requires { f.base; }) within_flow_range(opt);
  const std::string name = family + (sizeof(typename F::scalar_type) == 4 ? " <float>" : " <double>");
  // the layout checks (wrong shapes, strided and row-major views, one context for all)
  // in double only: how a batch is taken in does not depend on the scalar, and they are
  // a fifth of the sweep's compile time
  constexpr bool layouts = std::is_same_v<typename F::scalar_type, double>;
  const auto rep = ft::testing::sweep_bad_inputs<F, layouts>(name, f, opt);
  INFO(name << ": " << rep.checks.text());
  // one line per failure, unwrapped (Catch wraps its messages)
  for (const auto& line : rep.failures) std::cerr << "FAILED " << line << "\n";
  CHECK(rep.checks.checks() > 500);  // the sweep ran
  CHECK(rep.failures.empty());
  CHECK(rep.ok());
}

}  // namespace flowtmpl_test
