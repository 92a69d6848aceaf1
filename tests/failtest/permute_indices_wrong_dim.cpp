// A Permute<Indices<p...>> layer binds only to D = sizeof...(p); inside a compose bound
// to D = 4 the diagnostic names the layer (position 1, as written) and the dimension.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::layer_cannot_take_this_dimension<1, flowtmpl::Permute<flowtmpl::Indices<0, 2, 1> >, 4>'
// expect: static assertion failed: flowtmpl: this layer cannot be bound to this dimension
// max-errors: 1
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/chain.hpp>

using spec = flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::Permute<flowtmpl::Indices<0, 2, 1>>>;
#ifdef FLOWTMPL_FAILTEST_BROKEN
constexpr int D = 4;
#else
constexpr int D = 3;
#endif
using flow = flowtmpl::bind_t<spec, D, float>;
static_assert(flow::dim == D);

int main() {}
