// Self-test of the failtest runner: the expected text is in the output, but not on the
// first line with "error:" or "In instantiation of" (that line names the diagnostic
// template; "static assertion failed" comes on a later line).
// expect-first: static assertion failed: flowtmpl: shape mismatch
// expect: static assertion failed: flowtmpl: shape mismatch
#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/chain.hpp>

#ifdef FLOWTMPL_FAILTEST_BROKEN
constexpr int D1 = 4;
#else
constexpr int D1 = 3;
#endif

int main() {
  const auto c = flowtmpl::chain(flowtmpl::ExpBijector<3, float>{}, flowtmpl::ExpBijector<D1, float>{});
  return c.dim == 3 ? 0 : 1;
}
