// flowtmpl/device/launch.hpp: the host side of a device call before the kernel runs:
//   check_batch<T>(x, what)         the batch has T's dimension, else shape_error
//   context_of<T>(ctx, n, what)     the context span of a call: a flow with a context
//       needs a device_batch of T::context_dim rows and n samples or 1 (shared); a flow
//       without one takes none (shape_error otherwise)
//   run_without_context<T, R>(run) / run_with_context<T, R>(run)   run() where T reads no
//       context / reads one; otherwise the compile-time diagnostic that says so
//   check_device_sample_count<T>(n, what), check_device_temperature(T, what)   a
//       sampling call's count and temperature: n < 0 or D n values beyond what one
//       device_batch can index: shape_error; a temperature that is not finite or below
//       the smallest normal value of the scalar (0, negatives, NaN, inf, subnormals):
//       argument_error (as on the host, host/distribution_entry_points.hpp)
//   launch(n, f)                    f(j) for j in [0, n): one thrust::for_each over a
//       counting iterator on the device system (nothing when n is 0)
// Needs thrust with THRUST_DEVICE_SYSTEM chosen (flowtmpl/device.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include "../diagnostics.hpp"
#include "../errors.hpp"
#include "device_batch.hpp"
#include "kernels.hpp"

namespace flowtmpl {
namespace detail {

template <class T>
void check_batch(const device_batch<typename T::scalar_type>& x, const char* what) {
  if (x.dim() != T::dim)
    fail_shape(message("device ", what, ": the batch has ", x.dim(), " rows, the flow's dimension is ", int(T::dim)));
}

template <class T, class S>
context_span<S, context_rows_v<T>> context_of(const device_batch<S>* ctx, std::int64_t n, const char* what) {
  context_span<S, context_rows_v<T>> c;
  if constexpr (has_context<T>) {
    if (!ctx) fail_shape(message("device ", what, ": this flow needs a context"));
    if (ctx->dim() != T::context_dim)
      fail_shape(message("device ", what, ": the context has ", ctx->dim(), " rows, the flow's context dimension is ",
                         int(T::context_dim)));
    if (ctx->count() != n && ctx->count() != 1)
      fail_shape(message("device ", what, ": the context has ", ctx->count(), " samples for ", n,
                         " inputs (give one per input, or one for all)"));
    c.span = ctx->span();
    c.shared = ctx->count() == 1;
  } else {
    if (ctx) fail_shape(message("device ", what, ": this flow takes no context"));
  }
  return c;
}

template <class T>
void check_device_sample_count(std::int64_t n, const char* what) {
  using S = typename T::scalar_type;
  if (n < 0) fail_shape(message("device ", what, ": the number of samples is ", n, "; it must be at least 0"));
  if (n > device_batch_capacity<S>(T::dim))
    fail_shape(message("device ", what, ": ", n, " samples of dimension ", int(T::dim),
                       " are more values than one device batch can index (at most ", device_batch_capacity<S>(T::dim),
                       " samples)"));
}
template <class S>
void check_device_temperature(S temperature, const char* what) {
  if (!(std::isfinite(temperature) && temperature >= std::numeric_limits<S>::min()))
    fail_argument(message("device ", what, ": the temperature is ", temperature,
                          "; it must be finite and positive, at least ", std::numeric_limits<S>::min(),
                          " (the smallest normal ", std::is_same_v<S, float> ? "float" : "double", ")"));
}

template <class F>
void launch(std::int64_t n, const F& f) {
  if (n > 0) thrust::for_each(thrust::device, thrust::counting_iterator<std::int64_t>(0),
                              thrust::counting_iterator<std::int64_t>(n), f);
}

// run() where T reads no context, the diagnostic where it does
template <class T, class R, class Run>
R run_without_context(Run run) {
  if constexpr (has_context<T>)
    return without_its_context<T, R>();
  else
    return run();
}
// run() where T reads a context, the diagnostic where it does not
template <class T, class R, class Run>
R run_with_context(Run run) {
  if constexpr (!has_context<T>)
    return with_a_context_it_does_not_read<T, R>();
  else
    return run();
}
}  // namespace detail
}  // namespace flowtmpl
