// benchmarks/suite/cnf.cpp: the suite's rows for CNF (suite.hpp), float: the continuous
// flow of examples/continuous_flow.cpp, dynamics DynamicsMLP<64, 64> (ELU) on 2-D
// samples, Dopri5 with rtol 1e-5 and atol 1e-6 (the log-det's error weighted by 1e-2,
// as zuko relaxes it), the exact trace. The number of dynamics evaluations depends on
// the solver's steps, so the FLOPs are not modelled: the rows report times and ratios
// only.
#include "suite.hpp"

namespace {
namespace ft = flowtmpl;
constexpr ft::continuous_options exact{.trace = ft::continuous_trace::exact, .log_det_weight = 1e-2};
using CNF = ft::bind_t<ft::Flow<ft::StandardNormal, ft::Continuous<ft::DynamicsMLP<64, 64>, ft::Dopri5<1e-5, 1e-6>, exact>>,
                       2, float>;
[[maybe_unused]] const bool registered = [] {
  suite::register_added_flow<CNF>("CNF", suite::flop_model{0, 0});
  return true;
}();
}  // namespace
