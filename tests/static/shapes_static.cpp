// flowtmpl/shapes.hpp: shape inference through compose<...> (Squeeze, Split, Flatten,
// Unflatten, the per-channel layers), checked at compile time: building this file is
// the test.
#include <flowtmpl/differentiable.hpp>
#include <flowtmpl/flowtmpl.hpp>

#include <type_traits>

namespace {
namespace ft = flowtmpl;

// Squeeze: (C, H, W) -> (4C, H/2, W/2); the per-channel layers keep the shape
static_assert(std::is_same_v<ft::Squeeze::output_shape<ft::image<1, 28, 28>>, ft::image<4, 14, 14>>);
static_assert(std::is_same_v<ft::ActNorm::output_shape<ft::image<3, 8, 8>>, ft::image<3, 8, 8>>);
static_assert(std::is_same_v<ft::compose<ft::Squeeze, ft::ActNorm, ft::Squeeze>::output_shape<ft::image<2, 8, 4>>,
                             ft::image<32, 2, 1>>);
static_assert(std::is_same_v<ft::compose<ft::Flatten>::output_shape<ft::image<2, 4, 4>>, ft::features<32>>);
static_assert(std::is_same_v<ft::compose<ft::Unflatten<2, 4, 4>>::output_shape<ft::features<32>>, ft::image<2, 4, 4>>);
// after a Split the shape is the whole latent, a vector
static_assert(std::is_same_v<ft::compose<ft::Squeeze, ft::Split, ft::Squeeze>::output_shape<ft::image<2, 8, 8>>,
                             ft::features<128>>);

// binding: the layers a compose binds to, at their shapes
using Img = ft::image<2, 4, 4>;
using Bound = ft::bind_shape_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Squeeze, ft::Split, ft::ActNorm>, Img, double>;
static_assert(Bound::dim == 32);
using L0 = std::remove_cvref_t<decltype(std::declval<Bound&>().get<0>())>;
using L1 = std::remove_cvref_t<decltype(std::declval<Bound&>().get<1>())>;
using L2 = std::remove_cvref_t<decltype(std::declval<Bound&>().get<2>())>;
using L3 = std::remove_cvref_t<decltype(std::declval<Bound&>().get<3>())>;
static_assert(std::is_same_v<L0, ft::PerPixelBijector<ft::ActNormBijector<2, double>, 16>>);
static_assert(std::is_same_v<L1, ft::PerPixelBijector<ft::LUConvBijector<ft::lu_diag::exp, 2, double>, 16>>);
static_assert(std::is_same_v<L2, ft::SqueezeBijector<2, 4, 4, double>>);
// the Split's inner chain: ActNorm per channel on the 4 of the 8 channels that continue
static_assert(std::is_same_v<L3, ft::SplitBijector<ft::Chain<ft::PerPixelBijector<ft::ActNormBijector<4, double>, 4>>>>);
static_assert(L3::dim == 32 && L3::half == 16);
static_assert(ft::parameter_count_v<Bound> == 4 + (1 + 1 + 2 + 2) + 8);

// the same specs bound to a plain dimension are the vector layers
static_assert(std::is_same_v<ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv>, 4, float>,
                             ft::Chain<ft::ActNormBijector<4, float>, ft::LUConvBijector<ft::lu_diag::exp, 4, float>>>);
// a vector multi-scale flow: 8 -> 4 -> 2 features
using Vec = ft::bind_t<ft::compose<ft::ActNorm, ft::Split, ft::ActNorm, ft::Split, ft::ActNorm>, 8, float>;
using V1 = std::remove_cvref_t<decltype(std::declval<Vec&>().get<1>())>;
static_assert(V1::half == 4);
using V1i = typename V1::inner_type;
static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<V1i&>().get<0>())>, ft::ActNormBijector<4, float>>);
static_assert(std::remove_cvref_t<decltype(std::declval<V1i&>().get<1>())>::half == 2);

// a flow over images: the transform bound at the data's shape, the base to its size
using Glowish = ft::bind_shape_t<ft::Flow<ft::StandardNormal, ft::Inverse<ft::compose<ft::Squeeze, ft::ActNorm, ft::Split, ft::LUConv>>>,
                                 ft::image<1, 4, 4>, float>;
static_assert(Glowish::dim == 16);
static_assert(ft::Bijector<typename Glowish::transform_type>);
static_assert(ft::DifferentiableBijector<typename Glowish::transform_type>);
static_assert(std::is_trivially_copyable_v<Glowish>);

}  // namespace
