// Tests of flowtmpl/bijectors/permute.hpp: y_i = x_{perm[i]} for Reverse, Indices<p...>
// and Random<Seed>; zero log-det, permutation structure.
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <type_traits>
#include <vector>

namespace permute_test {

namespace {

using flowtmpl_test::cycled_rows;

template <class B>
std::vector<int> indices_of(const B& b) {
  std::vector<int> p;
  for (int i = 0; i < B::dim; ++i) p.push_back(b.index(i));
  return p;
}

bool is_permutation_of_iota(std::vector<int> p) {
  std::sort(p.begin(), p.end());
  for (int i = 0; i < int(p.size()); ++i)
    if (p[std::size_t(i)] != i) return false;
  return true;
}

template <class B>
void check_permute_conformance(const B& b, const char* label) {
  using S = typename B::scalar_type;
  using lim = std::numeric_limits<S>;
  flowtmpl::testing::options<S> opt;
  // Moving values around is exact for every value, the extremes included.
  opt.sweep = cycled_rows<S>(
      B::dim, {S(0), S(1e-30), S(-1e-30), lim::denorm_min(), S(1e30), S(-1e30), lim::max(), lim::lowest(), S(1)});
  opt.inverse_sweep = opt.sweep;
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << B::dim << ", " << label << "\n" << r.text());
  CHECK(r.ok());
}

// The map itself, independently of index(): y_i = x_{p[i]}, x given as distinct values.
template <class B>
void check_moves_as_indices(const B& b) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim;
  Eigen::Matrix<S, D, 1> x;
  for (int i = 0; i < D; ++i) x[i] = S(10 * i + 1);
  const Eigen::Matrix<S, D, 1> y = b.forward(x);
  for (int i = 0; i < D; ++i) CHECK(y[i] == x[b.index(i)]);
  CHECK(b.inverse(y) == x);
  CHECK(b.log_det(x) == S(0));
  // Jacobian: row i has its one at column index(i).
  const Eigen::Matrix<S, D, D> j = b.jacobian(x);
  for (int i = 0; i < D; ++i)
    for (int c = 0; c < D; ++c) CHECK(j(i, c) == (c == b.index(i) ? S(1) : S(0)));
}

}  // namespace

TEMPLATE_TEST_CASE("Permute passes the conformance kit", "[bijectors][permute]", float, double) {
  using S = TestType;
  check_permute_conformance(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Reverse>, 1, S>(), "Reverse");
  check_permute_conformance(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Reverse>, 3, S>(), "Reverse");
  check_permute_conformance(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Reverse>, 8, S>(), "Reverse");
  check_permute_conformance(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Indices<0>>, 1, S>(), "Indices<0>");
  check_permute_conformance(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Indices<2, 0, 1>>, 3, S>(),
                            "Indices<2, 0, 1>");
  check_permute_conformance(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Indices<3, 7, 1, 0, 6, 2, 5, 4>>, 8, S>(),
                            "Indices<3, 7, 1, 0, 6, 2, 5, 4>");
  check_permute_conformance(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<>>, 1, S>(), "Random<>");
  check_permute_conformance(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<5>>, 3, S>(), "Random<5>");
  check_permute_conformance(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<123>>, 8, S>(), "Random<123>");
}

TEMPLATE_TEST_CASE("Permute<Reverse> and Permute<Indices<...>> move components as documented", "[bijectors][permute]",
                   float, double) {
  using S = TestType;
  // Indices<2, 0, 1>: y = (x2, x0, x1).
  const flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Indices<2, 0, 1>>, 3, S> p;
  const Eigen::Matrix<S, 3, 1> x(S(1.5), S(-2), S(7));
  const Eigen::Matrix<S, 3, 1> y = p.forward(x);
  CHECK(y == Eigen::Matrix<S, 3, 1>(S(7), S(1.5), S(-2)));
  CHECK(p.inverse(y) == x);
  CHECK(p.inverse(x) == Eigen::Matrix<S, 3, 1>(S(-2), S(7), S(1.5)));
  CHECK(indices_of(p) == std::vector<int>{2, 0, 1});
  check_moves_as_indices(p);

  // Reverse: y = (x_{D-1}, ..., x_0).
  const flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Reverse>, 4, S> r;
  const Eigen::Matrix<S, 4, 1> x4(S(1), S(2), S(3), S(4));
  CHECK(r.forward(x4) == Eigen::Matrix<S, 4, 1>(S(4), S(3), S(2), S(1)));
  CHECK(r.inverse(x4) == Eigen::Matrix<S, 4, 1>(S(4), S(3), S(2), S(1)));
  CHECK(indices_of(r) == std::vector<int>{3, 2, 1, 0});
  check_moves_as_indices(r);
  check_moves_as_indices(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Indices<3, 7, 1, 0, 6, 2, 5, 4>>, 8, S>());

  // Structure and kind; the fixed orders take no storage.
  using P = decltype(p);
  static_assert(std::is_same_v<typename std::remove_cv_t<P>::structure, flowtmpl::structure::permutation>);
  static_assert(std::remove_cv_t<P>::log_det_kind == flowtmpl::log_det_kind::zero);
  STATIC_REQUIRE(std::is_empty_v<flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Reverse>, 8, S>>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<3>>, 8, S>>);
  // Indices<...> binds only to its own length.
  STATIC_REQUIRE(flowtmpl::Permute<flowtmpl::Indices<2, 0, 1>>::accepts_dim<3>);
  STATIC_REQUIRE_FALSE(flowtmpl::Permute<flowtmpl::Indices<2, 0, 1>>::accepts_dim<4>);
  STATIC_REQUIRE(flowtmpl::Permute<flowtmpl::Reverse>::accepts_dim<5>);
}

