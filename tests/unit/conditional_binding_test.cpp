// Tests of flowtmpl/conditional.hpp: what Conditional<C, Spec> binds to, that the
// context is read, that a per-sample context of the wrong length is refused
// (detail/context_check.hpp), and sinusoidal_embedding.
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/conditional.hpp>
#include <flowtmpl/differentiable.hpp>
#include <flowtmpl/distributions/standard_normal.hpp>
#include <flowtmpl/errors.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <type_traits>

namespace conditional_binding_test {

namespace {

// bind_t of a Conditional<C, Spec> (what a user writes).
template <class Spec, int D, class S>
using cbind_t = flowtmpl::bind_t<Spec, D, S>;

using flowtmpl::Affine;
using flowtmpl::bind_t;
using flowtmpl::compose;
using flowtmpl::Conditional;
using flowtmpl::Coupling;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::MLP;
using flowtmpl::Permute;
using flowtmpl::Reverse;

using CouplingSpec = Coupling<Affine, MLP<8>>;
using MafSpec = MaskedAutoregressive<Affine, MADE<8, 8>>;
using StackSpec = compose<CouplingSpec, Permute<Reverse>, MafSpec>;

// ---- binding, at compile time ------------------------------------------------------------
using CB = cbind_t<Conditional<4, CouplingSpec>, 3, double>;
static_assert(flowtmpl::ConditionalBijector<CB>);
static_assert(!flowtmpl::Bijector<CB>);
static_assert(CB::context_dim == 4 && CB::dim == 3);
static_assert(std::is_same_v<CB, flowtmpl::CouplingBijector<Affine, MLP<8>, flowtmpl::mask::half, 3, double, 4>>);
static_assert(CB::conditioner_type::context == 4);
// without Conditional: the usual Bijector
static_assert(flowtmpl::Bijector<bind_t<CouplingSpec, 3, double>>);
static_assert(bind_t<CouplingSpec, 3, double>::context_dim == 0);

using Stack = cbind_t<Conditional<4, StackSpec>, 3, double>;
static_assert(flowtmpl::is_chain<Stack>::value);
static_assert(Stack::size == 3);
static_assert(Stack::context_dim == 4);
static_assert(flowtmpl::ConditionalBijector<Stack>);
static_assert(!flowtmpl::Bijector<Stack>);
static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<Stack&>().get<0>())>, CB>);
// a layer that reads no context is bound as usual
static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<Stack&>().get<1>())>,
                             bind_t<Permute<Reverse>, 3, double>>);
static_assert(flowtmpl::context_dim_of<bind_t<Permute<Reverse>, 3, double>>() == 0);
using StackMaf = std::remove_cvref_t<decltype(std::declval<Stack&>().get<2>())>;
static_assert(std::is_same_v<StackMaf, MafSpec::bind_with_context<3, double, 4>>);
static_assert(StackMaf::made_type::context == 4);
static_assert(std::is_same_v<bind_t<Conditional<4, Permute<Reverse>>, 3, float>, bind_t<Permute<Reverse>, 3, float>>);
static_assert(std::is_same_v<Stack::structure, bind_t<StackSpec, 3, double>::structure>);

using InvMaf = cbind_t<Conditional<2, flowtmpl::Inverse<MafSpec>>, 4, float>;
static_assert(std::is_same_v<InvMaf, flowtmpl::InverseBijector<MafSpec::bind_with_context<4, float, 2>>>);
static_assert(flowtmpl::ConditionalBijector<InvMaf> && InvMaf::context_dim == 2);

using FlowSpec = Conditional<4, flowtmpl::Flow<flowtmpl::StandardNormal, StackSpec>>;
static_assert(flowtmpl::DistributionSpec<FlowSpec>);
static_assert(!flowtmpl::BijectorSpec<FlowSpec>);
static_assert(flowtmpl::BijectorSpec<Conditional<4, StackSpec>>);
using CFlow = bind_t<FlowSpec, 3, double>;
static_assert(
    std::is_same_v<CFlow, flowtmpl::FlowDistribution<flowtmpl::StandardNormalDistribution<3, double>, Stack>>);
static_assert(flowtmpl::ConditionalDistribution<CFlow>);
static_assert(!flowtmpl::Distribution<CFlow>);
static_assert(CFlow::context_dim == 4);
static_assert(flowtmpl::Distribution<bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, StackSpec>, 3, double>>);

template <class B, class V, class C>
auto fwd(const B& b, const V& x, const C& c) {
  return flowtmpl::forward_and_log_det(b, x, c);
}

}  // namespace

