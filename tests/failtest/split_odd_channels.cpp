// Split of an image with an odd number of channels.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::split_needs_an_even_channel_count<1, 3, 8, 8>'
// expect: static assertion failed: flowtmpl: Split at Position gets an image<C, H, W> with an odd number of channels
// max-errors: 1
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using data = flowtmpl::image<3, 8, 8>;
#else
using data = flowtmpl::image<4, 8, 8>;
#endif
using flow = flowtmpl::bind_shape_t<flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::Split, flowtmpl::ActNorm>, data, double>;
static_assert(flowtmpl::Bijector<flow>);

int main() {}
