// Coupling layers with the spline transformers through the conformance kit
// (flowtmpl/testing.hpp), in float and double, after reset_parameters(seed,
// init::uniform) so that the map is far from the identity. Spline<8> (tails at B = 3) is
// run on the kit's default domain [-3, 3] and again on [-4.5, 4.5], across the bound
// into the identity tails; BoundedSpline<6> on its forward_domain [0, 1] (the kit's
// default: its domain less a 2% margin). Every mask, every activation, D in {2, 3, 5}.
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/spline.hpp>
#include <flowtmpl/transformers/zuko_affine.hpp>
#include <flowtmpl/transformers/zuko_spline.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace coupling_kit_spline_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::cycled_rows;

template <class B>
double largest_move(const B& b, double lo, double hi) {
  using S = typename B::scalar_type;
  double moved = 0;
  for (int i = 0; i < 16; ++i) {
    Eigen::Matrix<S, B::dim, 1> x;
    for (int j = 0; j < B::dim; ++j) x[j] = S(lo + (hi - lo) * (((i * 7 + j * 3) % 16) + 0.5) / 16);
    moved = std::max(moved, double((b.forward(x) - x).cwiseAbs().maxCoeff()));
  }
  return moved;
}

template <class B>
void run_kit(const B& b, ft::testing::options<typename B::scalar_type> opt, const char* what) {
  using S = typename B::scalar_type;
  const auto r = ft::testing::check_bijector(b, opt);
  INFO(B::name << "<" << B::transformer_type::name << ">, D = " << B::dim << ", "
               << (sizeof(S) == 4 ? "float" : "double") << ", " << what << ", seed " << opt.seed << "\n"
               << r.text());
  CHECK(r.ok());
  CHECK(r.checks() >= opt.points * 8);  // the kit ran its per-point checks
}

// Spline<8> with tails: the default domain, then across +-B
template <class Spec, int D, class S>
void kit_spline(std::uint64_t seed) {
  using B = ft::bind_t<Spec, D, S>;
  using lim = std::numeric_limits<S>;
  B b;
  b.reset_parameters(seed, ft::init::uniform);
  INFO("largest move " << largest_move(b, -2.5, 2.5));
  REQUIRE(largest_move(b, -2.5, 2.5) > 1e-2);
  ft::testing::options<S> opt;
  opt.points = 40;
  opt.seed = seed;
  const S B3 = S(3);
  opt.sweep = cycled_rows<S>(D, {S(0), -S(0), B3, -B3, std::nextafter(B3, S(4)), std::nextafter(B3, S(0)),
                                 std::nextafter(-B3, S(-4)), std::nextafter(-B3, S(0)), S(1e-30),
                                 lim::denorm_min(), S(1e30), S(-1e30), S(2.2), S(-1.7)});
  opt.inverse_sweep = opt.sweep;
  run_kit(b, opt, "domain [-3, 3]");
  opt.lo = S(-4.5);
  opt.hi = S(4.5);
  opt.seed = seed + 1000;
  run_kit(b, opt, "domain [-4.5, 4.5], across the bound");
}

// BoundedSpline<6> on [0, 1]
template <class Spec, int D, class S>
void kit_bounded(std::uint64_t seed) {
  using B = ft::bind_t<Spec, D, S>;
  using lim = std::numeric_limits<S>;
  B b;
  b.reset_parameters(seed, ft::init::uniform);
  INFO("largest move " << largest_move(b, 0.05, 0.95));
  REQUIRE(largest_move(b, 0.05, 0.95) > 1e-2);
  ft::testing::options<S> opt;
  opt.points = 40;
  opt.seed = seed;
  opt.sweep = cycled_rows<S>(D, {S(0), S(1), std::nextafter(S(1), S(0)), lim::denorm_min(), S(1e-30), S(0.5),
                                 S(0.999999), S(1e-6)});
  opt.inverse_sweep = opt.sweep;
  run_kit(b, opt, "domain [0, 1]");
}

using act_tanh = ft::act::tanh;
using act_silu = ft::act::silu;
using act_elu = ft::act::elu;

}  // namespace

