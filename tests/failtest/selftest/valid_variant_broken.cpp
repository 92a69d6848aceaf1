// Self-test of the failtest runner: the valid variant does not compile (an unused
// variable under -Werror), so the runner must report a failure whatever the broken
// variant does.
// expect-first: scalar_must_be_float_or_double<int>
// expect: a flow binds to float or double only
#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using scalar = int;
#else
using scalar = double;
#endif
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Exp>, 2, scalar>;

int main() {
  int unused = 0;
}
