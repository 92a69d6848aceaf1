// The same through the host backend: flowtmpl::sample(flow, n, seed, T) with a Uniform base.
// The static_assert names the function (flowtmpl::sample), the flow with its Uniform base,
// and says why.
// expect-first: In instantiation of '.*flowtmpl::sample\(const Dist&, Eigen::Index, uint64_t, typename Dist::scalar_type\) \[with Dist = FlowDistribution<UniformDistribution<2, double>,
// expect: static assertion failed: flowtmpl: sampling at a temperature needs a base distribution with a scale
// max-errors: 1
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/logit.hpp>
#include <flowtmpl/chain.hpp>
#include <flowtmpl/distributions/flow_distribution.hpp>
#include <flowtmpl/distributions/uniform.hpp>
#include <flowtmpl/host.hpp>

using flow = flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::Uniform, flowtmpl::compose<flowtmpl::Logit, flowtmpl::Affine>>, 2, double>;

int main() {
  const flow d;
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const auto x = flowtmpl::sample(d, 16, 42, 0.7);
#else
  const auto x = flowtmpl::sample(d, 16, 42);
#endif
  return x.allFinite() ? 0 : 1;
}
