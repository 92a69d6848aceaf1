// The conformance kit on MaskedAutoregressive and InverseAutoregressive with the
// SoftplusAffine transformer (nflows's MAF parameterisation), conditioners MADE<8, 8>
// and ResidualMADE<8, 1>, D = 1, 2, 4, 5, float and double, after
// reset_parameters(seed, init::uniform) (random parameters everywhere, so the layer is
// far from the identity). The kit runs in ar_kit_runner_test.cpp, through
// tests/support/autoregressive_kit.hpp.
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/direction.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/affine.hpp>

#include <catch2/catch.hpp>

#include "support/autoregressive_kit.hpp"

namespace autoregressive_kit_softplus_affine_test {

namespace {

using flowtmpl_test::check_autoregressive_dims;
using T = flowtmpl::SoftplusAffine;

// SoftplusAffine's scale, softplus of the conditioner's output plus 1e-3, grows without
// bound with the conditioning values: MaskedAutoregressive's forward (sequential: the
// conditioning values are earlier outputs) makes output i grow like x^(i + 1), up to
// x^5 for D = 5; InverseAutoregressive's forward (parallel) like x^2. The inverses
// shrink and are swept over the whole line.
template <class S>
flowtmpl::testing::options<S> softplus_affine_options() {
  flowtmpl::testing::options<S> opt;
  flowtmpl_test::narrow_to_power(opt, flowtmpl::direction::forward, 5,
                                 "the forward's outputs grow like up to the 5th power of the input");
  return opt;
}
using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::ResidualMADE;

}  // namespace

TEMPLATE_TEST_CASE("MaskedAutoregressive<SoftplusAffine, MADE<8, 8>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<MaskedAutoregressive<T, MADE<8, 8>>, TestType>(
      "MaskedAutoregressive<SoftplusAffine, MADE<8, 8>>", softplus_affine_options<TestType>());
}
TEMPLATE_TEST_CASE("MaskedAutoregressive<SoftplusAffine, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<MaskedAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "MaskedAutoregressive<SoftplusAffine, ResidualMADE<8, 1>>", softplus_affine_options<TestType>());
}
TEMPLATE_TEST_CASE("InverseAutoregressive<SoftplusAffine, MADE<8, 8>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<InverseAutoregressive<T, MADE<8, 8>>, TestType>(
      "InverseAutoregressive<SoftplusAffine, MADE<8, 8>>", softplus_affine_options<TestType>());
}
TEMPLATE_TEST_CASE("InverseAutoregressive<SoftplusAffine, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<InverseAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "InverseAutoregressive<SoftplusAffine, ResidualMADE<8, 1>>", softplus_affine_options<TestType>());
}

}  // namespace autoregressive_kit_softplus_affine_test
