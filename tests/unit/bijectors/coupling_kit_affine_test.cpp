// Coupling layers with the additive and affine transformers through the conformance kit
// (flowtmpl/testing.hpp), in float and double, after reset_parameters(seed,
// init::uniform) so that the map is far from the identity. The configurations cover
// every mask (half, half_flipped, even, odd, bits), every activation (relu, tanh, silu,
// elu), D in {2, 3, 5} and one- and two-hidden-layer MLPs (tests/support/coupling_kit.hpp).
// The kit is the expensive part to compile, so the configurations are split over
// files: this is part 1, Additive and Affine; part 2 (coupling_kit_affine2_test.cpp)
// has the learnable bound and SoftplusAffine.
// Splines: coupling_kit_spline_test.cpp.
#include <flowtmpl/bijectors/affine.hpp>  // the spec Affine
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/affine.hpp>

#include "support/coupling_kit.hpp"

#include <catch2/catch.hpp>

namespace coupling_kit_affine_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::check_coupling_layer;

using act_tanh = ft::act::tanh;
using act_silu = ft::act::silu;
using act_elu = ft::act::elu;

}  // namespace

TEMPLATE_TEST_CASE("Coupling<Additive> passes the conformance kit", "[coupling][kit]", float, double) {
  using S = TestType;
  check_coupling_layer<ft::Coupling<ft::Additive, ft::MLP<8>, ft::mask::half>, 2, S>(1);
  check_coupling_layer<ft::Coupling<ft::Additive, ft::MLP<8>::with<act_tanh>, ft::mask::bits<1, 0, 0, 1, 1>>, 5, S>(2);
  check_coupling_layer<ft::Coupling<ft::Additive, ft::MLP<8, 8>::with<act_silu>, ft::mask::even>, 3, S>(3);
}

TEMPLATE_TEST_CASE("Coupling<Affine> passes the conformance kit", "[coupling][kit]", float, double) {
  using S = TestType;
  check_coupling_layer<ft::Coupling<ft::Affine, ft::MLP<8>::with<act_tanh>, ft::mask::half>, 3, S>(4);
  check_coupling_layer<ft::Coupling<ft::Affine, ft::MLP<8>::with<act_elu>, ft::mask::odd>, 5, S>(5);
  check_coupling_layer<ft::Coupling<ft::Affine, ft::MLP<8, 8>, ft::mask::half_flipped>, 2, S>(6);
}

}  // namespace coupling_kit_affine_test
