// flowtmpl/detail/members.hpp: walking the trained parameters of one value: the
// std::array members it declares with BOOST_HANA_DEFINE_STRUCT, or the blocks it names
// through for_each_parameter_block(f) (conditioners, coupling and autoregressive
// layers), f(name, pointer, size); and parameter_walkers, the walk functions of a value
// that names its blocks.
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
    boost::hana::for_each(boost::hana::accessors<T>(), [&]<class Pair>(Pair) {
      using M = std::remove_cvref_t<decltype(boost::hana::second(std::declval<Pair>())(std::declval<const T&>()))>;
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

// f(prefix + name, pointer, rows, cols) for every parameter block of t: a matrix of
// rows x cols stored row-major (a weight [out][in]), or cols == 0 for a vector of rows
// values. A value names its blocks through for_each_parameter_tensor(f) (with shapes),
// for_each_parameter_block(f) (vectors), or BOOST_HANA_DEFINE_STRUCT members (each a
// std::array, or a value walked with its name and "." as a prefix).
template <class T, class F>
void for_each_member_tensor(T& t, const std::string& prefix, F& f) {
  using U = std::remove_const_t<T>;
  if constexpr (requires { t.for_each_parameter_tensor(f); }) {
    t.for_each_parameter_tensor(
        [&](const std::string& n, auto* p, std::size_t rows, std::size_t cols) { f(prefix + n, p, rows, cols); });
  } else if constexpr (requires { t.for_each_parameter_block(f); }) {
    t.for_each_parameter_block([&](const std::string& n, auto* p, std::size_t k) { f(prefix + n, p, k, std::size_t(0)); });
  } else if constexpr (boost::hana::Struct<U>::value) {
    boost::hana::for_each(boost::hana::accessors<U>(), [&](auto pair) {
      auto& member = boost::hana::second(pair)(t);
      const std::string name = prefix + boost::hana::to<char const*>(boost::hana::first(pair));
      using M = std::remove_cvref_t<decltype(member)>;
      if constexpr (is_std_array<M>::value)
        f(name, member.data(), member.size(), std::size_t(0));
      else
        for_each_member_tensor(member, name + ".", f);
    });
  }
}

// f(prefix + name, pointer, size) for every parameter block of t (as above, flattened).
template <class T, class F>
void for_each_member_block(T& t, const std::string& prefix, F& f) {
  auto g = [&](const std::string& n, auto* p, std::size_t rows, std::size_t cols) {
    f(n, p, cols == 0 ? rows : rows * cols);
  };
  for_each_member_tensor(t, prefix, g);
}

// The walk functions of a value that names its parameter blocks itself (the networks,
// the layers with a conditioner), as an empty base (Derived's layout does not change):
// for_each_parameter_tensor(f), f(name, pointer, rows, cols), on a value and on a const
// one, from Derived's static `walk_parameter_tensors(self, f)` (self: Derived& or const
// Derived&), and for_each_parameter_block(f), f(name, pointer, size), from those.
template <class Derived>
struct parameter_walkers {
  template <class F>
  void for_each_parameter_tensor(F&& f) {
    Derived::walk_parameter_tensors(static_cast<Derived&>(*this), f);
  }
  template <class F>
  void for_each_parameter_tensor(F&& f) const {
    Derived::walk_parameter_tensors(static_cast<const Derived&>(*this), f);
  }
  template <class F>
  void for_each_parameter_block(F&& f) {
    for_each_member_block(static_cast<Derived&>(*this), std::string(), f);
  }
  template <class F>
  void for_each_parameter_block(F&& f) const {
    for_each_member_block(static_cast<const Derived&>(*this), std::string(), f);
  }
};

}  // namespace flowtmpl::detail
