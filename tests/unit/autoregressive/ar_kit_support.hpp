// tests/unit/autoregressive/ar_kit_support.hpp: the conformance kit over a type-erased layer,
// shared by the ar_*kit*_test.cpp files (ar_kit_runner_test.cpp defines run_kit).
#pragma once

#include <flowtmpl/core.hpp>
#include <flowtmpl/structure.hpp>
#include <flowtmpl/testing.hpp>

#include <Eigen/Core>

#include <type_traits>

namespace flowtmpl_ar_test {
template <int D, class S>
struct layer_ops {
  using vec = Eigen::Matrix<S, D, 1>;
  using result = flowtmpl::value_and_log_det<vec, S>;
  virtual ~layer_ops() = default;
  virtual vec forward(const vec& x) const = 0;
  virtual vec inverse(const vec& y) const = 0;
  virtual S log_det(const vec& x) const = 0;
  virtual result forward_and_log_det(const vec& x) const = 0;
  virtual result inverse_and_log_det(const vec& y) const = 0;
};
// zero: log_det_kind::zero; input_dependent; unit_domain: input_dependent with forward
// and inverse domain [0, 1] (closed)
enum class kit_kind { zero, input_dependent, unit_domain };
template <int D, class S>
flowtmpl::testing::report run_kit(const layer_ops<D, S>& layer, kit_kind kind,
                                  const flowtmpl::testing::options<S>& opt = {});

template <class B>
struct layer_adapter final : layer_ops<B::dim, typename B::scalar_type> {
  using base = layer_ops<B::dim, typename B::scalar_type>;
  using typename base::result;
  using typename base::vec;
  B b;
  vec forward(const vec& x) const override { return b.forward(x); }
  vec inverse(const vec& y) const override { return b.inverse(y); }
  typename B::scalar_type log_det(const vec& x) const override { return b.log_det(x); }
  result forward_and_log_det(const vec& x) const override { return flowtmpl::forward_and_log_det(b, x); }
  result inverse_and_log_det(const vec& y) const override { return flowtmpl::inverse_and_log_det(b, y); }
};

template <class B>
constexpr kit_kind kind_of() {
  static_assert(std::is_same_v<typename B::structure, flowtmpl::structure::lower_triangular>);
  if constexpr (requires { B::forward_domain(); }) {
    constexpr auto f = B::forward_domain();
    constexpr auto i = B::inverse_domain();
    static_assert(f.lo == 0 && f.hi == 1 && f.lo_closed && f.hi_closed, "the runner knows the domain [0, 1] only");
    static_assert(i.lo == 0 && i.hi == 1 && i.lo_closed && i.hi_closed, "the runner knows the domain [0, 1] only");
    static_assert(B::log_det_kind == flowtmpl::log_det_kind::input_dependent);
    return kit_kind::unit_domain;
  } else if constexpr (B::log_det_kind == flowtmpl::log_det_kind::zero) {
    return kit_kind::zero;
  } else {
    static_assert(B::log_det_kind == flowtmpl::log_det_kind::input_dependent);
    return kit_kind::input_dependent;
  }
}
}  // namespace flowtmpl_ar_test
