// The conformance kit on MaskedAutoregressive and InverseAutoregressive with the Affine
// transformer (as a transformer: BoundedAffine<3>), conditioners MADE<8, 8> and
// ResidualMADE<8, 1>, D = 1, 2, 4, 5, float and double, after reset_parameters(seed,
// init::uniform) (random parameters everywhere, so the layer is far from the identity).
// The kit runs in ar_kit_runner_test.cpp, through
// tests/support/autoregressive_kit.hpp.
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include "support/autoregressive_kit.hpp"

namespace autoregressive_kit_affine_test {

namespace {

using flowtmpl_test::check_autoregressive_dims;
using T = flowtmpl::Affine;
using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::ResidualMADE;

}  // namespace

TEMPLATE_TEST_CASE("MaskedAutoregressive<Affine, MADE<8, 8>> passes the conformance kit", "[autoregressive][kit]",
                   float, double) {
  check_autoregressive_dims<MaskedAutoregressive<T, MADE<8, 8>>, TestType>(
      "MaskedAutoregressive<Affine, MADE<8, 8>>");
}
TEMPLATE_TEST_CASE("MaskedAutoregressive<Affine, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<MaskedAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "MaskedAutoregressive<Affine, ResidualMADE<8, 1>>");
}
TEMPLATE_TEST_CASE("InverseAutoregressive<Affine, MADE<8, 8>> passes the conformance kit", "[autoregressive][kit]",
                   float, double) {
  check_autoregressive_dims<InverseAutoregressive<T, MADE<8, 8>>, TestType>(
      "InverseAutoregressive<Affine, MADE<8, 8>>");
}
TEMPLATE_TEST_CASE("InverseAutoregressive<Affine, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<InverseAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "InverseAutoregressive<Affine, ResidualMADE<8, 1>>");
}

// hidden degrees listed by the type (nflows's random masks, zuko's MaskedMLP), units of
// degree 0 among them: the prepared form's sorted units and the sequential pass follow
// the listed degrees
TEMPLATE_TEST_CASE("Masked- and InverseAutoregressive<Affine, MADE<6, 6>::with_degrees<...>> pass the conformance kit",
                   "[autoregressive][kit]", float, double) {
  using listed = MADE<6, 6>::with_degrees<flowtmpl::hidden_degrees<3, 0, 2, 1, 1, 2>,
                                          flowtmpl::hidden_degrees<3, 1, 1, 0, 2, 3>>;
  flowtmpl_test::check_autoregressive_layer<MaskedAutoregressive<T, listed>, 4, TestType>(
      "MaskedAutoregressive<Affine, MADE<6, 6>::with_degrees<...>>", 16, {});
  flowtmpl_test::check_autoregressive_layer<InverseAutoregressive<T, listed>, 5, TestType>(
      "InverseAutoregressive<Affine, MADE<6, 6>::with_degrees<...>>", 17, {});
}

}  // namespace autoregressive_kit_affine_test
