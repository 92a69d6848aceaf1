// The conformance kit on MaskedAutoregressive and InverseAutoregressive with the
// Additive transformer (NICE: volume preserving, log-det kind zero), conditioners
// MADE<8, 8> and ResidualMADE<8, 1>, D = 1, 2, 4, 5, float and double, after
// reset_parameters(seed, init::uniform) (random parameters everywhere, so the layer is
// far from the identity). The kit runs in ar_kit_runner_test.cpp, through
// tests/support/autoregressive_kit.hpp.
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/additive.hpp>

#include <catch2/catch.hpp>

#include "support/autoregressive_kit.hpp"

namespace autoregressive_kit_additive_test {

namespace {

using flowtmpl_test::check_autoregressive_dims;
using T = flowtmpl::Additive;
using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::ResidualMADE;

}  // namespace

TEMPLATE_TEST_CASE("MaskedAutoregressive<Additive, MADE<8, 8>> passes the conformance kit", "[autoregressive][kit]",
                   float, double) {
  check_autoregressive_dims<MaskedAutoregressive<T, MADE<8, 8>>, TestType>(
      "MaskedAutoregressive<Additive, MADE<8, 8>>");
}
TEMPLATE_TEST_CASE("MaskedAutoregressive<Additive, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<MaskedAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "MaskedAutoregressive<Additive, ResidualMADE<8, 1>>");
}
TEMPLATE_TEST_CASE("InverseAutoregressive<Additive, MADE<8, 8>> passes the conformance kit", "[autoregressive][kit]",
                   float, double) {
  check_autoregressive_dims<InverseAutoregressive<T, MADE<8, 8>>, TestType>(
      "InverseAutoregressive<Additive, MADE<8, 8>>");
}
TEMPLATE_TEST_CASE("InverseAutoregressive<Additive, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<InverseAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "InverseAutoregressive<Additive, ResidualMADE<8, 1>>");
}

}  // namespace autoregressive_kit_additive_test
