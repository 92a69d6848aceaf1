// The layers on images (shapes.hpp): Squeeze, ActNorm and LUConv per channel
// (bijectors/per_pixel.hpp), ConvCoupling with both masks and several transformers
// (bijectors/conv_coupling.hpp), and the multi-scale Split (bijectors/split.hpp):
// the conformance kit and the gradient checks on small images (2 x 4 x 4), float and
// double; Squeeze's index map against its definition; the block path against the
// per-sample path.
#include <catch2/catch.hpp>

#include <flowtmpl/differentiable.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/training.hpp>

#include "support/gradients.hpp"

#include <cmath>
#include <algorithm>
#include <string>
#include <vector>

namespace image_layers_test {

namespace ft = flowtmpl;
using flowtmpl_test::randomize;
using flowtmpl_test::require_gradients;

namespace {

using Small = ft::image<2, 4, 4>;

template <class Spec, class S, class Shape = Small>
using bound = ft::bind_shape_t<Spec, Shape, S>;

template <class B>
void require_kit(const B& b) {
  using S = typename B::scalar_type;
  ft::testing::options<S> opt;
  opt.points = 16;
  const auto rep = ft::testing::check_bijector(b, opt);
  INFO(rep.text());
  REQUIRE(rep.checks() > 0);
  REQUIRE(rep.ok());
}

using GlowCoupling = ft::ConvCoupling<ft::SigmoidAffine, ft::ConvNet<3>>;
using SplineCoupling = ft::ConvCoupling<ft::Spline<4>, ft::ConvNet<3>, ft::image_mask::channels<ft::image_mask::half::second>>;
using CheckerCoupling = ft::ConvCoupling<ft::Affine, ft::ConvNet<3>, ft::image_mask::checkerboard<>>;
using CheckerOddCoupling = ft::ConvCoupling<ft::Additive, ft::ConvNet<2>, ft::image_mask::checkerboard<ft::image_mask::parity::odd>>;

}  // namespace

TEST_CASE("Squeeze moves x[c][2i + dh][2j + dw] to channel 4c + 2dh + dw at (i, j)", "[image]") {
  using B = ft::SqueezeBijector<2, 4, 6, double>;
  Eigen::Matrix<double, 48, 1> x;
  for (int k = 0; k < 48; ++k) x[k] = k;
  const auto y = B{}.forward(x);
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 4; ++h)
      for (int w = 0; w < 6; ++w) {
        const int oc = 4 * c + 2 * (h % 2) + (w % 2), i = h / 2, j = w / 2;
        REQUIRE(y[(oc * 2 + i) * 3 + j] == x[(c * 4 + h) * 6 + w]);
      }
  REQUIRE(B{}.inverse(y) == x);
}

TEMPLATE_TEST_CASE("the image layers pass the kit on 2 x 4 x 4 images", "[image]", float, double) {
  using S = TestType;
  SECTION("Squeeze") { require_kit(bound<ft::Squeeze, S>{}); }
  SECTION("ActNorm per channel") {
    bound<ft::ActNorm, S> b;
    randomize(b, 1);
    require_kit(b);
  }
  SECTION("LUConv per channel (the 1x1 convolution)") {
    bound<ft::LUConv, S> b;
    ft::reset_parameters(b, 2);
    randomize(b, 2, -0.3, 0.3);
    require_kit(b);
  }
  SECTION("ConvCoupling, channel mask, SigmoidAffine") {
    bound<GlowCoupling, S> b;
    randomize(b, 3, -0.5, 0.5);
    require_kit(b);
  }
  SECTION("ConvCoupling, second-half mask, Spline") {
    bound<SplineCoupling, S> b;
    randomize(b, 4, -0.5, 0.5);
    require_kit(b);
  }
  SECTION("ConvCoupling, checkerboard, Affine") {
    bound<CheckerCoupling, S> b;
    randomize(b, 5, -0.5, 0.5);
    require_kit(b);
  }
  SECTION("a multi-scale chain: squeeze, step, split, squeeze, step") {
    using Step = ft::compose<ft::ActNorm, ft::LUConv, GlowCoupling>;
    bound<ft::compose<ft::Squeeze, Step, ft::Split, Step>, S, ft::image<1, 4, 4>> b;
    ft::reset_parameters(b, 6);
    randomize(b, 6, -0.4, 0.4);
    require_kit(b);
  }
}

