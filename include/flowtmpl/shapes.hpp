// flowtmpl/shapes.hpp: the shape of what a layer sees, as a type, and the binding of
// specs to a shape.
//
//   image<C, H, W>        C channels of H x W pixels, stored flat and channel-major:
//                         element (c, h, w) at index (c H + h) W + w, so the first k
//                         channels are the first k H W elements (what Split keeps)
//   features<D>           a vector of D features
//   bind_shape_t<Spec, Shape, S>
//                         the bound layer (or flow) for data of that shape; its dim is
//                         Shape::size. A flow over images: bind_shape_t<Flow<StandardNormal,
//                         Inverse<compose<Squeeze, ...>>>, image<1, 28, 28>, float>.
//
// The shape is given at the input of a layer's forward: an image pipeline is written
// from the data side, as Glow and RealNVP are (and as nflows's transforms are: its
// forward is the normalizing direction), and the flow takes its inverse, so that data
// enters through the chain's forward. compose<...> bound to a shape binds each layer
// to the shape that reaches it: a shape-aware spec (below) says what it becomes and
// what comes out (Squeeze: image<C, H, W> to image<4C, H/2, W/2>); any other spec is
// bound to Shape::size and keeps the shape. Split makes the rest of its compose<...>
// act on the first half (of the channels of an image, of the features of a vector),
// the other half passing through unchanged (to the base distribution): the multi-scale
// architecture. After a Split the shape is features<D>.
//
// A shape-aware spec L has
//   static constexpr bool shape_aware = true;
//   static constexpr bool needs_shape = true|false;   needs the shape pipeline even when
//       bound to a plain dimension D (Squeeze, Split, Flatten, the image couplings);
//       false for those that are also vector layers (ActNorm, LUConv)
//   template <class Shape, class S, int Position> static consteval auto bind_shape();
//       std::type_identity<the bound layer>, or a diagnostic (diagnostics.hpp) and
//       std::type_identity<detail::invalid_layer<Shape::size, S>>
//   template <class Shape> using output_shape = ...;  after its forward (the input
//       shape where the binding failed, so that one mistake gives one error)
#pragma once

#include <type_traits>
#include <utility>

#include "core.hpp"
#include "diagnostics.hpp"
#include "bijectors/split.hpp"

