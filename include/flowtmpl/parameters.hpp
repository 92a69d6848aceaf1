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
//   for_each_parameter_tensor(b, f)
//                                 f(name, data pointer, rows, cols): the same blocks
//                                 with their shapes, cols == 0 for a vector of rows
//                                 values, else a rows x cols row-major matrix (the
//                                 weights of MLP and MADE, [out][in] as torch has them).
// Each of these also takes a distribution (a base: "mean", "log_scale") and a flow distribution (bind_t<Flow<Base, Spec>, D, S>): its
// base's parameters come first, named "base.<member>", then the transform's, named
// "transform.<path>".
// State: a block whose name ends in "_state" (a residual layer's power-iteration
// vectors, "net.0.power_iteration_state") is saved, loaded and copied with the
// parameters, so a file gives back the same function, but is not differentiated: its
// gradient is always 0 and the gradient checks do not perturb it (is_state_parameter).
//   copy_parameters(b, out)       writes the parameter_count_v<B> scalars into out, in
//                                 the order of for_each_parameter (an optimizer's flat
//                                 view of a flow); assign_parameters(b, in) reads them.
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

#include "bijectors/embedded_context.hpp"
#include "bijectors/inverse.hpp"
#include "conditioners/conditioner.hpp"
#include "random.hpp"
#include "detail/members.hpp"
#include "chain.hpp"
#include "errors.hpp"

namespace flowtmpl {

// Whether the block named `name` (as for_each_parameter gives it) is state, not a
// parameter of the gradient: its name ends in "_state".
inline bool is_state_parameter(const std::string& name) {
  constexpr const char suffix[] = "_state";
  constexpr std::size_t n = sizeof(suffix) - 1;
  return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
}

namespace detail {
template <class T>
struct is_context_bound : std::false_type {};
template <class B>
struct is_context_bound<context_bound<B>> : std::true_type {};

template <class B>
consteval std::size_t count_parameters() {
  if constexpr (is_context_bound<B>::value) {
    return count_parameters<std::remove_cvref_t<decltype(std::declval<B&>().bijector)>>();
  } else if constexpr (is_chain<B>::value) {
    return []<class... Ls>(Chain<Ls...>*) { return (std::size_t(0) + ... + count_parameters<Ls>()); }(
        static_cast<B*>(nullptr));
  } else if constexpr (is_inverse_layer<B>::value) {
    return count_parameters<typename B::base_type>();
  } else if constexpr (is_split_layer<B>::value) {
    return count_parameters<typename B::inner_type>();
  } else if constexpr (is_embedded_context<B>::value) {
    return member_count<typename B::embedding_type>() + count_parameters<typename B::inner_type>();
  } else {
    return member_count<B>();
  }
}

template <class T>
concept flow_distribution_like = requires(T& t) {
  t.base;
  t.transform;
  typename T::base_type;
  typename T::transform_type;
};

template <class B, class F>
void walk_parameters(B& b, const std::string& prefix, F& f) {
  using T = std::remove_const_t<B>;
  if constexpr (flow_distribution_like<T>) {
    for_each_member_tensor(b.base, prefix + "base.", f);
    walk_parameters(b.transform, prefix + "transform.", f);
  } else if constexpr (is_context_bound<T>::value) {
    walk_parameters(b.bijector, prefix, f);  // the context is data, not a parameter
  } else if constexpr (is_chain<T>::value) {
    b.for_each_layer([&](auto idx, auto& layer) { walk_parameters(layer, message(prefix, idx.value, '.'), f); });
  } else if constexpr (is_inverse_layer<T>::value) {
    walk_parameters(b.base, prefix, f);
  } else if constexpr (is_split_layer<T>::value) {
    walk_parameters(b.inner, prefix, f);
  } else if constexpr (is_embedded_context<T>::value) {
    for_each_member_tensor(b.embedding, prefix + "embedding.", f);
    walk_parameters(b.inner, prefix, f);
  } else {
    for_each_member_tensor(b, prefix, f);
  }
}

template <class B>
consteval std::size_t count_all_parameters() {
  if constexpr (flow_distribution_like<B>)
    return member_count<typename B::base_type>() + count_parameters<typename B::transform_type>();
  else
    return count_parameters<B>();
}

template <class B>
concept has_parameters_to_walk =
    Bijector<B> || ConditionalBijector<B> || flow_distribution_like<B> || Distribution<B> || ConditionalDistribution<B>;
}  // namespace detail

// The number of trained scalars of a bound bijector or flow distribution.
template <class B>
  requires detail::has_parameters_to_walk<B>
inline constexpr std::size_t parameter_count_v = detail::count_all_parameters<B>();

// f(const std::string& name, scalar* data, std::size_t size); const b gives const data.
template <class B, class F>
  requires detail::has_parameters_to_walk<std::remove_const_t<B>>
void for_each_parameter(B& b, F&& f) {
  auto g = [&](const std::string& n, auto* p, std::size_t rows, std::size_t cols) { f(n, p, cols == 0 ? rows : rows * cols); };
  detail::walk_parameters(b, std::string(), g);
}

// f(const std::string& name, scalar* data, std::size_t rows, std::size_t cols).
template <class B, class F>
  requires detail::has_parameters_to_walk<std::remove_const_t<B>>
void for_each_parameter_tensor(B& b, F&& f) {
  detail::walk_parameters(b, std::string(), f);
}

// The parameters as one flat array, in the order of for_each_parameter.
template <class B, class S>
  requires detail::has_parameters_to_walk<B>
void copy_parameters(const B& b, S* out) {
  std::size_t at = 0;
  for_each_parameter(b, [&](const std::string&, const auto* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) out[at + i] = p[i];
    at += k;
  });
}
template <class B, class S>
  requires detail::has_parameters_to_walk<B>
void assign_parameters(B& b, const S* in) {
  std::size_t at = 0;
  for_each_parameter(b, [&](const std::string&, auto* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) p[i] = in[at + i];
    at += k;
  });
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
  } else if constexpr (is_split_layer<T>::value) {
    reset_walk(b.inner, seed, scheme);
  } else if constexpr (is_embedded_context<T>::value) {
    b.reset_embedding(seed);
    reset_walk(b.inner, seed, scheme);
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
