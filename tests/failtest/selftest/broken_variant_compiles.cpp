// Self-test of the failtest runner: the "broken" variant compiles, so the runner must
// report a failure (the ctest entry is marked WILL_FAIL).
// expect-first: error:
// expect: error:
#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
constexpr int D = 3;  // still valid
#else
constexpr int D = 2;
#endif
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Exp>, D, double>;
static_assert(flow::dim == D);

int main() {}
