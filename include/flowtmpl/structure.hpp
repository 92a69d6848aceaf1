// flowtmpl/structure.hpp: the Jacobian structure of a bijector and the kind of its
// log-determinant, as compile-time values, and how composition combines them.
//
// Structure tags (the pattern of df/dz that may be non-zero, for a bijector of
// dimension D):
//   structure::identity            J = I exactly (Identity, Shift).
//   structure::permutation         J is a permutation matrix (Permute).
//   structure::diagonal            J is diagonal (elementwise maps).
//   structure::lower_triangular    J_ij = 0 for j > i.
//   structure::upper_triangular    J_ij = 0 for j < i.
//   structure::block_triangular<n0, n1, ...>
//                                  lower block triangular for the partition of the
//                                  D components into consecutive blocks of sizes
//                                  n0, n1, ... (sum = D): block (a, b) is zero for b > a.
//                                  Coupling layers with mask::half have this structure.
//   structure::partitioned<b0, ..., bD-1>
//                                  block triangular for a partition that need not be
//                                  contiguous: component i is in block b_i, and entry
//                                  (i, j) may be non-zero when b_j <= b_i (coupling
//                                  layers with other masks).
//   structure::dense               anything.
//
// Log-det kinds:
//   log_det_kind::zero             log|det J| = 0 for every input.
//   log_det_kind::constant         the same value for every input (depends on the
//                                  parameters only); the bijector provides
//                                  constant_log_det().
//   log_det_kind::input_dependent  anything else.
//
// Composition. For g after f (apply f first), J = J_g J_f. compose_structure_t<F, G>
// gives the tag of that product; it is exact where the algebra is closed (identity is
// neutral; permutations, diagonals, lower, upper and same-partition block triangular
// matrices are closed under products; diagonal and lower triangular matrices are block
// triangular for every partition) and dense otherwise. All of it is constexpr and can
// be checked with static_assert.
#pragma once

#include <type_traits>

