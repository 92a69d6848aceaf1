// The conformance kit on MaskedAutoregressive and InverseAutoregressive with the
// Spline<8> transformer (8 bins on [-3, 3], linear tails), conditioners MADE<8, 8> and
// ResidualMADE<8, 1>, D = 1, 2, 4, 5, float and double, after reset_parameters(seed,
// init::uniform) (random parameters everywhere, so the layer is far from the identity).
// The kit runs in ar_kit_runner_test.cpp, through
// tests/support/autoregressive_kit.hpp.
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include "support/autoregressive_kit.hpp"

namespace autoregressive_kit_spline_test {

namespace {

using flowtmpl_test::check_autoregressive_dims;
using T = flowtmpl::Spline<8>;

// In float, the drawn splines have bins with slopes down to about 0.02 (seen: 0.018
// with ResidualMADE), where the inverse multiplies the rounding of the output (a few
// 1e-7) by 1/slope: round trips are off by up to 2.4e-5 there, by conditioning, not a
// fault (the same layer in double meets 1e-12). The float tolerance is 1e-4.
template <class S>
flowtmpl::testing::options<S> spline_options() {
  flowtmpl::testing::options<S> opt;
  if constexpr (sizeof(S) == 4) opt.round_trip_tol = S(1e-4);
  return opt;
}

using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::ResidualMADE;

}  // namespace

TEMPLATE_TEST_CASE("MaskedAutoregressive<Spline<8>, MADE<8, 8>> passes the conformance kit", "[autoregressive][kit]",
                   float, double) {
  check_autoregressive_dims<MaskedAutoregressive<T, MADE<8, 8>>, TestType>(
      "MaskedAutoregressive<Spline<8>, MADE<8, 8>>", spline_options<TestType>());
}
TEMPLATE_TEST_CASE("MaskedAutoregressive<Spline<8>, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<MaskedAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "MaskedAutoregressive<Spline<8>, ResidualMADE<8, 1>>", spline_options<TestType>());
}
TEMPLATE_TEST_CASE("InverseAutoregressive<Spline<8>, MADE<8, 8>> passes the conformance kit", "[autoregressive][kit]",
                   float, double) {
  check_autoregressive_dims<InverseAutoregressive<T, MADE<8, 8>>, TestType>(
      "InverseAutoregressive<Spline<8>, MADE<8, 8>>", spline_options<TestType>());
}
TEMPLATE_TEST_CASE("InverseAutoregressive<Spline<8>, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  check_autoregressive_dims<InverseAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "InverseAutoregressive<Spline<8>, ResidualMADE<8, 1>>", spline_options<TestType>());
}

}  // namespace autoregressive_kit_spline_test
