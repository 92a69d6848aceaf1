// Every spec models BijectorSpec or DistributionSpec, and every bound layer, chain,
// inverse, prepared layer and distribution models its concept, for float and double
// and several dimensions. Building this file is the test.
#include <flowtmpl/flowtmpl.hpp>

#include <cstdint>
#include <type_traits>

namespace ft = flowtmpl;

namespace {

// ---- specs ------------------------------------------------------------------------
static_assert(ft::BijectorSpec<ft::Identity>);
static_assert(ft::BijectorSpec<ft::Shift>);
static_assert(ft::BijectorSpec<ft::Scale>);
static_assert(ft::BijectorSpec<ft::Affine>);
static_assert(ft::BijectorSpec<ft::Exp>);
static_assert(ft::BijectorSpec<ft::Sigmoid>);
static_assert(ft::BijectorSpec<ft::Logit>);
static_assert(ft::BijectorSpec<ft::Softplus>);
static_assert(ft::BijectorSpec<ft::Tanh>);
static_assert(ft::BijectorSpec<ft::LeakyReLU>);
static_assert(ft::BijectorSpec<ft::Permute<ft::Reverse>>);
static_assert(ft::BijectorSpec<ft::Permute<ft::Indices<2, 0, 1>>>);
static_assert(ft::BijectorSpec<ft::Permute<ft::Random<42>>>);
static_assert(ft::BijectorSpec<ft::ActNorm>);
static_assert(ft::BijectorSpec<ft::LUConv>);
static_assert(ft::BijectorSpec<ft::LUConvT<ft::lu_diag::softplus>>);
static_assert(ft::BijectorSpec<ft::LUConvT<ft::lu_diag::raw>>);
static_assert(ft::BijectorSpec<ft::Inverse<ft::Exp>>);
static_assert(ft::BijectorSpec<ft::Inverse<ft::compose<ft::ActNorm, ft::Tanh>>>);
static_assert(ft::BijectorSpec<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>>);
static_assert(ft::BijectorSpec<ft::compose<ft::compose<ft::Exp>, ft::Inverse<ft::Softplus>>>);

static_assert(ft::DistributionSpec<ft::StandardNormal>);
static_assert(ft::DistributionSpec<ft::DiagonalNormal>);
static_assert(ft::DistributionSpec<ft::Uniform>);
static_assert(ft::DistributionSpec<ft::Flow<ft::StandardNormal, ft::compose<ft::ActNorm, ft::Tanh>>>);

// Specs are not bound types and bound types are not specs; the two spec kinds differ.
static_assert(!ft::Bijector<ft::Exp>);
static_assert(!ft::Bijector<ft::compose<ft::Exp>>);
static_assert(!ft::Distribution<ft::StandardNormal>);
static_assert(!ft::BijectorSpec<ft::ExpBijector<2, double>>);
static_assert(!ft::BijectorSpec<ft::StandardNormal>);
static_assert(!ft::DistributionSpec<ft::Exp>);
static_assert(!ft::BijectorSpec<int>);
static_assert(!ft::Bijector<int>);
static_assert(!ft::Distribution<ft::ExpBijector<2, double>>);
static_assert(!ft::Bijector<ft::StandardNormalDistribution<2, double>>);

// ---- bound layers -----------------------------------------------------------------
// A spec bound to (D, S) models Bijector with that dimension and scalar, binds a bound
// layer to itself, and its inverse is a Bijector too.
template <class Spec, int D, class S>
constexpr bool binds_to_bijector() {
  using B = ft::bind_t<Spec, D, S>;
  static_assert(ft::Bijector<B>);
  static_assert(B::dim == D);
  static_assert(std::is_same_v<typename B::scalar_type, S>);
  static_assert(std::is_same_v<ft::bind_t<B, D, S>, B>);
  static_assert(std::is_same_v<ft::vector_t<B>, Eigen::Matrix<S, D, 1>>);
  static_assert(ft::Bijector<ft::InverseBijector<B>>);
  static_assert(ft::ConstantLogDet<B> == (B::log_det_kind != ft::log_det_kind::input_dependent));
  return true;
}

template <class Spec, class S, int... Ds>
constexpr bool binds_for_dims() {
  return (binds_to_bijector<Spec, Ds, S>() && ...);
}

// The prepared form (flowtmpl::prepare) is a Bijector of the same dimension and scalar.
// Checked at one dimension per scalar: preparing instantiates the Eigen code of the
// batch path, which is what costs compile time here.
template <class Spec, int D, class S>
constexpr bool prepares_to_bijector() {
  using P = decltype(ft::prepare(std::declval<const ft::bind_t<Spec, D, S>&>()));
  static_assert(ft::Bijector<P>);
  static_assert(P::dim == D);
  static_assert(std::is_same_v<typename P::scalar_type, S>);
  return true;
}

template <class Spec>
constexpr bool binds_everywhere() {
  return binds_for_dims<Spec, float, 1, 2, 3, 8, 17>() && binds_for_dims<Spec, double, 1, 2, 3, 8, 17>() &&
         prepares_to_bijector<Spec, 3, float>() && prepares_to_bijector<Spec, 2, double>();
}

static_assert(binds_everywhere<ft::Identity>());
static_assert(binds_everywhere<ft::Shift>());
static_assert(binds_everywhere<ft::Scale>());
static_assert(binds_everywhere<ft::Affine>());
static_assert(binds_everywhere<ft::Exp>());
static_assert(binds_everywhere<ft::Sigmoid>());
static_assert(binds_everywhere<ft::Logit>());
static_assert(binds_everywhere<ft::Softplus>());
static_assert(binds_everywhere<ft::Tanh>());
static_assert(binds_everywhere<ft::LeakyReLU>());
static_assert(binds_everywhere<ft::Permute<ft::Reverse>>());
static_assert(binds_everywhere<ft::Permute<ft::Random<7>>>());
static_assert(binds_everywhere<ft::ActNorm>());
static_assert(binds_everywhere<ft::LUConv>());
static_assert(binds_everywhere<ft::LUConvT<ft::lu_diag::softplus>>());
static_assert(binds_everywhere<ft::LUConvT<ft::lu_diag::raw>>());
static_assert(binds_everywhere<ft::Inverse<ft::ActNorm>>());
static_assert(binds_everywhere<ft::Inverse<ft::Sigmoid>>());
static_assert(binds_everywhere<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>>());
static_assert(binds_everywhere<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh, ft::Affine,
                                           ft::LeakyReLU>>());
static_assert(binds_everywhere<ft::compose<ft::Shift, ft::compose<ft::Exp, ft::Scale>, ft::Inverse<ft::Softplus>>>());

// Permute<Indices<...>> binds to its own length only.
static_assert(binds_to_bijector<ft::Permute<ft::Indices<2, 0, 1>>, 3, float>());
static_assert(binds_to_bijector<ft::Permute<ft::Indices<2, 0, 1>>, 3, double>());
static_assert(binds_to_bijector<ft::Permute<ft::Indices<0>>, 1, double>());
static_assert(binds_to_bijector<ft::compose<ft::ActNorm, ft::Permute<ft::Indices<3, 1, 0, 2>>>, 4, float>());
static_assert(ft::Permute<ft::Indices<2, 0, 1>>::accepts_dim<3>);
static_assert(!ft::Permute<ft::Indices<2, 0, 1>>::accepts_dim<4>);
static_assert(!ft::Permute<ft::Indices<2, 0, 1>>::accepts_dim<2>);
static_assert(!ft::Inverse<ft::Permute<ft::Indices<2, 0, 1>>>::accepts_dim<4>);
static_assert(ft::Permute<ft::Reverse>::accepts_dim<1>);

// A compose may mix specs and bound layers of its dimension and scalar.
static_assert(binds_to_bijector<ft::compose<ft::ActNorm, ft::ExpBijector<5, float>, ft::Inverse<ft::TanhBijector<5, float>>>,
                                5, float>());

// The bound types are the documented ones.
static_assert(std::is_same_v<ft::bind_t<ft::Exp, 4, float>, ft::ExpBijector<4, float>>);
static_assert(std::is_same_v<ft::bind_t<ft::LUConv, 4, double>, ft::LUConvBijector<ft::lu_diag::exp, 4, double>>);
static_assert(std::is_same_v<ft::bind_t<ft::Inverse<ft::Exp>, 4, double>, ft::InverseBijector<ft::ExpBijector<4, double>>>);
static_assert(std::is_same_v<ft::bind_t<ft::compose<ft::ActNorm, ft::Permute<ft::Reverse>>, 3, float>,
                             ft::Chain<ft::ActNormBijector<3, float>, ft::PermuteBijector<ft::Reverse, 3, float>>>);
static_assert(std::is_same_v<ft::bind_t<ft::Exp, 4>, ft::ExpBijector<4, double>>);  // double by default

// chain() of bound layers gives the same type as the compose of their specs.
static_assert(std::is_same_v<decltype(ft::chain(ft::ActNormBijector<3, float>{}, ft::LUConvBijector<ft::lu_diag::exp, 3, float>{})),
                             ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv>, 3, float>>);

// ---- distributions ----------------------------------------------------------------
template <class Spec, int D, class S, bool Tempered>
constexpr bool binds_to_distribution() {
  using T = ft::bind_t<Spec, D, S>;
  static_assert(ft::Distribution<T>);
  static_assert(ft::TemperedDistribution<T> == Tempered);
  static_assert(T::dim == D);
  static_assert(std::is_same_v<typename T::scalar_type, S>);
  return true;
}

template <class Spec, bool Tempered, int... Ds>
constexpr bool distribution_for_dims() {
  return (binds_to_distribution<Spec, Ds, float, Tempered>() && ...) &&
         (binds_to_distribution<Spec, Ds, double, Tempered>() && ...);
}

using glow = ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>;
static_assert(distribution_for_dims<ft::StandardNormal, true, 1, 2, 3, 8, 17>());
static_assert(distribution_for_dims<ft::DiagonalNormal, true, 1, 2, 3, 8, 17>());
static_assert(distribution_for_dims<ft::Uniform, false, 1, 2, 3, 8, 17>());
static_assert(distribution_for_dims<ft::Flow<ft::StandardNormal, glow>, true, 1, 2, 3, 8, 17>());
static_assert(distribution_for_dims<ft::Flow<ft::DiagonalNormal, ft::compose<glow, ft::Tanh>>, true, 1, 2, 8>());
// A tempered uniform is not a uniform: a flow on a Uniform base cannot be tempered.
static_assert(distribution_for_dims<ft::Flow<ft::Uniform, ft::compose<ft::Logit, ft::Affine>>, false, 1, 2, 8>());

static_assert(std::is_same_v<ft::bind_t<ft::Flow<ft::StandardNormal, glow>, 4, float>,
                             ft::FlowDistribution<ft::StandardNormalDistribution<4, float>, ft::bind_t<glow, 4, float>>>);
static_assert(ft::Distribution<decltype(std::declval<const ft::bind_t<ft::Flow<ft::StandardNormal, glow>, 4, float>&>().prepare())>);

// ---- a user's own bijector --------------------------------------------------------
struct user_negate {
  using scalar_type = float;
  using structure = ft::structure::diagonal;
  static constexpr int dim = 2;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::zero;
  static constexpr const char* name = "negate";
  using vec = Eigen::Matrix<float, 2, 1>;
  vec forward(const vec& x) const { return -x; }
  vec inverse(const vec& y) const { return -y; }
  float log_det(const vec&) const { return 0.0f; }
};
static_assert(ft::Bijector<user_negate>);
static_assert(binds_to_bijector<ft::compose<user_negate, ft::Exp>, 2, float>());

// The concept rejects what the contract forbids.
struct user_constant_without_value : user_negate {
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::constant;  // but no constant_log_det()
};
static_assert(!ft::Bijector<user_constant_without_value>);
struct user_wrong_return : user_negate {
  double log_det(const vec&) const { return 0.0; }  // not the scalar_type
};
static_assert(!ft::Bijector<user_wrong_return>);
struct user_bad_structure : user_negate {
  using structure = int;
};
static_assert(!ft::Bijector<user_bad_structure>);
struct user_long_double : user_negate {
  using scalar_type = long double;
};
static_assert(!ft::Bijector<user_long_double>);

}  // namespace
