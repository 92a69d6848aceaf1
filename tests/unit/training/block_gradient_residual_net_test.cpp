// nll_and_gradient's block path against the per-sample path (tests/support/
// block_gradient.hpp) for couplings with nflows's ResidualNet conditioner
// (conditioners/residual_net.hpp), with and without a context (which enters the first
// layer and every block's gate). In its own file so that it compiles beside
// block_gradient_test.cpp.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include "support/block_gradient.hpp"

namespace block_gradient_residual_net_test {

namespace ft = flowtmpl;

namespace {
using ResNVP = ft::compose<ft::Coupling<ft::SigmoidAffine, ft::ResidualNet<16, 2>>, ft::Permute<ft::Reverse>,
                           ft::Coupling<ft::Spline<4, 3.0>, ft::ResidualNet<16, 1>::with<ft::act::tanh>, ft::mask::odd>>;
}  // namespace

TEST_CASE("block gradient: ResidualNet couplings agree with the per-sample path", "[training][gradient]") {
  flowtmpl_test::same_gradient<ft::bind_t<ft::Flow<ft::StandardNormal, ResNVP>, 5, double>>(1e-10);
}

TEST_CASE("block gradient: ResidualNet couplings with a context agree with the per-sample path",
          "[training][gradient][conditional]") {
  flowtmpl_test::same_conditional_gradient<ft::bind_t<ft::Conditional<3, ft::Flow<ft::StandardNormal, ResNVP>>, 4, double>>(
      1e-10);
}

}  // namespace block_gradient_residual_net_test
