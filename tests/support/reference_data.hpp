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

// a state_dict entry as stored in the JSON: a vector, or a row-major [out][in] matrix
// (rows of one length), flattened in that order
inline std::vector<double> flatten(const nlohmann::json& t) {
  std::vector<double> v;
  if (!t.is_array()) FAIL("not an array");
  for (const auto& e : t) {
    if (e.is_array()) {
      REQUIRE(e.size() == t[0].size());
      for (const auto& x : e) v.push_back(x.get<double>());
    } else {
      v.push_back(e.get<double>());
    }
  }
  return v;
}

// |got - want| <= tol max(1, |want|): absolute near 0, relative for large values
inline bool close(double got, double want, double tol) {
  return std::abs(got - want) <= tol * std::max(1.0, std::abs(want));
}

}  // namespace flowtmpl_test
