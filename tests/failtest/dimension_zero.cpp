// Binding a flow to dimension 0.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::dimension_must_be_positive<0>'
// expect: static assertion failed: flowtmpl: a flow binds to a dimension of at least 1
// max-errors: 1
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/lu_conv.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
constexpr int D = 0;
#else
constexpr int D = 1;
#endif
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::LUConv>, D, double>;
static_assert(flowtmpl::Bijector<flow>);

int main() {}