TEMPLATE_TEST_CASE("Coupling<Spline<8>> passes the conformance kit", "[coupling][kit][spline]", float, double) {
  using S = TestType;
  using T = ft::Spline<8>;
  kit_spline<ft::Coupling<T, ft::MLP<8>, ft::mask::half>, 2, S>(21);
  kit_spline<ft::Coupling<T, ft::MLP<8, 8>::with<act_tanh>, ft::mask::half_flipped>, 3, S>(22);
  kit_spline<ft::Coupling<T, ft::MLP<8>::with<act_silu>, ft::mask::even>, 5, S>(23);
  kit_spline<ft::Coupling<T, ft::MLP<8>::with<act_elu>, ft::mask::bits<1, 0, 0, 1, 1>>, 5, S>(24);
  kit_spline<ft::Coupling<T, ft::MLP<8>, ft::mask::odd>, 3, S>(25);
}

TEMPLATE_TEST_CASE("Coupling<BoundedSpline<6>> passes the conformance kit", "[coupling][kit][spline]", float, double) {
  using S = TestType;
  using T = ft::BoundedSpline<6>;
  kit_bounded<ft::Coupling<T, ft::MLP<8>::with<act_tanh>, ft::mask::odd>, 2, S>(31);
  kit_bounded<ft::Coupling<T, ft::MLP<8, 8>, ft::mask::half>, 3, S>(32);
  kit_bounded<ft::Coupling<T, ft::MLP<8>::with<act_elu>, ft::mask::even>, 5, S>(33);
  kit_bounded<ft::Coupling<T, ft::MLP<8>::with<act_silu>, ft::mask::bits<1, 0, 0, 1, 1>>, 5, S>(34);
}

TEMPLATE_TEST_CASE("Coupling<ZukoSpline<8, 3>> and Coupling<ZukoAffine> pass the conformance kit",
                   "[coupling][kit][spline][zuko]", float, double) {
  using S = TestType;
  kit_spline<ft::Coupling<ft::ZukoSpline<8, 3.0>, ft::MLP<8>, ft::mask::half>, 2, S>(41);
  kit_spline<ft::Coupling<ft::ZukoSpline<8, 3.0>, ft::MLP<8>::with<act_tanh>, ft::mask::even>, 5, S>(42);
  kit_spline<ft::Coupling<ft::ZukoAffine<>, ft::MLP<8>, ft::mask::odd>, 3, S>(43);
}

TEMPLATE_TEST_CASE("Coupling<IntervalSpline<6, -1, 2, 0, 3>> passes the conformance kit", "[coupling][kit][spline]",
                   float, double) {
  using S = TestType;
  using T = ft::IntervalSpline<6, -1.0, 2.0, 0.0, 3.0>;
  using B = ft::bind_t<ft::Coupling<T, ft::MLP<8>, ft::mask::half>, 3, S>;
  B b;
  b.reset_parameters(51, ft::init::uniform);
  static_assert(B::forward_domain().lo == S(-1) && B::inverse_domain().lo == S(0) && B::inverse_domain().hi == S(3));
  ft::testing::options<S> opt;
  opt.points = 40;
  opt.seed = 51;
  opt.sweep = cycled_rows<S>(3, {S(-1), S(2), S(0), S(0.5), std::nextafter(S(2), S(0)), S(1e-30)});
  opt.inverse_sweep = cycled_rows<S>(3, {S(0), S(3), S(1), S(0.5), std::nextafter(S(3), S(0)), S(1e-30)});
  run_kit(b, opt, "domain [-1, 2] -> [0, 3]");
}

TEMPLATE_TEST_CASE("Coupling<SigmoidAffine> and Coupling<Spline<8> with divisors> pass the conformance kit",
                   "[coupling][kit][spline]", float, double) {
  using S = TestType;
  kit_spline<ft::Coupling<ft::SigmoidAffine, ft::MLP<8>, ft::mask::half>, 3, S>(61);
  kit_spline<ft::Coupling<ft::Spline<8, 3.0, ft::spline_options{.width_divisor = 8.0, .height_divisor = 8.0}>,
                          ft::MLP<8>, ft::mask::even>,
             5, S>(62);
}

}  // namespace coupling_kit_spline_test
