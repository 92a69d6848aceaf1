// flowtmpl/bijectors/inverse.hpp: Inverse<Spec>, the inverse of a bijector: forward is
// the inner layer's inverse and the other way round.
//
//   Inverse<Spec>            a spec (Spec a spec or a bound bijector)
//   InverseBijector<B>       what it binds to; holds the inner layer as `base`
//   invert(b)                InverseBijector<B>{b}
//
// Domain: the inner layer's domains, swapped. Structure: the inner layer's (every tag
// is closed under inversion). Log-det: log|det df^-1/dx| = -log_det of the inner layer
// at base.inverse(x); constant if the inner one is. Cost: the inner layer's.
// A data-dependent initialisation passes through with its direction swapped.
#pragma once

#include <type_traits>

#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../detail/interval.hpp"
#include "../shapes.hpp"

namespace flowtmpl {

template <class B>
struct InverseBijector {
  static_assert(Bijector<B> || ConditionalBijector<B>,
                "flowtmpl: Inverse<...> of a type that is neither a Bijector nor a ConditionalBijector");
  static constexpr int context_dim = context_dim_of<B>();
  using scalar_type = typename B::scalar_type;
  using structure = inverse_structure_t<typename B::structure>;
  static constexpr int dim = B::dim;
  static constexpr flowtmpl::log_det_kind log_det_kind = B::log_det_kind;
  static constexpr const char* name = "Inverse";
  using base_type = B;
  using S = scalar_type;
  using vec = Eigen::Matrix<S, dim, 1>;
  using ctx_vec = Eigen::Matrix<S, (context_dim > 0 ? context_dim : 1), 1>;

  [[no_unique_address]] B base;

  // conditional: the same with a context
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec forward(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    return base.inverse(x, detail::checked_context<S, context_dim, InverseBijector>(c, "forward"));
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    return base.forward(y, detail::checked_context<S, context_dim, InverseBijector>(c, "inverse"));
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE S log_det(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    return flowtmpl::inverse_and_log_det(base, x, detail::checked_context<S, context_dim, InverseBijector>(c, "log_det")).log_det;
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    return flowtmpl::inverse_and_log_det(base, x, detail::checked_context<S, context_dim, InverseBijector>(c, "forward_and_log_det"));
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    return flowtmpl::forward_and_log_det(base, y, detail::checked_context<S, context_dim, InverseBijector>(c, "inverse_and_log_det"));
  }

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const
    requires(context_dim == 0)
  {
    return base.inverse(x);
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const
    requires(context_dim == 0)
  {
    return base.forward(y);
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& x) const
    requires(context_dim == 0)
  {
    return flowtmpl::inverse_log_det(base, x);
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& x) const
    requires(context_dim == 0)
  {
    return flowtmpl::inverse_and_log_det(base, x);
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const
    requires(context_dim == 0)
  {
    return flowtmpl::forward_and_log_det(base, y);
  }
  FLOWTMPL_HOST_DEVICE S constant_log_det() const
    requires(B::log_det_kind == flowtmpl::log_det_kind::constant && context_dim == 0)
  {
    return -base.constant_log_det();
  }
  FLOWTMPL_HOST_DEVICE S constant_part() const { return -detail::constant_part(base); }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_varying(const vec& x) const
    requires(context_dim == 0)
  {
    return detail::inverse_varying(base, x);
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_varying(const vec& y) const
    requires(context_dim == 0)
  {
    return detail::forward_varying(base, y);
  }

  auto prepare() const {
    using P = decltype(flowtmpl::prepare(base));
    return InverseBijector<P>{flowtmpl::prepare(base)};
  }

  static constexpr auto forward_domain()
    requires requires { B::inverse_domain(); }
  {
    return B::inverse_domain();
  }
  static constexpr auto inverse_domain()
    requires requires { B::forward_domain(); }
  {
    return B::forward_domain();
  }
  const char* validate() const {
    if constexpr (requires { base.validate(); })
      return base.validate();
    else
      return nullptr;
  }
};

template <class Spec>
struct Inverse : bijector_spec {
  template <int D>
  static constexpr bool accepts_dim = [] {
    if constexpr (BijectorSpec<Spec>)
      return detail::spec_accepts_dim<Spec, D>();
    else
      return true;  // a bound layer: bind_t reports a dimension mismatch in words
  }();
  template <int D, class S>
  using bind = InverseBijector<bind_t<Spec, D, S>>;
  // bound to a shape (shapes.hpp): Spec bound to it, so that Shape is the data side of
  // Inverse<compose<Squeeze, ...>> (the input of Spec's forward); what follows sees a
  // vector unless Spec keeps the shape
  static constexpr bool shape_aware = true;
  static constexpr bool needs_shape = detail::needs_shape<Spec>();
  template <class Shape, class S, int Position>
  static consteval auto bind_shape() {
    return std::type_identity<InverseBijector<typename detail::bind_at_shape<Spec, Shape, S, Position>::type>>{};
  }
  template <class Shape>
  using output_shape = std::conditional_t<std::is_same_v<typename detail::shape_after<Spec, Shape>::type, Shape>, Shape,
                                          features<Shape::size>>;
};

namespace detail {
// Whether T is an InverseBijector<B>: the passes that walk a chain swap directions there.
template <class T>
struct is_inverse_layer : std::false_type {};
template <class B>
struct is_inverse_layer<InverseBijector<B>> : std::true_type {};
}  // namespace detail

template <class B>
  requires(Bijector<B> || ConditionalBijector<B>)
FLOWTMPL_HOST_DEVICE InverseBijector<B> invert(const B& b) {
  return InverseBijector<B>{b};
}

}  // namespace flowtmpl
