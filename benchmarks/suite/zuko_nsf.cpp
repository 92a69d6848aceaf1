// benchmarks/suite/zuko_nsf.cpp: the suite's rows for ZukoNSF (suite.hpp), float: zuko's
// default NSF, zuko.flows.NSF(8, bins=8, transforms=5, hidden_features=(64, 64)), as
// flowtmpl's exporter writes its type (docs/from_pytorch.md): five autoregressive
// spline layers (MADE<64, 64>, zuko's spline parameters), a reversal between them.
#include "suite.hpp"

namespace {
namespace ft = flowtmpl;
using Step = ft::Inverse<ft::InverseAutoregressive<ft::ZukoSpline<8>, ft::MADE<64, 64>>>;
using Rev = ft::Permute<ft::Reverse>;
using ZukoNSF =
    ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<Step, Rev, Step, Rev, Step, Rev, Step, Rev, Step>>, 8, float>;
// 5 MADE<64, 64> from 8 inputs to 8 x 23 spline parameters (K widths, K heights, K - 1
// derivatives); dense count, the masked zeros included. Sampling: one evaluation of
// every hidden unit per layer (the sequential MADE, suite.hpp).
static_assert(ft::parameter_count_v<ZukoNSF> == 5 * (suite::mlp_macs(8, 8 * 23) + 64 + 64 + 8 * 23));
constexpr double flops = 5 * 2 * suite::mlp_macs(8, 8 * 23);
[[maybe_unused]] const bool registered = [] {
  suite::register_added_flow<ZukoNSF>("ZukoNSF", suite::flop_model{flops, flops});
  return true;
}();
}  // namespace
