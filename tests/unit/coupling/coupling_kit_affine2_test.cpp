// Coupling layers with the additive and affine transformers through the conformance kit
// (flowtmpl/testing.hpp), in float and double, after reset_parameters(seed,
// init::uniform) so that the map is far from the identity. The configurations cover
// every mask (half, half_flipped, even, odd, bits), every activation (relu, tanh, silu,
// elu), D in {2, 3, 5} and one- and two-hidden-layer MLPs. The kit is the expensive part
// to compile, so the configurations are split over files: this is part 2,
// BoundedAffine with a learnable bound and SoftplusAffine; part 1
// (coupling_kit_affine_test.cpp) has Additive and Affine.
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

TEMPLATE_TEST_CASE("Coupling<BoundedAffine<2, learnable>> passes the conformance kit", "[coupling][kit]", float,
                   double) {
  using S = TestType;
  using T = ft::BoundedAffine<2.0, true>;
  kit<ft::Coupling<T, ft::MLP<8, 8>::with<act_silu>, ft::mask::half>, 5, S>(7, S(1e30));
  kit<ft::Coupling<T, ft::MLP<8>, ft::mask::odd>, 3, S>(8, S(1e30));
  kit<ft::Coupling<T, ft::MLP<8>::with<act_elu>, ft::mask::bits<1, 0, 0, 1, 1>>, 5, S>(9, S(1e30));
}

TEMPLATE_TEST_CASE("Coupling<SoftplusAffine> passes the conformance kit", "[coupling][kit]", float, double) {
  using S = TestType;
  // scale = softplus(u) + 1e-3 grows like the conditioner's output, so the product of
  // a big input and a big scale must stay representable: 1e15 squared in float
  kit<ft::Coupling<ft::SoftplusAffine, ft::MLP<8>::with<act_elu>, ft::mask::even>, 2, S>(10, S(1e15));
  kit<ft::Coupling<ft::SoftplusAffine, ft::MLP<8>::with<act_tanh>, ft::mask::half_flipped>, 5, S>(11, S(1e15));
  kit<ft::Coupling<ft::SoftplusAffine, ft::MLP<8, 8>, ft::mask::half>, 3, S>(12, S(1e15));
}
