// The device parity checks built by nvcc for THRUST_DEVICE_SYSTEM_CUDA, with the helpers
// of the OMP tests (tests/unit/device): one chain holding a layer of every family, its
// flow's density, samples and NLL gradient, and the same-seed draws. The full per-layer
// and four-chain parity runs on the OMP system (unit_device_omp); this target is kept
// to what nvcc compiles in a few minutes, since CI builds it on two cores.
#include "../support/device.hpp"

namespace ft = flowtmpl;
using namespace flowtmpl_test;

TEST_CASE("CUDA parity: a chain of every layer family, its density, samples and gradient", "[device][cuda]") {
  using Spec = ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Spline<4>, ft::MLP<16>>, ft::Permute<ft::Reverse>,
                           ft::MaskedAutoregressive<ft::Affine, ft::MADE<16>>, ft::Planar, ft::Radial, ft::LeakyReLU>;
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, Spec>, 4, float>;
  F f;
  ft::reset_parameters(f, 21, ft::init::uniform);
  randomize_for_device(f.transform.get<0>(), 22, -0.2, 0.2);
  randomize_for_device(f.transform.get<1>(), 23, -0.2, 0.2);
  const auto X = ft::sample(f, 300, 24);
  check_bijector(f.transform, X);
  check_distribution(f, X);
  check_gradient(f, X);
}

TEMPLATE_TEST_CASE("CUDA: the same seed draws the same base samples as the host, bitwise", "[device][cuda]", float,
                   double) {
  check_same_seed_draws<TestType>(100000);
}
