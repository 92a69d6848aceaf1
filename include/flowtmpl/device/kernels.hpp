// flowtmpl/device/kernels.hpp: the fused per-sample kernels of the device backend:
// functors that thrust::for_each calls once per sample index j (FLOWTMPL_HOST_DEVICE,
// so nvcc compiles them for the GPU). Each holds pointers (the prepared flow, input,
// outputs), the batch's strides and constants, loads its sample into a fixed-size Eigen
// vector, runs the whole chain inlined (the layers' per-sample path), and stores:
//   bijector_kernel<Dir, LogDet, B>       y_j = f(x_j) or f^-1(x_j) (Dir), with the
//       log-det (the input-dependent part plus the constant, as the host) when LogDet
//       is log_det_output::computed
//   log_prob_kernel<F>                    log p(x_j)
//   sample_kernel<F, LogProb, Temperature>   the draw from philox_stream(seed, j), at
//       a temperature when Temperature is sample_temperature::given, with log p when
//       LogProb is log_prob_output::computed
// A context is read per sample (context_span: its own column, or the one shared).
// Nothing here allocates, throws or reads outside the batch.
// Needs thrust with THRUST_DEVICE_SYSTEM chosen (flowtmpl/device.hpp).
#pragma once

#include <cstdint>

#include "../config.hpp"
#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../host/batch.hpp"
#include "../random.hpp"
#include "device_batch.hpp"

namespace flowtmpl {
namespace detail {

// What the kernels write besides the values.
enum class log_det_output { skipped, computed };   // bijector_kernel: the log-det
enum class log_prob_output { skipped, computed };  // sample_kernel: log p of the draw
// Whether a sample is drawn at a temperature (the base's scale times T).
enum class sample_temperature { none, given };

template <class T>
concept has_context = requires { T::context_dim; } && (T::context_dim > 0);
template <class T>
inline constexpr int context_rows_v = [] {
  if constexpr (has_context<T>)
    return int(T::context_dim);
  else
    return 1;
}();

template <class S, int D>
FLOWTMPL_HOST_DEVICE Eigen::Matrix<S, D, 1> load(const batch_span<const S>& x, std::int64_t j) {
  Eigen::Matrix<S, D, 1> v;
  for (int i = 0; i < D; ++i) v[i] = x(i, j);
  return v;
}
template <class S, int D>
FLOWTMPL_HOST_DEVICE void store(const batch_span<S>& x, std::int64_t j, const Eigen::Matrix<S, D, 1>& v) {
  for (int i = 0; i < D; ++i) x(i, j) = v[i];
}

// The context of sample j: its own column, or the shared one.
template <class S, int C>
struct context_span {
  batch_span<const S> span{nullptr, 0, 0};
  bool shared = true;
  FLOWTMPL_HOST_DEVICE Eigen::Matrix<S, C, 1> at(std::int64_t j) const { return load<S, C>(span, shared ? 0 : j); }
};

// ---- the fused kernels: one call per sample, the whole chain inlined ---------------

template <direction Dir, log_det_output LogDet, class B>
struct bijector_kernel {
  using S = typename B::scalar_type;
  static constexpr int D = B::dim;
  const B* b;
  batch_span<const S> x;
  batch_span<S> y;
  S* log_det;
  S constant;
  context_span<S, context_rows_v<B>> ctx;
  FLOWTMPL_HOST_DEVICE void operator()(std::int64_t j) const {
    const Eigen::Matrix<S, D, 1> v = load<S, D>(x, j);
    if constexpr (has_context<B>) {
      const auto c = ctx.at(j);
      const auto r = Dir == direction::forward ? flowtmpl::forward_and_log_det(*b, v, c) : flowtmpl::inverse_and_log_det(*b, v, c);
      store<S, D>(y, j, r.value);
      if constexpr (LogDet == log_det_output::computed) log_det[j] = r.log_det;
    } else if constexpr (LogDet == log_det_output::computed) {
      const auto r = Dir == direction::forward ? forward_varying(*b, v) : inverse_varying(*b, v);
      store<S, D>(y, j, r.value);
      log_det[j] = Dir == direction::forward ? r.log_det + constant : r.log_det - constant;
    } else {
      store<S, D>(y, j, Dir == direction::forward ? b->forward(v) : b->inverse(v));
    }
  }
};

template <class F>
struct log_prob_kernel {
  using S = typename F::scalar_type;
  static constexpr int D = F::dim;
  const F* f;
  batch_span<const S> x;
  S* out;
  S constant;
  context_span<S, context_rows_v<F>> ctx;
  FLOWTMPL_HOST_DEVICE void operator()(std::int64_t j) const {
    const Eigen::Matrix<S, D, 1> v = load<S, D>(x, j);
    if constexpr (has_context<F>) {
      out[j] = f->log_prob(v, ctx.at(j));
    } else if constexpr (is_flow_distribution<F>::value) {
      // As the host: z = f^-1(x) with the input-dependent log-det, plus the constant part.
      const auto r = inverse_varying(f->transform, v);
      out[j] = f->base.log_prob(r.value) + (r.log_det - constant);
    } else {
      out[j] = f->log_prob(v);
    }
  }
};

template <class F, log_prob_output LogProb, sample_temperature Temperature>
struct sample_kernel {
  using S = typename F::scalar_type;
  static constexpr int D = F::dim;
  const F* f;
  batch_span<S> y;
  S* log_prob;
  std::uint64_t seed;
  S temperature;
  S constant;
  context_span<S, context_rows_v<F>> ctx;

  FLOWTMPL_HOST_DEVICE Eigen::Matrix<S, D, 1> base_draw(philox_stream& rng) const {
    if constexpr (Temperature == sample_temperature::given)
      return f->base.sample(rng, temperature);
    else
      return f->base.sample(rng);
  }
  FLOWTMPL_HOST_DEVICE S base_log_prob(const Eigen::Matrix<S, D, 1>& z) const {
    if constexpr (Temperature == sample_temperature::given)
      return f->base.log_prob(z, temperature);
    else
      return f->base.log_prob(z);
  }
  FLOWTMPL_HOST_DEVICE void operator()(std::int64_t j) const {
    philox_stream rng(seed, std::uint64_t(j));
    if constexpr (is_flow_distribution<F>::value) {
      const Eigen::Matrix<S, D, 1> z = base_draw(rng);
      if constexpr (has_context<F>) {
        const auto r = flowtmpl::forward_and_log_det(f->transform, z, ctx.at(j));
        store<S, D>(y, j, r.value);
        if constexpr (LogProb == log_prob_output::computed) log_prob[j] = base_log_prob(z) - r.log_det;
      } else {
        const auto r = forward_varying(f->transform, z);
        store<S, D>(y, j, r.value);
        if constexpr (LogProb == log_prob_output::computed) log_prob[j] = base_log_prob(z) - (r.log_det + constant);
      }
    } else {
      Eigen::Matrix<S, D, 1> v;
      if constexpr (Temperature == sample_temperature::given)
        v = f->sample(rng, temperature);
      else
        v = f->sample(rng);
      store<S, D>(y, j, v);
      if constexpr (LogProb == log_prob_output::computed) {
        if constexpr (Temperature == sample_temperature::given)
          log_prob[j] = f->log_prob(v, temperature);
        else
          log_prob[j] = f->log_prob(v);
      }
    }
  }
};

}  // namespace detail
}  // namespace flowtmpl
