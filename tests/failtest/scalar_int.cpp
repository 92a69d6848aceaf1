// Binding a flow to the scalar int.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::scalar_must_be_float_or_double<int>'
// expect: static assertion failed: flowtmpl: a flow binds to float or double only
// max-errors: 1
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using scalar = int;
#else
using scalar = float;
#endif
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::Permute<flowtmpl::Reverse>>, 4, scalar>;
static_assert(flow::dim == 4);

int main() {}
