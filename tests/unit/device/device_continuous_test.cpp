// Host / device parity for continuous flows (bijectors/continuous.hpp) with the
// fixed-step solver, the device path's solver: the values, log-dets, densities, samples
// and NLL gradients of Continuous<DynamicsMLP<16>, RK4<4>> with the exact trace and with
// the Hutchinson trace (whose probes depend only on (probe_seed, the start point), so
// host and device draw the same). A file of its own so that it compiles in parallel
// with the other device tests.
#include "support/device.hpp"

namespace ft = flowtmpl;
using namespace flowtmpl_test;

TEST_CASE("device parity: continuous layers with RK4, exact and Hutchinson trace", "[device][continuous]") {
  check_layer(initialised_layer<ft::Continuous<ft::DynamicsMLP<16>, ft::RK4<4>>>(12));
  constexpr ft::continuous_options hutchinson{.trace = ft::continuous_trace::hutchinson};
  check_layer(initialised_layer<ft::Continuous<ft::DynamicsMLP<16>::with<ft::act::tanh>, ft::RK4<3>, hutchinson>>(13));
}
