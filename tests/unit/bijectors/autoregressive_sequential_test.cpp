// Tests of flowtmpl/bijectors/autoregressive.hpp: what the layers declare, and their two
// directions against the definitions written out here:
//   parallel   MAF inverse / IAF forward: theta = MADE(v), out_i = tau^(-1)(v_i; theta_i)
//   sequential MAF forward / IAF inverse: out_i = tau(v_i; theta_i(out_<i)), computed
//              here as nflows does, by D full network evaluations, each from the
//              previous pass's output (starting from zeros); the layer's one-pass
//              sequential evaluation (MADE's sequential_begin / sequential_step) must
//              give the same within 1e-12 relative in double. The header's own
//              apply_naive<Forward> (the same algorithm) is compared as well.
// And: a default-constructed layer is the identity.
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>

namespace autoregressive_sequential_test {

using flowtmpl::direction;

namespace {

using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::ResidualMADE;

template <class S>
bool close(S a, S b, S tol) {
  return std::abs(a - b) <= tol * std::max(S(1), std::abs(b));
}
template <class V>
bool close_vec(const V& a, const V& b, typename V::Scalar tol) {
  for (int i = 0; i < int(a.size()); ++i)
    if (!close(a[i], b[i], tol)) return false;
  return true;
}

// The D-pass sequential algorithm (nflows's MaskedAutoregressiveTransform.inverse):
// out starts at 0; each pass recomputes theta = MADE(out) and every component.
template <class B>
flowtmpl::value_and_log_det<typename B::vec, typename B::scalar_type> d_pass(const B& b, bool fwd,
                                                                             const typename B::vec& v,
                                                                             const typename B::scalar_type* ctx) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim, P = B::P;
  typename B::vec out = B::vec::Zero();
  S ld = 0;
  for (int pass = 0; pass < D; ++pass) {
    const auto theta = b.made.evaluate(out, ctx);
    typename B::vec next;
    ld = 0;
    for (int i = 0; i < D; ++i) {
      S l;
      next[i] = fwd ? b.transformer.forward(i, v[i], theta.data() + i * P, l)
                    : b.transformer.inverse(i, v[i], theta.data() + i * P, l);
      ld += l;
    }
    out = next;
  }
  return {out, ld};
}
// The parallel direction: one network evaluation on the input.
template <class B>
flowtmpl::value_and_log_det<typename B::vec, typename B::scalar_type> one_pass(const B& b, bool fwd,
                                                                               const typename B::vec& v,
                                                                               const typename B::scalar_type* ctx) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim, P = B::P;
  const auto theta = b.made.evaluate(v, ctx);
  typename B::vec out;
  S ld = 0;
  for (int i = 0; i < D; ++i) {
    S l;
    out[i] = fwd ? b.transformer.forward(i, v[i], theta.data() + i * P, l)
                 : b.transformer.inverse(i, v[i], theta.data() + i * P, l);
    ld += l;
  }
  return {out, ld};
}

// Inputs: inside (0, 1) for a bounded spline, else in [-4, 4] (beyond the spline's +-3
// sometimes, into its linear tails).
template <class B>
typename B::vec random_input(std::mt19937_64& gen) {
  const bool unit = requires { B::forward_domain(); };
  std::uniform_real_distribution<double> u(unit ? 0.01 : -4.0, unit ? 0.99 : 4.0);
  typename B::vec v;
  for (int i = 0; i < B::dim; ++i) v[i] = u(gen);
  return v;
}

