// flowtmpl/device/entry_points.hpp: the batch entry points of the device backend,
// each one fused thrust::for_each over the samples (device/kernels.hpp):
//   forward / inverse(exec::device, df, x[, ctx])             -> device_batch
//   forward_and_log_det / inverse_and_log_det(...)            -> device_result
//   log_prob(exec::device, df, x[, ctx])                      -> device_vector<S> (N)
//   sample(exec::device, df, n, seed[, ctx][, T][, order])    -> device_batch
//   sample_and_log_prob(exec::device, df, n, seed[, ctx][, T][, order]) -> device_result
// ctx (a device_batch of C rows and N columns, or 1 shared) is there exactly when the
// flow reads a context.
// Outputs of forward / inverse take the input's layout; samples take `order`
// (default_device_layout). Shapes are checked on the host before the launch
// (shape_error), and so are n and T of sampling (device/launch.hpp: n >= 0, T finite and
// at least the smallest normal value of the scalar, else argument_error; the messages
// start "device sample: " or "device sample_and_log_prob: "). Each call allocates its
// outputs in device memory.
// Needs thrust with THRUST_DEVICE_SYSTEM chosen (flowtmpl/device.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include <thrust/device_vector.h>

#include "../direction.hpp"

#include "../concepts.hpp"
#include "../diagnostics.hpp"
#include "../errors.hpp"
#include "../exec.hpp"
#include "../host/batch.hpp"
#include "device_batch.hpp"
#include "device_flow.hpp"
#include "kernels.hpp"
#include "launch.hpp"