namespace flowtmpl {

namespace structure {
struct identity {};
struct permutation {};
struct diagonal {};
struct lower_triangular {};
struct upper_triangular {};
template <int... BlockSizes>
struct block_triangular {
  static_assert(sizeof...(BlockSizes) >= 1, "flowtmpl::structure::block_triangular needs at least one block size");
  static_assert(((BlockSizes > 0) && ...), "flowtmpl::structure::block_triangular: every block size must be positive");
  static constexpr int total = (BlockSizes + ...);
};
template <int... Block>
struct partitioned {
  static_assert(sizeof...(Block) >= 1, "flowtmpl::structure::partitioned needs the block of every component");
  static_assert(((Block >= 0) && ...), "flowtmpl::structure::partitioned: block numbers are non-negative");
};
struct dense {};
}  // namespace structure

enum class log_det_kind { zero, constant, input_dependent };

namespace detail {
template <class T>
struct is_structure_tag : std::false_type {};
template <>
struct is_structure_tag<structure::identity> : std::true_type {};
template <>
struct is_structure_tag<structure::permutation> : std::true_type {};
template <>
struct is_structure_tag<structure::diagonal> : std::true_type {};
template <>
struct is_structure_tag<structure::lower_triangular> : std::true_type {};
template <>
struct is_structure_tag<structure::upper_triangular> : std::true_type {};
template <int... N>
struct is_structure_tag<structure::block_triangular<N...>> : std::true_type {};
template <>
struct is_structure_tag<structure::dense> : std::true_type {};
template <int... B>
struct is_structure_tag<structure::partitioned<B...>> : std::true_type {};

template <class T>
struct is_block_triangular : std::false_type {};
template <int... N>
struct is_block_triangular<structure::block_triangular<N...>> : std::true_type {};
template <int... B>
struct is_block_triangular<structure::partitioned<B...>> : std::true_type {};

// Product J_g * J_f where f is applied first. Rules in order of precedence.
template <class F, class G>
struct compose_structure {
  using type = structure::dense;
};
template <class F, class G>
  requires(std::is_same_v<F, structure::identity>)
struct compose_structure<F, G> {
  using type = G;
};
template <class F, class G>
  requires(!std::is_same_v<F, structure::identity> && std::is_same_v<G, structure::identity>)
struct compose_structure<F, G> {
  using type = F;
};
template <class F, class G>
  requires(!std::is_same_v<F, structure::identity> && !std::is_same_v<G, structure::identity> &&
           std::is_same_v<F, G> && !is_block_triangular<F>::value)
struct compose_structure<F, G> {
  using type = F;  // closed: permutation, diagonal, lower, upper, dense
};
// diagonal with a triangular or block triangular factor keeps the triangular shape.
template <class T>
inline constexpr bool keeps_with_diagonal_v =
    std::is_same_v<T, structure::lower_triangular> || std::is_same_v<T, structure::upper_triangular> ||
    is_block_triangular<T>::value;
template <class F, class G>
  requires(std::is_same_v<F, structure::diagonal> && keeps_with_diagonal_v<G>)
struct compose_structure<F, G> {
  using type = G;
};
template <class F, class G>
  requires(std::is_same_v<G, structure::diagonal> && keeps_with_diagonal_v<F>)
struct compose_structure<F, G> {
  using type = F;
};
// block triangular with the same partition is closed; lower triangular is block
// lower triangular for any partition.
template <int... N>
struct compose_structure<structure::block_triangular<N...>, structure::block_triangular<N...>> {
  using type = structure::block_triangular<N...>;
};
template <int... B>
struct compose_structure<structure::partitioned<B...>, structure::partitioned<B...>> {
  using type = structure::partitioned<B...>;
};
template <int... N>
struct compose_structure<structure::block_triangular<N...>, structure::lower_triangular> {
  using type = structure::block_triangular<N...>;
};
template <int... N>
struct compose_structure<structure::lower_triangular, structure::block_triangular<N...>> {
  using type = structure::block_triangular<N...>;
};
}  // namespace detail

template <class T>
inline constexpr bool is_structure_tag_v = detail::is_structure_tag<T>::value;

// Structure of "apply F, then G".
template <class F, class G>
using compose_structure_t = typename detail::compose_structure<F, G>::type;

// Structure of the inverse: every tag is closed under inversion.
template <class T>
using inverse_structure_t = T;

// Log-det kind of "apply f, then g".
constexpr log_det_kind compose_log_det_kind(log_det_kind f, log_det_kind g) {
  if (f == log_det_kind::input_dependent || g == log_det_kind::input_dependent) return log_det_kind::input_dependent;
  if (f == log_det_kind::constant || g == log_det_kind::constant) return log_det_kind::constant;
  return log_det_kind::zero;
}

namespace detail {
template <class T>
struct is_partitioned : std::false_type {};
template <int... B>
struct is_partitioned<structure::partitioned<B...>> : std::true_type {
  static constexpr int block(int i) {
    constexpr int b[] = {B...};
    return b[i];
  }
};
template <class T>
constexpr int block_of(int index) {
  return [&]<int... N>(structure::block_triangular<N...>*) {
    const int sizes[] = {N...};
    int start = 0;
    for (int b = 0; b < int(sizeof...(N)); ++b) {
      start += sizes[b];
      if (index < start) return b;
    }
    return int(sizeof...(N));
  }(static_cast<T*>(nullptr));
}
}  // namespace detail

// Whether entry (i, j) of a D x D Jacobian with structure T may be non-zero.
// For permutation structure every entry may be non-zero (which one is not a type
// property); the conformance kit checks the one-per-row-and-column pattern apart.
template <class T>
constexpr bool may_be_nonzero(int i, int j) {
  if constexpr (std::is_same_v<T, structure::identity> || std::is_same_v<T, structure::diagonal>) {
    return i == j;
  } else if constexpr (std::is_same_v<T, structure::lower_triangular>) {
    return j <= i;
  } else if constexpr (std::is_same_v<T, structure::upper_triangular>) {
    return j >= i;
  } else if constexpr (detail::is_partitioned<T>::value) {
    return detail::is_partitioned<T>::block(j) <= detail::is_partitioned<T>::block(i);
  } else if constexpr (detail::is_block_triangular<T>::value) {
    return detail::block_of<T>(j) <= detail::block_of<T>(i);
  } else {
    return true;
  }
}


}  // namespace flowtmpl
