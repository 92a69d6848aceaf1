// A bound double layer written into a compose that is bound to float.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::bound_layer_has_another_scalar<1, flowtmpl::TanhBijector<5, double>, double, float>'
// expect: static assertion failed: flowtmpl: a bound layer's scalar type differs from the scalar type of its chain
// max-errors: 1
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/tanh.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Affine, flowtmpl::TanhBijector<5, double>>, 5, float>;
#else
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Affine, flowtmpl::TanhBijector<5, float>>, 5, float>;
#endif
static_assert(flow::size == 2);

int main() {}
