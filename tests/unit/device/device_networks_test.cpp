// Host / device parity for the layers with a network (coupling, autoregressive) and a
// double chain: as device_layers_test.cpp (a file of its own so that the two compile in
// parallel).
#include "support/device.hpp"

namespace ft = flowtmpl;
using namespace flowtmpl_test;

namespace {
constexpr int D = 4;
constexpr Eigen::Index N = 300;
using Small = ft::MLP<16, 16>;
}  // namespace

TEMPLATE_TEST_CASE("device parity: coupling layers, every transformer", "[device]", (ft::Coupling<ft::Additive, Small>),
                   (ft::Coupling<ft::Affine, Small, ft::mask::even>),
                   (ft::Coupling<ft::BoundedAffine<2.0, ft::affine_bound::learnable>, Small::with<ft::act::tanh>>),
                   (ft::Coupling<ft::SoftplusAffine, Small::with<ft::act::silu>>),
                   (ft::Coupling<ft::Spline<8>, Small::with<ft::act::elu>>),
                   (ft::Coupling<ft::SigmoidAffine, ft::ResidualNet<16, 2>>)) {
  check_layer(initialised_layer<TestType>(6));
}

TEST_CASE("device parity: bounded spline coupling inside [Lo, Hi]", "[device]") {
  check_layer(initialised_layer<ft::Coupling<ft::BoundedSpline<5, -1.0, 2.0>, Small>>(6), -0.9, 1.9);
}

TEMPLATE_TEST_CASE("device parity: autoregressive layers, both directions", "[device]",
                   (ft::MaskedAutoregressive<ft::Affine, ft::MADE<16, 16>>),
                   (ft::InverseAutoregressive<ft::SoftplusAffine, ft::MADE<16>>),
                   (ft::MaskedAutoregressive<ft::Spline<4>, ft::ResidualMADE<16, 1>>),
                   (ft::InverseAutoregressive<ft::Additive, ft::MADE<16>::with<ft::act::tanh>>)) {
  check_layer(initialised_layer<TestType>(7));
}

TEST_CASE("device parity: double", "[device]") {
  using B = ft::bind_t<ft::compose<ft::ActNorm, ft::Coupling<ft::Spline<8>, Small>, ft::LUConv>, D, double>;
  B b;
  ft::reset_parameters(b, 10, ft::init::uniform);
  const auto X = inputs<double, D>(N, 11);
  check_bijector(b, X);
  Flow<B> f{{}, b};
  check_distribution(f, X);
  check_gradient(f, X);
}

// Residual: the explicit map with its exact or stochastic log-det, the fixed-point
// solve, and the gradients (exact: through the LU; stochastic: the Neumann estimator,
// whose probes depend only on (probe_seed, x), so host and device draw the same)
TEST_CASE("device parity: residual layers, exact and stochastic log-det", "[device][residual]") {
  check_layer(initialised_layer<ft::Residual<ft::LipschitzMLP<16, 16>>>(8));
  constexpr ft::residual_options stochastic{.log_det = ft::residual_log_det::stochastic};
  check_layer(initialised_layer<ft::Residual<ft::LipschitzMLP<16>::with<ft::act::elu>, stochastic>>(9));
}
