// Reading the reference files of tests/data (tests/data/README.md says where each comes
// from): the file as JSON, arrays of numbers as doubles (written in shortest round-trip
// form, so the doubles are exactly the generator's), and the comparison the reference
// tests make.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

namespace flowtmpl_test {

inline nlohmann::json load_reference(const std::string& file) {
  const std::string path = std::string(FLOWTMPL_TEST_DATA_DIR) + "/" + file;
  std::ifstream in(path);
  INFO("reading " << path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

inline std::vector<double> doubles(const nlohmann::json& a) {
  std::vector<double> v;
  for (const auto& e : a) v.push_back(e.get<double>());
  return v;
}

// |got - want| <= tol max(1, |want|): absolute near 0, relative for large values
inline bool close(double got, double want, double tol) {
  return std::abs(got - want) <= tol * std::max(1.0, std::abs(want));
}

}  // namespace flowtmpl_test
