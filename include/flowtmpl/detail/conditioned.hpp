// flowtmpl/detail/conditioned.hpp: the per-sample members shared by the layers with a
// conditioner (Coupling, the autoregressive layers). Derived provides
//   template <bool Forward> value_and_log_det<vec, S> apply(const vec& v, const S* ctx)
// (ctx: C context values, nullptr when C = 0) and gets forward, inverse, log_det and the
// fused forms, without a context when C = 0 (a Bijector) and with one when C > 0 (a
// ConditionalBijector), and the transformer's domain where it has one.
#pragma once

#include <Eigen/Core>

#include "../core.hpp"
#include "interval.hpp"

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

 private:
  FLOWTMPL_HOST_DEVICE const Derived& self() const { return static_cast<const Derived&>(*this); }
};

}  // namespace flowtmpl::detail
