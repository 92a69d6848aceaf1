// Sampling a flow whose base is Uniform at a temperature, one sample at a time: a
// tempered uniform is not a uniform, so FlowDistribution::sample(rng, T) requires a
// base that models TemperedDistribution.
// expect-first: error: no matching function for call to 'flowtmpl::FlowDistribution<flowtmpl::UniformDistribution<2, double>, flowtmpl::Chain<flowtmpl::LogitBijector<2, double>, flowtmpl::AffineBijector<2, double> > >::sample\(flowtmpl::philox_stream&, double\) const'
// expect: note: the required expression 'd.sample\(rng, t\)' is invalid
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/logit.hpp>
#include <flowtmpl/chain.hpp>
#include <flowtmpl/distributions/flow_distribution.hpp>
#include <flowtmpl/distributions/uniform.hpp>

using flow = flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::Uniform, flowtmpl::compose<flowtmpl::Logit, flowtmpl::Affine>>, 2, double>;
static_assert(flowtmpl::Distribution<flow>);
static_assert(!flowtmpl::TemperedDistribution<flow>);

int main() {
  const flow d;
  flowtmpl::philox_stream rng(1, 0);
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const auto x = d.sample(rng, 0.7);
#else
  const auto x = d.sample(rng);
#endif
  return x.allFinite() ? 0 : 1;
}
