// An image layer (Squeeze) in a flow bound to a plain dimension.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::layer_needs_an_image_shape<1, flowtmpl::Squeeze, 16>'
// expect: static assertion failed: flowtmpl: this layer works on images and was bound to a vector of D features
// max-errors: 1
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/squeeze.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::Squeeze>, 16, double>;
#else
using flow = flowtmpl::bind_shape_t<flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::Squeeze>, flowtmpl::image<1, 4, 4>, double>;
#endif
static_assert(flowtmpl::Bijector<flow>);

int main() {}
