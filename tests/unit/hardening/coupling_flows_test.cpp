// The bad-input sweep (testing/bad_input.hpp) of the coupling families, in float and
// double, with drawn (non-identity) parameters: NICE (additive couplings), RealNVP
// (affine couplings), Glow (ActNorm, LUConv, affine coupling) and a neural spline flow
// (LU linear maps and rational-quadratic spline couplings, its bounds and knots swept).
// Each case runs twice: tagged [hardening] for the sanitizer build, and [acceptance] for
// the release build (which builds only the [acceptance] cases).
#include "hardening.hpp"

namespace coupling_flows_test {

using namespace flowtmpl_test;

namespace {

using Net = ft::MLP<8, 8>;

template <class S>
void nice() {
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Additive, Net, ft::mask::even>,
                                                                ft::Coupling<ft::Additive, Net, ft::mask::odd>>>,
                       4, S>;
  require_clean_sweep("NICE", drawn<F>(11));
}

template <class S>
void real_nvp() {
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, Net, ft::mask::even>,
                                                                ft::Coupling<ft::Affine, Net, ft::mask::odd>>>,
                       4, S>;
  require_clean_sweep("RealNVP", drawn<F>(12));
}

template <class S>
void glow() {
  using Step = ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Affine, Net>>;
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<Step, Step>>, 4, S>;
  require_clean_sweep("Glow", drawn<F>(13));
}

template <class S>
void spline_coupling() {
  using Step = ft::compose<ft::LUConvT<ft::lu_diag::softplus>, ft::Coupling<ft::Spline<6, 3.0>, Net>>;
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<Step, Step>>, 4, S>;
  ft::testing::bad_input_options<S> opt;
  opt.add_spline(S(3), 6);
  require_clean_sweep("NSF (coupling)", drawn<F>(14), opt);
  // the identity start too: the knots are where add_spline puts them
  F f;
  ft::reset_parameters(f, 14);
  require_clean_sweep("NSF (coupling, identity start)", f, opt);
}

}  // namespace

TEMPLATE_TEST_CASE("bad inputs: NICE", "[hardening]", float, double) { nice<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: NICE, release build", "[hardening][acceptance]", float, double) { nice<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: RealNVP", "[hardening]", float, double) { real_nvp<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: RealNVP, release build", "[hardening][acceptance]", float, double) { real_nvp<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: Glow", "[hardening]", float, double) { glow<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: Glow, release build", "[hardening][acceptance]", float, double) { glow<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: NSF coupling", "[hardening]", float, double) { spline_coupling<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: NSF coupling, release build", "[hardening][acceptance]", float, double) {
  spline_coupling<TestType>();
}

}  // namespace coupling_flows_test
