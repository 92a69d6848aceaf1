// flowtmpl/bijectors/squeeze.hpp: the layers that only move an image's values: Squeeze,
// and the reshapes Flatten and Unflatten<C, H, W> between an image and a vector.
//
// Squeeze (Dinh et al. 2017), on image<C, H, W> with H and W even, gives
// image<4C, H/2, W/2>: each 2 x 2 block of pixels of channel c becomes one pixel of
// channels 4c + 2 dh + dw (dh, dw the position in the block), nflows's
// SqueezeTransform order:
//   y[4c + 2 dh + dw][i][j] = x[c][2i + dh][2j + dw]
// Domain: R^D. Structure: permutation. Log-det: zero. Parameters: none. An odd H or W,
// or a vector shape, is a compile error in words naming the position and the shape.
//
// Flatten (image<C, H, W> to features<C H W>) and Unflatten<C, H, W> (features<C H W>,
// or any shape of that size, to image<C, H, W>) change the shape in the type and
// nothing in memory: they bind to Identity.
#pragma once

#include <array>

#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../diagnostics.hpp"
#include "../shapes.hpp"
#include "identity.hpp"

namespace flowtmpl {

template <int C, int H, int W, class S>
struct SqueezeBijector {
  static_assert(H % 2 == 0 && W % 2 == 0, "flowtmpl: internal: SqueezeBijector with an odd height or width");
  using scalar_type = S;
  using structure = flowtmpl::structure::permutation;
  static constexpr int dim = C * H * W;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::zero;
  static constexpr const char* name = "Squeeze";
  using vec = Eigen::Matrix<S, dim, 1>;

  // index of x moved to output index k
  FLOWTMPL_HOST_DEVICE static constexpr int source(int k) {
    constexpr int h2 = H / 2, w2 = W / 2;
    const int oc = k / (h2 * w2), r = k % (h2 * w2);
    const int i = r / w2, j = r % w2;
    const int c = oc / 4, dh = (oc % 4) / 2, dw = oc % 2;
    return (c * H + 2 * i + dh) * W + 2 * j + dw;
  }

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const {
    vec y;
    for (int k = 0; k < dim; ++k) y[k] = x[source(k)];
    return y;
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const {
    vec x;
    for (int k = 0; k < dim; ++k) x[source(k)] = y[k];
    return x;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec&) const { return S(0); }
  Eigen::Matrix<S, dim, dim> jacobian(const vec&) const {
    Eigen::Matrix<S, dim, dim> j = Eigen::Matrix<S, dim, dim>::Zero();
    for (int k = 0; k < dim; ++k) j(k, source(k)) = S(1);
    return j;
  }
  // a permutation's cotangents move back the other way
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec&, const vec& gy, S, SqueezeBijector&) const { return inverse(gy); }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec&, const vec& gx, S, SqueezeBijector&) const { return forward(gx); }
};

namespace detail {
template <class Shape>
struct squeezed {
  using type = Shape;  // not squeezable: the diagnostic is given where it binds
};
template <int C, int H, int W>
  requires(H % 2 == 0 && W % 2 == 0)
struct squeezed<image<C, H, W>> {
  using type = image<4 * C, H / 2, W / 2>;
};
}  // namespace detail

struct Squeeze : shape_spec<Squeeze> {
  template <class Shape, class S, int Position>
  static consteval auto bind_shape() {
    if constexpr (!detail::image_or_diagnose<Squeeze, Shape, Position>()) {
      return std::type_identity<detail::invalid_layer<Shape::size, S>>{};
    } else if constexpr (Shape::height % 2 != 0 || Shape::width % 2 != 0) {
      (void)sizeof(diagnostic::squeeze_needs_an_even_height_and_width<Position, Shape::channels, Shape::height,
                                                                      Shape::width>);
      return std::type_identity<detail::invalid_layer<Shape::size, S>>{};
    } else {
      return std::type_identity<SqueezeBijector<Shape::channels, Shape::height, Shape::width, S>>{};
    }
  }
  template <class Shape>
  using output_shape = typename detail::squeezed<Shape>::type;
};

struct Flatten : shape_spec<Flatten> {
  template <class Shape, class S, int Position>
  static consteval auto bind_shape() {
    if constexpr (!detail::image_or_diagnose<Flatten, Shape, Position>()) {
      return std::type_identity<detail::invalid_layer<Shape::size, S>>{};
    } else {
      return std::type_identity<IdentityBijector<Shape::size, S>>{};
    }
  }
  template <class Shape>
  using output_shape = features<Shape::size>;
};

template <int C, int H, int W>
struct Unflatten : shape_spec<Unflatten<C, H, W>> {
  static_assert(C >= 1 && H >= 1 && W >= 1, "flowtmpl: Unflatten<C, H, W>: every extent must be at least 1");
  template <class Shape, class S, int Position>
  static consteval auto bind_shape() {
    if constexpr (Shape::size != C * H * W) {
      (void)sizeof(diagnostic::unflatten_shape_differs_from_the_dimension<Position, C, H, W, Shape::size>);
      return std::type_identity<detail::invalid_layer<Shape::size, S>>{};
    } else {
      return std::type_identity<IdentityBijector<Shape::size, S>>{};
    }
  }
  template <class Shape>
  using output_shape = std::conditional_t<Shape::size == C * H * W, image<C, H, W>, Shape>;
};

}  // namespace flowtmpl
