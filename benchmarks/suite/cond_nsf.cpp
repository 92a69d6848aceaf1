// benchmarks/suite/cond_nsf.cpp: the suite's rows for CondNSF (suite.hpp), float: the NSF
// of the suite made conditional, its 16-value raw context first through an embedding
// network (MLP<64, 64> from 16 to 8), as a neural posterior estimator is built.
#include "suite.hpp"

namespace {
namespace ft = flowtmpl;
namespace sf = standard_flows;
using CondNSF = ft::bind_t<ft::Conditional<8, ft::Flow<ft::StandardNormal, sf::NSF>, ft::Embedding<16, ft::MLP<64, 64>>>,
                           8, float>;
static_assert(ft::context_dim_of<CondNSF>() == 16);
static_assert(ft::parameter_count_v<CondNSF> ==
              suite::mlp_macs(16, 8) + 64 + 64 + 8 + 8 * (suite::mlp_macs(4 + 8, 92) + 64 + 64 + 92));
// the embedding (16 -> 64 -> 64 -> 8) once per sample, then 8 couplings, each
// MLP<64, 64> from 4 inputs and the 8 embedded context values to 4 x 23 spline
// parameters
constexpr double flops = 2 * (suite::mlp_macs(16, 8) + 8 * suite::mlp_macs(4 + 8, 92));
[[maybe_unused]] const bool registered = [] {
  suite::register_added_flow<CondNSF>("CondNSF", suite::flop_model{flops, flops});
  return true;
}();
}  // namespace