TEST_CASE("gradients of the image layers on 2 x 4 x 4 images", "[image][gradients]") {
  ft::testing::gradient_options<double> opt;
  opt.points = 2;
  SECTION("Squeeze") { require_gradients(bound<ft::Squeeze, double>{}, opt); }
  SECTION("ActNorm per channel") {
    bound<ft::ActNorm, double> b;
    randomize(b, 11);
    require_gradients(b, opt);
  }
  SECTION("LUConv per channel") {
    bound<ft::LUConv, double> b;
    ft::reset_parameters(b, 12);
    randomize(b, 12, -0.3, 0.3);
    require_gradients(b, opt);
  }
  SECTION("ConvCoupling, channel mask, SigmoidAffine") {
    bound<GlowCoupling, double> b;
    randomize(b, 13, -0.5, 0.5);
    require_gradients(b, opt);
  }
  SECTION("ConvCoupling, second-half mask, Spline") {
    bound<SplineCoupling, double> b;
    randomize(b, 14, -0.5, 0.5);
    require_gradients(b, opt);
  }
  SECTION("ConvCoupling, checkerboard, Affine and odd-parity Additive") {
    bound<CheckerCoupling, double> b;
    randomize(b, 15, -0.5, 0.5);
    require_gradients(b, opt);
    bound<CheckerOddCoupling, double> c;
    randomize(c, 16, -0.5, 0.5);
    require_gradients(c, opt);
  }
  SECTION("a multi-scale chain through Split") {
    using Step = ft::compose<ft::ActNorm, ft::LUConv, GlowCoupling>;
    bound<ft::compose<ft::Squeeze, Step, ft::Split, Step>, double, ft::image<1, 4, 4>> b;
    ft::reset_parameters(b, 17);
    randomize(b, 17, -0.4, 0.4);
    require_gradients(b, opt);
  }
}

namespace {
// The float layer's vector-Jacobian products against the double layer's (checked against
// central differences above) at the same parameters and points, both directions.
template <class Spec>
void require_float_gradients_match_double(std::uint64_t seed) {
  bound<Spec, double> bd;
  ft::reset_parameters(bd, seed);
  randomize(bd, seed, -0.4, 0.4);
  bound<Spec, float> bf;
  ft::reset_parameters(bf, seed);  // the fixed settings too (the 1x1 convolutions' permutation and signs)
  std::vector<double> p(ft::parameter_count_v<bound<Spec, double>>);
  ft::copy_parameters(bd, p.data());
  std::vector<float> pf(p.begin(), p.end());
  ft::assign_parameters(bf, pf.data());
  std::vector<double> back(p.size());
  ft::copy_parameters(bf, back.data());
  ft::assign_parameters(bd, back.data());  // the double layer at the float-rounded parameters
  constexpr int D = Small::size;
  ft::philox_stream rng(seed, 9);
  for (int point = 0; point < 3; ++point) {
    Eigen::Matrix<double, D, 1> x, gy;
    for (int i = 0; i < D; ++i) {
      x[i] = double(float(2 * rng.uniform<double>() - 1));
      gy[i] = double(float(2 * rng.uniform<double>() - 1));
    }
    for (int dir = 0; dir < 2; ++dir) {
      auto gd = ft::make_gradient(bd);
      auto gf = ft::make_gradient(bf);
      const Eigen::Matrix<double, D, 1> xd = dir == 0 ? ft::forward_vjp(bd, x, gy, 0.7, gd) : ft::inverse_vjp(bd, x, gy, 0.7, gd);
      const Eigen::Matrix<float, D, 1> xf = dir == 0 ? ft::forward_vjp(bf, x.cast<float>().eval(), gy.cast<float>().eval(), 0.7f, gf)
                                                      : ft::inverse_vjp(bf, x.cast<float>().eval(), gy.cast<float>().eval(), 0.7f, gf);
      REQUIRE((xf.cast<double>() - xd).norm() <= 1e-4 * std::max(1.0, xd.norm()));
      std::vector<double> a(p.size());
      std::vector<float> b(p.size());
      ft::copy_parameters(gd, a.data());
      ft::copy_parameters(gf, b.data());
      double diff = 0, norm = 0;
      for (std::size_t i = 0; i < a.size(); ++i) {
        diff += (double(b[i]) - a[i]) * (double(b[i]) - a[i]);
        norm += a[i] * a[i];
      }
      REQUIRE(std::sqrt(diff) <= 1e-4 * std::max(1.0, std::sqrt(norm)));
    }
  }
}
}  // namespace

TEST_CASE("the image layers' float gradients agree with the double ones", "[image][gradients]") {
  require_float_gradients_match_double<ft::ActNorm>(21);
  require_float_gradients_match_double<ft::LUConv>(22);
  require_float_gradients_match_double<GlowCoupling>(23);
  require_float_gradients_match_double<SplineCoupling>(24);
  require_float_gradients_match_double<CheckerCoupling>(25);
  require_float_gradients_match_double<ft::compose<ft::Squeeze, ft::compose<ft::ActNorm, ft::LUConv, GlowCoupling>, ft::Split, GlowCoupling>>(26);
}

}  // namespace image_layers_test
