// examples/two_moons_data.hpp: the two-moons data set (as scikit-learn's make_moons
// draws it: two interleaved half circles, Gaussian noise of standard deviation
// `noise`), one sample per column, from a seeded Philox stream.
#pragma once

#include <cmath>
#include <cstdint>

#include <Eigen/Core>

#include <flowtmpl/random.hpp>

namespace two_moons {

template <class S>
Eigen::Matrix<S, 2, Eigen::Dynamic> sample(Eigen::Index n, std::uint64_t seed, double noise = 0.1) {
  Eigen::Matrix<S, 2, Eigen::Dynamic> x(2, n);
  const double pi = 3.14159265358979323846;
  for (Eigen::Index j = 0; j < n; ++j) {
    flowtmpl::philox_stream rng(seed, std::uint64_t(j));
    const double t = pi * rng.uniform<double>();
    const bool upper = j % 2 == 0;
    const double a = upper ? std::cos(t) : 1 - std::cos(t);
    const double b = upper ? std::sin(t) : 0.5 - std::sin(t);
    x(0, j) = S(a + noise * rng.normal<double>());
    x(1, j) = S(b + noise * rng.normal<double>());
  }
  return x;
}

// The affine map that standardizes the columns of `reference` (per-row mean 0,
// standard deviation 1), applied to x.
template <class S>
Eigen::Matrix<S, 2, Eigen::Dynamic> standardized(const Eigen::Matrix<S, 2, Eigen::Dynamic>& x,
                                                 const Eigen::Matrix<S, 2, Eigen::Dynamic>& reference) {
  const Eigen::Matrix<double, 2, 1> mean = reference.template cast<double>().rowwise().mean();
  const Eigen::Matrix<double, 2, 1> sd =
      ((reference.template cast<double>().colwise() - mean).array().square().rowwise().sum() / double(reference.cols() - 1)).sqrt();
  return (((x.template cast<double>().colwise() - mean).array().colwise() / sd.array())).template cast<S>();
}

}  // namespace two_moons
