// Helpers shared by the unit tests.
#pragma once

#include <flowtmpl/errors.hpp>

#include <optional>
#include <vector>

namespace flowtmpl_test {

// `values.size()` rows of length d, row r being values[r], values[r + 1], ... (cyclic):
// every value appears in every component.
template <class S>
std::vector<std::vector<S>> cycled_rows(int d, const std::vector<S>& values) {
  std::vector<std::vector<S>> rows;
  for (std::size_t r = 0; r < values.size(); ++r) {
    std::vector<S> row;
    for (int i = 0; i < d; ++i) row.push_back(values[(r + std::size_t(i)) % values.size()]);
    rows.push_back(row);
  }
  return rows;
}

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

}  // namespace flowtmpl_test
