// flowtmpl/detail/conditioned.hpp: the per-sample members shared by the layers with a
// conditioner (Coupling, the autoregressive layers). Derived provides
//   template <bool Forward> value_and_log_det<vec, S> apply(const vec& v, const S* ctx)
//   template <bool Forward> vec apply_vjp(const vec& v, const S* ctx, const vec& g,
//                                         S gld, Derived& grad)
// (ctx: C context values, nullptr when C = 0) and gets forward, inverse, log_det, the
// fused forms and the vector-Jacobian products (flowtmpl/differentiable.hpp), without a
// context when C = 0 (a Bijector) and with one when C > 0 (a ConditionalBijector), and
// the transformer's domain where it has one. Derived also
// names its network (network(), network_name) and holds `transformer`, and gets
// reset_parameters, for_each_parameter_tensor (and _block) and validate.
#pragma once

#include <array>
#include <cstdint>

#include "eigen.hpp"

#include "../core.hpp"
#include "../conditioners/conditioner.hpp"
#include "interval.hpp"
#include "members.hpp"

namespace flowtmpl::detail {

template <class Derived, int D, class S, int C, class Transformer>
struct conditioned_ops {
  using vec = Eigen::Matrix<S, D, 1>;
  using ctx_vec = Eigen::Matrix<S, (C > 0 ? C : 1), 1>;

  FLOWTMPL_HOST_DEVICE vec forward(const vec& z) const
    requires(C == 0)
  {
    return self().template apply<true>(z, nullptr).value;
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& x) const
    requires(C == 0)
  {
    return self().template apply<false>(x, nullptr).value;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& z) const
    requires(C == 0)
  {
    return self().template apply<true>(z, nullptr).log_det;
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& z) const
    requires(C == 0)
  {
    return self().template apply<true>(z, nullptr);
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& x) const
    requires(C == 0)
  {
    return self().template apply<false>(x, nullptr);
  }

  FLOWTMPL_HOST_DEVICE vec forward(const vec& z, const ctx_vec& c) const
    requires(C > 0)
  {
    return self().template apply<true>(z, c.data()).value;
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& x, const ctx_vec& c) const
    requires(C > 0)
  {
    return self().template apply<false>(x, c.data()).value;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& z, const ctx_vec& c) const
    requires(C > 0)
  {
    return self().template apply<true>(z, c.data()).log_det;
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& z, const ctx_vec& c) const
    requires(C > 0)
  {
    return self().template apply<true>(z, c.data());
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& x, const ctx_vec& c) const
    requires(C > 0)
  {
    return self().template apply<false>(x, c.data());
  }

  // ---- gradients --------------------------------------------------------------------
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& z, const vec& gx, S gld, Derived& grad) const
    requires(C == 0)
  {
    return self().template apply_vjp<true>(z, nullptr, gx, gld, grad);
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& x, const vec& gz, S gld, Derived& grad) const
    requires(C == 0)
  {
    return self().template apply_vjp<false>(x, nullptr, gz, gld, grad);
  }
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& z, const ctx_vec& c, const vec& gx, S gld, Derived& grad) const
    requires(C > 0)
  {
    return self().template apply_vjp<true>(z, c.data(), gx, gld, grad);
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& x, const ctx_vec& c, const vec& gz, S gld, Derived& grad) const
    requires(C > 0)
  {
    return self().template apply_vjp<false>(x, c.data(), gz, gld, grad);
  }

  static constexpr interval<S> forward_domain()
    requires requires { Transformer::domain(); }
  {
    return Transformer::domain();
  }
  static constexpr interval<S> inverse_domain()
    requires requires { Transformer::domain(); }
  {
    return Transformer::domain();
  }

  // ---- parameters -------------------------------------------------------------------
  // A start for the network (conditioners/conditioner.hpp); its last layer's bias is
  // the transformer's identity parameters, so init::identity_start is the identity map.
  void reset_parameters(std::uint64_t seed, init scheme = init::identity_start) {
    constexpr int P = Transformer::params_per_feature;
    std::array<S, Transformer::features * P> bias;
    for (int i = 0; i < Transformer::features; ++i) Transformer::identity_parameters(bias.data() + i * P);
    philox_stream rng(seed, 0);
    self_mut().network().reset_parameters(rng, scheme, bias.data());
  }
  template <class F>
  void for_each_parameter_tensor(F&& f) {
    detail::for_each_member_tensor(self_mut().network(), Derived::network_name, f);
    detail::for_each_member_tensor(self_mut().transformer, "transformer.", f);
  }
  template <class F>
  void for_each_parameter_tensor(F&& f) const {
    detail::for_each_member_tensor(self().network(), Derived::network_name, f);
    detail::for_each_member_tensor(self().transformer, "transformer.", f);
  }
  template <class F>
  void for_each_parameter_block(F&& f) {
    detail::for_each_member_block(*this, std::string(), f);
  }
  template <class F>
  void for_each_parameter_block(F&& f) const {
    detail::for_each_member_block(*this, std::string(), f);
  }
  const char* validate() const {
    if constexpr (requires { self().network().validate(); })
      if (const char* m = self().network().validate()) return m;
    if constexpr (requires { self().transformer.validate(); })
      if (const char* m = self().transformer.validate()) return m;
    return nullptr;
  }

 private:
  FLOWTMPL_HOST_DEVICE const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self_mut() { return static_cast<Derived&>(*this); }
};

}  // namespace flowtmpl::detail
