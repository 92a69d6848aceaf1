// flowtmpl/transformers/transformer.hpp: the Transformer concept. A transformer is the
// monotone elementwise map y_i = tau(x_i; theta_i) that a conditioner parameterises in
// a coupling or autoregressive layer; theta_i, the raw parameters of feature i, are
// params_per_feature consecutive outputs of the conditioner (feature-major: feature i
// owns outputs [i P, (i + 1) P)). The transformer is applied in the layer's forward
// (sampling) direction.
//
// A transformer spec T (Additive, Affine, SoftplusAffine, Spline<K>, BoundedSpline<K>)
// has a member alias template `transformer<N, S>`: the bound transformer for N
// transformed features. The bound transformer provides
//   scalar_type, features (= N), params_per_feature, name
//   volume_preserving        true when log|dy/dx| = 0 for all inputs and parameters
//   forward(i, x, p, ld)     y = tau(x; p) for feature i, ld = log dy/dx
//   inverse(i, y, p, ld)     x = tau^-1(y; p), ld = log dx/dy
//   identity_parameters(p)   writes raw parameters for which tau is the identity
//                            (static; used by the identity start of the conditioners)
//   domain()                 (optional, static) the interval of x and y, if not R
// It may hold trained parameters of its own (Affine with a learnable bound), declared
// with BOOST_HANA_DEFINE_STRUCT like any layer's.
#pragma once

#include <concepts>

#include "../config.hpp"

namespace flowtmpl {

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

}  // namespace flowtmpl