TEST_CASE("Conditional<C, Spec> binds to conditional layers, chains and flows", "[conditional]") {
  STATIC_REQUIRE(flowtmpl::ConditionalBijector<CB>);
  STATIC_REQUIRE(!flowtmpl::Bijector<CB>);
  STATIC_REQUIRE(Stack::context_dim == 4);
  STATIC_REQUIRE(flowtmpl::ConditionalDistribution<CFlow>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<Stack>);
  CHECK(Conditional<4, StackSpec>::context_dim == 4);
}

TEST_CASE("the context is read: another context gives another map", "[conditional]") {
  Stack b;
  flowtmpl::reset_parameters(b, 3, flowtmpl::init::uniform);
  const Eigen::Vector3d x(0.3, -0.8, 1.1);
  const Eigen::Vector4d c1(0.0, 0.5, -1.0, 2.0);
  Eigen::Vector4d c2 = c1;
  const auto r1 = fwd(b, x, c1);
  for (int k = 0; k < 4; ++k) {
    c2 = c1;
    c2[k] += 0.7;
    const auto r2 = fwd(b, x, c2);
    INFO("context component " << k);
    // every output component moves (the coupling transforms 1, 2 given c; after the
    // reversal the MAF's features 1, 2 read c through MADE)
    for (int i = 0; i < 3; ++i) CHECK(r2.value[i] != r1.value[i]);
    CHECK(r2.log_det != r1.log_det);
    // and each context is inverted with itself
    const Eigen::Vector3d back = b.inverse(r2.value, c2);
    CHECK((back - x).cwiseAbs().maxCoeff() < 1e-12);
  }
  // the layers one by one
  const auto& coupling = b.get<0>();
  CHECK(coupling.forward(x, c1) != coupling.forward(x, c2));
  CHECK(coupling.forward(x, c1)[0] == x[0]);  // the conditioning half is copied
  const auto& maf = b.get<2>();
  CHECK(maf.forward(x, c1) != maf.forward(x, c2));
  // MADE's feature 0 is the final bias for D >= 2 (as in nflows): it reads no context
  CHECK(maf.forward(x, c1)[0] == maf.forward(x, c2)[0]);
  // with_context fixes c: a plain Bijector with the same function
  const auto w = flowtmpl::with_context(b, c1);
  STATIC_REQUIRE(flowtmpl::Bijector<std::remove_cvref_t<decltype(w)>>);
  STATIC_REQUIRE(!flowtmpl::ConditionalBijector<std::remove_cvref_t<decltype(w)>>);
  CHECK(w.forward(x) == b.forward(x, c1));
  CHECK(w.log_det(x) == b.log_det(x, c1));
  CHECK(w.inverse(x) == b.inverse(x, c1));
  // the flow: log p(x | c) = log N(f^-1(x; c)) + log|det df^-1/dx|, and it differs
  // between contexts
  CFlow d;
  d.transform = b;
  const auto inv = flowtmpl::inverse_and_log_det(b, x, c1);
  const double ref = -0.5 * inv.value.squaredNorm() - 1.5 * std::log(2 * std::acos(-1.0)) + inv.log_det;
  CHECK(d.log_prob(x, c1) == Approx(ref).epsilon(1e-13));
  CHECK(d.log_prob(x, c1) != d.log_prob(x, c2));
  // per-sample sampling reads the context too, from the same base draw
  flowtmpl::philox_stream rng1(5, 0), rng2(5, 0), rng3(5, 0);
  const Eigen::Vector3d s1 = d.sample(rng1, c1);
  const Eigen::Vector3d s2 = d.sample(rng2, c2);
  CHECK(s1 != s2);
  const auto sl = d.sample_and_log_prob(rng3, c1);
  CHECK((sl.value - s1).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(sl.log_det == Approx(d.log_prob(s1, c1)).epsilon(1e-10));
}

TEST_CASE("sinusoidal_embedding: sin and cos of t 10000^(-2k/C)", "[conditional][embedding]") {
  for (double t : {0.0, 0.37, -2.5, 17.0, 1000.0}) {
    const Eigen::Matrix<double, 8, 1> e = flowtmpl::sinusoidal_embedding<8>(t);
    for (int k = 0; k < 4; ++k) {
      const double w = std::exp(-(2.0 * k / 8.0) * std::log(10000.0));
      INFO("t = " << t << ", k = " << k);
      CHECK(std::abs(e[2 * k] - std::sin(t * w)) <= 1e-12);
      CHECK(std::abs(e[2 * k + 1] - std::cos(t * w)) <= 1e-12);
    }
  }
  // C = 2: only w_0 = 1
  const Eigen::Vector2f e2 = flowtmpl::sinusoidal_embedding<2>(0.5f);
  CHECK(e2[0] == Approx(std::sin(0.5)).epsilon(1e-6));
  CHECK(e2[1] == Approx(std::cos(0.5)).epsilon(1e-6));
  // C = 6, the slowest frequency is 10000^(-4/6)
  const Eigen::Matrix<double, 6, 1> e6 = flowtmpl::sinusoidal_embedding<6>(3.0);
  CHECK(e6[4] == Approx(std::sin(3.0 * std::pow(10000.0, -4.0 / 6.0))).margin(1e-14));
  CHECK(e6[5] == Approx(std::cos(3.0 * std::pow(10000.0, -4.0 / 6.0))).margin(1e-14));
  // it is a context: a flow conditioned on it
  using T = cbind_t<Conditional<4, MafSpec>, 2, double>;
  T b;
  b.reset_parameters(9, flowtmpl::init::uniform);
  const Eigen::Vector2d x(0.2, 0.4);
  CHECK(b.forward(x, flowtmpl::sinusoidal_embedding<4>(0.1)) != b.forward(x, flowtmpl::sinusoidal_embedding<4>(0.9)));
}

TEST_CASE("a per-sample context of the wrong length throws shape_error naming the call", "[conditional]") {
  // C = 3: a dynamic-size context of 0, 2 or 4 components is neither read out of bounds
  // nor truncated; one of 3 gives what the fixed-size context gives
  using F = cbind_t<Conditional<3, flowtmpl::Flow<flowtmpl::StandardNormal, StackSpec>>, 2, double>;
  F d;
  flowtmpl::reset_parameters(d, 3, flowtmpl::init::uniform);
  const auto& b = d.transform;
  const Eigen::Vector2d x(0.3, -0.4);
  const Eigen::Vector3d fixed(0.5, -0.25, 1.0);
  const Eigen::VectorXd right = fixed;
  CHECK(b.forward(x, right) == b.forward(x, fixed));
  CHECK(d.log_prob(x, right) == d.log_prob(x, fixed));
  CHECK(flowtmpl::with_context(b, right).forward(x) == b.forward(x, fixed));
  F grad = flowtmpl::make_gradient(d);
  const auto error_of = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const flowtmpl::shape_error& e) {
      return e.what();
    }
    return "(no shape_error)";
  };
  for (const Eigen::Index n : {0, 2, 4}) {
    const Eigen::VectorXd c = Eigen::VectorXd::Constant(n, 0.5);
    INFO("a context of " << n << " components");
    const std::string tail = ": the context has " + std::to_string(n) + " components, the flow reads 3";
    CHECK_THAT(error_of([&] { (void)b.forward(x, c); }), Catch::StartsWith("forward" + tail));
    CHECK_THAT(error_of([&] { (void)b.inverse(x, c); }), Catch::StartsWith("inverse" + tail));
    CHECK_THAT(error_of([&] { (void)b.log_det(x, c); }), Catch::StartsWith("log_det" + tail));
    CHECK_THAT(error_of([&] { (void)d.log_prob(x, c); }), Catch::StartsWith("log_prob" + tail));
    CHECK_THAT(error_of([&] {
                 flowtmpl::philox_stream rng(1, 0);
                 (void)d.sample(rng, c);
               }),
               Catch::StartsWith("sample" + tail));
    CHECK_THAT(error_of([&] { (void)flowtmpl::with_context(b, c); }), Catch::StartsWith("with_context" + tail));
    CHECK_THAT(error_of([&] { (void)flowtmpl::forward_and_log_det(b, x, c); }),
               Catch::StartsWith("forward_and_log_det" + tail));
    CHECK_THAT(error_of([&] { (void)flowtmpl::forward_vjp(b, x, c, x, 1.0, grad.transform); }),
               Catch::StartsWith("forward_vjp" + tail));
    CHECK_THAT(error_of([&] { (void)flowtmpl::log_prob_vjp(d, x, c, 1.0, grad); }),
               Catch::StartsWith("log_prob_vjp" + tail));
    // a layer inside the chain checks too
    CHECK_THAT(error_of([&] { (void)b.template get<0>().forward(x, c); }), Catch::StartsWith("forward" + tail));
  }
  // a 3 x 2 matrix is not a context
  const Eigen::MatrixXd m = Eigen::MatrixXd::Zero(3, 2);
  CHECK_THAT(error_of([&] { (void)b.forward(x, m); }),
             Catch::StartsWith("forward: the context has 6 values (3 x 2), the flow reads 3"));
}

}  // namespace conditional_binding_test