template <class T, class Made, int D, int C, bool IAF>
void check_directions(std::uint64_t seed) {
  using S = double;
  using Spec = std::conditional_t<IAF, InverseAutoregressive<T, Made>, MaskedAutoregressive<T, Made>>;
  using B =
      std::conditional_t<C == 0, flowtmpl::bind_t<Spec, D, S>, typename Spec::template bind_with_context<D, S, C>>;
  B b;
  b.reset_parameters(seed, flowtmpl::init::uniform);
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> n01;
  const S tol = 1e-12;
  INFO(B::name << "<" << B::transformer_type::name << ", " << B::made_type::name << ">, D = " << D << ", C = " << C);
  for (int trial = 0; trial < 12; ++trial) {
    const typename B::vec v = random_input<B>(gen);
    Eigen::Matrix<S, (C > 0 ? C : 1), 1> c;
    for (int i = 0; i < c.size(); ++i) c[i] = n01(gen);
    const S* ctx = C > 0 ? c.data() : nullptr;
    INFO("trial " << trial);
    // forward
    flowtmpl::value_and_log_det<typename B::vec, S> f;
    if constexpr (C > 0)
      f = b.forward_and_log_det(v, c);
    else
      f = b.forward_and_log_det(v);
    const auto f_ref = IAF ? one_pass(b, true, v, ctx) : d_pass(b, true, v, ctx);
    CHECK(close_vec(f.value, f_ref.value, tol));
    CHECK(close(f.log_det, f_ref.log_det, tol));
    const auto f_naive = b.template apply_naive<direction::forward>(v, ctx);
    CHECK(close_vec(f.value, f_naive.value, tol));
    CHECK(close(f.log_det, f_naive.log_det, tol));
    if constexpr (C > 0) {
      CHECK(b.forward(v, c) == f.value);
      CHECK(b.log_det(v, c) == f.log_det);
    } else {
      CHECK(b.forward(v) == f.value);
      CHECK(b.log_det(v) == f.log_det);
    }
    // inverse, at the forward's output (inside the domain) and at a fresh point
    for (const typename B::vec& y : {f.value, random_input<B>(gen)}) {
      flowtmpl::value_and_log_det<typename B::vec, S> g;
      if constexpr (C > 0)
        g = b.inverse_and_log_det(y, c);
      else
        g = b.inverse_and_log_det(y);
      const auto g_ref = IAF ? d_pass(b, false, y, ctx) : one_pass(b, false, y, ctx);
      CHECK(close_vec(g.value, g_ref.value, tol));
      CHECK(close(g.log_det, g_ref.log_det, tol));
      const auto g_naive = b.template apply_naive<direction::inverse>(y, ctx);
      CHECK(close_vec(g.value, g_naive.value, tol));
      CHECK(close(g.log_det, g_naive.log_det, tol));
    }
    // a round trip
    if constexpr (C > 0)
      CHECK(close_vec(b.inverse(f.value, c), v, S(1e-10)));
    else
      CHECK(close_vec(b.inverse(f.value), v, S(1e-10)));
  }
}

template <class T, class Made, int D, int C>
void check_both(std::uint64_t seed) {
  check_directions<T, Made, D, C, false>(seed);
  check_directions<T, Made, D, C, true>(seed + 1);
}

}  // namespace

TEST_CASE("the sequential direction equals nflows's D-pass algorithm; the parallel one, one pass",
          "[autoregressive][sequential]") {
  check_both<flowtmpl::Affine, MADE<8, 8>, 3, 0>(1);
  check_both<flowtmpl::Affine, ResidualMADE<8, 1>, 6, 0>(3);
  check_both<flowtmpl::SoftplusAffine, MADE<8, 8>, 6, 0>(5);
  check_both<flowtmpl::SoftplusAffine, ResidualMADE<8, 1>, 1, 0>(7);
  check_both<flowtmpl::Additive, MADE<8, 8>, 6, 0>(9);
  check_both<flowtmpl::Spline<8>, MADE<8, 8>, 6, 0>(11);
  check_both<flowtmpl::Spline<8>, ResidualMADE<8, 1>, 3, 0>(13);
  check_both<flowtmpl::BoundedSpline<5>, MADE<8, 8>, 3, 0>(15);
  check_both<flowtmpl::BoundedSpline<5>, ResidualMADE<8, 1>, 6, 0>(17);
  check_both<flowtmpl::Affine, MADE<5, 7, 3>, 6, 0>(19);
}

TEST_CASE("the same with a context", "[autoregressive][sequential]") {
  check_both<flowtmpl::Affine, MADE<8, 8>, 4, 3>(21);
  check_both<flowtmpl::Spline<8>, ResidualMADE<8, 1>, 5, 3>(23);
  check_both<flowtmpl::SoftplusAffine, MADE<8, 8>, 1, 2>(25);
}

namespace {
template <class T, class Made, bool Zero>
void check_declarations() {
  using MAF = flowtmpl::bind_t<MaskedAutoregressive<T, Made>, 4, double>;
  using IAF = flowtmpl::bind_t<InverseAutoregressive<T, Made>, 4, float>;
  STATIC_REQUIRE(std::is_same_v<typename MAF::structure, flowtmpl::structure::lower_triangular>);
  STATIC_REQUIRE(std::is_same_v<typename IAF::structure, flowtmpl::structure::lower_triangular>);
  STATIC_REQUIRE(MAF::log_det_kind == (Zero ? flowtmpl::log_det_kind::zero : flowtmpl::log_det_kind::input_dependent));
  STATIC_REQUIRE(IAF::log_det_kind == MAF::log_det_kind);
  STATIC_REQUIRE(flowtmpl::Bijector<MAF>);
  STATIC_REQUIRE(flowtmpl::Bijector<IAF>);
  STATIC_REQUIRE(!flowtmpl::ConditionalBijector<MAF>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<MAF>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<IAF>);
  STATIC_REQUIRE(MAF::dim == 4);
  STATIC_REQUIRE(std::is_same_v<typename IAF::scalar_type, float>);
  STATIC_REQUIRE(flowtmpl::parameter_count_v<MAF> == MAF::made_type::parameter_count);
  CHECK(std::string(MAF::name) == "MaskedAutoregressive");
  CHECK(std::string(IAF::name) == "InverseAutoregressive");
}
}  // namespace

