// A batch of double passed to a float flow.
// The first line names batch_view with T (the float flow) and Derived (the double batch);
// the static assertion on the next error line says why.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::batch_scalar_differs_from_the_flows<double, float, flowtmpl::Chain<flowtmpl::ActNormBijector<3, float>, 
// max-errors: 1
// expect: static assertion failed: flowtmpl: the batch's scalar type differs from the flow's scalar_type
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/chain.hpp>
#include <flowtmpl/host.hpp>

using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::Permute<flowtmpl::Reverse>>, 3, float>;

int main() {
  const flow b;
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const Eigen::MatrixXd x = Eigen::MatrixXd::Zero(3, 10);
#else
  const Eigen::MatrixXf x = Eigen::MatrixXf::Zero(3, 10);
#endif
  const auto y = flowtmpl::forward(b, x);
  return y.cols() == 10 ? 0 : 1;
}