namespace flowtmpl {
namespace detail {

template <direction Dir, log_det_output LogDet, class T>
device_result<typename T::scalar_type> run_device_bijector(const device_flow<T>& df,
                                                           const device_batch<typename T::scalar_type>& x,
                                                           const device_batch<typename T::scalar_type>* ctx) {
  static_assert(Bijector<T> || ConditionalBijector<T>,
                "flowtmpl: device forward / inverse take a bound bijector (a flow distribution has log_prob and "
                "sample instead)");
  using S = typename T::scalar_type;
  using P = typename device_flow<T>::prepared_type;
  constexpr bool with_log_det = LogDet == log_det_output::computed;
  const char* what = Dir == direction::forward ? (with_log_det ? "forward_and_log_det" : "forward")
                                               : (with_log_det ? "inverse_and_log_det" : "inverse");
  check_batch<T>(x, what);
  const auto c = context_of<T>(ctx, x.count(), what);
  device_result<S> out{device_batch<S>(T::dim, x.count(), x.order()),
                       thrust::device_vector<S>(LogDet == log_det_output::computed ? std::size_t(x.count()) : 0)};
  const S constant = df.constant_part();
  launch(x.count(), bijector_kernel<Dir, LogDet, P>{df.prepared_pointer(), x.span(), out.values.span(),
                                                     thrust::raw_pointer_cast(out.log_det.data()), constant, c});
  return out;
}

template <log_prob_output LogProb, sample_temperature Temperature, class T>
device_result<typename T::scalar_type> run_device_sample(const device_flow<T>& df, std::int64_t n, std::uint64_t seed,
                                                         typename T::scalar_type temperature, layout order,
                                                         const device_batch<typename T::scalar_type>* ctx) {
  using S = typename T::scalar_type;
  using P = typename device_flow<T>::prepared_type;
  const char* what = LogProb == log_prob_output::computed ? "sample_and_log_prob" : "sample";
  if constexpr (Temperature == sample_temperature::given) {
    static_assert(can_temper<T>(),
                  "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                  "DiagonalNormal: models of TemperedDistribution)");
    check_device_temperature(temperature, what);
  }
  check_device_sample_count<T>(n, what);
  const auto c = context_of<T>(ctx, n, what);
  device_result<S> out{device_batch<S>(T::dim, n, order),
                       thrust::device_vector<S>(LogProb == log_prob_output::computed ? std::size_t(n) : 0)};
  launch(n, sample_kernel<P, LogProb, Temperature>{df.prepared_pointer(), out.values.span(),
                                                    thrust::raw_pointer_cast(out.log_det.data()), seed, temperature,
                                                    df.constant_part(), c});
  return out;
}

template <class T>
thrust::device_vector<typename T::scalar_type> run_device_log_prob(const device_flow<T>& d,
                                                                   const device_batch<typename T::scalar_type>& x,
                                                                   const device_batch<typename T::scalar_type>* ctx) {
  static_assert(Distribution<T> || ConditionalDistribution<T>,
                "flowtmpl: device log_prob takes a distribution (a bijector has forward_and_log_det instead)");
  using S = typename T::scalar_type;
  using P = typename device_flow<T>::prepared_type;
  check_batch<T>(x, "log_prob");
  const auto c = context_of<T>(ctx, x.count(), "log_prob");
  thrust::device_vector<S> out(std::size_t(x.count()));
  launch(x.count(), log_prob_kernel<P>{d.prepared_pointer(), x.span(), thrust::raw_pointer_cast(out.data()),
                                       d.constant_part(), c});
  return out;
}

}  // namespace detail

// ---- entry points ------------------------------------------------------------------
// A flow that reads a context takes it as a device_batch after the input (after the seed
// for sampling); one that reads none takes none. Calling either the other way is a
// compile-time error in words (diagnostics.hpp), as on the host.

template <class T>
device_batch<typename T::scalar_type> forward(exec::device_t, const device_flow<T>& b,
                                              const device_batch<typename T::scalar_type>& x) {
  return detail::run_without_context<T, device_batch<typename T::scalar_type>>([&] {
    return detail::run_device_bijector<direction::forward, detail::log_det_output::skipped>(b, x, nullptr).values;
  });
}
template <class T>
device_batch<typename T::scalar_type> forward(exec::device_t, const device_flow<T>& b,
                                              const device_batch<typename T::scalar_type>& x,
                                              const device_batch<typename T::scalar_type>& ctx) {
  return detail::run_with_context<T, device_batch<typename T::scalar_type>>([&] {
    return detail::run_device_bijector<direction::forward, detail::log_det_output::skipped>(b, x, &ctx).values;
  });
}
template <class T>
device_batch<typename T::scalar_type> inverse(exec::device_t, const device_flow<T>& b,
                                              const device_batch<typename T::scalar_type>& y) {
  return detail::run_without_context<T, device_batch<typename T::scalar_type>>([&] {
    return detail::run_device_bijector<direction::inverse, detail::log_det_output::skipped>(b, y, nullptr).values;
  });
}
template <class T>
device_batch<typename T::scalar_type> inverse(exec::device_t, const device_flow<T>& b,
                                              const device_batch<typename T::scalar_type>& y,
                                              const device_batch<typename T::scalar_type>& ctx) {
  return detail::run_with_context<T, device_batch<typename T::scalar_type>>([&] {
    return detail::run_device_bijector<direction::inverse, detail::log_det_output::skipped>(b, y, &ctx).values;
  });
}
template <class T>
device_result<typename T::scalar_type> forward_and_log_det(exec::device_t, const device_flow<T>& b,
                                                           const device_batch<typename T::scalar_type>& x) {
  return detail::run_without_context<T, device_result<typename T::scalar_type>>([&] {
    return detail::run_device_bijector<direction::forward, detail::log_det_output::computed>(b, x, nullptr);
  });
}
template <class T>
device_result<typename T::scalar_type> forward_and_log_det(exec::device_t, const device_flow<T>& b,
                                                           const device_batch<typename T::scalar_type>& x,
                                                           const device_batch<typename T::scalar_type>& ctx) {
  return detail::run_with_context<T, device_result<typename T::scalar_type>>([&] {
    return detail::run_device_bijector<direction::forward, detail::log_det_output::computed>(b, x, &ctx);
  });
}
template <class T>
device_result<typename T::scalar_type> inverse_and_log_det(exec::device_t, const device_flow<T>& b,
                                                           const device_batch<typename T::scalar_type>& y) {
  return detail::run_without_context<T, device_result<typename T::scalar_type>>([&] {
    return detail::run_device_bijector<direction::inverse, detail::log_det_output::computed>(b, y, nullptr);
  });
}
template <class T>
device_result<typename T::scalar_type> inverse_and_log_det(exec::device_t, const device_flow<T>& b,
                                                           const device_batch<typename T::scalar_type>& y,
                                                           const device_batch<typename T::scalar_type>& ctx) {
  return detail::run_with_context<T, device_result<typename T::scalar_type>>([&] {
    return detail::run_device_bijector<direction::inverse, detail::log_det_output::computed>(b, y, &ctx);
  });
}

template <class T>
thrust::device_vector<typename T::scalar_type> log_prob(exec::device_t, const device_flow<T>& d,
                                                        const device_batch<typename T::scalar_type>& x) {
  return detail::run_without_context<T, thrust::device_vector<typename T::scalar_type>>(
      [&] { return detail::run_device_log_prob(d, x, nullptr); });
}
template <class T>
thrust::device_vector<typename T::scalar_type> log_prob(exec::device_t, const device_flow<T>& d,
                                                        const device_batch<typename T::scalar_type>& x,
                                                        const device_batch<typename T::scalar_type>& ctx) {
  return detail::run_with_context<T, thrust::device_vector<typename T::scalar_type>>(
      [&] { return detail::run_device_log_prob(d, x, &ctx); });
}

template <class T>
device_batch<typename T::scalar_type> sample(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                             std::uint64_t seed, layout order = default_device_layout) {
  return detail::run_without_context<T, device_batch<typename T::scalar_type>>([&] {
    return detail::run_device_sample<detail::log_prob_output::skipped, detail::sample_temperature::none>(
               d, n, seed, typename T::scalar_type(1), order, nullptr).values;
  });
}
template <class T>
device_batch<typename T::scalar_type> sample(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                             std::uint64_t seed, typename T::scalar_type temperature,
                                             layout order = default_device_layout) {
  return detail::run_without_context<T, device_batch<typename T::scalar_type>>([&] {
    return detail::run_device_sample<detail::log_prob_output::skipped, detail::sample_temperature::given>(
               d, n, seed, temperature, order, nullptr).values;
  });
}
template <class T>
device_batch<typename T::scalar_type> sample(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                             std::uint64_t seed, const device_batch<typename T::scalar_type>& ctx,
                                             layout order = default_device_layout) {
  return detail::run_with_context<T, device_batch<typename T::scalar_type>>([&] {
    return detail::run_device_sample<detail::log_prob_output::skipped, detail::sample_temperature::none>(
               d, n, seed, typename T::scalar_type(1), order, &ctx).values;
  });
}
template <class T>
device_batch<typename T::scalar_type> sample(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                             std::uint64_t seed, const device_batch<typename T::scalar_type>& ctx,
                                             typename T::scalar_type temperature, layout order = default_device_layout) {
  return detail::run_with_context<T, device_batch<typename T::scalar_type>>([&] {
    return detail::run_device_sample<detail::log_prob_output::skipped, detail::sample_temperature::given>(
               d, n, seed, temperature, order, &ctx).values;
  });
}
template <class T>
device_result<typename T::scalar_type> sample_and_log_prob(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                                           std::uint64_t seed, layout order = default_device_layout) {
  return detail::run_without_context<T, device_result<typename T::scalar_type>>([&] {
    return detail::run_device_sample<detail::log_prob_output::computed, detail::sample_temperature::none>(
        d, n, seed, typename T::scalar_type(1), order, nullptr);
  });
}
template <class T>
device_result<typename T::scalar_type> sample_and_log_prob(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                                           std::uint64_t seed, typename T::scalar_type temperature,
                                                           layout order = default_device_layout) {
  return detail::run_without_context<T, device_result<typename T::scalar_type>>([&] {
    return detail::run_device_sample<detail::log_prob_output::computed, detail::sample_temperature::given>(
        d, n, seed, temperature, order, nullptr);
  });
}
template <class T>
device_result<typename T::scalar_type> sample_and_log_prob(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                                           std::uint64_t seed,
                                                           const device_batch<typename T::scalar_type>& ctx,
                                                           layout order = default_device_layout) {
  return detail::run_with_context<T, device_result<typename T::scalar_type>>([&] {
    return detail::run_device_sample<detail::log_prob_output::computed, detail::sample_temperature::none>(
        d, n, seed, typename T::scalar_type(1), order, &ctx);
  });
}
template <class T>
device_result<typename T::scalar_type> sample_and_log_prob(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                                           std::uint64_t seed,
                                                           const device_batch<typename T::scalar_type>& ctx,
                                                           typename T::scalar_type temperature,
                                                           layout order = default_device_layout) {
  return detail::run_with_context<T, device_result<typename T::scalar_type>>([&] {
    return detail::run_device_sample<detail::log_prob_output::computed, detail::sample_temperature::given>(
        d, n, seed, temperature, order, &ctx);
  });
}

}  // namespace flowtmpl
