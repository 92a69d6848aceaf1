// The bad-input sweep (testing/bad_input.hpp) of the autoregressive families and of a
// conditional flow, in float and double, with drawn (non-identity) parameters: MAF
// (MADE, affine), IAF, an autoregressive neural spline flow (its bounds and knots swept)
// and a conditional flow whose context goes through an embedding network (bad values in
// the contexts too, one context for all against one per sample). Each case runs twice:
// tagged [hardening] for the sanitizer build, and [acceptance] for the release build.
#include "hardening.hpp"

namespace autoregressive_flows_test {

using namespace flowtmpl_test;

namespace {

using Made = ft::MADE<8, 8>;

template <class S>
void maf() {
  using Step = ft::compose<ft::MaskedAutoregressive<ft::Affine, Made>, ft::Permute<ft::Reverse>>;
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<Step, Step>>, 4, S>;
  require_clean_sweep("MAF", drawn<F>(21, 0));
}

template <class S>
void iaf() {
  using Step = ft::compose<ft::InverseAutoregressive<ft::Affine, Made>, ft::Permute<ft::Reverse>>;
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<Step, Step>>, 4, S>;
  require_clean_sweep("IAF", drawn<F>(22, 0));
}

template <class S>
void spline_autoregressive() {
  using Step = ft::compose<ft::MaskedAutoregressive<ft::Spline<6, 3.0>, Made>, ft::Permute<ft::Reverse>>;
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<Step, Step>>, 4, S>;
  ft::testing::bad_input_options<S> opt;
  opt.add_spline(S(3), 6);
  require_clean_sweep("NSF (autoregressive)", drawn<F>(23, 0), opt);
}

template <class S>
void conditional_embedded() {
  using Layers = ft::compose<ft::Coupling<ft::Affine, ft::MLP<8>>, ft::Permute<ft::Reverse>,
                             ft::MaskedAutoregressive<ft::Affine, ft::MADE<8>>>;
  using F = ft::bind_t<ft::Conditional<3, ft::Flow<ft::StandardNormal, Layers>, ft::Embedding<5, ft::MLP<8>>>, 4, S>;
  static_assert(F::context_dim == 5);
  require_clean_sweep("conditional (embedding)", drawn<F>(24, 0));
}

}  // namespace

TEMPLATE_TEST_CASE("bad inputs: MAF", "[hardening]", float, double) { maf<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: MAF, release build", "[hardening][acceptance]", float, double) { maf<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: IAF", "[hardening]", float, double) { iaf<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: IAF, release build", "[hardening][acceptance]", float, double) { iaf<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: NSF autoregressive", "[hardening]", float, double) { spline_autoregressive<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: NSF autoregressive, release build", "[hardening][acceptance]", float, double) {
  spline_autoregressive<TestType>();
}
TEMPLATE_TEST_CASE("bad inputs: a conditional flow with an embedding net", "[hardening]", float, double) {
  conditional_embedded<TestType>();
}
TEMPLATE_TEST_CASE("bad inputs: a conditional flow with an embedding net, release build", "[hardening][acceptance]",
                   float, double) {
  conditional_embedded<TestType>();
}

}  // namespace autoregressive_flows_test
