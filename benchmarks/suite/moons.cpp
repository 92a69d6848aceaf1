// benchmarks/suite/moons.cpp: the suite's rows for TwoMoons (suite.hpp), float and double.
#include "suite.hpp"

namespace {
namespace sf = standard_flows;
static_assert(flowtmpl::parameter_count_v<sf::flow<sf::RealNVP, 2>> == 8 * (suite::mlp_macs(1, 2) + 64 + 64 + 2));
// The 2-D RealNVP of the two-moons example: 8 couplings, MLP<64, 64> from 1 to 1 x 2.
constexpr double flops = 8 * 2 * suite::mlp_macs(1, 2);
constexpr suite::flop_model model{flops, flops};
[[maybe_unused]] const bool registered = [] {
  suite::register_flow<sf::flow<sf::RealNVP, 2, float>>("TwoMoons", model);
  suite::register_flow<sf::flow<sf::RealNVP, 2, double>>("TwoMoons", model);
  return true;
}();
}  // namespace
