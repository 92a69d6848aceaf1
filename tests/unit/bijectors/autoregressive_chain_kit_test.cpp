// The conformance kit on chains of autoregressive layers with Permute<Reverse> between
// them (the usual MAF / IAF stacks), after flowtmpl::reset_parameters(chain, seed,
// init::uniform).
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/chain.hpp>
#include <flowtmpl/direction.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <cstdint>

#include "support/common.hpp"

namespace autoregressive_chain_kit_test {

namespace {

template <class Spec, int D, class S>
void chain_kit(std::uint64_t seed, flowtmpl::testing::options<S> opt = {}) {
  using B = flowtmpl::bind_t<Spec, D, S>;
  STATIC_REQUIRE(flowtmpl::is_chain<B>::value);
  B b;
  flowtmpl::reset_parameters(b, seed, flowtmpl::init::uniform);
  // float: the drawn splines have slopes near 0.02 (see ar_kit_spline_test.cpp)
  if constexpr (sizeof(S) == 4) opt.round_trip_tol = S(1e-4);
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO("D = " << D << ", " << (sizeof(S) == 4 ? "float" : "double") << "\n" << r.text());
  CHECK(r.ok());
  // reversing the order makes the last input reach the first output
  Eigen::Matrix<S, D, 1> x = Eigen::Matrix<S, D, 1>::Constant(S(0.5));
  const Eigen::Matrix<S, D, 1> y = b.forward(x);
  x[D - 1] = S(-0.5);
  CHECK(b.forward(x)[0] != y[0]);
}

using flowtmpl::compose;
using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::Permute;
using flowtmpl::ResidualMADE;
using flowtmpl::Reverse;

using MafStack = compose<MaskedAutoregressive<flowtmpl::Affine, MADE<8, 8>>, Permute<Reverse>,
                         MaskedAutoregressive<flowtmpl::Spline<8>, ResidualMADE<8, 1>>>;
using MixedStack = compose<InverseAutoregressive<flowtmpl::SoftplusAffine, MADE<8, 8>>, Permute<Reverse>,
                           flowtmpl::Inverse<MaskedAutoregressive<flowtmpl::Additive, ResidualMADE<8, 1>>>>;

}  // namespace

TEMPLATE_TEST_CASE("MAF stacks with Permute<Reverse> pass the kit", "[autoregressive][kit][chain]", float, double) {
  chain_kit<MafStack, 4, TestType>(51);
}
TEMPLATE_TEST_CASE("IAF, Permute<Reverse>, Inverse<MAF> passes the kit", "[autoregressive][kit][chain]", float,
                   double) {
  // the first layer's forward (IAF, parallel) scales x_i by SoftplusAffine's unbounded
  // scale, which grows with the inputs: its outputs grow like x^2
  flowtmpl::testing::options<TestType> opt;
  flowtmpl_test::narrow_to_power(opt, flowtmpl::direction::forward, 2,
                                 "the IAF<SoftplusAffine> layer's outputs grow like the square of the input");
  chain_kit<MixedStack, 5, TestType>(52, opt);
}

}  // namespace autoregressive_chain_kit_test
