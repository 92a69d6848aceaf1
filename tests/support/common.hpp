// tests/support/common.hpp: small helpers shared by the unit tests: rows of values for
// the conformance kit's sweeps and a narrowing of its sweep for layers whose outputs
// grow like a power of the input, the domain_error a call throws, a tolerance of a few
// units in the last place, and non-trivial parameters for D = 4 layers.
#pragma once

#include <flowtmpl/direction.hpp>
#include <flowtmpl/errors.hpp>
#include <flowtmpl/testing/options.hpp>
#include <flowtmpl/testing/sweep.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

namespace flowtmpl_test {

// `values.size()` rows of length d, row r being values[r], values[r + 1], ... (cyclic):
// every value appears in every component (the kit's own, which its sweep uses).
using flowtmpl::testing::cycled_rows;

// The flowtmpl::domain_error that f() throws, or nothing.
template <class F>
std::optional<flowtmpl::domain_error> domain_error_from(F&& f) {
  try {
    f();
  } catch (const flowtmpl::domain_error& e) {
    return e;
  }
  return std::nullopt;
}

// A relative tolerance of a few units in the last place.
template <class S>
S rel_tol() {
  return sizeof(S) == 4 ? S(1e-6) : S(1e-14);
}

// Non-trivial parameters for D = 4 layers, shared by the core tests.
template <class L>
void set_actnorm(L& a) {
  using S = typename L::scalar_type;
  a.log_scale = {S(0.3), S(-0.2), S(0.1), S(0.4)};
  a.shift = {S(0.5), S(-1.0), S(0.25), S(0.0)};
}
template <class L>
void set_affine(L& a) {
  using S = typename L::scalar_type;
  a.log_scale = {S(-0.1), S(0.2), S(0.3), S(-0.25)};
  a.shift = {S(0.3), S(0.1), S(-0.2), S(0.4)};
}
template <class L>
void set_luconv(L& b) {
  using S = typename L::scalar_type;
  b.lower_entries = {S(0.3), S(-0.2), S(0.5), S(0.1), S(0.4), S(-0.3)};
  b.upper_entries = {S(0.2), S(-0.1), S(0.3), S(0.25), S(-0.4), S(0.15)};
  b.diag = {S(0.1), S(-0.2), S(0.3), S(0.05)};
  b.bias = {S(0.1), S(0.2), S(-0.3), S(0.4)};
  b.set_permutation({2, 0, 3, 1});
  b.set_signs({S(1), S(-1), S(1), S(1)});
}

// A layer whose outputs grow like the degree-th power of its input in direction dir
// (SoftplusAffine's scale grows without bound with the conditioning values: in a
// coupling layer the outputs grow like x^2; in an autoregressive layer whose
// conditioning values are its own earlier outputs, output i like x^(i + 1)) overflows,
// its true values beyond max, where |x| passes about max^(1 / degree): the kit's sweep
// of dir stops at max^(1 / degree) / 1000 (the conditioners' weights multiply too), for
// `reason`.
template <class S>
void narrow_to_power(flowtmpl::testing::options<S>& opt, flowtmpl::direction dir, int degree,
                     const std::string& reason) {
  const S r = S(std::pow(double(std::numeric_limits<S>::max()), 1.0 / degree) * 1e-3);
  opt.narrow_sweep(dir, -r, r, reason + " (the sweep stops at max^(1/" + std::to_string(degree) + ") / 1000)");
}

}  // namespace flowtmpl_test
