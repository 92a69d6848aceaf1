// flowtmpl/config.hpp: the few macros the library uses, and how it reports errors.
//
// FLOWTMPL_HOST_DEVICE marks every function that must run on both the host and a
// device (CUDA). It expands to nothing for ordinary host compilers.
//
// Exceptions: flowtmpl's per-sample math never throws. The host batch entry points
// throw flowtmpl::shape_error on a batch of the wrong shape and, in checked mode,
// flowtmpl::domain_error. When the translation unit is built with -fno-exceptions,
// checked mode is unavailable (a compile error says so) and shape errors print a
// message to stderr and call std::abort().
#pragma once

#if defined(__CUDACC__) || defined(__HIPCC__)
#define FLOWTMPL_HOST_DEVICE __host__ __device__
#else
#define FLOWTMPL_HOST_DEVICE
#endif

// FLOWTMPL_NO_EXEC_CHECK, placed before the `template` of a FLOWTMPL_HOST_DEVICE
// function template written once for a single sample (fixed-size Eigen vectors: host
// and device) and for a block of samples (dynamic Eigen matrices, matrix-matrix
// products: host only): nvcc's check of calls from host-device code into host code is
// disabled for that template, as Eigen does for its own such templates. A device
// instantiation that did reach host code still fails to build (ptxas: an undefined
// function).
#if defined(__CUDACC__)
#define FLOWTMPL_NO_EXEC_CHECK _Pragma("nv_exec_check_disable")
#else
#define FLOWTMPL_NO_EXEC_CHECK
#endif

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define FLOWTMPL_HAS_EXCEPTIONS 1
#else
#define FLOWTMPL_HAS_EXCEPTIONS 0
#endif

#define FLOWTMPL_VERSION_MAJOR 0
#define FLOWTMPL_VERSION_MINOR 1
#define FLOWTMPL_VERSION_PATCH 0

namespace flowtmpl {
namespace detail {
// table<&T::member>(): a static constexpr table (a std::array of ints, say) to read at
// a run-time index in code that runs on both sides. nvcc keeps static constexpr members
// in host memory only (device code may read them in constant expressions alone), so
// device code reads a __device__ copy made at compile time.
#if defined(__CUDACC__)
template <const auto* Table>
__device__ constexpr auto device_table = *Table;
#endif
template <const auto* Table>
FLOWTMPL_HOST_DEVICE constexpr const auto& table() {
#if defined(__CUDA_ARCH__)
  return device_table<Table>;
#else
  return *Table;
#endif
}
}  // namespace detail

// Supported scalars. Every bound type is either float or double.
template <class S>
inline constexpr bool is_supported_scalar_v =
    __is_same(S, float) || __is_same(S, double);
}  // namespace flowtmpl
