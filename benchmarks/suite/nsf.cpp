// benchmarks/suite/nsf.cpp: the suite's rows for NSF (suite.hpp), float and double.
#include "suite.hpp"

namespace {
namespace sf = standard_flows;
static_assert(flowtmpl::parameter_count_v<sf::flow<sf::NSF>> == 8 * (suite::mlp_macs(4, 92) + 64 + 64 + 92));
// 8 couplings, each MLP<64, 64> from 4 to 4 x (3K - 1) = 92 spline parameters (K = 8).
constexpr double flops = 8 * 2 * suite::mlp_macs(4, 92);
constexpr suite::flop_model model{flops, flops};
[[maybe_unused]] const bool registered = [] {
  suite::register_flow<sf::flow<sf::NSF, 8, float>>("NSF", model);
  suite::register_flow<sf::flow<sf::NSF, 8, double>>("NSF", model);
  return true;
}();
}  // namespace
