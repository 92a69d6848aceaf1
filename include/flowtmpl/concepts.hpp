// flowtmpl/concepts.hpp: the contract. Every concept here is listed with its required
// expressions, its laws (what the conformance kit in flowtmpl/testing.hpp checks) and
// its models.
#pragma once

#include <concepts>
#include <type_traits>

#include "detail/eigen.hpp"

#include "config.hpp"
#include "random.hpp"
#include "structure.hpp"

namespace flowtmpl {

// One sample of a bijector or distribution T: a fixed-size column.
template <class T>
using vector_t = Eigen::Matrix<typename T::scalar_type, T::dim, 1>;

// Base class marking a spec: an empty type that says what to build. Specs carry no
// dimension and no scalar; flowtmpl::bind_t<Spec, D, S> binds one.
struct bijector_spec {};
struct distribution_spec {};

// ---------------------------------------------------------------------------------
// Bijector
//
// A bound, invertible map f from R^D (the base side) to R^D (the data side).
// Required, for b a const B and x, y of type vector_t<B>:
//   B::scalar_type          float or double
//   B::dim                  static constexpr int, >= 1
//   B::structure            a tag of flowtmpl::structure (the pattern of df/dx)
//   B::log_det_kind         static constexpr flowtmpl::log_det_kind
//   B::name                 static constexpr const char*: the layer's name in messages
//   b.forward(x)            -> vector_t<B>: f(x), the sampling direction
//   b.inverse(y)            -> vector_t<B>: f^-1(y), the normalizing direction
//   b.log_det(x)            -> scalar_type: log|det df/dx| at x
//   b.constant_log_det()    -> scalar_type, required when log_det_kind is constant
// Laws (x in the forward domain, y = f(x)):
//   inverse(forward(x)) == x                          up to rounding
//   log_det(x) == log|det J(x)|                       J the Jacobian of forward
//   inverse_log_det(b, y) == -log_det(x)              (flowtmpl::inverse_log_det)
//   J(x)_ij == 0 wherever structure forbids it        (exactly: y_i does not depend on x_j)
//   log_det_kind zero:     log_det(x) == 0 for all x
//   log_det_kind constant: log_det(x) == constant_log_det() for all x
// Optional members that the library uses when present:
//   forward_and_log_det(x), inverse_and_log_det(y)   fused versions
//   jacobian(x)                                        the dense D x D Jacobian
//   prepare()                                          a bijector that computes the same
//       function faster per sample after work done once (LUConv: the dense matrix);
//       the host backend calls it once per batch call.
//   forward_domain(), inverse_domain()                 the inputs for which the map is
//       defined (flowtmpl::interval), checked in checked mode.
//   validate()                                         nullptr if the parameters are
//       valid, else a message (LUConv: a zero on the diagonal).
// Models: every bound type in flowtmpl/bijectors/, Chain<...>, InverseBijector<B>.
template <class B>
concept Bijector =
    requires {
      typename B::scalar_type;
      typename B::structure;
      { B::dim } -> std::convertible_to<int>;
      { B::log_det_kind } -> std::convertible_to<log_det_kind>;
      { B::name } -> std::convertible_to<const char*>;
    } && is_supported_scalar_v<typename B::scalar_type> && (B::dim >= 1) &&
    is_structure_tag_v<typename B::structure> &&
    requires(const B& b, const vector_t<B>& x) {
      { b.forward(x) } -> std::same_as<vector_t<B>>;
      { b.inverse(x) } -> std::same_as<vector_t<B>>;
      { b.log_det(x) } -> std::same_as<typename B::scalar_type>;
    } &&
    (B::log_det_kind != log_det_kind::constant || requires(const B& b) {
      { b.constant_log_det() } -> std::same_as<typename B::scalar_type>;
    });

// ---------------------------------------------------------------------------------
// ConditionalBijector
//
// A bijector that also reads a context vector c of static size context_dim > 0
// (conditional flows): forward(x, c), inverse(y, c), log_det(x, c). It does not model
// Bijector; with_context(b, c) (core.hpp) gives one for a fixed c.
template <class B>
concept ConditionalBijector =
    requires {
      typename B::scalar_type;
      typename B::structure;
      { B::dim } -> std::convertible_to<int>;
      { B::context_dim } -> std::convertible_to<int>;
      { B::log_det_kind } -> std::convertible_to<log_det_kind>;
      { B::name } -> std::convertible_to<const char*>;
    } && is_supported_scalar_v<typename B::scalar_type> && (B::dim >= 1) && (B::context_dim >= 1) &&
    is_structure_tag_v<typename B::structure> &&
    requires(const B& b, const vector_t<B>& x, const Eigen::Matrix<typename B::scalar_type, B::context_dim, 1>& c) {
      { b.forward(x, c) } -> std::same_as<vector_t<B>>;
      { b.inverse(x, c) } -> std::same_as<vector_t<B>>;
      { b.log_det(x, c) } -> std::same_as<typename B::scalar_type>;
    };

template <class B>
using context_t = Eigen::Matrix<typename B::scalar_type, B::context_dim, 1>;

// The context size of a layer: 0 for a Bijector.
template <class B>
consteval int context_dim_of() {
  if constexpr (requires { B::context_dim; })
    return B::context_dim;
  else
    return 0;
}

// ---------------------------------------------------------------------------------
// BijectorSpec
//
// An empty type deriving from flowtmpl::bijector_spec with
//   template <int D, class S> using bind = <a Bijector of dimension D and scalar S>;
// and optionally
//   template <int D> static constexpr bool accepts_dim    (default: D >= 1)
// Laws: bind<D, S> models Bijector with dim == D and scalar_type == S whenever
// accepts_dim<D>; it is trivially copyable.
// Models: Identity, Shift, Scale, Affine, Exp, Sigmoid, Logit, Softplus, Tanh,
// LeakyReLU, Permute<...>, ActNorm, LUConv, Coupling<...>, MaskedAutoregressive<...>,
// InverseAutoregressive<...>, Planar, Radial, Inverse<Spec>, compose<Specs...>;
// Conditional<C, Spec> binds to a ConditionalBijector instead.
template <class T>
concept BijectorSpec = std::is_base_of_v<bijector_spec, T> && std::is_empty_v<T>;

// ---------------------------------------------------------------------------------
// Distribution
//
// Required, for d a const D, x a vector_t<D> and rng a flowtmpl::philox_stream&:
//   D::scalar_type, D::dim   as for Bijector
//   d.log_prob(x)            -> scalar_type: log density at x (-inf outside the support)
//   d.sample(rng)            -> vector_t<D>: one draw
// Laws: the samples follow the density (checked statistically in tests); log_prob
// integrates to one.
// Models: StandardNormalDistribution, DiagonalNormalDistribution, UniformDistribution,
// FlowDistribution<Base, Bijector>.
template <class T>
concept Distribution =
    requires {
      typename T::scalar_type;
      { T::dim } -> std::convertible_to<int>;
    } && is_supported_scalar_v<typename T::scalar_type> && (T::dim >= 1) &&
    requires(const T& d, const vector_t<T>& x, philox_stream& rng) {
      { d.log_prob(x) } -> std::same_as<typename T::scalar_type>;
      { d.sample(rng) } -> std::same_as<vector_t<T>>;
    };

// TemperedDistribution: a Distribution that can draw with its scale multiplied by T.
//   d.sample(rng, t)      -> vector_t<D>
//   d.log_prob(x, t)      -> scalar_type: log density of the tempered distribution
// Models: StandardNormalDistribution, DiagonalNormalDistribution.
template <class T>
concept TemperedDistribution =
    Distribution<T> && requires(const T& d, const vector_t<T>& x, philox_stream& rng, typename T::scalar_type t) {
      { d.sample(rng, t) } -> std::same_as<vector_t<T>>;
      { d.log_prob(x, t) } -> std::same_as<typename T::scalar_type>;
    };

// A distribution of x given a context c (a conditional flow): log_prob(x, c),
// sample(rng, c).
template <class T>
concept ConditionalDistribution =
    requires {
      typename T::scalar_type;
      { T::dim } -> std::convertible_to<int>;
      { T::context_dim } -> std::convertible_to<int>;
    } && is_supported_scalar_v<typename T::scalar_type> && (T::dim >= 1) && (T::context_dim >= 1) &&
    requires(const T& d, const vector_t<T>& x, const Eigen::Matrix<typename T::scalar_type, T::context_dim, 1>& c,
             philox_stream& rng) {
      { d.log_prob(x, c) } -> std::same_as<typename T::scalar_type>;
      { d.sample(rng, c) } -> std::same_as<vector_t<T>>;
    };

template <class T>
concept DistributionSpec = std::is_base_of_v<distribution_spec, T> && std::is_empty_v<T>;

// ---------------------------------------------------------------------------------
// Transformer, TransformerSpec (flowtmpl/transformers/transformer.hpp has the
// gradients part and the shared helpers)
//
// A bound transformer T: the monotone elementwise map y_i = tau(x_i; theta_i) that a
// conditioner parameterises inside a coupling or autoregressive layer.
// Required, for t a const T, v a scalar_type, p the P = params_per_feature raw
// parameters of feature i:
//   T::scalar_type, T::features (int), T::params_per_feature (int), T::name
//   T::volume_preserving     bool: log|dy/dx| = 0 for every input and parameter
//   t.forward(i, v, p, ld)   -> scalar_type y = tau(v; p), ld = log dy/dx
//   t.inverse(i, v, p, ld)   -> scalar_type x = tau^-1(v; p), ld = log dx/dy
//   T::identity_parameters(q)  writes raw parameters for which tau is the identity
// Laws (the coupling and autoregressive kit tests check them through their layers):
//   inverse(forward(x)) = x, the two ld's are opposite, tau is increasing in x.
// A transformer spec has a member alias template transformer<N, S>.
// Models: Additive, Affine (BoundedAffine<3>), BoundedAffine<C, Bound>, SoftplusAffine,
// Spline<K, B>, BoundedSpline<K, Lo, Hi>.
template <class T>
concept Transformer = requires {
  typename T::scalar_type;
  { T::features } -> std::convertible_to<int>;
  { T::params_per_feature } -> std::convertible_to<int>;
  { T::name } -> std::convertible_to<const char*>;
  { T::volume_preserving } -> std::convertible_to<bool>;
} && requires(const T& t, typename T::scalar_type v, const typename T::scalar_type* p,
              typename T::scalar_type* q, typename T::scalar_type& ld) {
  { t.forward(0, v, p, ld) } -> std::same_as<typename T::scalar_type>;
  { t.inverse(0, v, p, ld) } -> std::same_as<typename T::scalar_type>;
  T::identity_parameters(q);
};

template <class T>
concept TransformerSpec = requires { typename T::template transformer<1, double>; } &&
                          Transformer<typename T::template transformer<1, double>>;

namespace act {
// ---------------------------------------------------------------------------------
// Activation (flowtmpl/conditioners/activations.hpp)
//
// An activation of the conditioners' hidden layers: A::name, A::scalar(v) for one
// value, and (used by the networks) A::apply(array) / A::derivative(array) over Eigen
// arrays. Models: act::relu, act::tanh, act::elu.
template <class T>
concept Activation = requires(float v) {
  { T::name } -> std::convertible_to<const char*>;
  { T::scalar(v) } -> std::same_as<float>;
};
}  // namespace act

// DifferentiableBijector, DifferentiableDistribution and ReparameterizedDistribution
// are in flowtmpl/differentiable.hpp: they are decided by walking a chain's layers
// (Chain, Inverse, a bound context), whose types that header includes.

}  // namespace flowtmpl
