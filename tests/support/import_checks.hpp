// What tests/unit/io/*_import_test.cpp share: flowtmpl's values on a file exported from
// PyTorch against the library's own, per point, and the check of one fixture file.
#pragma once

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/safetensors.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "reference_data.hpp"

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

inline std::string data_path(const std::string& file) { return std::string(FLOWTMPL_TEST_DATA_DIR) + "/" + file; }

// rows of R numbers as the columns of an R x n matrix
template <int R>
Eigen::Matrix<double, R, Eigen::Dynamic> columns(const nlohmann::json& rows) {
  const bool all_r = std::all_of(rows.begin(), rows.end(), [](const nlohmann::json& r) { return r.size() == R; });
  REQUIRE(all_r);
  Eigen::Matrix<double, R, Eigen::Dynamic> m(R, Eigen::Index(rows.size()));
  for (std::size_t j = 0; j < rows.size(); ++j)
    for (std::size_t i = 0; i < std::size_t(R); ++i) m(Eigen::Index(i), Eigen::Index(j)) = rows[j][i].get<double>();
  return m;
}

// the context components a flow reads, 0 for none
template <class Flow>
constexpr int context_dim_of() {
  if constexpr (requires { Flow::context_dim; })
    return int(Flow::context_dim);
  else
    return 0;
}

// One exported file of a fixture set `all` (the JSON of make_import_fixtures.py or
// make_nflows_fixtures.py: "points", "noise", "contexts", "noise_contexts", and per file
// cpp_type, dtype, context, log_prob, samples): the exporter's C++ type is type_text,
// the file loads into Flow, and log_prob(flow, x[, c]) and forward(flow.transform, z[, c])
// (context j with column j) agree with the library's numbers (check_errors). A float
// flow gets the recorded doubles rounded to float, as the reference was computed.
template <class Flow>
void check_import_file(const nlohmann::json& all, const std::string& file, const char* type_text) {
  using S = typename Flow::scalar_type;
  constexpr bool is_double = std::is_same_v<S, double>;
  constexpr int C = context_dim_of<Flow>();
  constexpr int D = Flow::dim;
  INFO("tests/data/" << file);
  REQUIRE(all.at("files").contains(file));
  const nlohmann::json& entry = all.at("files").at(file);
  CHECK(entry.at("cpp_type").get<std::string>() == type_text);
  CHECK(entry.at("dtype").get<std::string>() == (is_double ? "float64" : "float32"));
  CHECK(entry.at("context").get<int>() == C);

  Flow flow;
  REQUIRE_NOTHROW(flowtmpl::load(flow, data_path(file)));

  const Eigen::Matrix<S, D, Eigen::Dynamic> x = columns<D>(all.at("points")).template cast<S>();
  const Eigen::Matrix<S, D, Eigen::Dynamic> z = columns<D>(all.at("noise")).template cast<S>();
  const std::vector<double> want_lp = doubles(entry.at("log_prob"));
  REQUIRE(want_lp.size() == std::size_t(x.cols()));
  const Eigen::MatrixXd want_samples = columns<D>(entry.at("samples"));
  REQUIRE(want_samples.cols() == z.cols());

  const auto [lp, samples] = [&] {
    if constexpr (C > 0) {
      const Eigen::Matrix<S, C, Eigen::Dynamic> cx = columns<C>(all.at("contexts")).template cast<S>();
      const Eigen::Matrix<S, C, Eigen::Dynamic> cz = columns<C>(all.at("noise_contexts")).template cast<S>();
      REQUIRE(cx.cols() == x.cols());
      REQUIRE(cz.cols() == z.cols());
      return std::pair(flowtmpl::log_prob(flow, x, cx), flowtmpl::forward(flow.transform, z, cz));
    } else {
      return std::pair(flowtmpl::log_prob(flow, x), flowtmpl::forward(flow.transform, z));
    }
  }();
  Eigen::MatrixXd got_lp(1, x.cols()), ref_lp(1, x.cols());
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    got_lp(0, j) = double(lp[j]);
    ref_lp(0, j) = want_lp[std::size_t(j)];
  }
  check_errors("log_prob", point_errors(got_lp, ref_lp), is_double);
  check_errors("samples", point_errors(samples.template cast<double>(), want_samples), is_double);
}

}  // namespace flowtmpl_test