namespace flowtmpl {

template <int C, int H, int W>
struct image {
  static_assert(C >= 1 && H >= 1 && W >= 1, "flowtmpl::image<C, H, W>: every extent must be at least 1");
  static constexpr int channels = C;
  static constexpr int height = H;
  static constexpr int width = W;
  static constexpr int pixels = H * W;
  static constexpr int size = C * H * W;
};

template <int D>
struct features {
  static_assert(D >= 1, "flowtmpl::features<D>: D must be at least 1");
  static constexpr int size = D;
};

template <class T>
struct is_image : std::false_type {};
template <int C, int H, int W>
struct is_image<image<C, H, W>> : std::true_type {};
template <class T>
struct is_features : std::false_type {};
template <int D>
struct is_features<features<D>> : std::true_type {};

// The marker of the multi-scale split: see the top of this header. Only meaningful
// inside compose<...>, where it takes the layers after it.
struct Split {};

template <class... Ls>
class Chain;

// The base of a spec that binds only through the shape pipeline (Squeeze, Flatten,
// Unflatten, ConvCoupling): it declares itself shape-aware and needing a shape, and
// bound to a plain D it binds to features<D> (where its bind_shape reports in words a
// shape it does not take).
namespace detail {
template <class Spec, int D, class S>
struct bound_through_features {  // a struct: Spec is complete only when this is used
  using type = typename decltype(Spec::template bind_shape<features<D>, S, 0>())::type;
};
}  // namespace detail
template <class Spec>
struct shape_spec : bijector_spec {
  static constexpr bool shape_aware = true;
  static constexpr bool needs_shape = true;
  template <int D, class S>
  using bind = typename detail::bound_through_features<Spec, D, S>::type;
};

namespace detail {

template <class L>
concept shape_aware_spec = requires {
  { L::shape_aware } -> std::convertible_to<bool>;
} && L::shape_aware;

template <class L>
consteval bool needs_shape() {
  if constexpr (std::is_same_v<L, Split>)
    return true;
  else if constexpr (shape_aware_spec<L>)
    return L::needs_shape;
  else
    return false;
}

template <class Shape, class S, int Position>
using invalid_at = invalid_layer<Shape::size, S>;

// Whether Shape is an image; if not, the diagnostic that Spec (at Position) needs one.
template <class Spec, class Shape, int Position>
consteval bool image_or_diagnose() {
  if constexpr (!is_image<Shape>::value) (void)sizeof(diagnostic::layer_needs_an_image_shape<Position, Spec, Shape::size>);
  return is_image<Shape>::value;
}

// The shape after L's forward from Shape.
template <class L, class Shape>
struct shape_after {
  using type = Shape;
};
template <class L, class Shape>
  requires shape_aware_spec<L>
struct shape_after<L, Shape> {
  using type = typename L::template output_shape<Shape>;
};

// The layer L bound to Shape, and the shape after it.
template <class L, class Shape, class S, int Position>
struct bind_at_shape {
  static consteval auto bind() {
    if constexpr (shape_aware_spec<L>)
      return L::template bind_shape<Shape, S, Position>();
    else
      return bind_layer<L, Shape::size, S, Position>();
  }
  using type = typename decltype(bind())::type;
  using output = typename shape_after<L, Shape>::type;
};

// The half of Shape that continues after a Split at Position (a diagnostic if it has no
// halves; the whole shape then, so that binding goes on).
template <class Shape, int Position>
consteval auto split_half() {
  if constexpr (is_image<Shape>::value) {
    if constexpr (Shape::channels % 2 != 0) {
      (void)sizeof(diagnostic::split_needs_an_even_channel_count<Position, Shape::channels, Shape::height, Shape::width>);
      return std::type_identity<Shape>{};
    } else {
      return std::type_identity<image<Shape::channels / 2, Shape::height, Shape::width>>{};
    }
  } else {
    if constexpr (Shape::size % 2 != 0) {
      (void)sizeof(diagnostic::split_needs_an_even_feature_count<Position, Shape::size>);
      return std::type_identity<Shape>{};
    } else {
      return std::type_identity<features<Shape::size / 2>>{};
    }
  }
}

template <class... Ls>
struct type_list {};
template <class L, class List>
struct prepend;
template <class L, class... Ls>
struct prepend<L, type_list<Ls...>> {
  using type = type_list<L, Ls...>;
};
template <class List>
struct chain_of;
template <class... Ls>
struct chain_of<type_list<Ls...>> {
  using type = Chain<Ls...>;
};

// Binds Layers... (starting at Position) to Shape in turn: `layers`, a type_list of the
// bound layers, and `output`, the shape after the last.
template <class Shape, class S, int Position, class... Layers>
struct shape_fold {
  using layers = type_list<>;
  using output = Shape;
};
template <class Shape, class S, int Position, class... Rest>
struct shape_fold<Shape, S, Position, Split, Rest...> {
  static consteval auto bind() {
    if constexpr (sizeof...(Rest) == 0) {
      (void)sizeof(diagnostic::split_has_no_layers_after_it<Position>);
      return std::type_identity<invalid_at<Shape, S, Position>>{};
    } else {
      using half = typename decltype(split_half<Shape, Position>())::type;
      if constexpr (half::size * 2 != Shape::size) {
        return std::type_identity<invalid_at<Shape, S, Position>>{};
      } else {
        using inner = typename chain_of<typename shape_fold<half, S, Position + 1, Rest...>::layers>::type;
        return std::type_identity<SplitBijector<inner>>{};
      }
    }
  }
  using layers = type_list<typename decltype(bind())::type>;
  using output = features<Shape::size>;
};
template <class Shape, class S, int Position, class L, class... Rest>
struct shape_fold<Shape, S, Position, L, Rest...> {
  using first = bind_at_shape<L, Shape, S, Position>;
  using next = shape_fold<typename first::output, S, Position + 1, Rest...>;
  using layers = typename prepend<typename first::type, typename next::layers>::type;
  using output = typename next::output;
};

// The shape after Layers... from Shape, without binding them.
template <class Shape, class... Layers>
struct output_fold {
  using type = Shape;
};
template <class Shape, class... Rest>
struct output_fold<Shape, Split, Rest...> {
  using type = features<Shape::size>;
};
template <class Shape, class L, class... Rest>
struct output_fold<Shape, L, Rest...> {
  using after = typename shape_after<L, Shape>::type;
  using type = typename output_fold<after, Rest...>::type;
};

}  // namespace detail

// The bound layer (or flow distribution) that Spec gives for data of shape Shape.
template <class Spec, class Shape, class S = double>
using bind_shape_t = typename detail::bind_at_shape<Spec, Shape, S, 0>::type;

}  // namespace flowtmpl
