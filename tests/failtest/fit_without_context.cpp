// Training a conditional flow on its samples alone: fit needs each sample's context,
// conditional_data<Flow>(X, Ctx). The first line names the diagnostic and the flow.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::conditional_flow_called_without_its_context<flowtmpl::FlowDistribution<flowtmpl::StandardNormalDistribution<2, float>, flowtmpl::Chain<flowtmpl::CouplingBijector<
// max-errors: 1
// expect: static assertion failed: flowtmpl: this flow is conditional
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

using flow = flowtmpl::bind_t<
    flowtmpl::Conditional<3, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Coupling<
                                                                          flowtmpl::Affine, flowtmpl::MLP<8>>>>>,
    2, float>;

int main() {
  flow q;
  const Eigen::MatrixXf theta = Eigen::MatrixXf::Zero(2, 10);
  flowtmpl::fit_options options;
  options.epochs = 1;
  options.quiet = true;
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const auto r = flowtmpl::fit(q, theta, options);
#else
  const Eigen::MatrixXf x = Eigen::MatrixXf::Zero(3, 10);
  const flowtmpl::conditional_data<flow> data(theta, x);
  const auto r = flowtmpl::fit(q, data, options);
#endif
  return r.steps == 1 ? 0 : 1;
}
