// A context passed to a flow that reads none. The first line names the diagnostic and
// the flow.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::flow_without_context_given_a_context<flowtmpl::Chain<flowtmpl::CouplingBijector<
// max-errors: 1
// expect: static assertion failed: flowtmpl: this flow \(Flow above\) reads no context
#include <flowtmpl/flowtmpl.hpp>

using transform = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Coupling<flowtmpl::Affine, flowtmpl::MLP<8>>>, 2, float>;

int main() {
  const transform b;
  const Eigen::MatrixXf theta = Eigen::MatrixXf::Zero(2, 10);
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const Eigen::MatrixXf x = Eigen::MatrixXf::Zero(3, 10);
  const auto y = flowtmpl::forward(b, theta, x);
#else
  const auto y = flowtmpl::forward(b, theta);
#endif
  return y.cols() == 10 ? 0 : 1;
}
