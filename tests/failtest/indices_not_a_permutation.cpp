// Indices<0, 0, 1> is not a permutation of 0, 1, 2.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::indices_are_not_a_permutation<0, 0, 1>'
// max-errors: 1
// expect: static assertion failed: flowtmpl: Indices<p...>: the indices must be a permutation of 0, 1, ..., N-1, each once
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using order = flowtmpl::Indices<0, 0, 1>;
#else
using order = flowtmpl::Indices<0, 2, 1>;
#endif
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Permute<order>>, 3, double>;
static_assert(flow::dim == 3);

int main() {}
