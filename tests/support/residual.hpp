// tests/support/residual.hpp: what the residual layer's tests share (unit/bijectors/
// residual*_test.cpp, unit/training/layer_hooks_test.cpp): layers with drawn weights and
// the largest singular value of their normalised weights.
#pragma once

#include <flowtmpl/bijectors/residual.hpp>
#include <flowtmpl/flowtmpl.hpp>

#include <Eigen/SVD>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace flowtmpl_test {

// reset_parameters(seed, init::uniform), every weight (not the biases) times `factor`,
// then the power iteration to convergence: factor 4 puts every sigma_l above c (the
// spectral scale binds, and g is as far from 0 as a c-Lipschitz network of these widths
// gets), 0.3 below it
template <class B>
B drawn_residual(std::uint64_t seed, double factor = 4.0) {
  using N = typename B::network_type;
  B b;
  b.reset_parameters(seed, flowtmpl::init::uniform);
  for (int l = 0; l < N::layers; ++l) {
    const std::size_t n = std::size_t(N::widths[std::size_t(l) + 1]) * std::size_t(N::widths[std::size_t(l)]);
    for (std::size_t i = 0; i < n; ++i) b.net.values[N::offsets[std::size_t(l)] + i] *= typename B::scalar_type(factor);
  }
  b.update_spectral_norm(1000);
  return b;
}

// the largest singular value (Eigen's SVD) of every layer's normalised weight
// W / max(1, sigma / c), the largest over the layers
template <class B>
double largest_normalised_norm(const B& b) {
  using N = typename B::network_type;
  const auto sc = b.net.scales();
  double worst = 0;
  for (int l = 0; l < N::layers; ++l) {
    const int in = N::widths[std::size_t(l)], out = N::widths[std::size_t(l) + 1];
    Eigen::MatrixXd W(out, in);
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) W(o, i) = double(b.net.values[N::offsets[std::size_t(l)] + std::size_t(o * in + i)]);
    W *= double(sc[std::size_t(l)]);
    worst = std::max(worst, Eigen::JacobiSVD<Eigen::MatrixXd>(W).singularValues()[0]);
  }
  return worst;
}

}  // namespace flowtmpl_test
