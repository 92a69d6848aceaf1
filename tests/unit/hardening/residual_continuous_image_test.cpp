// The bad-input sweep (testing/bad_input.hpp) of the residual, continuous and image
// families, in float and double, with drawn (non-identity) parameters: planar and radial
// layers (one flow), a residual flow (i-ResNet: the fixed-point solve of its forward
// direction), FFJORD (an adaptive Dopri5 solve with a small step cap, so that a bad input
// costs little) and a multi-scale image flow (squeeze, split, ActNorm, LUConv and
// convolutional couplings on 1 x 8 x 8 images). The ODE and image flows sweep 600-column
// batches (two block boundaries) instead of 5000. Each case runs twice: tagged
// [hardening] for the sanitizer build, and [acceptance] for the release build.
#include "hardening.hpp"

namespace residual_continuous_image_test {

using namespace flowtmpl_test;

namespace {

template <class S>
void planar_radial() {
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Planar, ft::Radial, ft::Planar>>, 3, S>;
  require_clean_sweep("planar and radial", drawn<F>(31, 0.5));
}

template <class S>
void residual() {
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Residual<ft::LipschitzMLP<8>>, ft::Permute<ft::Reverse>,
                                                                ft::Residual<ft::LipschitzMLP<8>>>>,
                       3, S>;
  F f;
  ft::reset_parameters(f, 32, ft::init::uniform);
  require_clean_sweep("residual", f);
}

template <class S>
void ffjord() {
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::Continuous<ft::DynamicsMLP<8>, ft::Dopri5<1e-4, 1e-6, 64>>>, 2, S>;
  ft::testing::bad_input_options<S> opt;
  opt.large_batch = 600;
  require_clean_sweep("FFJORD", drawn<F>(33), opt);
}

template <class S>
void multi_scale_image() {
  using Step = ft::compose<ft::ActNorm, ft::LUConv, ft::ConvCoupling<ft::SigmoidAffine, ft::ConvNet<4>>>;
  using F = ft::bind_shape_t<ft::Flow<ft::StandardNormal, ft::Inverse<ft::compose<ft::LogitPreprocessing<>, ft::Squeeze, Step,
                                                                                  ft::Split, ft::Squeeze, Step>>>,
                             ft::image<1, 8, 8>, S>;
  ft::testing::bad_input_options<S> opt;
  opt.large_batch = 600;
  opt.max_components = 4;
  require_clean_sweep("multi-scale image", drawn<F>(34, 0.05), opt);
}

}  // namespace

TEMPLATE_TEST_CASE("bad inputs: planar and radial", "[hardening]", float, double) { planar_radial<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: planar and radial, release build", "[hardening][acceptance]", float, double) {
  planar_radial<TestType>();
}
TEMPLATE_TEST_CASE("bad inputs: residual flow", "[hardening]", float, double) { residual<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: residual flow, release build", "[hardening][acceptance]", float, double) {
  residual<TestType>();
}
TEMPLATE_TEST_CASE("bad inputs: FFJORD", "[hardening]", float, double) { ffjord<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: FFJORD, release build", "[hardening][acceptance]", float, double) { ffjord<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: multi-scale image flow", "[hardening]", float, double) { multi_scale_image<TestType>(); }
TEMPLATE_TEST_CASE("bad inputs: multi-scale image flow, release build", "[hardening][acceptance]", float, double) {
  multi_scale_image<TestType>();
}

}  // namespace residual_continuous_image_test
