// benchmarks/suite/residual.cpp: the suite's rows for Residual (suite.hpp), float: the
// residual flow of examples/residual_flow.cpp, four blocks z = x + g(x) with g a
// LipschitzMLP<64, 64> on 2-D samples and the exact log-det. Its FLOPs (the network
// and its Jacobian per sample; the fixed-point iterations of sampling) are not
// modelled: the rows report times and ratios only.
#include "suite.hpp"

namespace {
namespace ft = flowtmpl;
constexpr ft::residual_options exact{.log_det = ft::residual_log_det::exact};
using Block = ft::Residual<ft::LipschitzMLP<64, 64>, exact>;
using ResidualFlow = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<Block, Block, Block, Block>>, 2, float>;
[[maybe_unused]] const bool registered = [] {
  suite::register_added_flow<ResidualFlow>("Residual", suite::flop_model{0, 0});
  return true;
}();
}  // namespace
