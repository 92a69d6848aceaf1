// Checked mode reports by exception: under -fno-exceptions it does not compile.
// flags: -fno-exceptions
// expect-first: In instantiation of 'constexpr void flowtmpl::detail::require_exceptions_for\(\) \[with Mode = flowtmpl::checked_t\]'
// expect: static assertion failed: flowtmpl: checked mode reports by exception and is not available with -fno-exceptions
#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/bijectors/shift.hpp>
#include <flowtmpl/chain.hpp>
#include <flowtmpl/host.hpp>

using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Shift, flowtmpl::Exp>, 2, double>;

int main() {
  const flow b;
  const Eigen::Matrix<double, 2, Eigen::Dynamic> x = Eigen::Matrix<double, 2, Eigen::Dynamic>::Zero(2, 5);
#ifdef FLOWTMPL_FAILTEST_BROKEN
  const auto r = flowtmpl::forward_and_log_det(b, x, flowtmpl::checked);
#else
  const auto r = flowtmpl::forward_and_log_det(b, x, flowtmpl::unchecked);
#endif
  return r.values.allFinite() ? 0 : 1;
}
