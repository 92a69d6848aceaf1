// A bound layer of dimension 3 written into a compose that is bound to dimension 4.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::bound_layer_has_another_dimension<1, flowtmpl::ExpBijector<3, double>, 3, 4>'
// expect: static assertion failed: flowtmpl: shape mismatch: a bound layer's dimension differs from the dimension of its chain
// max-errors: 1
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/chain.hpp>

using spec = flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::ExpBijector<3, double>>;
#ifdef FLOWTMPL_FAILTEST_BROKEN
constexpr int D = 4;
#else
constexpr int D = 3;
#endif
using flow = flowtmpl::bind_t<spec, D, double>;
static_assert(flow::dim == D);

int main() {}
