// A coupling bound to D = 1: no split into a conditioning and a transformed part.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::layer_cannot_take_this_dimension<0, flowtmpl::Coupling<flowtmpl::Affine, flowtmpl::MLP<8> >, 1>'
// max-errors: 1
// expect: static assertion failed: flowtmpl: this layer cannot be bound to this dimension
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/coupling.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
constexpr int D = 1;
#else
constexpr int D = 2;
#endif

int main() {
  flowtmpl::bind_t<flowtmpl::Coupling<flowtmpl::Affine, flowtmpl::MLP<8>>, D, double> b;
  return b.dim == D ? 0 : 1;
}
