// The conformance kit for the autoregressive layers of the ar_kit_*_test.cpp files, which
// reach it through run_kit (the block below). No test cases here: the kit's
// instantiations, one per (D, scalar, log-det kind, domain), compiled once.
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/testing.hpp>

#include <type_traits>

#include "unit/autoregressive/ar_kit_support.hpp"

namespace flowtmpl_ar_test {
namespace {
// A Bijector that forwards every call to the layer behind `ops` and declares what the
// layer declares (kind_of checks it on the layer's side).
template <int D, class S, flowtmpl::log_det_kind K, bool UnitDomain>
struct erased_layer {
  using scalar_type = S;
  using structure = flowtmpl::structure::lower_triangular;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = K;
  static constexpr const char* name = "autoregressive layer (through layer_ops)";
  using vec = Eigen::Matrix<S, D, 1>;
  const layer_ops<D, S>* ops;
  vec forward(const vec& x) const { return ops->forward(x); }
  vec inverse(const vec& y) const { return ops->inverse(y); }
  S log_det(const vec& x) const { return ops->log_det(x); }
  flowtmpl::value_and_log_det<vec, S> forward_and_log_det(const vec& x) const { return ops->forward_and_log_det(x); }
  flowtmpl::value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const { return ops->inverse_and_log_det(y); }
  static constexpr flowtmpl::interval<S> forward_domain() requires UnitDomain { return {S(0), S(1), true, true}; }
  static constexpr flowtmpl::interval<S> inverse_domain() requires UnitDomain { return {S(0), S(1), true, true}; }
};
}  // namespace

template <int D, class S>
flowtmpl::testing::report run_kit(const layer_ops<D, S>& layer, kit_kind kind,
                                  const flowtmpl::testing::options<S>& opt) {
  using flowtmpl::log_det_kind;
  using flowtmpl::testing::check_bijector;
  switch (kind) {
    case kit_kind::zero:
      return check_bijector(erased_layer<D, S, log_det_kind::zero, false>{&layer}, opt);
    case kit_kind::input_dependent:
      return check_bijector(erased_layer<D, S, log_det_kind::input_dependent, false>{&layer}, opt);
    case kit_kind::unit_domain:
      return check_bijector(erased_layer<D, S, log_det_kind::input_dependent, true>{&layer}, opt);
  }
  flowtmpl::testing::report r;
  r.expect(false, "run_kit: unknown kind");
  return r;
}

#define FLOWTMPL_AR_TEST_RUN_KIT(D, S)                                               \
  template flowtmpl::testing::report run_kit<D, S>(const layer_ops<D, S>&, kit_kind, \
                                                   const flowtmpl::testing::options<S>&);
FLOWTMPL_AR_TEST_RUN_KIT(1, double)
FLOWTMPL_AR_TEST_RUN_KIT(2, double)
FLOWTMPL_AR_TEST_RUN_KIT(4, double)
FLOWTMPL_AR_TEST_RUN_KIT(5, double)
FLOWTMPL_AR_TEST_RUN_KIT(1, float)
FLOWTMPL_AR_TEST_RUN_KIT(2, float)
FLOWTMPL_AR_TEST_RUN_KIT(4, float)
FLOWTMPL_AR_TEST_RUN_KIT(5, float)
#undef FLOWTMPL_AR_TEST_RUN_KIT

}  // namespace flowtmpl_ar_test
