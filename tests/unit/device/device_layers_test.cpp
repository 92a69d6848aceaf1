// Host / device parity for every layer and base distribution: forward, inverse and
// their log-dets, log_prob, sample and sample_and_log_prob within 4 ulp in float, and
// the NLL gradient within 1e-5 relative, with the samples as columns and as rows.
#include "support/device.hpp"

namespace ft = flowtmpl;
using namespace flowtmpl_test;

namespace {
constexpr int D = 4;
constexpr Eigen::Index N = 300;
}  // namespace

TEMPLATE_TEST_CASE("device parity: elementwise, affine and permutation layers", "[device]", ft::Identity, ft::Shift,
                   ft::Scale, ft::Affine, ft::ActNorm, ft::Exp, ft::Sigmoid, ft::Softplus, ft::Tanh, ft::LeakyReLU,
                   ft::Permute<ft::Reverse>, ft::Permute<ft::Random<5>>, ft::Inverse<ft::Affine>) {
  check_layer(random_layer<TestType>(1));
}

TEST_CASE("device parity: Inverse<Exp> (a log) on (0.05, 4)", "[device]") {
  check_layer(random_layer<ft::Inverse<ft::Exp>>(1), 0.05, 4.0);
}

TEST_CASE("device parity: Logit on (0, 1)", "[device]") { check_layer(random_layer<ft::Logit>(2), 0.02, 0.98); }

TEMPLATE_TEST_CASE("device parity: LUConv, every diagonal policy", "[device]", ft::LUConv,
                   ft::LUConvT<ft::lu_diag::softplus>, ft::LUConvT<ft::lu_diag::raw>) {
  auto b = random_layer<TestType>(3);
  if constexpr (std::is_same_v<TestType, ft::LUConvT<ft::lu_diag::raw>>) b.diag = {1.2f, -0.9f, 1.1f, 0.8f};
  check_layer(b);
}

TEST_CASE("device parity: Planar and Radial", "[device]") {
  check_layer(random_layer<ft::Planar>(4));
  check_layer(random_layer<ft::Radial>(5));
}

TEMPLATE_TEST_CASE("device parity: base distributions", "[device]", (ft::StandardNormalDistribution<D, float>),
                   (ft::DiagonalNormalDistribution<D, float>), (ft::UniformDistribution<D, float>)) {
  TestType d;
  if constexpr (!std::is_same_v<TestType, ft::UniformDistribution<D, float>>) randomize_for_device(d, 8, -0.3, 0.3);
  check_distribution(d, uniform_inputs<float, D>(N, 9, 0.05, 0.95));
}

