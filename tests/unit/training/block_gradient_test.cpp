// nll_and_gradient's block path (detail::log_prob_vjp_block: the conditioners' products
// over a block of samples at once) against the per-sample path (log_prob_vjp per column), which
// the central-difference test of training_test.cpp and the per-layer gradient tests
// check on their own. The two sum the same terms in another order: in double they agree
// to rounding, which is what shows that the block path computes the same gradient.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include "support/block_gradient.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace block_gradient_test {

namespace ft = flowtmpl;

namespace {
template <class Step>
using times4 = ft::compose<Step, Step, Step, Step>;
using RealNVP = times4<ft::compose<ft::Coupling<ft::Affine, ft::MLP<32, 32>>, ft::Permute<ft::Reverse>>>;
using Glow = times4<ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Affine, ft::MLP<32, 32>>>>;
using NSF = times4<ft::compose<ft::Coupling<ft::Spline<8, 3.0>, ft::MLP<32, 32>>, ft::Permute<ft::Reverse>>>;
using MAF = times4<ft::compose<ft::MaskedAutoregressive<ft::Affine, ft::MADE<32, 32>>, ft::Permute<ft::Reverse>>>;
// Layers without a block gradient in the middle of ones with: IAF (its density direction
// is sequential), Inverse<Coupling>, a residual MADE, ActNorm / LUConv, a non-standard base.
using Mixed = ft::compose<ft::InverseAutoregressive<ft::Affine, ft::MADE<16, 16>>, ft::Permute<ft::Reverse>,
                          ft::Inverse<ft::Coupling<ft::SoftplusAffine, ft::MLP<16>>>,
                          ft::MaskedAutoregressive<ft::Affine, ft::ResidualMADE<16, 2>>, ft::ActNorm, ft::LUConv,
                          ft::Coupling<ft::Spline<4, 3.0>, ft::MLP<16>, ft::mask::odd>>;

// a transformer with parameters of its own (the learnable bound), in a coupling and in
// MADE: the row form of its vjp adds the bound's cotangents per column
using LearnableBound = ft::compose<ft::Coupling<ft::BoundedAffine<2.0, ft::affine_bound::learnable>, ft::MLP<16>>,
                                   ft::Permute<ft::Reverse>,
                                   ft::MaskedAutoregressive<ft::BoundedAffine<2.0, ft::affine_bound::learnable>,
                                                            ft::MADE<16>>>;

using flowtmpl_test::same_conditional_gradient;
using flowtmpl_test::same_gradient;

// conditional: couplings (MLP reading the context) and MAF (MADE reading it), with and
// without an embedding network, and a layer without a block gradient between them
using CondNSF = ft::compose<ft::Coupling<ft::Spline<8, 3.0>, ft::MLP<32, 32>>, ft::Permute<ft::Reverse>,
                            ft::MaskedAutoregressive<ft::Spline<4, 3.0>, ft::MADE<32, 32>>, ft::Permute<ft::Reverse>,
                            ft::InverseAutoregressive<ft::Affine, ft::MADE<16>>,
                            ft::Coupling<ft::Affine, ft::MLP<16>::with<ft::act::tanh>>>;
}  // namespace

TEST_CASE("block gradient: RealNVP, Glow, NSF, MAF, a mixed chain and learnable bounds, double, agree with the per-sample path",
          "[training][gradient]") {
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, RealNVP>, 8, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, Glow>, 8, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, NSF>, 8, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, MAF>, 8, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::DiagonalNormal, Mixed>, 4, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, RealNVP>, 2, double>>(1e-10);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, LearnableBound>, 4, double>>(1e-10);
}

TEST_CASE("block gradient: conditional flows, with and without an embedding, agree with the per-sample path",
          "[training][gradient][conditional]") {
  same_conditional_gradient<ft::bind_t<ft::Conditional<3, ft::Flow<ft::StandardNormal, CondNSF>>, 5, double>>(1e-10);
  same_conditional_gradient<
      ft::bind_t<ft::Conditional<3, ft::Flow<ft::StandardNormal, CondNSF>, ft::Embedding<6, ft::MLP<16>>>, 5, double>>(
      1e-10);
  same_conditional_gradient<ft::bind_t<ft::Conditional<2, ft::Flow<ft::StandardNormal, MAF>>, 4, float>>(1e-2);
}

TEST_CASE("block gradient: float agrees with the per-sample path to float rounding of sums over a block",
          "[training][gradient]") {
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, RealNVP>, 8, float>>(1e-2);
  same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, MAF>, 8, float>>(1e-2);
}

TEST_CASE("block gradient: a flow without a conditioner keeps the per-sample path", "[training]") {
  STATIC_REQUIRE(!ft::detail::block_gradient_ok<ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::ActNorm, ft::LUConv>>, 4, double>>());
  STATIC_REQUIRE(ft::detail::block_gradient_ok<ft::bind_t<ft::Flow<ft::StandardNormal, RealNVP>, 4, double>>());
}

}  // namespace block_gradient_test
