// The conformance kit for the autoregressive layers of the ar_kit_*_test.cpp files, which
// reach it through run_kit (tests/support/autoregressive_kit.hpp). No test cases here:
// the kit's instantiations, one per (D, scalar, log-det kind, domain), compiled once.
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/testing.hpp>

#include <memory>
#include <type_traits>

#include "support/autoregressive_kit.hpp"

namespace flowtmpl_test {
namespace {
// Whether the erased layer declares the domain [0, 1] (closed) in both directions.
enum class declared_domain { real_line, unit_interval };

// A Bijector that forwards every call to the layer behind `ops` and declares what the
// layer declares (kind_of checks it on the layer's side). Its prepare() is the erased
// layer's real prepared form (layer_ops::prepared), which `owner` keeps alive.
template <int D, class S, flowtmpl::log_det_kind K, declared_domain Domain>
struct erased_layer {
  using scalar_type = S;
  using structure = flowtmpl::structure::lower_triangular;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = K;
  static constexpr const char* name = "autoregressive layer (through layer_ops)";
  using vec = Eigen::Matrix<S, D, 1>;
  const layer_ops<D, S>* ops;
  std::shared_ptr<const layer_ops<D, S>> owner;
  vec forward(const vec& x) const { return ops->forward(x); }
  vec inverse(const vec& y) const { return ops->inverse(y); }
  S log_det(const vec& x) const { return ops->log_det(x); }
  flowtmpl::value_and_log_det<vec, S> forward_and_log_det(const vec& x) const { return ops->forward_and_log_det(x); }
  flowtmpl::value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const { return ops->inverse_and_log_det(y); }
  erased_layer prepare() const {
    std::shared_ptr<const layer_ops<D, S>> p = ops->prepared();
    return {p.get(), p};
  }
  static constexpr flowtmpl::interval<S> forward_domain()
    requires(Domain == declared_domain::unit_interval)
  {
    return {S(0), S(1), true, true};
  }
  static constexpr flowtmpl::interval<S> inverse_domain()
    requires(Domain == declared_domain::unit_interval)
  {
    return {S(0), S(1), true, true};
  }
};
}  // namespace

template <int D, class S>
flowtmpl::testing::report run_kit(const layer_ops<D, S>& layer, kit_kind kind,
                                  const flowtmpl::testing::options<S>& opt) {
  using flowtmpl::log_det_kind;
  using flowtmpl::testing::check_bijector;
  using enum declared_domain;
  switch (kind) {
    case kit_kind::zero:
      return check_bijector(erased_layer<D, S, log_det_kind::zero, real_line>{&layer, nullptr}, opt);
    case kit_kind::input_dependent:
      return check_bijector(erased_layer<D, S, log_det_kind::input_dependent, real_line>{&layer, nullptr}, opt);
    case kit_kind::unit_domain:
      return check_bijector(erased_layer<D, S, log_det_kind::input_dependent, unit_interval>{&layer, nullptr}, opt);
  }
  flowtmpl::testing::report r;
  r.expect("run_kit", false, "unknown kind");
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

}  // namespace flowtmpl_test
