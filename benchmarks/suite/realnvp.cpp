// benchmarks/suite/realnvp.cpp: the suite's rows for RealNVP (suite.hpp), float and double.
#include "suite.hpp"

namespace {
namespace sf = standard_flows;
// The FLOP model counts the networks the flow really has: parameters = MACs + biases.
static_assert(flowtmpl::parameter_count_v<sf::flow<sf::RealNVP>> == 8 * (suite::mlp_macs(4, 8) + 64 + 64 + 8));
// 8 couplings, each MLP<64, 64> from 4 to 4 x 2 outputs.
constexpr double flops = 8 * 2 * suite::mlp_macs(4, 8);
constexpr suite::flop_model model{flops, flops};
[[maybe_unused]] const bool registered = [] {
  suite::register_flow<sf::flow<sf::RealNVP, 8, float>>("RealNVP", model);
  suite::register_flow<sf::flow<sf::RealNVP, 8, double>>("RealNVP", model);
  return true;
}();
}  // namespace
