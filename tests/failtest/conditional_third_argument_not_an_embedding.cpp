// Conditional<C, Spec, E> with a network where the Embedding<RawC, Net> belongs. The
// first line names Conditional; one error says what the third argument must be.
// expect-first: In instantiation of 'struct flowtmpl::Conditional<3, flowtmpl::Flow<
// max-errors: 1
// expect: static assertion failed: flowtmpl: Conditional<C, Spec, E>: the third argument must be an Embedding<RawC, Net>
#include <flowtmpl/flowtmpl.hpp>

using layers = flowtmpl::compose<flowtmpl::Coupling<flowtmpl::Affine, flowtmpl::MLP<8>>>;
#ifdef FLOWTMPL_FAILTEST_BROKEN
using flow = flowtmpl::bind_t<
    flowtmpl::Conditional<3, flowtmpl::Flow<flowtmpl::StandardNormal, layers>, flowtmpl::MLP<16>>, 2, float>;
#else
using flow = flowtmpl::bind_t<
    flowtmpl::Conditional<3, flowtmpl::Flow<flowtmpl::StandardNormal, layers>, flowtmpl::Embedding<5, flowtmpl::MLP<16>>>,
    2, float>;
#endif

int main() {
  const flow q;
  const Eigen::Matrix<float, 2, 1> theta = Eigen::Matrix<float, 2, 1>::Zero();
  const Eigen::Matrix<float, flow::context_dim, 1> x = Eigen::Matrix<float, flow::context_dim, 1>::Zero();
  return q.log_prob(theta, x) < 0 ? 0 : 1;
}
