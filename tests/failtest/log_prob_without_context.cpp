// The density of a conditional flow without its context. The first line names the
// diagnostic and the flow.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::conditional_flow_called_without_its_context<flowtmpl::FlowDistribution<flowtmpl::StandardNormalDistribution<2, float>, flowtmpl::Chain<flowtmpl::CouplingBijector<
// max-errors: 1
// expect: static assertion failed: flowtmpl: this flow is conditional
#include <flowtmpl/flowtmpl.hpp>

using flow = flowtmpl::bind_t<
    flowtmpl::Conditional<3, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Coupling<
                                                                          flowtmpl::Affine, flowtmpl::MLP<8>>>>>,
    2, float>;

int main() {
  const flow q;
  const Eigen::MatrixXf theta = Eigen::MatrixXf::Zero(2, 10);
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const auto lp = flowtmpl::log_prob(q, theta);
#else
  const Eigen::Matrix<float, 3, 1> x = Eigen::Matrix<float, 3, 1>::Zero();
  const auto lp = flowtmpl::log_prob(q, theta, x);
#endif
  return lp.cols() == 10 ? 0 : 1;
}
