// A conditioner given where Coupling expects a transformer (arguments swapped).
// The first line names the diagnostic with the offending type; the static assertion
// on the next error line lists the transformer specs.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::not_a_transformer_spec<flowtmpl::MLP<8> >'
// max-errors: 1
// expect: static assertion failed: flowtmpl: the first argument of Coupling / MaskedAutoregressive / InverseAutoregressive must be a transformer spec
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/coupling.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
using spec = flowtmpl::Coupling<flowtmpl::MLP<8>, flowtmpl::Affine>;
#else
using spec = flowtmpl::Coupling<flowtmpl::Affine, flowtmpl::MLP<8>>;
#endif

int main() {
  flowtmpl::bind_t<spec, 4, double> b;
  return b.forward(Eigen::Vector4d::Zero()).allFinite() ? 0 : 1;
}