TEMPLATE_TEST_CASE("Permute<Random<Seed>> is a permutation, reproducible from its seed", "[bijectors][permute]", float,
                   double) {
  using S = TestType;
  constexpr int D = 8;
  using B7 = flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<7>>, D, S>;
  const B7 a, b;
  CHECK(is_permutation_of_iota(indices_of(a)));
  CHECK(indices_of(a) == indices_of(b));
  check_moves_as_indices(a);

  // Different seeds: not all the same permutation.
  std::set<std::vector<int>> seen;
  seen.insert(indices_of(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<0>>, D, S>()));
  seen.insert(indices_of(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<1>>, D, S>()));
  seen.insert(indices_of(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<2>>, D, S>()));
  seen.insert(indices_of(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<7>>, D, S>()));
  seen.insert(indices_of(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<0xdeadbeefcafeULL>>, D, S>()));
  for (const auto& p : seen) CHECK(is_permutation_of_iota(p));
  CHECK(seen.size() >= 4);
  // D = 8 has 40320 orders: a random one is almost never the identity or the reversal.
  int fixed_orders = 0;
  for (const auto& p : seen)
    if (p == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7} || p == std::vector<int>{7, 6, 5, 4, 3, 2, 1, 0}) ++fixed_orders;
  CHECK(fixed_orders <= 1);

  // The run-time constructor PermuteBijector(seed) draws what Random<seed> draws.
  const B7 from_ctor(std::uint64_t(1));
  CHECK(indices_of(from_ctor) == indices_of(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<1>>, D, S>()));
  const B7 from_ctor_big(std::uint64_t(0xdeadbeefcafeULL));
  CHECK(indices_of(from_ctor_big) ==
        indices_of(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<0xdeadbeefcafeULL>>, D, S>()));
  CHECK(indices_of(B7(std::uint64_t(7))) == indices_of(a));
  check_moves_as_indices(from_ctor_big);

  // D = 1: the only permutation.
  CHECK(flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<9>>, 1, S>().index(0) == 0);
  // The constructor from a seed exists only for Random.
  STATIC_REQUIRE(std::is_constructible_v<B7, std::uint64_t>);
  STATIC_REQUIRE_FALSE(
      std::is_constructible_v<flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Reverse>, D, S>, std::uint64_t>);
}

TEMPLATE_TEST_CASE("Permute<Random>'s draws over many seeds are close to uniform", "[bijectors][permute]", float,
                   double) {
  using S = TestType;
  // D = 3: six orders. Over n seeds each should appear about n/6 times; a chi-square with
  // 5 degrees of freedom exceeds 25 with probability below 2e-4.
  constexpr int n = 6000;
  std::map<std::vector<int>, int> counts;
  std::array<std::array<int, 3>, 3> position{};  // position[i][v]: times output i took input v
  int not_permutations = 0;
  for (int s = 0; s < n; ++s) {
    const flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<>>, 3, S> b{std::uint64_t(s)};
    const auto p = indices_of(b);
    if (!is_permutation_of_iota(p)) {
      ++not_permutations;
      continue;
    }
    ++counts[p];
    for (int i = 0; i < 3; ++i) ++position[std::size_t(i)][std::size_t(p[std::size_t(i)])];
  }
  REQUIRE(not_permutations == 0);
  CHECK(counts.size() == 6);
  double chi2 = 0;
  for (const auto& [p, c] : counts) chi2 += (c - n / 6.0) * (c - n / 6.0) / (n / 6.0);
  INFO("chi-square over the 6 orders: " << chi2);
  CHECK(chi2 < 25);
  for (const auto& row : position)
    for (int c : row) CHECK(std::abs(c - n / 3.0) < 5 * std::sqrt(n * (1.0 / 3) * (2.0 / 3)));
}

TEMPLATE_TEST_CASE("Permute through the host batch API", "[bijectors][permute]", float, double) {
  using S = TestType;
  const flowtmpl::bind_t<flowtmpl::Permute<flowtmpl::Random<11>>, 8, S> b;
  const Eigen::Matrix<S, 8, Eigen::Dynamic> x = Eigen::Matrix<S, 8, Eigen::Dynamic>::Random(8, 300);
  const auto r = flowtmpl::forward_and_log_det(b, x);
  for (int i = 0; i < 8; ++i) CHECK(r.values.row(i) == x.row(b.index(i)));
  CHECK(r.log_det.isZero(0));
  CHECK(flowtmpl::inverse(b, r.values) == x);
  CHECK(flowtmpl::inverse(b, r.values, flowtmpl::checked) == x);
}

}  // namespace permute_test
