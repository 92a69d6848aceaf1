// with_context(b, c) (core.hpp) turns a conditional layer into a plain Bijector; the
// conformance kit runs on it, in float and double, for conditional couplings,
// autoregressive layers, an inverse and a chain, at several contexts.
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/conditioners/residual_net.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/conditional.hpp>
#include <flowtmpl/direction.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/sigmoid_affine.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <type_traits>

namespace conditional_kit_test {

namespace {

// bind_t of a Conditional<C, Spec> (what a user writes).
template <class Spec, int D, class S>
using cbind_t = flowtmpl::bind_t<Spec, D, S>;

using flowtmpl::Affine;
using flowtmpl::compose;
using flowtmpl::Conditional;
using flowtmpl::Coupling;
using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::MLP;
using flowtmpl::Permute;
using flowtmpl::ResidualMADE;
using flowtmpl::Reverse;

template <class Spec, int D, class S>
void kit_with_contexts(std::uint64_t seed, flowtmpl::testing::options<S> opt = {}) {
  using B = cbind_t<Conditional<3, Spec>, D, S>;
  static_assert(flowtmpl::ConditionalBijector<B>);
  B b;
  flowtmpl::reset_parameters(b, seed, flowtmpl::init::uniform);
  using W = flowtmpl::context_bound<B>;
  static_assert(flowtmpl::Bijector<W>);
  static_assert(std::is_same_v<typename W::structure, typename B::structure>);
  opt.points = 32;
  // float: drawn splines have slopes near 0.02 (see ../autoregressive/ar_kit_spline_test.cpp)
  if constexpr (sizeof(S) == 4) opt.round_trip_tol = S(1e-4);
  const Eigen::Matrix<S, 3, 1> contexts[] = {Eigen::Matrix<S, 3, 1>(S(0), S(0), S(0)),
                                             Eigen::Matrix<S, 3, 1>(S(1.5), S(-0.5), S(2)),
                                             Eigen::Matrix<S, 3, 1>(S(-2), S(1), S(-0.75))};
  for (const auto& c : contexts) {
    const W w = flowtmpl::with_context(b, c);
    const auto r = flowtmpl::testing::check_bijector(w, opt);
    INFO(B::name << ", D = " << D << ", " << (sizeof(S) == 4 ? "float" : "double") << ", c = (" << c.transpose()
                 << ")\n"
                 << r.text());
    CHECK(r.ok());
  }
}

}  // namespace

TEMPLATE_TEST_CASE("with_context(coupling, c) passes the kit", "[conditional][kit]", float, double) {
  kit_with_contexts<Coupling<Affine, MLP<8>>, 3, TestType>(1);
  // nflows's ResidualNet: the context in the first layer and in every block's gate
  kit_with_contexts<Coupling<flowtmpl::SigmoidAffine, flowtmpl::ResidualNet<8, 2>>, 3, TestType>(4);
}
TEMPLATE_TEST_CASE("with_context(autoregressive layer, c) passes the kit", "[conditional][kit]", float, double) {
  kit_with_contexts<MaskedAutoregressive<flowtmpl::Spline<8>, ResidualMADE<8, 1>>, 4, TestType>(2);
}
TEMPLATE_TEST_CASE("with_context(chain, c) passes the kit", "[conditional][kit]", float, double) {
  // the coupling's SoftplusAffine scale grows like the conditioning inputs: its forward
  // outputs grow like x^2
  flowtmpl::testing::options<TestType> opt;
  flowtmpl_test::narrow_to_power(opt, flowtmpl::direction::forward, 2,
                                 "the SoftplusAffine coupling's outputs grow like the square of the input");
  kit_with_contexts<compose<Coupling<flowtmpl::SoftplusAffine, MLP<8>, flowtmpl::mask::odd>, Permute<Reverse>,
                            flowtmpl::Inverse<InverseAutoregressive<Affine, MADE<8, 8>>>>,
                    4, TestType>(3, opt);
}

}  // namespace conditional_kit_test