TEST_CASE("autoregressive layers declare lower-triangular structure; Additive gives log-det kind zero",
          "[autoregressive]") {
  check_declarations<flowtmpl::Additive, MADE<8, 8>, true>();
  check_declarations<flowtmpl::Additive, ResidualMADE<8, 1>, true>();
  check_declarations<flowtmpl::Affine, MADE<8, 8>, false>();
  check_declarations<flowtmpl::SoftplusAffine, MADE<8, 8>, false>();
  check_declarations<flowtmpl::Spline<8>, ResidualMADE<8, 1>, false>();
  check_declarations<flowtmpl::BoundedSpline<5>, MADE<8, 8>, false>();
  // the default conditioner is MADE<64, 64>
  STATIC_REQUIRE(
      std::is_same_v<flowtmpl::bind_t<MaskedAutoregressive<flowtmpl::Affine>, 3, double>::made_type,
                     flowtmpl::bind_t<MaskedAutoregressive<flowtmpl::Affine, MADE<64, 64>>, 3, double>::made_type>);
  // Additive: log_det is exactly 0 in both directions
  flowtmpl::bind_t<MaskedAutoregressive<flowtmpl::Additive, MADE<8, 8>>, 4, double> b;
  b.reset_parameters(3, flowtmpl::init::uniform);
  const Eigen::Vector4d x(0.5, -1.0, 2.0, 0.25);
  CHECK(b.log_det(x) == 0.0);
  CHECK(b.inverse_and_log_det(x).log_det == 0.0);
  CHECK(b.forward(x) != x);
}

namespace {
template <class T, class Made, int D>
void check_identity() {
  using MAF = flowtmpl::bind_t<MaskedAutoregressive<T, Made>, D, double>;
  using IAF = flowtmpl::bind_t<InverseAutoregressive<T, Made>, D, double>;
  const MAF maf;
  const IAF iaf;
  const bool unit = requires { MAF::forward_domain(); };
  std::mt19937_64 gen(D);
  std::uniform_real_distribution<double> u(unit ? 0.0 : -5.0, unit ? 1.0 : 5.0);
  INFO(MAF::transformer_type::name << ", " << MAF::made_type::name << ", D = " << D);
  for (int t = 0; t < 10; ++t) {
    Eigen::Matrix<double, D, 1> x;
    for (int i = 0; i < D; ++i) x[i] = u(gen);
    CHECK(close_vec(maf.forward(x), x, 1e-12));
    CHECK(close_vec(maf.inverse(x), x, 1e-12));
    CHECK(close_vec(iaf.forward(x), x, 1e-12));
    CHECK(close_vec(iaf.inverse(x), x, 1e-12));
    CHECK(std::abs(maf.log_det(x)) <= 1e-12);
    CHECK(std::abs(iaf.log_det(x)) <= 1e-12);
    CHECK(std::abs(maf.inverse_and_log_det(x).log_det) <= 1e-12);
  }
  // its hidden layers hold a draw; the last layer is 0 with the identity parameters as
  // its bias, so a fresh draw of reset_parameters(seed) (identity_start) is the identity
  // too, while init::uniform is not
  MAF drawn;
  drawn.reset_parameters(77);
  Eigen::Matrix<double, D, 1> x = Eigen::Matrix<double, D, 1>::Constant(0.4);
  CHECK(close_vec(drawn.forward(x), x, 1e-12));
  drawn.reset_parameters(77, flowtmpl::init::uniform);
  CHECK(!close_vec(drawn.forward(x), x, 1e-6));
}
}  // namespace

TEST_CASE("a default-constructed autoregressive layer is the identity", "[autoregressive]") {
  check_identity<flowtmpl::Additive, MADE<8, 8>, 4>();
  check_identity<flowtmpl::Affine, MADE<8, 8>, 4>();
  check_identity<flowtmpl::SoftplusAffine, ResidualMADE<8, 1>, 4>();
  check_identity<flowtmpl::Spline<8>, MADE<8, 8>, 4>();
  check_identity<flowtmpl::BoundedSpline<5>, ResidualMADE<8, 1>, 4>();
  check_identity<flowtmpl::Affine, MADE<8, 8>, 1>();
}

}  // namespace autoregressive_sequential_test
