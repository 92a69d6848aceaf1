// A context given to the device sampler of a flow that reads none. The first line names
// the diagnostic and the flow, as on the host.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::flow_without_context_given_a_context<flowtmpl::FlowDistribution<flowtmpl::StandardNormalDistribution<3, float>, flowtmpl::Chain<flowtmpl::CouplingBijector<
// max-errors: 1
// expect: static assertion failed: flowtmpl: this flow \(Flow above\) reads no context
#include <flowtmpl/device.hpp>
#include <flowtmpl/flowtmpl.hpp>

using flow = flowtmpl::bind_t<
    flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Coupling<flowtmpl::Affine, flowtmpl::MLP<8>>>>, 3,
    float>;

int main() {
  const flow q;
  const flowtmpl::device_flow<flow> dq(q);
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const auto c = flowtmpl::to_device(Eigen::MatrixXf::Zero(2, 1).eval(), flowtmpl::layout::columns);
  const auto s = flowtmpl::sample(flowtmpl::exec::device, dq, 4, 1, c);
#else
  const auto s = flowtmpl::sample(flowtmpl::exec::device, dq, 4, 1);
#endif
  return s.count() == 4 ? 0 : 1;
}
