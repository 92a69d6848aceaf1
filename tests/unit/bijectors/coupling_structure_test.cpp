// Tests of flowtmpl/bijectors/coupling.hpp without the conformance kit: the masks, the
// declared structure and log-det kind (static), the identity start (default
// construction and init::identity_start), that init::uniform gives a map far from the
// identity, that the conditioning part is copied exactly, and the parameter layout.
#include <flowtmpl/bijectors/affine.hpp>  // the spec Affine
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/affine.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <random>
#include <type_traits>

namespace coupling_structure_test {

namespace {
namespace ft = flowtmpl;
namespace st = flowtmpl::structure;

template <class Spec, int D, class S = double>
using bound = ft::bind_t<Spec, D, S>;

// ---- structure and kind, at compile time ----------------------------------------------
using half5 = bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::half>, 5>;
static_assert(std::is_same_v<half5::structure, st::block_triangular<2, 3>>);
static_assert(std::is_same_v<bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::half>, 2>::structure,
                             st::block_triangular<1, 1>>);
static_assert(std::is_same_v<bound<ft::Coupling<ft::Spline<8>, ft::MLP<8>, ft::mask::half>, 3>::structure,
                             st::block_triangular<1, 2>>);
static_assert(std::is_same_v<bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::half>, 8>::structure,
                             st::block_triangular<4, 4>>);
// even: components 0, 2, 4 transformed (block 1), 1, 3 conditioning (block 0)
static_assert(std::is_same_v<bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::even>, 5>::structure,
                             st::partitioned<1, 0, 1, 0, 1>>);
static_assert(std::is_same_v<bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::even>, 2>::structure,
                             st::partitioned<1, 0>>);
static_assert(std::is_same_v<bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::odd>, 5>::structure,
                             st::partitioned<0, 1, 0, 1, 0>>);
static_assert(std::is_same_v<bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::half_flipped>, 3>::structure,
                             st::partitioned<1, 0, 0>>);
static_assert(std::is_same_v<bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::bits<1, 0, 0, 1, 1>>, 5>::structure,
                             st::partitioned<1, 0, 0, 1, 1>>);
// a contiguous bits mask is the block triangular tag
static_assert(std::is_same_v<bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::bits<0, 0, 1, 1, 1>>, 5>::structure,
                             st::block_triangular<2, 3>>);

static_assert(bound<ft::Coupling<ft::Additive, ft::MLP<8>>, 4>::log_det_kind == ft::log_det_kind::zero);
static_assert(bound<ft::Coupling<ft::Affine, ft::MLP<8>>, 4>::log_det_kind == ft::log_det_kind::input_dependent);
static_assert(bound<ft::Coupling<ft::SoftplusAffine, ft::MLP<8>>, 4>::log_det_kind ==
              ft::log_det_kind::input_dependent);
static_assert(bound<ft::Coupling<ft::Spline<8>, ft::MLP<8>>, 4>::log_det_kind == ft::log_det_kind::input_dependent);

// the split of the components
static_assert(half5::n_a == 2 && half5::n_b == 3);
static_assert(half5::a_index == std::array<int, 2>{0, 1} && half5::b_index == std::array<int, 3>{2, 3, 4});
using bits5 = bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::bits<1, 0, 0, 1, 1>>, 5>;
static_assert(bits5::a_index == std::array<int, 2>{1, 2} && bits5::b_index == std::array<int, 3>{0, 3, 4});
using even5 = bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::even>, 5>;
static_assert(even5::a_index == std::array<int, 2>{1, 3} && even5::b_index == std::array<int, 3>{0, 2, 4});
using flip5 = bound<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::half_flipped>, 5>;
static_assert(flip5::a_index == std::array<int, 3>{2, 3, 4} && flip5::b_index == std::array<int, 2>{0, 1});

// accepted dimensions: a mask that transforms none or all components is refused
static_assert(ft::Coupling<ft::Affine>::accepts_dim<2>);
static_assert(!ft::Coupling<ft::Affine>::accepts_dim<1>);
static_assert(!ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::bits<1, 0, 0, 1, 1>>::accepts_dim<4>);
static_assert(ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::bits<1, 0, 0, 1, 1>>::accepts_dim<5>);
static_assert(!ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::bits<1, 1, 1>>::accepts_dim<3>);

// parameter counts: MLP<8> from n_a inputs to n_b P outputs
static_assert(half5::parameter_count == (8 * 2 + 8) + (3 * 2 * 8 + 3 * 2));
static_assert(bound<ft::Coupling<ft::Spline<8>, ft::MLP<8, 8>>, 4>::parameter_count ==
              (8 * 2 + 8) + (8 * 8 + 8) + (2 * 23 * 8 + 2 * 23));
static_assert(bound<ft::Coupling<ft::BoundedSpline<6>, ft::MLP<8>>, 3>::parameter_count ==
              (8 * 1 + 8) + (2 * 19 * 8 + 2 * 19));
// the learnable bound adds one parameter per transformed component
static_assert(bound<ft::Coupling<ft::BoundedAffine<2.0, ft::affine_bound::learnable>, ft::MLP<8>>, 5>::parameter_count ==
              (8 * 2 + 8) + (3 * 2 * 8 + 3 * 2) + 3);

template <class B>
Eigen::Matrix<typename B::scalar_type, B::dim, 1> random_point(std::mt19937_64& g, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  Eigen::Matrix<typename B::scalar_type, B::dim, 1> x;
  for (int i = 0; i < B::dim; ++i) x[i] = typename B::scalar_type(u(g));
  return x;
}

// identity: forward(x) == x within 1e-12 (double), log-det 0 within 1e-12, and inverse too
template <class B>
void check_identity(const B& b, double lo, double hi) {
  std::mt19937_64 g(1);
  for (int i = 0; i < 200; ++i) {
    const auto x = random_point<B>(g, lo, hi);
    const auto r = b.forward_and_log_det(x);
    const auto ri = b.inverse_and_log_det(x);
    INFO("x = " << x.transpose() << ", forward " << r.value.transpose() << ", log-det " << r.log_det);
    CHECK((r.value - x).cwiseAbs().maxCoeff() <= 1e-12 * std::max(1.0, x.cwiseAbs().maxCoeff()));
    CHECK(std::abs(r.log_det) <= 1e-12);
    CHECK((ri.value - x).cwiseAbs().maxCoeff() <= 1e-12 * std::max(1.0, x.cwiseAbs().maxCoeff()));
    CHECK(std::abs(ri.log_det) <= 1e-12);
  }
}

// far from the identity after init::uniform: some component moves by more than 1e-2,
// the log-det is not 0 (unless volume preserving), and the conditioning components
// are copied exactly
template <class B>
void check_not_identity(const B& b, double lo, double hi) {
  std::mt19937_64 g(2);
  double moved = 0, ld = 0;
  for (int i = 0; i < 50; ++i) {
    const auto x = random_point<B>(g, lo, hi);
    const auto r = b.forward_and_log_det(x);
    moved = std::max(moved, (r.value - x).cwiseAbs().maxCoeff());
    ld = std::max(ld, std::abs(double(r.log_det)));
    for (int a : B::a_index) CHECK(r.value[a] == x[a]);
    const auto back = b.inverse(r.value);
    for (int a : B::a_index) CHECK(back[a] == x[a]);
  }
  INFO("largest move " << moved << ", largest |log-det| " << ld);
  CHECK(moved > 1e-2);
  if constexpr (B::log_det_kind != ft::log_det_kind::zero) CHECK(ld > 1e-3);
}

template <class Spec, int D>
void identity_and_uniform(double lo = -3, double hi = 3) {
  using B = bound<Spec, D>;
  const B d;
  check_identity(d, lo, hi);
  B b;
  b.reset_parameters(77, ft::init::identity_start);
  check_identity(b, lo, hi);
  // identity_start draws the hidden layers: they differ from the default's (seed 0)
  CHECK(b.conditioner.values != d.conditioner.values);
  B u;
  u.reset_parameters(77, ft::init::uniform);
  check_not_identity(u, lo, hi);
  // deterministic in the seed, different across seeds
  B u2, u3;
  u2.reset_parameters(77, ft::init::uniform);
  u3.reset_parameters(78, ft::init::uniform);
  CHECK(u2.conditioner.values == u.conditioner.values);
  CHECK(u3.conditioner.values != u.conditioner.values);
  // identity_start: the last layer is all zero but its bias (the transformer's identity)
  B z;
  z.reset_parameters(5, ft::init::identity_start);
  using C = typename B::conditioner_type;
  constexpr int L = C::layers - 1;
  const auto w = z.conditioner.template weight<L>();
  CHECK(w.cwiseAbs().maxCoeff() == 0);
  std::array<double, B::n_b * B::P> id;
  for (int i = 0; i < B::n_b; ++i) B::transformer_type::identity_parameters(id.data() + i * B::P);
  const auto bias = z.conditioner.template bias<L>();
  for (int o = 0; o < B::n_b * B::P; ++o) CHECK(bias[o] == id[std::size_t(o)]);
}

}  // namespace

TEST_CASE("a default-constructed coupling is the identity, so is identity_start; init::uniform is not",
          "[coupling]") {
  SECTION("Additive, half, D = 2") { identity_and_uniform<ft::Coupling<ft::Additive, ft::MLP<8>>, 2>(); }
  SECTION("Affine, even, D = 5") { identity_and_uniform<ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::even>, 5>(); }
  SECTION("BoundedAffine<2, affine_bound::learnable>, bits, D = 5") {
    identity_and_uniform<ft::Coupling<ft::BoundedAffine<2.0, ft::affine_bound::learnable>, ft::MLP<8>, ft::mask::bits<1, 0, 0, 1, 1>>, 5>();
  }
  SECTION("SoftplusAffine, half_flipped, D = 3") {
    identity_and_uniform<ft::Coupling<ft::SoftplusAffine, ft::MLP<8>::with<ft::act::tanh>, ft::mask::half_flipped>,
                         3>();
  }
  SECTION("Spline<8>, odd, D = 3, inputs past the tails too") {
    identity_and_uniform<ft::Coupling<ft::Spline<8>, ft::MLP<8, 8>, ft::mask::odd>, 3>(-5, 5);
  }
  SECTION("Spline<8> with identity_init, half, D = 4") {
    identity_and_uniform<
        ft::Coupling<ft::Spline<8, 3.0, ft::spline_options{.identity_init = true}>, ft::MLP<8>, ft::mask::half>, 4>(-5,
                                                                                                                   5);
  }
  SECTION("BoundedSpline<6>, half, D = 5, on [0, 1]") {
    identity_and_uniform<ft::Coupling<ft::BoundedSpline<6>, ft::MLP<8>::with<ft::act::silu>>, 5>(0, 1);
  }
}

TEST_CASE("coupling: the learnable bound is a parameter of the layer, starting at log C", "[coupling]") {
  using B = bound<ft::Coupling<ft::BoundedAffine<2.0, ft::affine_bound::learnable>, ft::MLP<8>, ft::mask::half>, 4>;
  B b;
  b.reset_parameters(3, ft::init::uniform);
  for (double lb : b.transformer.log_bound) CHECK(lb == Approx(std::log(2.0)));
  CHECK(b.validate() == nullptr);
  // a tighter bound changes the map: the log-scale of a feature cannot exceed it
  const Eigen::Vector4d x(0.3, -0.7, 1.1, -0.4);
  const double ld_before = b.log_det(x);
  b.transformer.log_bound = {std::log(1e-3), std::log(1e-3)};
  const double ld_after = b.log_det(x);
  CHECK(ld_after != ld_before);
  CHECK(std::abs(ld_after) <= 2 * 1e-3);
  b.transformer.log_bound[0] = std::numeric_limits<double>::quiet_NaN();
  CHECK(b.validate() != nullptr);
}

TEST_CASE("coupling: the transformed components use the conditioner's outputs feature-major", "[coupling]") {
  // Additive with D = 3, mask::half: x_0 conditions, x_1, x_2 are shifted by the
  // conditioner's outputs 0 and 1. Set the last layer by hand: output o = b_o + w_o h.
  using B = bound<ft::Coupling<ft::Additive, ft::MLP<4>, ft::mask::half>, 3>;
  B b;
  b.reset_parameters(9, ft::init::uniform);
  const Eigen::Vector3d x(0.5, 1.0, -2.0);
  // the conditioner on x_0 alone, evaluated here through its own evaluate()
  const auto theta = b.conditioner.evaluate(Eigen::Matrix<double, 1, 1>(x[0]), nullptr);
  const auto y = b.forward(x);
  CHECK(y[0] == x[0]);
  CHECK(y[1] == x[1] + theta[0]);
  CHECK(y[2] == x[2] + theta[1]);
  CHECK(b.log_det(x) == 0.0);
  // and the MLP is h = relu(W0 x + b0), out = W1 h + b1, recomputed here by hand
  const auto& v = b.conditioner.values;
  // layer 0: weight [4][1] then bias [4]; layer 1: weight [2][4] then bias [2]
  double out[2];
  for (int o = 0; o < 2; ++o) {
    double acc = v[8 + 8 + o];
    for (int j = 0; j < 4; ++j) acc += v[8 + o * 4 + j] * std::max(0.0, v[j] * x[0] + v[4 + j]);
    out[o] = acc;
  }
  CHECK(theta[0] == Approx(out[0]).epsilon(1e-14));
  CHECK(theta[1] == Approx(out[1]).epsilon(1e-14));
}

}  // namespace coupling_structure_test
