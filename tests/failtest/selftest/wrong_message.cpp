// Self-test of the failtest runner: the broken variant fails, but for another reason
// than the one expected (dimension 0 expected, int scalar given).
// expect-first: dimension_must_be_positive<0>
// expect: a flow binds to a dimension of at least 1
#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using scalar = int;
#else
using scalar = double;
#endif
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Exp>, 2, scalar>;
static_assert(flowtmpl::Bijector<flow>);

int main() {}
