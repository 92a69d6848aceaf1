// Structure and log-det kind of chains, computed by Chain from its layers: the fold
// compose_structure_t over the layers in forward order starting from identity, and
// compose_log_det_kind likewise starting from zero. Each expected value is derived by
// hand from those rules and from the layer headers (Shift and Identity: identity/zero;
// Permute: permutation/zero; Scale, Affine, ActNorm: diagonal/constant; the elementwise
// maps: diagonal/input_dependent; LUConv: dense/constant). Building this file is the test.
#include <flowtmpl/flowtmpl.hpp>

#include <type_traits>

namespace ft = flowtmpl;
namespace st = flowtmpl::structure;

namespace {

using K = ft::log_det_kind;

template <class Spec, class Structure, K Kind, int D = 4, class S = float>
constexpr bool chain_is() {
  using B = ft::bind_t<Spec, D, S>;
  static_assert(std::is_same_v<typename B::structure, Structure>);
  static_assert(B::log_det_kind == Kind);
  return true;
}

// Both scalars and a few dimensions: the type-level results do not depend on them.
template <class Spec, class Structure, K Kind>
constexpr bool chain_is_everywhere() {
  return chain_is<Spec, Structure, Kind, 1, float>() && chain_is<Spec, Structure, Kind, 4, float>() &&
         chain_is<Spec, Structure, Kind, 4, double>() && chain_is<Spec, Structure, Kind, 9, double>();
}

// The layers themselves.
static_assert(chain_is_everywhere<ft::Identity, st::identity, K::zero>());
static_assert(chain_is_everywhere<ft::Shift, st::identity, K::zero>());
static_assert(chain_is_everywhere<ft::Permute<ft::Reverse>, st::permutation, K::zero>());
static_assert(chain_is_everywhere<ft::Permute<ft::Random<3>>, st::permutation, K::zero>());
static_assert(chain_is_everywhere<ft::Scale, st::diagonal, K::constant>());
static_assert(chain_is_everywhere<ft::Affine, st::diagonal, K::constant>());
static_assert(chain_is_everywhere<ft::ActNorm, st::diagonal, K::constant>());
static_assert(chain_is_everywhere<ft::Exp, st::diagonal, K::input_dependent>());
static_assert(chain_is_everywhere<ft::Sigmoid, st::diagonal, K::input_dependent>());
static_assert(chain_is_everywhere<ft::Logit, st::diagonal, K::input_dependent>());
static_assert(chain_is_everywhere<ft::Softplus, st::diagonal, K::input_dependent>());
static_assert(chain_is_everywhere<ft::Tanh, st::diagonal, K::input_dependent>());
static_assert(chain_is_everywhere<ft::LeakyReLU, st::diagonal, K::input_dependent>());
static_assert(chain_is_everywhere<ft::LUConv, st::dense, K::constant>());
static_assert(chain_is_everywhere<ft::LUConvT<ft::lu_diag::softplus>, st::dense, K::constant>());
static_assert(chain_is_everywhere<ft::Inverse<ft::ActNorm>, st::diagonal, K::constant>());
static_assert(chain_is_everywhere<ft::Inverse<ft::Exp>, st::diagonal, K::input_dependent>());
static_assert(chain_is_everywhere<ft::Inverse<ft::Permute<ft::Reverse>>, st::permutation, K::zero>());

// identity * diagonal = diagonal; diagonal * permutation has no tag -> dense; constant.
static_assert(chain_is_everywhere<ft::compose<ft::ActNorm, ft::Permute<ft::Reverse>>, st::dense, K::constant>());
// identity * identity = identity; identity * permutation = permutation; zero + zero.
static_assert(chain_is_everywhere<ft::compose<ft::Shift, ft::Permute<ft::Reverse>>, st::permutation, K::zero>());
// diagonal * diagonal = diagonal; input-dependent.
static_assert(chain_is_everywhere<ft::compose<ft::Exp, ft::Tanh>, st::diagonal, K::input_dependent>());
// A one-layer chain has its layer's structure and kind.
static_assert(chain_is_everywhere<ft::compose<ft::Exp>, st::diagonal, K::input_dependent>());
static_assert(chain_is_everywhere<ft::compose<ft::Shift>, st::identity, K::zero>());
// Glow's step: diagonal, then dense, then permutation -> dense; constant.
static_assert(chain_is_everywhere<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>, st::dense, K::constant>());
static_assert(chain_is_everywhere<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh, ft::Affine,
                                              ft::LeakyReLU>,
                                  st::dense, K::input_dependent>());
// Elementwise maps with constant ones stay diagonal; one input-dependent layer decides.
static_assert(chain_is_everywhere<ft::compose<ft::ActNorm, ft::Exp, ft::Affine>, st::diagonal, K::input_dependent>());
static_assert(chain_is_everywhere<ft::compose<ft::Scale, ft::Affine, ft::ActNorm>, st::diagonal, K::constant>());
static_assert(chain_is_everywhere<ft::compose<ft::Shift, ft::Scale, ft::Identity>, st::diagonal, K::constant>());
// Permutations compose to a permutation; with shifts and identities still one.
static_assert(chain_is_everywhere<ft::compose<ft::Permute<ft::Reverse>, ft::Permute<ft::Random<3>>>, st::permutation,
                                  K::zero>());
static_assert(chain_is_everywhere<ft::compose<ft::Identity, ft::Permute<ft::Reverse>, ft::Shift, ft::Permute<ft::Reverse>>,
                                  st::permutation, K::zero>());
static_assert(chain_is_everywhere<ft::compose<ft::Identity, ft::Shift>, st::identity, K::zero>());
// Once dense, always dense, even if the rest is the identity.
static_assert(chain_is_everywhere<ft::compose<ft::LUConv, ft::Shift, ft::Identity>, st::dense, K::constant>());
// Permutation then diagonal: dense too (the algebra is not commutative-aware).
static_assert(chain_is_everywhere<ft::compose<ft::Permute<ft::Reverse>, ft::Exp>, st::dense, K::input_dependent>());
// Nested chains fold the same way as the flat one.
static_assert(chain_is_everywhere<ft::compose<ft::compose<ft::Shift, ft::Permute<ft::Reverse>>, ft::Permute<ft::Reverse>>,
                                  st::permutation, K::zero>());
static_assert(chain_is_everywhere<ft::compose<ft::compose<ft::Exp, ft::Scale>, ft::compose<ft::Affine>>, st::diagonal,
                                  K::input_dependent>());
static_assert(chain_is_everywhere<ft::Inverse<ft::compose<ft::ActNorm, ft::Permute<ft::Reverse>>>, st::dense, K::constant>());
// The kind of a chain of a zero and a constant layer is constant whatever the order.
static_assert(chain_is_everywhere<ft::compose<ft::Permute<ft::Reverse>, ft::ActNorm>, st::dense, K::constant>());

// A user states at compile time that a flow preserves volume (its log-det is zero), or
// that its log-det does not depend on the input.
using volume_preserving = ft::bind_t<ft::compose<ft::Shift, ft::Permute<ft::Reverse>, ft::Permute<ft::Random<9>>>, 6, double>;
static_assert(volume_preserving::log_det_kind == ft::log_det_kind::zero, "the flow must preserve volume");
static_assert(ft::ConstantLogDet<volume_preserving>);
using glow_step = ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>, 6, float>;
static_assert(glow_step::log_det_kind != ft::log_det_kind::zero);
static_assert(ft::ConstantLogDet<glow_step>);
static_assert(!ft::ConstantLogDet<ft::bind_t<ft::compose<ft::ActNorm, ft::Tanh>, 6, float>>);

// constant_log_det() exists exactly for the chains whose log-det does not depend on the
// input (zero or constant), as the Bijector contract needs for constant ones.
template <class B>
constexpr bool has_constant_log_det = requires(const B& b) { b.constant_log_det(); };
static_assert(has_constant_log_det<glow_step>);
static_assert(has_constant_log_det<volume_preserving>);
static_assert(!has_constant_log_det<ft::bind_t<ft::compose<ft::ActNorm, ft::Tanh>, 6, float>>);

// The chain's other compile-time facts.
using six = ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh, ft::Affine, ft::LeakyReLU>, 5,
                       double>;
static_assert(six::size == 6 && six::dim == 5 && std::is_same_v<six::scalar_type, double>);
static_assert(std::is_same_v<six::first_layer, ft::ActNormBijector<5, double>>);
static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<const six&>().get<3>())>, ft::TanhBijector<5, double>>);
static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<const six&>().get<5>())>, ft::LeakyReLUBijector<5, double>>);
static_assert(ft::is_chain<six>::value && !ft::is_chain<ft::TanhBijector<5, double>>::value);

// The prepared chain keeps the kind; its structure is the fold over the prepared layers.
using prepared_glow = decltype(std::declval<const glow_step&>().prepare());
static_assert(prepared_glow::log_det_kind == K::constant);
static_assert(std::is_same_v<prepared_glow::structure, st::dense>);

// forward_and_log_det(b, x) on one sample returns {vector, scalar} of the chain's types.
static_assert(std::is_same_v<decltype(ft::forward_and_log_det(std::declval<const six&>(), std::declval<const ft::vector_t<six>&>())),
                             ft::value_and_log_det<Eigen::Matrix<double, 5, 1>, double>>);

}  // namespace
