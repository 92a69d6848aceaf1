// parameter_count_v: the number of trained scalars, a compile-time constant. Expected
// values from the layer headers: Shift D, Scale D, Affine 2D, ActNorm 2D, LUConv
// D(D-1)/2 + D(D-1)/2 + D + D = D(D+1); fixed settings (a permutation, LeakyReLU's slope,
// LUConv's perm and signs, Uniform's box) are not parameters; chains and inverses add
// none of their own. Building this file is the test.
#include <flowtmpl/flowtmpl.hpp>

#include <array>
#include <cstddef>
#include <type_traits>

namespace ft = flowtmpl;

namespace {

template <class Spec, int D, class S = float>
constexpr std::size_t count = ft::parameter_count_v<ft::bind_t<Spec, D, S>>;

template <class Spec, std::size_t PerD0, std::size_t PerD1, std::size_t PerD2>  // count = a + b D + c D^2
constexpr bool counts_as() {
  constexpr auto f = [](std::size_t d) { return PerD0 + PerD1 * d + PerD2 * d * d; };
  return count<Spec, 1> == f(1) && count<Spec, 2, double> == f(2) && count<Spec, 3> == f(3) &&
         count<Spec, 8, double> == f(8) && count<Spec, 17> == f(17);
}

static_assert(counts_as<ft::Identity, 0, 0, 0>());
static_assert(counts_as<ft::Shift, 0, 1, 0>());
static_assert(counts_as<ft::Scale, 0, 1, 0>());
static_assert(counts_as<ft::Affine, 0, 2, 0>());
static_assert(counts_as<ft::ActNorm, 0, 2, 0>());
static_assert(counts_as<ft::Exp, 0, 0, 0>());
static_assert(counts_as<ft::Sigmoid, 0, 0, 0>());
static_assert(counts_as<ft::Logit, 0, 0, 0>());
static_assert(counts_as<ft::Softplus, 0, 0, 0>());
static_assert(counts_as<ft::Tanh, 0, 0, 0>());
static_assert(counts_as<ft::LeakyReLU, 0, 0, 0>());
static_assert(counts_as<ft::Permute<ft::Reverse>, 0, 0, 0>());
static_assert(counts_as<ft::Permute<ft::Random<11>>, 0, 0, 0>());
static_assert(counts_as<ft::LUConv, 0, 1, 1>());  // D(D+1)
static_assert(counts_as<ft::LUConvT<ft::lu_diag::softplus>, 0, 1, 1>());
static_assert(counts_as<ft::LUConvT<ft::lu_diag::raw>, 0, 1, 1>());
static_assert(counts_as<ft::Inverse<ft::Affine>, 0, 2, 0>());
static_assert(counts_as<ft::Inverse<ft::LUConv>, 0, 1, 1>());
static_assert(counts_as<ft::Inverse<ft::Inverse<ft::Shift>>, 0, 1, 0>());
static_assert(count<ft::Permute<ft::Indices<1, 0>>, 2> == 0);

// Chains: the sum over the layers.
static_assert(counts_as<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>, 0, 3, 1>());  // 2D + D(D+1)
static_assert(count<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>, 4> == 8 + 20);
static_assert(count<ft::compose<ft::Affine, ft::Exp, ft::Permute<ft::Reverse>, ft::Shift>, 8> == 16 + 8);
static_assert(count<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh, ft::Affine, ft::LeakyReLU>, 8> ==
              16 + 72 + 16);
static_assert(count<ft::compose<ft::Exp, ft::Tanh, ft::Permute<ft::Reverse>>, 8> == 0);
// Nested chains and inverses of chains.
static_assert(count<ft::compose<ft::compose<ft::Shift, ft::Scale>, ft::Inverse<ft::compose<ft::Affine, ft::Exp>>>, 5, double> ==
              5 + 5 + 10);
static_assert(count<ft::compose<ft::ActNormBijector<3, float>, ft::Affine>, 3> == 12);  // a bound layer counts the same

// The count sizes a buffer at compile time, e.g. for a checkpoint.
using glow = ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>, 6, float>;
using checkpoint = std::array<float, ft::parameter_count_v<glow>>;
static_assert(std::tuple_size_v<checkpoint> == 12 + 42);
static_assert(std::is_same_v<std::remove_cv_t<decltype(ft::parameter_count_v<glow>)>, std::size_t>);

}  // namespace
