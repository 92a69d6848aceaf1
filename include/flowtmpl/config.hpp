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

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define FLOWTMPL_HAS_EXCEPTIONS 1
#else
#define FLOWTMPL_HAS_EXCEPTIONS 0
#endif

#define FLOWTMPL_VERSION_MAJOR 0
#define FLOWTMPL_VERSION_MINOR 1
#define FLOWTMPL_VERSION_PATCH 0

namespace flowtmpl {
// Supported scalars. Every bound type is either float or double.
template <class S>
inline constexpr bool is_supported_scalar_v =
    __is_same(S, float) || __is_same(S, double);
}  // namespace flowtmpl
