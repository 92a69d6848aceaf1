// flowtmpl/core.hpp: the operations every Bijector gets, whether or not it spells
// them out, and the binding of specs to a dimension and a scalar.
//
//   forward_and_log_det(b, x)   {f(x), log|det df/dx|}; the member if b has one
//   inverse_and_log_det(b, y)   {f^-1(y), log|det df^-1/dy|} (= -log_det at f^-1(y))
//   inverse_log_det(b, y)       log|det df^-1/dy|
//   prepare(b)                  b.prepare() if b has it, else a copy of b
//   bind_t<Spec, D, S>          the bijector a spec gives for dimension D, scalar S;
//                               a bound bijector binds to itself if D and S match.
#pragma once

#include <type_traits>
#include <utility>

#include "concepts.hpp"
#include "detail/context_check.hpp"
#include "diagnostics.hpp"

namespace flowtmpl {

template <class V, class S>
struct value_and_log_det {
  V value;
  S log_det;
};

template <class B>
using result_t = value_and_log_det<vector_t<B>, typename B::scalar_type>;

template <Bijector B>
FLOWTMPL_HOST_DEVICE result_t<B> forward_and_log_det(const B& b, const vector_t<B>& x) {
  if constexpr (requires { b.forward_and_log_det(x); }) {
    return b.forward_and_log_det(x);
  } else {
    return {b.forward(x), b.log_det(x)};
  }
}

template <Bijector B>
FLOWTMPL_HOST_DEVICE result_t<B> inverse_and_log_det(const B& b, const vector_t<B>& y) {
  if constexpr (requires { b.inverse_and_log_det(y); }) {
    return b.inverse_and_log_det(y);
  } else {
    vector_t<B> x = b.inverse(y);
    const auto ld = b.log_det(x);
    return {x, -ld};
  }
}

template <Bijector B>
FLOWTMPL_HOST_DEVICE typename B::scalar_type inverse_log_det(const B& b, const vector_t<B>& y) {
  return inverse_and_log_det(b, y).log_det;
}

// The form of b that a batch evaluates: b.prepare() where b precomputes something for
// its evaluations (a prepare() of a layer returns another type whenever it changes
// anything: the batch entry points read b itself, uncopied, when the type is b's own),
// else a copy of b.
template <class B>
auto prepare(const B& b) {
  if constexpr (requires { b.prepare(); }) {
    return b.prepare();
  } else {
    return b;
  }
}

// ---- conditional bijectors ---------------------------------------------------------
// (c: any Eigen vector of the context's C components, checked: detail/context_check.hpp)
template <ConditionalBijector B, class Ctx>
FLOWTMPL_HOST_DEVICE result_t<B> forward_and_log_det(const B& b, const vector_t<B>& x, const Eigen::MatrixBase<Ctx>& c) {
  const auto& cv = detail::checked_context<typename B::scalar_type, B::context_dim, B>(c, "forward_and_log_det");
  if constexpr (requires { b.forward_and_log_det(x, cv); })
    return b.forward_and_log_det(x, cv);
  else
    return {b.forward(x, cv), b.log_det(x, cv)};
}
template <ConditionalBijector B, class Ctx>
FLOWTMPL_HOST_DEVICE result_t<B> inverse_and_log_det(const B& b, const vector_t<B>& y, const Eigen::MatrixBase<Ctx>& c) {
  const auto& cv = detail::checked_context<typename B::scalar_type, B::context_dim, B>(c, "inverse_and_log_det");
  if constexpr (requires { b.inverse_and_log_det(y, cv); }) {
    return b.inverse_and_log_det(y, cv);
  } else {
    vector_t<B> x = b.inverse(y, cv);
    const auto ld = b.log_det(x, cv);
    return {x, -ld};
  }
}

// A conditional bijector at a fixed context: a Bijector (for the conformance kit,
// jacobian(), and every function that takes one). Holds copies of both.
template <ConditionalBijector B>
struct context_bound {
  using scalar_type = typename B::scalar_type;
  using structure = typename B::structure;
  static constexpr int dim = B::dim;
  static constexpr flowtmpl::log_det_kind log_det_kind =
      B::log_det_kind == flowtmpl::log_det_kind::zero ? flowtmpl::log_det_kind::zero
                                                      : flowtmpl::log_det_kind::input_dependent;
  static constexpr const char* name = B::name;
  using vec = vector_t<B>;
  B bijector;
  context_t<B> context;
  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const { return bijector.forward(x, context); }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const { return bijector.inverse(y, context); }
  FLOWTMPL_HOST_DEVICE scalar_type log_det(const vec& x) const { return bijector.log_det(x, context); }
  FLOWTMPL_HOST_DEVICE result_t<B> forward_and_log_det(const vec& x) const {
    return flowtmpl::forward_and_log_det(bijector, x, context);
  }
  FLOWTMPL_HOST_DEVICE result_t<B> inverse_and_log_det(const vec& y) const {
    return flowtmpl::inverse_and_log_det(bijector, y, context);
  }
  static constexpr auto forward_domain()
    requires requires { B::forward_domain(); }
  {
    return B::forward_domain();
  }
  static constexpr auto inverse_domain()
    requires requires { B::inverse_domain(); }
  {
    return B::inverse_domain();
  }
};
template <ConditionalBijector B, class Ctx>
FLOWTMPL_HOST_DEVICE context_bound<B> with_context(const B& b, const Eigen::MatrixBase<Ctx>& c) {
  return {b, detail::checked_context<typename B::scalar_type, B::context_dim, B>(c, "with_context")};
}

// A bijector whose log-det is the same for every input (zero or constant kind).
template <class B>
concept ConstantLogDet = Bijector<B> && B::log_det_kind != log_det_kind::input_dependent;

namespace detail {

// The part of the log-det that does not depend on the input: what the host backend
// computes once per batch call. Chains and inverses provide constant_part().
template <class B>
FLOWTMPL_HOST_DEVICE typename B::scalar_type constant_part(const B& b) {
  if constexpr (requires { b.constant_part(); }) {
    return b.constant_part();
  } else if constexpr (B::log_det_kind == log_det_kind::constant && requires { b.constant_log_det(); }) {
    return b.constant_log_det();
  } else {
    return typename B::scalar_type(0);
  }
}

// {f(x), the input-dependent part of the log-det}. A zero or constant layer costs
// nothing here.
template <Bijector B>
FLOWTMPL_HOST_DEVICE result_t<B> forward_varying(const B& b, const vector_t<B>& x) {
  if constexpr (requires { b.forward_varying(x); }) {
    return b.forward_varying(x);
  } else if constexpr (B::log_det_kind == log_det_kind::input_dependent) {
    return forward_and_log_det(b, x);
  } else {
    return {b.forward(x), typename B::scalar_type(0)};
  }
}

// {f^-1(y), the input-dependent part of log|det df^-1/dy|}.
template <Bijector B>
FLOWTMPL_HOST_DEVICE result_t<B> inverse_varying(const B& b, const vector_t<B>& y) {
  if constexpr (requires { b.inverse_varying(y); }) {
    return b.inverse_varying(y);
  } else if constexpr (B::log_det_kind == log_det_kind::input_dependent) {
    return inverse_and_log_det(b, y);
  } else {
    return {b.inverse(y), typename B::scalar_type(0)};
  }
}

// A stand-in bound after a diagnostic fired, so that one mistake gives one error.
template <int D, class S>
struct invalid_layer {
  using scalar_type = S;
  using structure = flowtmpl::structure::identity;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::zero;
  static constexpr const char* name = "invalid";
  using vec = Eigen::Matrix<S, D, 1>;
  vec forward(const vec& x) const { return x; }
  vec inverse(const vec& x) const { return x; }
  S log_det(const vec&) const { return S(0); }
};

}  // namespace detail


namespace detail {

template <class Spec, int D>
consteval bool spec_accepts_dim() {
  if constexpr (requires { Spec::template accepts_dim<D>; }) {
    return Spec::template accepts_dim<D>;
  } else {
    return D >= 1;
  }
}

template <class Layer, int D, class S, int Position>
consteval auto bind_layer() {
  if constexpr (!is_supported_scalar_v<S>) {
    (void)sizeof(diagnostic::scalar_must_be_float_or_double<S>);
    return std::type_identity<invalid_layer<D < 1 ? 1 : D, double>>{};
  } else if constexpr (D < 1) {
    (void)sizeof(diagnostic::dimension_must_be_positive<D>);
    return std::type_identity<invalid_layer<1, S>>{};
  } else if constexpr (DistributionSpec<Layer>) {
    return std::type_identity<typename Layer::template bind<D, S>>{};
  } else if constexpr (BijectorSpec<Layer>) {
    if constexpr (!spec_accepts_dim<Layer, D>()) {
      (void)sizeof(diagnostic::layer_cannot_take_this_dimension<Position, Layer, D>);
      return std::type_identity<invalid_layer<D, S>>{};
    } else {
      using B = typename Layer::template bind<D, S>;
      static_assert((Bijector<B> || ConditionalBijector<B>) && B::dim == D && std::is_same_v<typename B::scalar_type, S>,
                    "flowtmpl: internal: a spec bound to a type that is not a Bijector of its dimension");
      static_assert(std::is_trivially_copyable_v<B>, "flowtmpl: a bound layer must be trivially copyable");
      return std::type_identity<B>{};
    }
  } else if constexpr (!Bijector<Layer>) {
    (void)sizeof(diagnostic::layer_is_neither_a_bijector_spec_nor_a_bijector<Position, Layer>);
    return std::type_identity<invalid_layer<D, S>>{};
  } else if constexpr (Layer::dim != D) {
    (void)sizeof(diagnostic::bound_layer_has_another_dimension<Position, Layer, Layer::dim, D>);
    return std::type_identity<invalid_layer<D, S>>{};
  } else if constexpr (!std::is_same_v<typename Layer::scalar_type, S>) {
    (void)sizeof(diagnostic::bound_layer_has_another_scalar<Position, Layer, typename Layer::scalar_type, S>);
    return std::type_identity<invalid_layer<D, S>>{};
  } else {
    return std::type_identity<Layer>{};
  }
}

}  // namespace detail

// The bijector (or distribution) that Spec gives for dimension D and scalar S; a bound
// bijector gives itself when D and S match, and a compile error in words otherwise.
template <class Spec, int D, class S = double>
using bind_t = typename decltype(detail::bind_layer<Spec, D, S, 0>())::type;

}  // namespace flowtmpl
