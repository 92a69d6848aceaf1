// The structure algebra of flowtmpl/structure.hpp: compose_structure_t over the table
// of tags, compose_log_det_kind over its table, may_be_nonzero. Every expected value is
// derived from the rules at the top of structure.hpp (J = J_g J_f for "f, then g"; the
// result is exact where the algebra is closed and dense otherwise). Building this file
// is the test.
#include <flowtmpl/structure.hpp>

#include <type_traits>

namespace ft = flowtmpl;
namespace st = flowtmpl::structure;

namespace {

template <class F, class G, class Expected>
constexpr bool composes_to = std::is_same_v<ft::compose_structure_t<F, G>, Expected>;

using I = st::identity;
using P = st::permutation;
using Dg = st::diagonal;
using L = st::lower_triangular;
using U = st::upper_triangular;
using B22 = st::block_triangular<2, 2>;
using B13 = st::block_triangular<1, 3>;
using B4 = st::block_triangular<4>;
using Dn = st::dense;

// Every tag is a structure tag; nothing else is.
static_assert(ft::is_structure_tag_v<I> && ft::is_structure_tag_v<P> && ft::is_structure_tag_v<Dg> &&
              ft::is_structure_tag_v<L> && ft::is_structure_tag_v<U> && ft::is_structure_tag_v<B22> &&
              ft::is_structure_tag_v<B13> && ft::is_structure_tag_v<Dn>);
static_assert(!ft::is_structure_tag_v<int> && !ft::is_structure_tag_v<void> && !ft::is_structure_tag_v<const Dg>);
static_assert(B22::total == 4 && B13::total == 4 && st::block_triangular<3, 1, 2>::total == 6);

// ---- identity is neutral on both sides, for every tag ----------------------------------
template <class T>
constexpr bool identity_is_neutral = composes_to<I, T, T> && composes_to<T, I, T>;
static_assert(identity_is_neutral<I>);
static_assert(identity_is_neutral<P>);
static_assert(identity_is_neutral<Dg>);
static_assert(identity_is_neutral<L>);
static_assert(identity_is_neutral<U>);
static_assert(identity_is_neutral<B22>);
static_assert(identity_is_neutral<B13>);
static_assert(identity_is_neutral<Dn>);

// ---- closed products: a tag with itself ---------------------------------------------
static_assert(composes_to<P, P, P>);      // permutation * permutation
static_assert(composes_to<Dg, Dg, Dg>);   // diagonal * diagonal
static_assert(composes_to<L, L, L>);      // lower * lower
static_assert(composes_to<U, U, U>);      // upper * upper
static_assert(composes_to<B22, B22, B22>);  // same partition
static_assert(composes_to<B13, B13, B13>);
static_assert(composes_to<Dn, Dn, Dn>);

// ---- diagonal keeps a triangular or block triangular shape, on either side -------------
static_assert(composes_to<Dg, L, L> && composes_to<L, Dg, L>);
static_assert(composes_to<Dg, U, U> && composes_to<U, Dg, U>);
static_assert(composes_to<Dg, B22, B22> && composes_to<B22, Dg, B22>);
static_assert(composes_to<Dg, B13, B13> && composes_to<B13, Dg, B13>);

// ---- lower triangular is block lower triangular for every partition --------------------
static_assert(composes_to<L, B22, B22> && composes_to<B22, L, B22>);
static_assert(composes_to<L, B13, B13> && composes_to<B13, L, B13>);

// ---- everything else is dense ------------------------------------------------------------
static_assert(composes_to<L, U, Dn> && composes_to<U, L, Dn>);      // an LU product
static_assert(composes_to<B22, B13, Dn> && composes_to<B13, B22, Dn>);  // other partition
static_assert(composes_to<B22, B4, Dn> && composes_to<B4, B22, Dn>);
static_assert(composes_to<B22, U, Dn> && composes_to<U, B22, Dn>);  // upper is not block lower
static_assert(composes_to<Dg, P, Dn> && composes_to<P, Dg, Dn>);    // a scaled permutation has no tag
static_assert(composes_to<P, L, Dn> && composes_to<L, P, Dn>);
static_assert(composes_to<P, U, Dn> && composes_to<U, P, Dn>);
static_assert(composes_to<P, B22, Dn> && composes_to<B22, P, Dn>);
static_assert(composes_to<Dg, Dn, Dn> && composes_to<Dn, Dg, Dn>);
static_assert(composes_to<P, Dn, Dn> && composes_to<Dn, P, Dn>);
static_assert(composes_to<L, Dn, Dn> && composes_to<Dn, L, Dn>);
static_assert(composes_to<U, Dn, Dn> && composes_to<Dn, U, Dn>);
static_assert(composes_to<B22, Dn, Dn> && composes_to<Dn, B22, Dn>);

// Associativity where both groupings stay inside the closed part of the algebra.
static_assert(std::is_same_v<ft::compose_structure_t<ft::compose_structure_t<Dg, L>, B22>,
                             ft::compose_structure_t<Dg, ft::compose_structure_t<L, B22>>>);
static_assert(std::is_same_v<ft::compose_structure_t<ft::compose_structure_t<I, P>, P>, P>);

// Every tag is closed under inversion.
static_assert(std::is_same_v<ft::inverse_structure_t<L>, L> && std::is_same_v<ft::inverse_structure_t<B13>, B13>);

// ---- log-det kinds ---------------------------------------------------------------------
using K = ft::log_det_kind;
constexpr K z = K::zero, c = K::constant, v = K::input_dependent;
static_assert(ft::compose_log_det_kind(z, z) == z);
static_assert(ft::compose_log_det_kind(z, c) == c && ft::compose_log_det_kind(c, z) == c);
static_assert(ft::compose_log_det_kind(c, c) == c);
static_assert(ft::compose_log_det_kind(z, v) == v && ft::compose_log_det_kind(v, z) == v);
static_assert(ft::compose_log_det_kind(c, v) == v && ft::compose_log_det_kind(v, c) == v);
static_assert(ft::compose_log_det_kind(v, v) == v);

// ---- may_be_nonzero ----------------------------------------------------------------------
// The pattern of a 4 x 4 Jacobian as a 16-bit mask, row-major, bit (4 i + j).
template <class T>
constexpr unsigned pattern4() {
  unsigned m = 0;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      if (ft::may_be_nonzero<T>(i, j)) m |= 1u << (4 * i + j);
  return m;
}
// rows written top to bottom, column 0 the rightmost bit of each nibble
constexpr unsigned rows(unsigned r0, unsigned r1, unsigned r2, unsigned r3) {
  return r0 | (r1 << 4) | (r2 << 8) | (r3 << 12);
}
static_assert(pattern4<I>() == rows(0b0001, 0b0010, 0b0100, 0b1000));
static_assert(pattern4<Dg>() == rows(0b0001, 0b0010, 0b0100, 0b1000));
static_assert(pattern4<L>() == rows(0b0001, 0b0011, 0b0111, 0b1111));
static_assert(pattern4<U>() == rows(0b1111, 0b1110, 0b1100, 0b1000));
static_assert(pattern4<B22>() == rows(0b0011, 0b0011, 0b1111, 0b1111));
static_assert(pattern4<B13>() == rows(0b0001, 0b1111, 0b1111, 0b1111));
static_assert(pattern4<B4>() == 0xFFFFu);
static_assert(pattern4<P>() == 0xFFFFu);  // which entry is a property of the value, not the type
static_assert(pattern4<Dn>() == 0xFFFFu);
// A three-block partition, spot checks.
using B121 = st::block_triangular<1, 2, 1>;
static_assert(ft::may_be_nonzero<B121>(0, 0) && !ft::may_be_nonzero<B121>(0, 1) && !ft::may_be_nonzero<B121>(1, 3));
static_assert(ft::may_be_nonzero<B121>(1, 2) && ft::may_be_nonzero<B121>(2, 1) && ft::may_be_nonzero<B121>(3, 0));
static_assert(!ft::may_be_nonzero<B121>(2, 3) && ft::may_be_nonzero<B121>(3, 3));

// The structure of a product is never narrower than the patterns allow: wherever the
// product may be non-zero per the entry-wise rule, the composed tag allows it.
template <class F, class G>
constexpr bool product_pattern_is_covered() {
  using C = ft::compose_structure_t<F, G>;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      bool may = false;  // (J_g J_f)_ij = sum_k (J_g)_ik (J_f)_kj
      for (int k = 0; k < 4; ++k) may = may || (ft::may_be_nonzero<G>(i, k) && ft::may_be_nonzero<F>(k, j));
      if (may && !ft::may_be_nonzero<C>(i, j)) return false;
    }
  return true;
}
template <class F, class... Gs>
constexpr bool covered_row = (product_pattern_is_covered<F, Gs>() && ...);
template <class... Ts>
constexpr bool covered_table = (covered_row<Ts, Ts...> && ...);
static_assert(covered_table<I, P, Dg, L, U, B22, B13, B4, Dn>);

}  // namespace
