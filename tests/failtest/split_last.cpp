// A Split with no layers after it.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::split_has_no_layers_after_it<1>'
// expect: static assertion failed: flowtmpl: Split at Position is the last entry of its compose<...>
// max-errors: 1
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::Split>, 8, double>;
#else
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::Split, flowtmpl::ActNorm>, 8, double>;
#endif
static_assert(flowtmpl::Bijector<flow>);

int main() {}
