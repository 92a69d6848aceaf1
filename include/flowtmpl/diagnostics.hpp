// flowtmpl/diagnostics.hpp: every compile error of the library that has a name.
//
// Each template in namespace flowtmpl::diagnostic exists to be named on the first line
// of a compile error: its name says what is wrong, its arguments say where (the 0-based
// position of the layer in its compose<...>, the layer as written, the dimensions
// involved). g++ prints the innermost instantiation first ("In instantiation of 'struct
// flowtmpl::diagnostic::layer_cannot_take_this_dimension<1, flowtmpl::Permute<...>, 4>'"),
// so that is what the user reads first; the static_assert's text with the reason
// follows. A check instantiates its diagnostic only when it fails:
//   static_assert(detail::diagnose_unless<Ok, diagnostic::name<...>>());
// or, inside a discarded `if constexpr` branch, (void)sizeof(diagnostic::name<...>).
// tests/failtest holds a case for each, with the expected first line.
#pragma once

#include <type_traits>

#include "concepts.hpp"

namespace flowtmpl {

namespace detail {

template <class T>
inline constexpr bool always_false_v = false;

// A floating-point setting given as a template argument is a finite number (NaN and
// +-inf are not): for the static_asserts of solver and layer options.
consteval bool finite_setting(double v) { return v >= -1.7976931348623157e308 && v <= 1.7976931348623157e308; }

// Instantiates Diagnostic (whose static_assert then reports in words) only when !Ok;
// returns true either way, so that the caller's own static_assert adds no second error.
template <bool Ok, class Diagnostic>
consteval bool diagnose_unless() {
  if constexpr (!Ok) (void)sizeof(Diagnostic);
  return true;
}

}  // namespace detail

namespace diagnostic {

// ---- binding and composing (core.hpp, chain.hpp, bijectors/permute.hpp) ----------------
template <class Scalar>
struct scalar_must_be_float_or_double {
  static_assert(detail::always_false_v<Scalar>, "flowtmpl: a flow binds to float or double only");
};
template <int Dim>
struct dimension_must_be_positive {
  static_assert(Dim < 0 && Dim >= 0, "flowtmpl: a flow binds to a dimension of at least 1");
};
template <int Position, class Layer>
struct layer_is_neither_a_bijector_spec_nor_a_bijector {
  static_assert(Bijector<Layer>,
                "flowtmpl: this layer is neither a spec (deriving from flowtmpl::bijector_spec) nor a type that "
                "models flowtmpl::Bijector; the unsatisfied requirement is listed below");
};
template <int Position, class Layer, int Dim>
struct layer_cannot_take_this_dimension {
  static_assert(detail::always_false_v<Layer>,
                "flowtmpl: this layer cannot be bound to this dimension (its header states which dimensions it takes)");
};
template <int Position, class Layer, int LayerDim, int ChainDim>
struct bound_layer_has_another_dimension {
  static_assert(LayerDim == ChainDim,
                "flowtmpl: shape mismatch: a bound layer's dimension differs from the dimension of its chain");
};
template <int Position, class Layer, class LayerScalar, class ChainScalar>
struct bound_layer_has_another_scalar {
  static_assert(std::is_same_v<LayerScalar, ChainScalar>,
                "flowtmpl: a bound layer's scalar type differs from the scalar type of its chain");
};
template <int Position, class Previous, class Next>
struct adjacent_layers_have_different_dimensions {
  static_assert(Previous::dim == Next::dim,
                "flowtmpl: shape mismatch: the output dimension of the layer at Position (Previous above) differs from "
                "the input dimension of the layer after it (Next above)");
};
template <int Position, class Previous, class Next>
struct adjacent_layers_have_different_scalars {
  static_assert(std::is_same_v<typename Previous::scalar_type, typename Next::scalar_type>,
                "flowtmpl: the layer at Position (Previous above) and the layer after it (Next above) use different "
                "scalar types");
};
// ---- shapes (shapes.hpp, bijectors/squeeze.hpp, the image layers) --------------------
template <int Position, int C, int H, int W>
struct squeeze_needs_an_even_height_and_width {
  static_assert(H % 2 == 0 && W % 2 == 0,
                "flowtmpl: Squeeze at Position gets an image<C, H, W> with an odd height or width; it takes 2 x 2 "
                "blocks of pixels into channels (crop or pad the images, or squeeze earlier)");
};
template <int Position, int C, int H, int W>
struct split_needs_an_even_channel_count {
  static_assert(C % 2 == 0,
                "flowtmpl: Split at Position gets an image<C, H, W> with an odd number of channels; it factors out "
                "half of them (squeeze first, or split where the channel count is even)");
};
template <int Position, int D>
struct split_needs_an_even_feature_count {
  static_assert(D % 2 == 0,
                "flowtmpl: Split at Position gets an odd number of features D; it factors out half of them");
};
template <int Position>
struct split_has_no_layers_after_it {
  static_assert(Position < 0 && Position >= 0,
                "flowtmpl: Split at Position is the last entry of its compose<...>; the layers after a Split act on "
                "the half that continues, so it needs at least one");
};
template <int Position, class Layer, int D>
struct layer_needs_an_image_shape {
  static_assert(detail::always_false_v<Layer>,
                "flowtmpl: this layer works on images and was bound to a vector of D features; bind the flow with "
                "bind_shape_t<..., image<C, H, W>, S>, or reshape with Unflatten<C, H, W> before it");
};
template <int Position, int C, int H, int W, int D>
struct unflatten_shape_differs_from_the_dimension {
  static_assert(C * H * W == D, "flowtmpl: Unflatten<C, H, W> at Position gets D features, and C * H * W != D");
};

template <class BatchScalar, class FlowScalar, class Flow>
struct batch_scalar_differs_from_the_flows {
  static_assert(std::is_same_v<BatchScalar, FlowScalar>,
                "flowtmpl: the batch's scalar type differs from the flow's scalar_type (convert the batch with "
                ".template cast<S>(), or bind the flow to the batch's scalar)");
};
template <int BatchRows, int FlowDim, class Flow>
struct batch_rows_differ_from_the_flows_dimension {
  static_assert(BatchRows == FlowDim,
                "flowtmpl: the batch's number of rows differs from the flow's dimension (samples are columns: a "
                "batch is D x N)");
};

// ---- conditional flows (conditional.hpp; the context of every entry point) --------------
template <class Flow>
struct conditional_flow_called_without_its_context {
  static_assert(detail::always_false_v<Flow>,
                "flowtmpl: this flow is conditional (Conditional<C, ...>, Flow above): every call takes its context, "
                "a C x N batch (one per sample) or C x 1 (one for all) after the samples; fit takes "
                "conditional_data<Flow>(X, context)");
};
template <class Flow>
struct flow_without_context_given_a_context {
  static_assert(detail::always_false_v<Flow>,
                "flowtmpl: this flow (Flow above) reads no context: bind it with Conditional<C, Spec> to give it one, "
                "or call without the context");
};
template <class ContextScalar, class FlowScalar, class Flow>
struct context_scalar_differs_from_the_flows {
  static_assert(std::is_same_v<ContextScalar, FlowScalar>,
                "flowtmpl: the context's scalar type differs from the flow's scalar_type (convert it with "
                ".template cast<S>())");
};
template <int ContextRows, int FlowContextDim, class Flow>
struct context_rows_differ_from_the_flows_context_dim {
  static_assert(ContextRows == FlowContextDim,
                "flowtmpl: the context's number of rows differs from the flow's context_dim (the C of "
                "Conditional<C, ...>; contexts are columns: C x N, or C x 1 for one context)");
};

template <int... Indices>
struct indices_are_not_a_permutation {
  static_assert(sizeof...(Indices) < 0,
                "flowtmpl: Indices<p...>: the indices must be a permutation of 0, 1, ..., N-1, each once");
};
template <class Bijector_>
struct bijector_has_no_jacobian_member {
  static_assert(sizeof(Bijector_) < 0,
                "flowtmpl::jacobian: this bijector has no jacobian(x) member; add one returning the dense D x D "
                "matrix df/dx");
};

// ---- coupling and autoregressive layers (bijectors/coupling.hpp, autoregressive.hpp) ----
template <class T>
struct not_a_transformer_spec {
  static_assert(detail::always_false_v<T>,
                "flowtmpl: the first argument of Coupling / MaskedAutoregressive / InverseAutoregressive must be a "
                "transformer spec (Additive, Affine, BoundedAffine<...>, SoftplusAffine, Spline<K>, BoundedSpline<K>)");
};

// ---- training (differentiable.hpp) ------------------------------------------------------
template <class Layer>
struct layer_has_no_vector_jacobian_product {
  static_assert(sizeof(Layer) < 0,
                "flowtmpl: this layer has no forward_vjp / inverse_vjp members, so a flow holding it cannot be "
                "trained (see flowtmpl/differentiable.hpp for what a differentiable layer provides)");
};

}  // namespace diagnostic

namespace detail {
// The body of an entry point's overload that exists only to say that the flow was
// called without its context, or with one it does not read (host and device).
template <class Flow, class Result>
Result without_its_context() {
  (void)sizeof(diagnostic::conditional_flow_called_without_its_context<Flow>);
  return Result{};
}
template <class Flow, class Result>
Result with_a_context_it_does_not_read() {
  (void)sizeof(diagnostic::flow_without_context_given_a_context<Flow>);
  return Result{};
}
}  // namespace detail

}  // namespace flowtmpl
