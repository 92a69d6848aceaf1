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

}  // namespace flowtmpl_test
