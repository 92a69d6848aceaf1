// benchmarks/suite/glow.cpp: the suite's rows for Glow (suite.hpp), float and double.
#include "suite.hpp"

namespace {
namespace sf = standard_flows;
// Parameters = the couplings' MACs + biases, plus per step ActNorm (2 D) and LUConv
// (D(D-1) triangular entries, D diagonal, D bias).
static_assert(flowtmpl::parameter_count_v<sf::flow<sf::Glow>> ==
              8 * (suite::mlp_macs(4, 8) + 64 + 64 + 8 + 16 + 56 + 8 + 8));
// 8 x [ActNorm, LUConv, coupling with MLP<64, 64> from 4 to 4 x 2]; ActNorm and LUConv
// (8 x 8 matrix-vector product) are not conditioner FLOPs.
constexpr double flops = 8 * 2 * suite::mlp_macs(4, 8);
constexpr suite::flop_model model{flops, flops};
[[maybe_unused]] const bool registered = [] {
  suite::register_flow<sf::flow<sf::Glow, 8, float>>("Glow", model);
  suite::register_flow<sf::flow<sf::Glow, 8, double>>("Glow", model);
  return true;
}();
}  // namespace
