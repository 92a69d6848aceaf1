// chain(a, b) of bound layers whose dimensions differ: layer 0 gives 3 components,
// layer 1 takes 4.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::adjacent_layers_have_different_dimensions<0, flowtmpl::ExpBijector<3, float>, flowtmpl::TanhBijector<4, float> >'
// max-errors: 1
// expect: static assertion failed: flowtmpl: shape mismatch: the output dimension of the layer at Position \(Previous above\) differs from the input dimension of the layer after it \(Next above\)
#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/bijectors/tanh.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
constexpr int D1 = 4;
#else
constexpr int D1 = 3;
#endif

int main() {
  const flowtmpl::ExpBijector<3, float> a;
  const flowtmpl::TanhBijector<D1, float> b;
  const auto c = flowtmpl::chain(a, b);
  return c.dim == 3 ? 0 : 1;
}
