// flowtmpl/conditioners/activations.hpp: the activations a conditioner network takes
// as a compile-time argument. Each is a type with
//   apply(a)    elementwise on an Eigen array expression (a plain array back)
//   scalar(v)   the same on one value
//   derivative(a)  the derivative at the pre-activations a, elementwise (for the
//               gradients; relu's is 0 at 0, as PyTorch's)
//   second_derivative(a)  the second derivative, elementwise (for the gradients of a
//               residual layer's log-det, which holds the first; relu's is 0)
//   name
// relu: max(v, 0) (NaN stays NaN). tanh. silu: v sigmoid(v) (Ramachandran et al.
// 2017), written v / (1 + exp(-v)), and -0 at v = -inf (its limit).
// elu: v for v > 0, expm1(v) otherwise (alpha = 1; Clevert et al. 2015).
// lipswish: silu(v) / 1.1 (Chen et al. 2019, with beta = 1): silu's derivative reaches
// 1.0998, so lipswish is 1-Lipschitz, as a residual layer's network needs
// (conditioners/lipschitz_mlp.hpp).
#pragma once

#include <cmath>
#include <limits>

#include "../detail/eigen.hpp"

#include "../concepts.hpp"
#include "../config.hpp"

namespace flowtmpl::act {

struct relu {
  static constexpr const char* name = "relu";
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject apply(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    // (a > 0).select keeps a NaN (the comparison is false, then a is NaN < 0 false)
    return (a < S(0)).select(S(0), a);
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S scalar(S v) {
    return v < S(0) ? S(0) : v;
  }
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return (a > S(0)).select(A::PlainObject::Ones(a.rows(), a.cols()), S(0));
  }
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject second_derivative(const Eigen::ArrayBase<A>& a) {
    return A::PlainObject::Zero(a.rows(), a.cols());
  }
};

struct tanh {
  static constexpr const char* name = "tanh";
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject apply(const Eigen::ArrayBase<A>& a) {
    return a.tanh();
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S scalar(S v) {
    using std::tanh;
    return tanh(v);
  }
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return S(1) - a.tanh().square();
  }
  // -2 tanh (1 - tanh^2)
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject second_derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    const typename A::PlainObject t = a.tanh();
    return S(-2) * t * (S(1) - t.square());
  }
};

struct silu {
  static constexpr const char* name = "silu";
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject apply(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    // -inf / inf would be NaN: the limit at -inf is -0
    return (a == -std::numeric_limits<S>::infinity()).select(S(-0.0), a / (S(1) + (-a).exp()));
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S scalar(S v) {
    using std::exp;
    return v == -std::numeric_limits<S>::infinity() ? S(-0.0) : v / (S(1) + exp(-v));
  }
  // sigmoid(v) (1 + v (1 - sigmoid(v))), 0 at v = -inf
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    const typename A::PlainObject s = S(1) / (S(1) + (-a).exp());
    return (a == -std::numeric_limits<S>::infinity()).select(S(0), s * (S(1) + a * (S(1) - s)));
  }
  // sigmoid(v) (1 - sigmoid(v)) (2 + v (1 - 2 sigmoid(v))), 0 at v = +-inf (its limit)
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject second_derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    const typename A::PlainObject s = S(1) / (S(1) + (-a).exp());
    return (a.abs() == std::numeric_limits<S>::infinity())
        .select(S(0), s * (S(1) - s) * (S(2) + a * (S(1) - S(2) * s)));
  }
};

struct elu {
  static constexpr const char* name = "elu";
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject apply(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return (a > S(0)).select(a, a.expm1());
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S scalar(S v) {
    using std::expm1;
    return v > S(0) ? v : expm1(v);
  }
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return (a > S(0)).select(A::PlainObject::Ones(a.rows(), a.cols()), a.exp());
  }
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject second_derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return (a > S(0)).select(S(0), a.exp());
  }
};

struct lipswish {
  static constexpr const char* name = "lipswish";
  static constexpr double divisor = 1.1;
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject apply(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return silu::apply(a) / S(divisor);
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S scalar(S v) {
    return silu::scalar(v) / S(divisor);
  }
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return silu::derivative(a) / S(divisor);
  }
  template <class A>
  FLOWTMPL_HOST_DEVICE static typename A::PlainObject second_derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return silu::second_derivative(a) / S(divisor);
  }
};

}  // namespace flowtmpl::act
