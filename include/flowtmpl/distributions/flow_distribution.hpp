// flowtmpl/distributions/flow_distribution.hpp: a flow, the distribution of x = f(z)
// with z from a base distribution and f a bijector (the sampling direction).
//
//   Flow<BaseSpec, BijectorSpec>      a spec; bind_t<Flow<...>, D, S> gives
//   FlowDistribution<Base, B>         members `base` and `transform`.
//
//   log_prob(x)          = base.log_prob(f^-1(x)) + log|det df^-1/dx|
//                        = base.log_prob(z) - log_det(z),  z = f^-1(x)
//   sample(rng)          = f(z), z = base.sample(rng)
//   sample_and_log_prob(rng) -> {x, log p(x)} with one pass of f
//   At temperature T (the base's scale times T; the base must model
//   TemperedDistribution): sample(rng, T), sample_and_log_prob(rng, T), log_prob(x, T),
//   all for the tempered model p_T(x) = base_T(f^-1(x)) |det df^-1/dx|.
//   With a conditional transform (Conditional<C, ...>): log_prob(x, c), sample(rng, c),
//   sample(rng, c, T), sample_and_log_prob(rng, c), for p(x | c); the flow then models
//   ConditionalDistribution instead of Distribution.
// Cost: one pass of f (sampling) or of f^-1 (density) per sample.
#pragma once

#include "../detail/eigen.hpp"

#include "../chain.hpp"
#include "../core.hpp"

namespace flowtmpl {

template <Distribution Base, class B>
  requires(Bijector<B> || ConditionalBijector<B>)
struct FlowDistribution {
  static_assert(Base::dim == B::dim, "flowtmpl: Flow: the base distribution and the bijector have different dimensions");
  static_assert(std::is_same_v<typename Base::scalar_type, typename B::scalar_type>,
                "flowtmpl: Flow: the base distribution and the bijector have different scalar types");
  using scalar_type = typename B::scalar_type;
  using base_type = Base;
  using transform_type = B;
  static constexpr int dim = B::dim;
  static constexpr int context_dim = context_dim_of<B>();
  static constexpr const char* name = "Flow";
  using S = scalar_type;
  using vec = Eigen::Matrix<S, dim, 1>;
  using ctx_vec = Eigen::Matrix<S, (context_dim > 0 ? context_dim : 1), 1>;

  [[no_unique_address]] Base base;
  [[no_unique_address]] B transform;

  // A conditional flow (a transform with context): p(x | c).
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE S log_prob(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    const auto r = flowtmpl::inverse_and_log_det(transform, x, detail::checked_context<S, context_dim, FlowDistribution>(c, "log_prob"));
    return base.log_prob(r.value) + r.log_det;
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec sample(philox_stream& rng, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    return transform.forward(base.sample(rng), detail::checked_context<S, context_dim, FlowDistribution>(c, "sample"));
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec sample(philox_stream& rng, const Eigen::MatrixBase<Ctx>& c, S temperature) const
    requires(context_dim > 0 && TemperedDistribution<Base>)
  {
    return transform.forward(base.sample(rng, temperature), detail::checked_context<S, context_dim, FlowDistribution>(c, "sample"));
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> sample_and_log_prob(philox_stream& rng, const Eigen::MatrixBase<Ctx>& c) const
    requires(context_dim > 0)
  {
    const vec z = base.sample(rng);
    const S lz = base.log_prob(z);
    const auto r = flowtmpl::forward_and_log_det(transform, z, detail::checked_context<S, context_dim, FlowDistribution>(c, "sample_and_log_prob"));
    return {r.value, lz - r.log_det};
  }

  FLOWTMPL_HOST_DEVICE S log_prob(const vec& x) const
    requires(context_dim == 0)
  {
    const auto r = flowtmpl::inverse_and_log_det(transform, x);
    return base.log_prob(r.value) + r.log_det;
  }
  FLOWTMPL_HOST_DEVICE S log_prob(const vec& x, S temperature) const
    requires(TemperedDistribution<Base> && context_dim == 0)
  {
    const auto r = flowtmpl::inverse_and_log_det(transform, x);
    return base.log_prob(r.value, temperature) + r.log_det;
  }
  FLOWTMPL_HOST_DEVICE vec sample(philox_stream& rng) const
    requires(context_dim == 0)
  {
    return transform.forward(base.sample(rng));
  }
  FLOWTMPL_HOST_DEVICE vec sample(philox_stream& rng, S temperature) const
    requires(TemperedDistribution<Base> && context_dim == 0)
  {
    return transform.forward(base.sample(rng, temperature));
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> sample_and_log_prob(philox_stream& rng) const
    requires(context_dim == 0)
  {
    const vec z = base.sample(rng);
    const S lz = base.log_prob(z);
    const auto r = flowtmpl::forward_and_log_det(transform, z);
    return {r.value, lz - r.log_det};
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> sample_and_log_prob(philox_stream& rng, S temperature) const
    requires(TemperedDistribution<Base> && context_dim == 0)
  {
    const vec z = base.sample(rng, temperature);
    const S lz = base.log_prob(z, temperature);
    const auto r = flowtmpl::forward_and_log_det(transform, z);
    return {r.value, lz - r.log_det};
  }

  auto prepare() const {
    using P = decltype(flowtmpl::prepare(transform));
    return FlowDistribution<Base, P>{base, flowtmpl::prepare(transform)};
  }
};

template <class BaseSpec, class BijectorSpec_>
struct Flow : distribution_spec {
  template <int D, class S>
  using bind = FlowDistribution<bind_t<BaseSpec, D, S>, bind_t<BijectorSpec_, D, S>>;
  // bound to the shape of the data (bind_shape_t, shapes.hpp): the transform to it, the
  // base to its size
  static constexpr bool shape_aware = true;
  static constexpr bool needs_shape = detail::needs_shape<BijectorSpec_>();
  template <class Shape, class S, int Position>
  static consteval auto bind_shape() {
    return std::type_identity<FlowDistribution<bind_t<BaseSpec, Shape::size, S>,
                                               typename detail::bind_at_shape<BijectorSpec_, Shape, S, 1>::type>>{};
  }
  template <class Shape>
  using output_shape = Shape;
};

}  // namespace flowtmpl
