// benchmarks/suite/maf.cpp: the suite's rows for MAF (suite.hpp), float and double.
#include "suite.hpp"

namespace {
namespace sf = standard_flows;
static_assert(flowtmpl::parameter_count_v<sf::flow<sf::MAF>> == 5 * (suite::mlp_macs(8, 16) + 64 + 64 + 16));
// 5 MADE<64, 64> layers from 8 inputs to 8 x 2 outputs (dense count: the masked
// zeros are multiplied too, by flowtmpl and by the peers). Sampling: one network
// evaluation per layer (suite.hpp, flop_model).
constexpr double flops = 5 * 2 * suite::mlp_macs(8, 16);
constexpr suite::flop_model model{flops, flops};
[[maybe_unused]] const bool registered = [] {
  suite::register_flow<sf::flow<sf::MAF, 8, float>>("MAF", model);
  suite::register_flow<sf::flow<sf::MAF, 8, double>>("MAF", model);
  return true;
}();
}  // namespace
