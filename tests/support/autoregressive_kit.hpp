// tests/support/autoregressive_kit.hpp: the conformance kit over a type-erased
// autoregressive layer, shared by the unit/bijectors/autoregressive_*kit*_test.cpp files.
// ar_kit_runner_test.cpp defines run_kit: the kit's instantiations, one per (D, scalar,
// log-det kind, domain), compiled once rather than once per layer type.
//
//   layer_ops<D, S>          the layer's calls, virtual; prepared() is the layer's real
//                            prepared form (flowtmpl::prepare: for AutoregressiveBijector
//                            another type, its MADE's units sorted by degree), so the
//                            kit's prepared check compares the two
//   layer_adapter<B>         layer_ops over a B
//   kind_of<B>()             what run_kit must declare for B (checked against B)
//   check_autoregressive_layer<Spec, D, S>(label, seed, opt)
//                            the kit on bind_t<Spec, D, S> after reset_parameters(seed,
//                            init::uniform), as Catch2 checks
//   check_autoregressive_dims<Spec, S>(label, opt)
//                            check_autoregressive_layer for D = 1, 2, 4, 5
#pragma once

#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/core.hpp>
#include <flowtmpl/structure.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "common.hpp"

namespace flowtmpl_test {
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
  // the layer's prepared form (flowtmpl::prepare of it)
  virtual std::shared_ptr<const layer_ops> prepared() const = 0;
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
  layer_adapter() = default;
  explicit layer_adapter(B b_) : b(std::move(b_)) {}
  vec forward(const vec& x) const override { return b.forward(x); }
  vec inverse(const vec& y) const override { return b.inverse(y); }
  typename B::scalar_type log_det(const vec& x) const override { return b.log_det(x); }
  result forward_and_log_det(const vec& x) const override { return flowtmpl::forward_and_log_det(b, x); }
  result inverse_and_log_det(const vec& y) const override { return flowtmpl::inverse_and_log_det(b, y); }
  std::shared_ptr<const base> prepared() const override {
    return std::make_shared<layer_adapter<decltype(flowtmpl::prepare(b))>>(flowtmpl::prepare(b));
  }
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

// The kit on bind_t<Spec, D, S> after reset_parameters(seed, init::uniform) (random
// parameters everywhere, so the layer is far from the identity), through run_kit: every
// check passes, the per-point checks ran, and the prepared form was compared.
template <class Spec, int D, class S>
void check_autoregressive_layer(const std::string& label, std::uint64_t seed,
                                const flowtmpl::testing::options<S>& opt) {
  using B = flowtmpl::bind_t<Spec, D, S>;
  layer_adapter<B> a;
  a.b.reset_parameters(seed, flowtmpl::init::uniform);
  INFO(label << ", D = " << D << ", " << (sizeof(S) == 4 ? "float" : "double"));
  // the drawn layer is not the identity (the kit would prove little on it)
  Eigen::Matrix<S, D, 1> x;
  for (int i = 0; i < D; ++i) x[i] = S(0.3 + 0.1 * i);
  CHECK((a.b.forward(x) - x).cwiseAbs().maxCoeff() > S(1e-3));
  const auto r = run_kit<D, S>(a, kind_of<B>(), opt);
  INFO(r.text());
  CHECK(r.ok());
  CHECK(r.checks() > 64 * 5);
  CHECK(r.count("prepared") == 2 * (opt.points + int(opt.extra_points.size())));
}

// check_autoregressive_layer for D = 1, 2, 4, 5 (seeds 11, 12, 14, 15).
template <class Spec, class S>
void check_autoregressive_dims(const std::string& label, const flowtmpl::testing::options<S>& opt = {}) {
  check_autoregressive_layer<Spec, 1, S>(label, 11, opt);
  check_autoregressive_layer<Spec, 2, S>(label, 12, opt);
  check_autoregressive_layer<Spec, 4, S>(label, 14, opt);
  check_autoregressive_layer<Spec, 5, S>(label, 15, opt);
}
}  // namespace flowtmpl_test
