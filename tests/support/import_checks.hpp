// The comparison of tests/unit/io/*_import_test.cpp: flowtmpl's values on a file exported
// from PyTorch against the library's own, per point.
#pragma once

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <vector>

namespace flowtmpl_test {

// |got - want| / max(1, |want|) per point (close()'s measure): the largest over the rows
// of a column; a NaN counts as infinite
inline std::vector<double> point_errors(const Eigen::MatrixXd& got, const Eigen::MatrixXd& want) {
  std::vector<double> e(std::size_t(want.cols()), 0.0);
  for (Eigen::Index j = 0; j < want.cols(); ++j)
    for (Eigen::Index i = 0; i < want.rows(); ++i) {
      const double d = std::abs(got(i, j) - want(i, j)) / std::max(1.0, std::abs(want(i, j)));
      e[std::size_t(j)] = std::isnan(d) ? INFINITY : std::max(e[std::size_t(j)], d);
    }
  return e;
}

// double: every point within 1e-12; float: the 99th percentile (nearest rank: all but
// 1 % of the points, rounded down, are at or below it) within 1e-5, every point within 1e-4
inline void check_errors(const char* what, const std::vector<double>& e, bool is_double) {
  std::vector<double> sorted = e;
  std::sort(sorted.begin(), sorted.end());
  const double worst = sorted.back();
  const double p99 = sorted[sorted.size() - 1 - sorted.size() / 100];
  INFO(what << ": largest error " << worst << ", 99th percentile " << p99 << " (" << e.size() << " points)");
  if (is_double) {
    CHECK(worst <= 1e-12);
  } else {
    CHECK(p99 <= 1e-5);
    CHECK(worst <= 1e-4);
  }
}

}  // namespace flowtmpl_test
