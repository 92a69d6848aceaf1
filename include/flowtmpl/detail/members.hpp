// flowtmpl/detail/members.hpp: walking the trained parameters of one value: the
// std::array members it declares with BOOST_HANA_DEFINE_STRUCT, or the blocks it names
// through for_each_parameter_block(f) (conditioners, coupling and autoregressive
// layers), f(name, pointer, size).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>

#include <boost/hana/accessors.hpp>
#include <boost/hana/concept/struct.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>

namespace flowtmpl::detail {

template <class T>
struct is_std_array : std::false_type {};
template <class V, std::size_t N>
struct is_std_array<std::array<V, N>> : std::true_type {};

// Number of trained scalars in a value of type T.
template <class T>
consteval std::size_t member_count() {
  if constexpr (requires { T::parameter_count; }) {
    return T::parameter_count;
  } else if constexpr (boost::hana::Struct<T>::value) {
    std::size_t n = 0;
    boost::hana::for_each(boost::hana::accessors<T>(), [&](auto pair) {
      using M = std::remove_cvref_t<decltype(boost::hana::second(pair)(std::declval<const T&>()))>;
      if constexpr (is_std_array<M>::value)
        n += std::tuple_size_v<M>;
      else
        n += member_count<M>();
    });
    return n;
  } else {
    return 0;
  }
}

// f(prefix + name, pointer, size) for every parameter block of t.
template <class T, class F>
void for_each_member_block(T& t, const std::string& prefix, F& f) {
  using U = std::remove_const_t<T>;
  if constexpr (requires { t.for_each_parameter_block(f); }) {
    t.for_each_parameter_block([&](const std::string& n, auto* p, std::size_t k) { f(prefix + n, p, k); });
  } else if constexpr (boost::hana::Struct<U>::value) {
    boost::hana::for_each(boost::hana::accessors<U>(), [&](auto pair) {
      auto& member = boost::hana::second(pair)(t);
      const std::string name = prefix + boost::hana::to<char const*>(boost::hana::first(pair));
      using M = std::remove_cvref_t<decltype(member)>;
      if constexpr (is_std_array<M>::value)
        f(name, member.data(), member.size());
      else
        for_each_member_block(member, name + ".", f);
    });
  }
}

}  // namespace flowtmpl::detail
