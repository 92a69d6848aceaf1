// flowtmpl/bijectors/permute.hpp: Permute<Order>, y_i = x_{perm[i]}.
//
//   Permute<Reverse>           perm[i] = D - 1 - i (known at compile time; no storage)
//   Permute<Indices<p...>>     the compile-time list p (no storage); binds only to
//                              D = sizeof...(p), and p must be a permutation of 0..D-1
//   Permute<Random<Seed>>      a uniformly random permutation drawn with Philox from
//                              Seed (Fisher-Yates), stored in the layer; the same
//                              permutation on every machine. The bound layer's
//                              constructor PermuteBijector(seed) draws another.
//
// Domain: R^D both ways. Structure: permutation. Log-det: zero. Cost: D moves.
#pragma once

#include <array>
#include <cstdint>

#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../random.hpp"

namespace flowtmpl {

struct Reverse {};

template <int... P>
struct Indices {
  static constexpr int size = int(sizeof...(P));
  static constexpr bool is_permutation = [] {
    const int p[] = {P...};
    for (int i = 0; i < int(sizeof...(P)); ++i) {
      if (p[i] < 0 || p[i] >= int(sizeof...(P))) return false;
      for (int j = 0; j < i; ++j)
        if (p[j] == p[i]) return false;
    }
    return true;
  }();
  static_assert(detail::diagnose_unless<is_permutation, diagnostic::indices_are_not_a_permutation<P...>>());
};

template <std::uint64_t Seed = 0>
struct Random {
  static constexpr std::uint64_t seed = Seed;
};

namespace detail {
template <class Order, int D>
struct permutation_storage;

template <int D>
struct permutation_storage<Reverse, D> {
  FLOWTMPL_HOST_DEVICE static constexpr int at(int i) { return D - 1 - i; }
  FLOWTMPL_HOST_DEVICE static constexpr int inverse_at(int i) { return D - 1 - i; }
};

template <int... P, int D>
struct permutation_storage<Indices<P...>, D> {
  FLOWTMPL_HOST_DEVICE static constexpr int at(int i) {
    constexpr int p[] = {P...};
    return p[i];
  }
  FLOWTMPL_HOST_DEVICE static constexpr int inverse_at(int i) {
    constexpr int p[] = {P...};
    for (int k = 0; k < D; ++k)
      if (p[k] == i) return k;
    return -1;
  }
};

template <std::uint64_t Seed, int D>
struct permutation_storage<Random<Seed>, D> {
 public:
  constexpr permutation_storage() { draw(Seed); }
  constexpr explicit permutation_storage(std::uint64_t seed) { draw(seed); }
  FLOWTMPL_HOST_DEVICE constexpr int at(int i) const { return perm[i]; }
  FLOWTMPL_HOST_DEVICE constexpr int inverse_at(int i) const { return inv[i]; }

 private:
  // Only draw() writes them, so they always hold a permutation and its inverse.
  std::array<int, D> perm, inv;
  constexpr void draw(std::uint64_t seed) {
    for (int i = 0; i < D; ++i) perm[i] = i;
    philox_stream rng(seed, 0);
    for (int i = D - 1; i > 0; --i) {
      // uniform in [0, i] by multiply-shift of a 32-bit word (bias below 2^-32 * D)
      const int j = int((std::uint64_t(rng.next_u32()) * std::uint64_t(i + 1)) >> 32);
      const int t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    for (int i = 0; i < D; ++i) inv[perm[i]] = i;
  }
};
}  // namespace detail

template <class Order, int D, class S>
struct PermuteBijector {
  using scalar_type = S;
  using structure = flowtmpl::structure::permutation;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::zero;
  static constexpr const char* name = "Permute";
  using vec = Eigen::Matrix<S, D, 1>;

  [[no_unique_address]] detail::permutation_storage<Order, D> order;

  PermuteBijector() = default;
  explicit PermuteBijector(std::uint64_t seed)
    requires requires { detail::permutation_storage<Order, D>(seed); }
      : order(seed) {}

  // perm[i]: the input component that output i takes.
  FLOWTMPL_HOST_DEVICE constexpr int index(int i) const { return order.at(i); }

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const {
    vec y;
    for (int i = 0; i < D; ++i) y[i] = x[order.at(i)];
    return y;
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const {
    vec x;
    for (int i = 0; i < D; ++i) x[i] = y[order.inverse_at(i)];
    return x;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec&) const { return S(0); }
  // gradients (flowtmpl/differentiable.hpp): the transposed permutation
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec&, const vec& gy, S, PermuteBijector&) const { return inverse(gy); }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec&, const vec& gx, S, PermuteBijector&) const { return forward(gx); }
  Eigen::Matrix<S, D, D> jacobian(const vec&) const {
    Eigen::Matrix<S, D, D> j = Eigen::Matrix<S, D, D>::Zero();
    for (int i = 0; i < D; ++i) j(i, order.at(i)) = S(1);
    return j;
  }
};

template <class Order>
struct Permute : bijector_spec {
  static_assert(std::is_same_v<Order, Reverse> || requires { Order::is_permutation; } || requires { Order::seed; },
                "flowtmpl: Permute<Order>: Order must be Reverse, Indices<p...> or Random<Seed>");
  template <int D>
  static constexpr bool accepts_dim = [] {
    if constexpr (requires { Order::is_permutation; })
      return D == Order::size;
    else
      return D >= 1;
  }();
  template <int D, class S>
  using bind = PermuteBijector<Order, D, S>;
};

}  // namespace flowtmpl
