// flowtmpl/device/gradient.hpp: the gradient of the mean negative log-likelihood on
// the device.
//   nll_and_gradient(exec::device, df, x[, ctx], grad[, log_probs][, options]) -> S
// as nll_and_gradient(flow, X[, Ctx], grad) on the host (ctx exactly when the flow reads
// a context). log_prob_vjp runs per sample; the
// batch is reduced in a fixed order: samples are grouped into slots of
// options.samples_per_slot consecutive samples (128 by default, the host's block),
// each slot accumulated in sample order by one thread into its own gradient, then the
// slots summed in slot order per parameter (read at its byte offset, from
// for_each_parameter on a host copy). The result is the same for any thread count or
// GPU; with 128 per slot it is the host's own reduction order.
// Memory (device): one gradient (sizeof(T)) per slot, made on the device by copying one
// zero gradient's bytes, and the per-sample log densities; (host) a copy of the flow
// and the parameter offsets.
// Needs thrust with THRUST_DEVICE_SYSTEM chosen (flowtmpl/device.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <thrust/copy.h>
#include <thrust/device_vector.h>

#include "../config.hpp"
#include "../detail/eigen.hpp"

#include "../diagnostics.hpp"
#include "../differentiable.hpp"
#include "../errors.hpp"
#include "../exec.hpp"
#include "../parameters.hpp"
#include "device_batch.hpp"
#include "device_flow.hpp"
#include "kernels.hpp"
#include "launch.hpp"

namespace flowtmpl {
namespace detail {

// Byte k of dst is byte k mod size of src: copies of one object.
struct replicate_kernel {
  const unsigned char* src;
  unsigned char* dst;
  std::size_t size;
  FLOWTMPL_HOST_DEVICE void operator()(std::int64_t k) const { dst[k] = src[std::size_t(k) % size]; }
};

// Slot s accumulates the gradient of w * sum log p over its samples, in sample order.
template <class F>
struct nll_slot_kernel {
  using S = typename F::scalar_type;
  static constexpr int D = F::dim;
  const F* f;
  batch_span<const S> x;
  std::int64_t n, per_slot;
  S w;
  F* slots;
  S* slot_sums;
  S* log_probs;
  context_span<S, context_rows_v<F>> ctx;
  FLOWTMPL_HOST_DEVICE void operator()(std::int64_t s) const {
    const std::int64_t first = s * per_slot;
    const std::int64_t end = first + per_slot < n ? first + per_slot : n;
    S acc(0);
    for (std::int64_t j = first; j < end; ++j) {
      const Eigen::Matrix<S, D, 1> v = load<S, D>(x, j);
      S lp;
      if constexpr (has_context<F>) {
        const auto c = ctx.at(j);
        lp = detail::log_prob_vjp_at(*f, v, c.data(), w, slots[s], nullptr);
      } else {
        lp = log_prob_vjp(*f, v, w, slots[s]);
      }
      log_probs[j] = lp;
      acc += lp;
    }
    slot_sums[s] = acc;
  }
};

// Parameter k: the sum over slots, in slot order, of the scalar at byte offset[k].
template <class F>
struct slot_sum_kernel {
  using S = typename F::scalar_type;
  const F* slots;
  std::int64_t count;
  const std::size_t* offset;
  S* out;
  FLOWTMPL_HOST_DEVICE void operator()(std::int64_t k) const {
    S acc(0);
    for (std::int64_t s = 0; s < count; ++s) {
      S v;
      std::memcpy(&v, reinterpret_cast<const unsigned char*>(slots + s) + offset[k], sizeof(S));
      acc += v;
    }
    out[k] = acc;
  }
};

// Byte offsets, within a T, of its parameters in copy_parameters order.
template <class T>
std::vector<std::size_t> parameter_offsets(const T& t) {
  std::vector<std::size_t> off;
  off.reserve(parameter_count_v<T>);
  const auto* base = reinterpret_cast<const unsigned char*>(&t);
  T& m = const_cast<T&>(t);
  for_each_parameter(m, [&](const std::string&, auto* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i)
      off.push_back(std::size_t(reinterpret_cast<const unsigned char*>(p + i) - base));
  });
  return off;
}

}  // namespace detail

struct device_gradient_options {
  // Consecutive samples per reduction slot (each slot is one gradient in device
  // memory); the order of the sum is fixed by this number alone.
  std::int64_t samples_per_slot = 128;
};

