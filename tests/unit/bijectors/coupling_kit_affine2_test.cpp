// Coupling layers with the additive and affine transformers through the conformance kit
// (flowtmpl/testing.hpp), in float and double, after reset_parameters(seed,
// init::uniform) so that the map is far from the identity. The configurations cover
// every mask (half, half_flipped, even, odd, bits), every activation (relu, tanh, silu,
// elu), D in {2, 3, 5} and one- and two-hidden-layer MLPs (tests/support/coupling_kit.hpp).
// The kit is the expensive part to compile, so the configurations are split over
// files: this is part 2, BoundedAffine with a learnable bound and SoftplusAffine; part
// 1 (coupling_kit_affine_test.cpp) has Additive and Affine.
// Splines: coupling_kit_spline_test.cpp.
#include <flowtmpl/bijectors/affine.hpp>  // the spec Affine
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/conditioners/residual_net.hpp>
#include <flowtmpl/direction.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/affine.hpp>
#include <flowtmpl/transformers/sigmoid_affine.hpp>

#include "support/common.hpp"
#include "support/coupling_kit.hpp"

#include <catch2/catch.hpp>

namespace coupling_kit_affine2_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::check_coupling_layer;

using act_tanh = ft::act::tanh;
using act_silu = ft::act::silu;
using act_elu = ft::act::elu;

}  // namespace

TEMPLATE_TEST_CASE("Coupling<BoundedAffine<2, learnable>> passes the conformance kit", "[coupling][kit]", float,
                   double) {
  using S = TestType;
  using T = ft::BoundedAffine<2.0, ft::affine_bound::learnable>;
  check_coupling_layer<ft::Coupling<T, ft::MLP<8, 8>::with<act_silu>, ft::mask::half>, 5, S>(7);
  check_coupling_layer<ft::Coupling<T, ft::MLP<8>, ft::mask::odd>, 3, S>(8);
  check_coupling_layer<ft::Coupling<T, ft::MLP<8>::with<act_elu>, ft::mask::bits<1, 0, 0, 1, 1>>, 5, S>(9);
}

TEMPLATE_TEST_CASE("Coupling<SigmoidAffine, ResidualNet> (nflows's affine coupling) passes the conformance kit",
                   "[coupling][kit]", float, double) {
  using S = TestType;
  check_coupling_layer<ft::Coupling<ft::SigmoidAffine, ft::ResidualNet<8, 2>, ft::mask::odd>, 4, S>(13);
  check_coupling_layer<ft::Coupling<ft::SigmoidAffine, ft::ResidualNet<6, 1>::with<act_tanh>>, 3, S>(14);
}

TEMPLATE_TEST_CASE("Coupling<SoftplusAffine> passes the conformance kit", "[coupling][kit]", float, double) {
  using S = TestType;
  // scale = softplus(u) + 1e-3 grows like the conditioner's output, so the forward's
  // outputs grow like the square of the input (the inverse divides by the scale)
  ft::testing::options<S> opt;
  flowtmpl_test::narrow_to_power(opt, ft::direction::forward, 2,
                                 "the forward multiplies x by a scale that grows like x: it grows like x^2");
  check_coupling_layer<ft::Coupling<ft::SoftplusAffine, ft::MLP<8>::with<act_elu>, ft::mask::even>, 2, S>(10, opt);
  check_coupling_layer<ft::Coupling<ft::SoftplusAffine, ft::MLP<8>::with<act_tanh>, ft::mask::half_flipped>, 5, S>(
      11, opt);
  check_coupling_layer<ft::Coupling<ft::SoftplusAffine, ft::MLP<8, 8>, ft::mask::half>, 3, S>(12, opt);
}

}  // namespace coupling_kit_affine2_test
