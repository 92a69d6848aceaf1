// Coupling layers with the additive and affine transformers through the conformance kit
// (flowtmpl/testing.hpp), in float and double, after reset_parameters(seed,
// init::uniform) so that the map is far from the identity. The configurations cover
// every mask (half, half_flipped, even, odd, bits), every activation (relu, tanh, silu,
// elu), D in {2, 3, 5} and one- and two-hidden-layer MLPs. The kit is the expensive part
// to compile, so the configurations are split over files: this is part 1,
// Additive and Affine; part 2 (coupling_kit_affine2_test.cpp) has the learnable bound
// and SoftplusAffine.
// Splines: coupling_kit_spline_test.cpp.
#include <flowtmpl/bijectors/affine.hpp>  // the spec Affine
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/affine.hpp>

#include "unit/test_support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::cycled_rows;

// The kit on bind_t<Spec, D, S> after init::uniform. `big`: the magnitude of the
// extreme inputs in the finiteness sweeps, where the outputs are representable (the
// conditioner's outputs grow like the inputs; an affine scale is bounded by exp(c),
// SoftplusAffine's is not).
template <class Spec, int D, class S>
void kit(std::uint64_t seed, S big) {
  using B = ft::bind_t<Spec, D, S>;
  using lim = std::numeric_limits<S>;
  B b;
  b.reset_parameters(seed, ft::init::uniform);
  // far from the identity: some component of some point moves by more than 1e-2
  {
    double moved = 0;
    for (int i = 0; i < 8; ++i) {
      Eigen::Matrix<S, D, 1> x;
      for (int j = 0; j < D; ++j) x[j] = S(-2.5 + 0.6 * ((i + 2 * j) % 9));
      moved = std::max(moved, double((b.forward(x) - x).cwiseAbs().maxCoeff()));
    }
    INFO(B::name << " D = " << D << ": largest move " << moved);
    REQUIRE(moved > 1e-2);
  }
  ft::testing::options<S> opt;
  opt.points = 48;
  opt.seed = seed;
  opt.sweep = cycled_rows<S>(D, {S(0), -S(0), S(1e-30), -S(1e-30), lim::denorm_min(), S(2.5), S(-3), big, -big,
                                 S(1e10), S(-1e10)});
  opt.inverse_sweep = opt.sweep;
  const auto r = ft::testing::check_bijector(b, opt);
  INFO(B::name << "<" << B::transformer_type::name << ">, D = " << D << ", " << (sizeof(S) == 4 ? "float" : "double")
               << ", seed " << seed << "\n"
               << r.text());
  CHECK(r.ok());
  CHECK(r.checks >= 48 * 8);  // the kit ran its per-point checks
}

using act_tanh = ft::act::tanh;
using act_silu = ft::act::silu;
using act_elu = ft::act::elu;

}  // namespace

TEMPLATE_TEST_CASE("Coupling<Additive> passes the conformance kit", "[coupling][kit]", float, double) {
  using S = TestType;
  kit<ft::Coupling<ft::Additive, ft::MLP<8>, ft::mask::half>, 2, S>(1, S(1e30));
  kit<ft::Coupling<ft::Additive, ft::MLP<8>::with<act_tanh>, ft::mask::bits<1, 0, 0, 1, 1>>, 5, S>(2, S(1e30));
  kit<ft::Coupling<ft::Additive, ft::MLP<8, 8>::with<act_silu>, ft::mask::even>, 3, S>(3, S(1e30));
}

TEMPLATE_TEST_CASE("Coupling<Affine> passes the conformance kit", "[coupling][kit]", float, double) {
  using S = TestType;
  kit<ft::Coupling<ft::Affine, ft::MLP<8>::with<act_tanh>, ft::mask::half>, 3, S>(4, S(1e30));
  kit<ft::Coupling<ft::Affine, ft::MLP<8>::with<act_elu>, ft::mask::odd>, 5, S>(5, S(1e30));
  kit<ft::Coupling<ft::Affine, ft::MLP<8, 8>, ft::mask::half_flipped>, 2, S>(6, S(1e30));
}

