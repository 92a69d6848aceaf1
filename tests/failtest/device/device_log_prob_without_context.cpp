// The device density of a conditional flow without its context. The first line names
// the diagnostic and the flow, as on the host.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::conditional_flow_called_without_its_context<flowtmpl::FlowDistribution<flowtmpl::StandardNormalDistribution<3, float>, flowtmpl::Chain<flowtmpl::CouplingBijector<
// max-errors: 1
// expect: static assertion failed: flowtmpl: this flow is conditional
#include <flowtmpl/device.hpp>
#include <flowtmpl/flowtmpl.hpp>

using flow = flowtmpl::bind_t<
    flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Coupling<
                                                                          flowtmpl::Affine, flowtmpl::MLP<8>>>>>,
    3, float>;

int main() {
  const flow q;
  const flowtmpl::device_flow<flow> dq(q);
  const auto x = flowtmpl::to_device(Eigen::MatrixXf::Zero(3, 4).eval(), flowtmpl::layout::columns);
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const auto lp = flowtmpl::log_prob(flowtmpl::exec::device, dq, x);
#else
  const auto c = flowtmpl::to_device(Eigen::MatrixXf::Zero(2, 1).eval(), flowtmpl::layout::columns);
  const auto lp = flowtmpl::log_prob(flowtmpl::exec::device, dq, x, c);
#endif
  return lp.size() == 4 ? 0 : 1;
}
