// flowtmpl/parameters.hpp: the trained parameters of a bound flow, walked by name.
//
// A layer's parameters are the members it declares with BOOST_HANA_DEFINE_STRUCT
// (each a std::array of the scalar, or a value with parameters of its own, walked with
// its name as a prefix), or the blocks it names with for_each_parameter_block(f)
// (coupling and autoregressive layers: "3.conditioner.0.weight", "1.made.final_layer.
// bias"); its fixed settings (a permutation, a slope) are ordinary members and are not
// parameters. Chains and inverses hold no parameters of their own.
//
//   parameter_count_v<B>          constexpr number of scalars
//   reset_parameters(b, seed, scheme = init::identity_start)
//                                 draws a start for every layer with a conditioner
//                                 (Coupling, the autoregressive layers), each from
//                                 its own stream: layer path p gets the seed
//                                 philox_stream(seed, p).next_u32() pairs, so adding a
//                                 layer at the end leaves the others' draws unchanged
//   for_each_parameter(b, f)      f(name, data pointer, size) for every parameter
//                                 block in layer order; name is "2.log_scale" for
//                                 the member log_scale of layer 2 (nested chains give
//                                 "2.0.log_scale"; an inverse adds nothing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include <boost/hana/accessors.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/fold_left.hpp>
#include <boost/hana/members.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/concept/struct.hpp>

#include "bijectors/inverse.hpp"
#include "conditioners/conditioner.hpp"
#include "random.hpp"
#include "detail/members.hpp"
#include "chain.hpp"
#include "errors.hpp"

namespace flowtmpl {

namespace detail {
template <class T>
struct is_inverse_layer : std::false_type {};
template <class B>
struct is_inverse_layer<InverseBijector<B>> : std::true_type {};

template <class B>
consteval std::size_t count_parameters() {
  if constexpr (is_chain<B>::value) {
    return []<class... Ls>(Chain<Ls...>*) { return (std::size_t(0) + ... + count_parameters<Ls>()); }(
        static_cast<B*>(nullptr));
  } else if constexpr (is_inverse_layer<B>::value) {
    return count_parameters<typename B::base_type>();
  } else {
    return member_count<B>();
  }
}

template <class B, class F>
void walk_parameters(B& b, const std::string& prefix, F& f) {
  using T = std::remove_const_t<B>;
  if constexpr (is_chain<T>::value) {
    b.for_each_layer([&](auto idx, auto& layer) { walk_parameters(layer, message(prefix, idx.value, '.'), f); });
  } else if constexpr (is_inverse_layer<T>::value) {
    walk_parameters(b.base, prefix, f);
  } else {
    for_each_member_block(b, prefix, f);
  }
}
}  // namespace detail

template <class B>
  requires(Bijector<B> || ConditionalBijector<B>)
inline constexpr std::size_t parameter_count_v = detail::count_parameters<B>();

// f(const std::string& name, scalar* data, std::size_t size); const b gives const data.
template <class B, class F>
  requires(Bijector<B> || ConditionalBijector<B>)
void for_each_parameter(B& b, F&& f) {
  detail::walk_parameters(b, std::string(), f);
}
template <class B, class F>
  requires(Bijector<B> || ConditionalBijector<B>)
void for_each_parameter(const B& b, F&& f) {
  detail::walk_parameters(b, std::string(), f);
}

namespace detail {
template <class B>
void reset_walk(B& b, std::uint64_t seed, init scheme) {
  using T = std::remove_const_t<B>;
  if constexpr (is_chain<T>::value) {
    b.for_each_layer([&](auto idx, auto& layer) {
      philox_stream rng(seed, std::uint64_t(idx.value));
      const std::uint64_t sub = (std::uint64_t(rng.next_u32()) << 32) | rng.next_u32();
      reset_walk(layer, sub, scheme);
    });
  } else if constexpr (is_inverse_layer<T>::value) {
    reset_walk(b.base, seed, scheme);
  } else if constexpr (requires { b.reset_parameters(seed, scheme); }) {
    b.reset_parameters(seed, scheme);
  }
}
}  // namespace detail

template <class B>
void reset_parameters(B& b, std::uint64_t seed, init scheme = init::identity_start) {
  if constexpr (requires { b.transform; b.base; })
    detail::reset_walk(b.transform, seed, scheme);  // a flow distribution
  else
    detail::reset_walk(b, seed, scheme);
}

}  // namespace flowtmpl
