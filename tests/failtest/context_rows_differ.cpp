// A context batch of a static row count other than the flow's context_dim (2 rows for
// Conditional<3, ...>). The first line names the diagnostic with both counts and the flow.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::context_rows_differ_from_the_flows_context_dim<2, 3, flowtmpl::FlowDistribution<
// max-errors: 1
// expect: static assertion failed: flowtmpl: the context's number of rows differs from the flow's context_dim
#include <flowtmpl/flowtmpl.hpp>

using flow = flowtmpl::bind_t<
    flowtmpl::Conditional<3, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Coupling<
                                                                          flowtmpl::Affine, flowtmpl::MLP<8>>>>>,
    2, float>;

int main() {
  const flow q;
  const Eigen::MatrixXf theta = Eigen::MatrixXf::Zero(2, 10);
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const Eigen::Matrix<float, 2, Eigen::Dynamic> x = Eigen::Matrix<float, 2, Eigen::Dynamic>::Zero(2, 10);
#else
  const Eigen::Matrix<float, 3, Eigen::Dynamic> x = Eigen::Matrix<float, 3, Eigen::Dynamic>::Zero(3, 10);
#endif
  const auto lp = flowtmpl::log_prob(q, theta, x);
  return lp.cols() == 10 ? 0 : 1;
}
