// flowtmpl/jacobian.hpp: jacobian(b, x), the dense D x D Jacobian df/dx at x.
//
// For a layer it is the layer's jacobian(x) member. For a chain the product is formed
// layer by layer using each layer's structure: an identity layer costs nothing, a
// diagonal one scales rows (O(D^2)), a permutation one moves rows, any other one is a
// dense D x D product. For InverseBijector<B> it is the inverse of B's Jacobian at
// base.inverse(x), inverted according to the structure (diagonal: reciprocals;
// permutation: transpose; lower / upper triangular: a triangular solve; block
// triangular: an LU solve, after which the blocks the structure forbids are set to
// exactly zero, as they are in exact arithmetic; dense: an LU solve), so the result has
// exact zeros wherever the structure says. has_jacobian_v<B> says whether jacobian(b, x)
// is available: a jacobian(x) member, identity structure, or a chain or inverse of such
// layers. Calling it otherwise is a compile error that says so.
#pragma once

#include <type_traits>

#include "detail/eigen.hpp"

#include "bijectors/inverse.hpp"
#include "chain.hpp"

namespace flowtmpl {

template <Bijector B>
Eigen::Matrix<typename B::scalar_type, B::dim, B::dim> jacobian(const B& b, const vector_t<B>& x);

namespace detail {
template <class B>
consteval bool has_jacobian() {
  if constexpr (is_chain<B>::value) {
    return []<class... Ls>(Chain<Ls...>*) { return (has_jacobian<Ls>() && ...); }(static_cast<B*>(nullptr));
  } else if constexpr (is_inverse_layer<B>::value) {
    return has_jacobian<typename B::base_type>();
  } else if constexpr (is_split_layer<B>::value) {
    return has_jacobian<typename B::inner_type>();
  } else {
    return requires(const B& b, const vector_t<B>& x) { b.jacobian(x); } ||
           std::is_same_v<typename B::structure, structure::identity>;
  }
}

// m <- J_layer(x) * m
template <Bijector L, class M>
void left_multiply_jacobian(const L& layer, const vector_t<L>& x, M& m) {
  using T = typename L::structure;
  if constexpr (std::is_same_v<T, structure::identity>) {
    return;
  } else if constexpr (std::is_same_v<T, structure::diagonal>) {
    m = jacobian(layer, x).diagonal().asDiagonal() * m;
  } else {
    m = (jacobian(layer, x) * m).eval();
  }
}
}  // namespace detail

template <Bijector B>
Eigen::Matrix<typename B::scalar_type, B::dim, B::dim> jacobian(const B& b, const vector_t<B>& x) {
  using S = typename B::scalar_type;
  using M = Eigen::Matrix<S, B::dim, B::dim>;
  if constexpr (is_chain<B>::value) {
    M m = M::Identity();
    vector_t<B> v = x;
    b.for_each_layer([&](const auto& layer) {
      detail::left_multiply_jacobian(layer, v, m);
      v = layer.forward(v);
    });
    return m;
  } else if constexpr (detail::is_inverse_layer<B>::value) {
    const M jb = jacobian(b.base, b.base.inverse(x));
    using T = typename B::structure;
    if constexpr (std::is_same_v<T, structure::identity>) {
      return M::Identity();
    } else if constexpr (std::is_same_v<T, structure::diagonal>) {
      return jb.diagonal().cwiseInverse().asDiagonal();
    } else if constexpr (std::is_same_v<T, structure::permutation>) {
      return jb.transpose();
    } else if constexpr (std::is_same_v<T, structure::lower_triangular>) {
      return jb.template triangularView<Eigen::Lower>().solve(M::Identity());
    } else if constexpr (std::is_same_v<T, structure::upper_triangular>) {
      return jb.template triangularView<Eigen::Upper>().solve(M::Identity());
    } else {
      M inv = jb.partialPivLu().inverse();
      for (int r = 0; r < B::dim; ++r)
        for (int c = 0; c < B::dim; ++c)
          if (!may_be_nonzero<T>(r, c)) inv(r, c) = S(0);
      return inv;
    }
  } else if constexpr (is_split_layer<B>::value) {
    M m = M::Identity();
    m.template topLeftCorner<B::half, B::half>() = jacobian(b.inner, vector_t<typename B::inner_type>(x.template head<B::half>()));
    return m;
  } else if constexpr (requires { b.jacobian(x); }) {
    return b.jacobian(x);
  } else if constexpr (std::is_same_v<typename B::structure, structure::identity>) {
    return M::Identity();
  } else {
    (void)sizeof(diagnostic::bijector_has_no_jacobian_member<B>);
    return M::Zero();
  }
}

template <class B>
inline constexpr bool has_jacobian_v = Bijector<B> && detail::has_jacobian<B>();

}  // namespace flowtmpl