// Mean negative log-likelihood of the batch and its gradient into grad (overwritten),
// as nll_and_gradient(flow, X, grad) on the host; per-sample log densities to
// *log_probs when given.
namespace detail {
template <class F>
typename F::scalar_type run_device_nll(const device_flow<F>& df, const device_batch<typename F::scalar_type>& x, F& grad,
                                       thrust::device_vector<typename F::scalar_type>* log_probs,
                                       const device_gradient_options& options,
                                       const device_batch<typename F::scalar_type>* ctx) {
  using S = typename F::scalar_type;
  check_batch<F>(x, "nll_and_gradient");
  const std::int64_t n = x.count();
  if (n < 1) fail_shape("device nll_and_gradient: the batch is empty");
  if (options.samples_per_slot < 1) detail::fail_shape("device nll_and_gradient: samples_per_slot must be at least 1");
  const auto c = detail::context_of<F>(ctx, n, "nll_and_gradient");
  const std::int64_t per = options.samples_per_slot;
  const std::int64_t slots = (n + per - 1) / per;
  const F host_flow = df.get();
  // the slots: copies of a zero gradient, made on the device from one image
  const detail::device_image<F> zero(make_gradient(host_flow));
  thrust::device_vector<unsigned char> slot_bytes(static_cast<std::size_t>(slots) * sizeof(F));
  detail::launch(std::int64_t(slot_bytes.size()),
                 detail::replicate_kernel{reinterpret_cast<const unsigned char*>(zero.pointer()),
                                          thrust::raw_pointer_cast(slot_bytes.data()), sizeof(F)});
  F* parts = reinterpret_cast<F*>(thrust::raw_pointer_cast(slot_bytes.data()));
  thrust::device_vector<S> sums(static_cast<std::size_t>(slots)), lp(static_cast<std::size_t>(n));
  detail::launch(slots, detail::nll_slot_kernel<F>{df.flow_pointer(), x.span(), n, per, S(-1) / S(n),
                                                   parts,
                                                   thrust::raw_pointer_cast(sums.data()),
                                                   thrust::raw_pointer_cast(lp.data()), c});
  grad = host_flow;
  constexpr std::size_t count = parameter_count_v<F>;
  if constexpr (count > 0) {
    const std::vector<std::size_t> offsets = detail::parameter_offsets(host_flow);
    thrust::device_vector<std::size_t> d_offsets(offsets.begin(), offsets.end());
    thrust::device_vector<S> flat(count);
    detail::launch(std::int64_t(count),
                   detail::slot_sum_kernel<F>{parts, slots,
                                              thrust::raw_pointer_cast(d_offsets.data()),
                                              thrust::raw_pointer_cast(flat.data())});
    std::vector<S> h(count);
    thrust::copy(flat.begin(), flat.end(), h.begin());
    assign_parameters(grad, h.data());
  }
  std::vector<S> hs(static_cast<std::size_t>(slots));
  thrust::copy(sums.begin(), sums.end(), hs.begin());
  S total(0);
  for (S s : hs) total += s;
  if (log_probs) *log_probs = std::move(lp);
  return -total / S(n);
}
}  // namespace detail

template <class F>
typename F::scalar_type nll_and_gradient(exec::device_t, const device_flow<F>& df,
                                         const device_batch<typename F::scalar_type>& x, F& grad,
                                         thrust::device_vector<typename F::scalar_type>* log_probs = nullptr,
                                         const device_gradient_options& options = {}) {
  return detail::run_without_context<F, typename F::scalar_type>(
      [&] { return detail::run_device_nll(df, x, grad, log_probs, options, nullptr); });
}
// A conditional flow: the context (C x N, or C x 1 shared) after the data.
template <class F>
typename F::scalar_type nll_and_gradient(exec::device_t, const device_flow<F>& df,
                                         const device_batch<typename F::scalar_type>& x,
                                         const device_batch<typename F::scalar_type>& ctx, F& grad,
                                         thrust::device_vector<typename F::scalar_type>* log_probs = nullptr,
                                         const device_gradient_options& options = {}) {
  return detail::run_with_context<F, typename F::scalar_type>(
      [&] { return detail::run_device_nll(df, x, grad, log_probs, options, &ctx); });
}

}  // namespace flowtmpl
