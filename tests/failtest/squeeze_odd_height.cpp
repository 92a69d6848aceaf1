// Squeeze on an image with an odd height (14 x 14 squeezed once is 7 x 7).
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::squeeze_needs_an_even_height_and_width<2, 4, 7, 7>'
// expect: static assertion failed: flowtmpl: Squeeze at Position gets an image<C, H, W> with an odd height or width
// max-errors: 1
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/squeeze.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using data = flowtmpl::image<1, 14, 14>;
#else
using data = flowtmpl::image<1, 28, 28>;
#endif
using flow = flowtmpl::bind_shape_t<flowtmpl::compose<flowtmpl::Squeeze, flowtmpl::ActNorm, flowtmpl::Squeeze>, data, float>;
static_assert(flowtmpl::Bijector<flow>);

int main() {}
