// flowtmpl/bijectors/split.hpp: SplitBijector<Inner>, what compose<..., Split, Rest...>
// binds to (flowtmpl/shapes.hpp): the multi-scale split, or factor-out, of RealNVP and
// Glow (Dinh et al. 2017, Kingma & Dhariwal 2018).
//
//   forward(x) = [inner.forward(x_head); x_tail]     x_head: the first D/2 elements
//
// With the shape pipeline's channel-major storage the head of an image is its first
// half of channels, so the rest of the chain (Inner, bound to image<C/2, H, W>) acts on
// those and the other half passes through to the base distribution. Written from the
// data side (the flow takes the chain's inverse), this is the factor-out: half of the
// variables leave the flow at this scale. Domain: Inner's on the head, R on the tail.
// Structure: block diagonal (block_triangular<D/2, D/2>). Log-det: Inner's. Parameters:
// Inner's, named as Inner's (parameters.hpp walks them, "2.0.log_scale"); gradients,
// initialisation and checked mode go through Inner like through a nested chain.
#pragma once

#include <type_traits>

#include "../detail/eigen.hpp"

#include "../core.hpp"

namespace flowtmpl {

template <class Inner>
struct SplitBijector {
  using inner_type = Inner;
  using scalar_type = typename Inner::scalar_type;
  using S = scalar_type;
  static constexpr int half = Inner::dim;
  static constexpr int dim = 2 * Inner::dim;
  using structure = flowtmpl::structure::block_triangular<half, half>;
  static constexpr flowtmpl::log_det_kind log_det_kind = Inner::log_det_kind;
  static constexpr const char* name = "Split";
  using vec = Eigen::Matrix<S, dim, 1>;
  using head_vec = Eigen::Matrix<S, half, 1>;
  static_assert(Bijector<Inner>, "flowtmpl: Split: the layers after a Split must not read a context");

  Inner inner;

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const {
    vec y = x;
    y.template head<half>() = inner.forward(head_vec(x.template head<half>()));
    return y;
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const {
    vec x = y;
    x.template head<half>() = inner.inverse(head_vec(y.template head<half>()));
    return x;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& x) const { return inner.log_det(head_vec(x.template head<half>())); }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& x) const {
    const auto r = flowtmpl::forward_and_log_det(inner, head_vec(x.template head<half>()));
    vec y = x;
    y.template head<half>() = r.value;
    return {y, r.log_det};
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const {
    const auto r = flowtmpl::inverse_and_log_det(inner, head_vec(y.template head<half>()));
    vec x = y;
    x.template head<half>() = r.value;
    return {x, r.log_det};
  }
  FLOWTMPL_HOST_DEVICE S constant_log_det() const
    requires(log_det_kind == flowtmpl::log_det_kind::constant)
  {
    return detail::constant_part(inner);
  }

  auto prepare() const {
    using P = decltype(flowtmpl::prepare(inner));
    return SplitBijector<P>{flowtmpl::prepare(inner)};
  }
};

template <class T>
struct is_split_layer : std::false_type {};
template <class Inner>
struct is_split_layer<SplitBijector<Inner>> : std::true_type {};

}  // namespace flowtmpl
