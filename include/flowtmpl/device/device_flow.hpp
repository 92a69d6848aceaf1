// flowtmpl/device/device_flow.hpp: a bound flow in device memory.
//
//   device_flow<T> df(flow)   copies a bound bijector or flow distribution to device
//       memory once, with its prepared form (what flowtmpl::prepare gives), and computes
//       the constant part of its log-det on the host (0 with a context);
//       df.assign(flow) replaces the parameters (after an optimizer step), df.get()
//       copies them back. T must be trivially copyable (every bound flowtmpl type is).
//   detail::device_image<T>   the bytes of a T in device memory (copied as bytes:
//       see there why); a device_flow holds two, the flow and its prepared form.
// Needs thrust with THRUST_DEVICE_SYSTEM chosen (flowtmpl/device.hpp).
#pragma once

#include <type_traits>
#include <utility>

#include <thrust/copy.h>
#include <thrust/device_vector.h>

#include "../core.hpp"

namespace flowtmpl {
namespace detail {

// The bytes of a trivially copyable T in device memory. Copied as bytes, not through
// thrust::device_vector<T>: that would fill it with a kernel taking T by value, and a
// flow's parameters outgrow a kernel's parameter space (32 KiB).
template <class T>
class device_image {
 public:
  explicit device_image(const T& t) : bytes_(sizeof(T)) { assign(t); }
  void assign(const T& t) {
    const auto* p = reinterpret_cast<const unsigned char*>(&t);
    thrust::copy(p, p + sizeof(T), bytes_.begin());
  }
  T get() const {
    T t;
    thrust::copy(bytes_.begin(), bytes_.end(), reinterpret_cast<unsigned char*>(&t));
    return t;
  }
  const T* pointer() const { return reinterpret_cast<const T*>(thrust::raw_pointer_cast(bytes_.data())); }

 private:
  thrust::device_vector<unsigned char> bytes_;  // device allocations are aligned for any T
};

}  // namespace detail

// A bound bijector or flow distribution in device memory, with its prepared form.
template <class T>
class device_flow {
  static_assert(std::is_trivially_copyable_v<T>,
                "flowtmpl: device_flow: the flow must be trivially copyable to live in device memory (every bound "
                "flowtmpl bijector and distribution is)");

 public:
  using value_type = T;
  using prepared_type = decltype(flowtmpl::prepare(std::declval<const T&>()));
  using scalar_type = typename T::scalar_type;
  static constexpr int dim = T::dim;

  explicit device_flow(const T& flow) : flow_(flow), prepared_(flowtmpl::prepare(flow)) { constant_ = constant_of(flow); }

  // New parameters (and settings) for the flow on the device.
  void assign(const T& flow) {
    flow_.assign(flow);
    prepared_.assign(flowtmpl::prepare(flow));
    constant_ = constant_of(flow);
  }
  // The constant part of the transform's log-det (0 with a context), computed on the
  // host once per assignment, for the kernels.
  scalar_type constant_part() const { return constant_; }
  // A host copy of the flow.
  T get() const { return flow_.get(); }

  const T* flow_pointer() const { return flow_.pointer(); }
  const prepared_type* prepared_pointer() const { return prepared_.pointer(); }

 private:
  static scalar_type constant_of(const T& flow) {
    if constexpr (requires { requires(T::context_dim > 0); })
      return scalar_type(0);
    else if constexpr (requires { flow.transform; })
      return detail::constant_part(flowtmpl::prepare(flow).transform);
    else if constexpr (Bijector<T>)
      return detail::constant_part(flowtmpl::prepare(flow));
    else
      return scalar_type(0);
  }

  detail::device_image<T> flow_;
  detail::device_image<prepared_type> prepared_;
  scalar_type constant_ = 0;
};
template <class T>
device_flow(const T&) -> device_flow<T>;

}  // namespace flowtmpl
