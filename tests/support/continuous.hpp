// tests/support/continuous.hpp: what the continuous layer's tests share (unit/bijectors/
// continuous*_test.cpp): layers with drawn weights, linear dynamics, and the kit's
// tolerances for a solve.
#pragma once

#include <flowtmpl/bijectors/continuous.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include <cstdint>

namespace flowtmpl_test {

// reset_parameters(seed, init::uniform) (PyTorch Linear's law), every weight (not the
// biases) times `factor`: factor 1 gives dynamics of order one over t in [0, 1]
template <class B>
B drawn_continuous(std::uint64_t seed, double factor = 1.0) {
  using N = typename B::network_type;
  B b;
  b.reset_parameters(seed, flowtmpl::init::uniform);
  for (int l = 0; l < N::layers; ++l) {
    const std::size_t n = std::size_t(N::widths[std::size_t(l) + 1]) * std::size_t(N::widths[std::size_t(l)]);
    for (std::size_t i = 0; i < n; ++i) b.net.values[N::offsets[std::size_t(l)] + i] *= typename B::scalar_type(factor);
  }
  return b;
}

// A layer whose dynamics are f(z, t) = A z: one hidden layer of 2D units, the first D
// computing z + shift (the ELU's identity side while every |z_i| < shift) and the others
// 0, the output A (h - shift); the time embedding's weights 0.
template <class B>
B linear_dynamics(const Eigen::Matrix<typename B::scalar_type, B::dim, B::dim>& A, double shift = 10.0) {
  using N = typename B::network_type;
  using S = typename B::scalar_type;
  constexpr int D = B::dim;
  static_assert(N::layers == 2 && N::widths[1] == 2 * D, "linear_dynamics: DynamicsMLP<2 D> expected");
  B b;
  S* w0 = b.net.values.data() + N::offsets[0];
  constexpr int in = N::widths[0];
  for (int i = 0; i < D; ++i) {
    w0[i * in + i] = S(1);
    w0[2 * D * in + i] = S(shift);  // bias
  }
  S* w1 = b.net.values.data() + N::offsets[1];
  for (int o = 0; o < D; ++o) {
    S sum(0);
    for (int i = 0; i < D; ++i) {
      w1[o * 2 * D + i] = A(o, i);
      sum += A(o, i);
    }
    w1[D * 2 * D + o] = -S(shift) * sum;  // bias
  }
  return b;
}

// The kit's tolerances for a layer that is an ODE solve: the round trip to the solver's
// accuracy, the log-det and Jacobian against central differences of the whole solve
template <class S>
void solver_tolerances(flowtmpl::testing::options<S>& opt) {
  if constexpr (sizeof(S) == 4) {
    opt.round_trip_tol = S(2e-4);
    opt.log_det_tol = S(5e-3);
    opt.jacobian_tol = S(5e-3);
  } else {
    opt.round_trip_tol = S(1e-8);
    opt.log_det_tol = S(1e-6);
    opt.jacobian_tol = S(1e-6);
  }
}

}  // namespace flowtmpl_test
