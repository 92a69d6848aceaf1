// flowtmpl/device.hpp: the thrust device backend.
//
// One code for three thrust systems: THRUST_DEVICE_SYSTEM_CUDA (built with nvcc),
// THRUST_DEVICE_SYSTEM_OMP and THRUST_DEVICE_SYSTEM_CPP (built with any C++20
// compiler; the CMake targets flowtmpl::device_omp and flowtmpl::device_cpp set the
// macro). Include this header after choosing the system, before any other thrust
// header.
//
//   device_flow<T> df(flow)      copies a bound bijector or flow distribution to
//                                device memory once, with its prepared form (what
//                                flowtmpl::prepare gives); df.assign(flow) replaces
//                                the parameters (after an optimizer step), df.get()
//                                copies them back. T must be trivially copyable
//                                (every bound flowtmpl type is).
//   device_batch<S> x(D, N, order)   N samples of dimension D in device memory, in
//                                layout::columns or layout::rows (exec.hpp);
//                                to_device(X, order) copies a host Eigen matrix
//                                (D x N) there, to_host(x) copies back as D x N.
//
// Batch entry points, each one fused thrust::for_each over the samples in which one
// thread evaluates the whole chain for its sample (no kernel per layer, no temporary
// per layer):
//   forward / inverse(exec::device, df, x[, ctx])             -> device_batch
//   forward_and_log_det / inverse_and_log_det(...)            -> device_result
//   log_prob(exec::device, df, x[, ctx])                      -> device_vector<S> (N)
//   sample(exec::device, df, n, seed[, T][, order])           -> device_batch
//   sample_and_log_prob(exec::device, df, n, seed[, T][, order]) -> device_result
//   nll_and_gradient(exec::device, df, x, grad[, log_probs][, options]) -> S
// Outputs of forward / inverse take the input's layout; samples take `order`
// (default_device_layout). A context ctx is a device_batch of C rows and N samples, or
// of 1 sample shared by all. Sample j draws from philox_stream(seed, j) exactly as the
// host backend does, so both backends draw the same base samples for a seed.
//
// Gradients: nll_and_gradient evaluates log_prob_vjp per sample and reduces over the
// batch in a fixed order: samples are grouped into slots of options.samples_per_slot
// consecutive samples (256 by default, the host's block), each slot accumulated in
// sample order by one thread, then the slots summed in slot order per parameter. The
// result is the same for any thread count or GPU; with 256 per slot it is the host's
// own reduction order. Memory: one gradient (sizeof(T)) per slot.
//
// Numerics: evaluation runs the per-sample path of every layer, which is also what the
// host runs for chains without a network. For chains with networks (coupling, MADE),
// the host evaluates a block of samples as matrix-matrix products, which sums in
// another order: the backends then agree to float rounding, not bitwise. Nothing
// here throws on the device; the shape checks of the entry points throw shape_error
// on the host before the launch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include "detail/eigen.hpp"

#include "config.hpp"
#include "core.hpp"
#include "differentiable.hpp"
#include "errors.hpp"
#include "exec.hpp"
#include "host.hpp"
#include "parameters.hpp"
#include "random.hpp"

namespace flowtmpl {

// The layout device batches get when none is given: the one measured faster
// (docs/performance.md, "Device backend": on the OMP system, within noise of the
// other; a GPU measurement is still to be made).
inline constexpr layout default_device_layout = layout::columns;

// A view of a batch: element (i, j) at data[i * row_stride + j * col_stride].
template <class S>
struct batch_span {
  S* data;
  std::int64_t row_stride, col_stride;
  FLOWTMPL_HOST_DEVICE S& operator()(int i, std::int64_t j) const { return data[i * row_stride + j * col_stride]; }
};

template <class S>
class device_batch {
 public:
  device_batch() = default;
  device_batch(int dim, std::int64_t count, layout order = default_device_layout)
      : data_(std::size_t(check_size(dim, count)) * std::size_t(count)), dim_(dim), count_(count), order_(order) {}

  int dim() const { return dim_; }
  std::int64_t count() const { return count_; }
  layout order() const { return order_; }
  S* data() { return thrust::raw_pointer_cast(data_.data()); }
  const S* data() const { return thrust::raw_pointer_cast(data_.data()); }
  thrust::device_vector<S>& storage() { return data_; }
  const thrust::device_vector<S>& storage() const { return data_; }
  batch_span<S> span() { return {data(), row_stride(), col_stride()}; }
  batch_span<const S> span() const { return {data(), row_stride(), col_stride()}; }

 private:
  static int check_size(int dim, std::int64_t count) {
    if (dim < 1) detail::fail_shape("device_batch: the dimension is not positive");
    if (count < 0) detail::fail_shape("device_batch: the number of samples is negative");
    return dim;
  }
  std::int64_t row_stride() const { return order_ == layout::columns ? 1 : count_; }
  std::int64_t col_stride() const { return order_ == layout::columns ? dim_ : 1; }

  thrust::device_vector<S> data_;
  int dim_ = 1;
  std::int64_t count_ = 0;
  layout order_ = default_device_layout;
};

template <class S>
struct device_result {
  device_batch<S> values;
  thrust::device_vector<S> log_det;
};

// A host matrix (D x N, any Eigen expression) in device memory, in the given layout.
template <class Derived>
device_batch<typename Derived::Scalar> to_device(const Eigen::MatrixBase<Derived>& x,
                                                 layout order = default_device_layout) {
  using S = typename Derived::Scalar;
  device_batch<S> out(int(x.rows()), std::int64_t(x.cols()), order);
  if (order == layout::columns) {
    const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> m = x;
    thrust::copy(m.data(), m.data() + m.size(), out.storage().begin());
  } else {
    const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> m = x.transpose();
    thrust::copy(m.data(), m.data() + m.size(), out.storage().begin());
  }
  return out;
}

// Back to the host as D x N, whatever the device layout.
template <class S>
Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> to_host(const device_batch<S>& x) {
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> m(x.order() == layout::columns ? x.dim() : x.count(),
                                                     x.order() == layout::columns ? x.count() : x.dim());
  thrust::copy(x.storage().begin(), x.storage().end(), m.data());
  if (x.order() == layout::rows) m.transposeInPlace();
  return m;
}
template <class S>
Eigen::Matrix<S, 1, Eigen::Dynamic> to_host(const thrust::device_vector<S>& v) {
  Eigen::Matrix<S, 1, Eigen::Dynamic> r(Eigen::Index(v.size()));
  thrust::copy(v.begin(), v.end(), r.data());
  return r;
}

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

namespace detail {

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

template <class F>
void launch(std::int64_t n, const F& f) {
  if (n > 0) thrust::for_each(thrust::device, thrust::counting_iterator<std::int64_t>(0),
                              thrust::counting_iterator<std::int64_t>(n), f);
}

// ---- the fused kernels: one call per sample, the whole chain inlined ---------------

template <bool Forward, bool WithLogDet, class B>
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
      const auto r = Forward ? flowtmpl::forward_and_log_det(*b, v, c) : flowtmpl::inverse_and_log_det(*b, v, c);
      store<S, D>(y, j, r.value);
      if constexpr (WithLogDet) log_det[j] = r.log_det;
    } else if constexpr (WithLogDet) {
      const auto r = Forward ? forward_varying(*b, v) : inverse_varying(*b, v);
      store<S, D>(y, j, r.value);
      log_det[j] = Forward ? r.log_det + constant : r.log_det - constant;
    } else {
      store<S, D>(y, j, Forward ? b->forward(v) : b->inverse(v));
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

template <class F, bool WithLogProb, bool Tempered>
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
    if constexpr (Tempered)
      return f->base.sample(rng, temperature);
    else
      return f->base.sample(rng);
  }
  FLOWTMPL_HOST_DEVICE S base_log_prob(const Eigen::Matrix<S, D, 1>& z) const {
    if constexpr (Tempered)
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
        if constexpr (WithLogProb) log_prob[j] = base_log_prob(z) - r.log_det;
      } else {
        const auto r = forward_varying(f->transform, z);
        store<S, D>(y, j, r.value);
        if constexpr (WithLogProb) log_prob[j] = base_log_prob(z) - (r.log_det + constant);
      }
    } else {
      Eigen::Matrix<S, D, 1> v;
      if constexpr (Tempered)
        v = f->sample(rng, temperature);
      else
        v = f->sample(rng);
      store<S, D>(y, j, v);
      if constexpr (WithLogProb) {
        if constexpr (Tempered)
          log_prob[j] = f->log_prob(v, temperature);
        else
          log_prob[j] = f->log_prob(v);
      }
    }
  }
};

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
        lp = log_prob_vjp(*f, v, w, slots[s], c.data());
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

template <bool Forward, bool WithLogDet, class T>
device_result<typename T::scalar_type> run_device_bijector(const device_flow<T>& df,
                                                           const device_batch<typename T::scalar_type>& x,
                                                           const device_batch<typename T::scalar_type>* ctx) {
  static_assert(Bijector<T> || ConditionalBijector<T>,
                "flowtmpl: device forward / inverse take a bound bijector (a flow distribution has log_prob and "
                "sample instead)");
  using S = typename T::scalar_type;
  using P = typename device_flow<T>::prepared_type;
  const char* what = Forward ? "forward" : "inverse";
  check_batch<T>(x, what);
  const auto c = context_of<T>(ctx, x.count(), what);
  device_result<S> out{device_batch<S>(T::dim, x.count(), x.order()),
                       thrust::device_vector<S>(WithLogDet ? std::size_t(x.count()) : 0)};
  const S constant = df.constant_part();
  launch(x.count(), bijector_kernel<Forward, WithLogDet, P>{df.prepared_pointer(), x.span(), out.values.span(),
                                                             thrust::raw_pointer_cast(out.log_det.data()), constant,
                                                             c});
  return out;
}

template <bool WithLogProb, bool Tempered, class T>
device_result<typename T::scalar_type> run_device_sample(const device_flow<T>& df, std::int64_t n, std::uint64_t seed,
                                                         typename T::scalar_type temperature, layout order,
                                                         const device_batch<typename T::scalar_type>* ctx) {
  using S = typename T::scalar_type;
  using P = typename device_flow<T>::prepared_type;
  if (n < 0) fail_shape("device sample: the number of samples is negative");
  if constexpr (Tempered)
    static_assert(can_temper<T>(),
                  "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                  "DiagonalNormal: models of TemperedDistribution)");
  const auto c = context_of<T>(ctx, n, "sample");
  device_result<S> out{device_batch<S>(T::dim, n, order), thrust::device_vector<S>(WithLogProb ? std::size_t(n) : 0)};
  launch(n, sample_kernel<P, WithLogProb, Tempered>{df.prepared_pointer(), out.values.span(),
                                                     thrust::raw_pointer_cast(out.log_det.data()), seed, temperature,
                                                     df.constant_part(), c});
  return out;
}

}  // namespace detail

// ---- entry points ------------------------------------------------------------------

template <class T>
device_batch<typename T::scalar_type> forward(exec::device_t, const device_flow<T>& b,
                                              const device_batch<typename T::scalar_type>& x,
                                              const device_batch<typename T::scalar_type>* ctx = nullptr) {
  return detail::run_device_bijector<true, false>(b, x, ctx).values;
}
template <class T>
device_batch<typename T::scalar_type> inverse(exec::device_t, const device_flow<T>& b,
                                              const device_batch<typename T::scalar_type>& y,
                                              const device_batch<typename T::scalar_type>* ctx = nullptr) {
  return detail::run_device_bijector<false, false>(b, y, ctx).values;
}
template <class T>
device_result<typename T::scalar_type> forward_and_log_det(exec::device_t, const device_flow<T>& b,
                                                           const device_batch<typename T::scalar_type>& x,
                                                           const device_batch<typename T::scalar_type>* ctx = nullptr) {
  return detail::run_device_bijector<true, true>(b, x, ctx);
}
template <class T>
device_result<typename T::scalar_type> inverse_and_log_det(exec::device_t, const device_flow<T>& b,
                                                           const device_batch<typename T::scalar_type>& y,
                                                           const device_batch<typename T::scalar_type>* ctx = nullptr) {
  return detail::run_device_bijector<false, true>(b, y, ctx);
}

template <class T>
thrust::device_vector<typename T::scalar_type> log_prob(exec::device_t, const device_flow<T>& d,
                                                        const device_batch<typename T::scalar_type>& x,
                                                        const device_batch<typename T::scalar_type>* ctx = nullptr) {
  static_assert(Distribution<T> || ConditionalDistribution<T>,
                "flowtmpl: device log_prob takes a distribution (a bijector has forward_and_log_det instead)");
  using S = typename T::scalar_type;
  using P = typename device_flow<T>::prepared_type;
  detail::check_batch<T>(x, "log_prob");
  const auto c = detail::context_of<T>(ctx, x.count(), "log_prob");
  thrust::device_vector<S> out(std::size_t(x.count()));
  detail::launch(x.count(), detail::log_prob_kernel<P>{d.prepared_pointer(), x.span(),
                                                       thrust::raw_pointer_cast(out.data()), d.constant_part(), c});
  return out;
}

template <class T>
device_batch<typename T::scalar_type> sample(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                             std::uint64_t seed, layout order = default_device_layout,
                                             const device_batch<typename T::scalar_type>* ctx = nullptr) {
  return detail::run_device_sample<false, false>(d, n, seed, typename T::scalar_type(1), order, ctx).values;
}
template <class T>
device_batch<typename T::scalar_type> sample(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                             std::uint64_t seed, typename T::scalar_type temperature,
                                             layout order = default_device_layout,
                                             const device_batch<typename T::scalar_type>* ctx = nullptr) {
  return detail::run_device_sample<false, true>(d, n, seed, temperature, order, ctx).values;
}
template <class T>
device_result<typename T::scalar_type> sample_and_log_prob(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                                           std::uint64_t seed, layout order = default_device_layout,
                                                           const device_batch<typename T::scalar_type>* ctx = nullptr) {
  return detail::run_device_sample<true, false>(d, n, seed, typename T::scalar_type(1), order, ctx);
}
template <class T>
device_result<typename T::scalar_type> sample_and_log_prob(exec::device_t, const device_flow<T>& d, std::int64_t n,
                                                           std::uint64_t seed, typename T::scalar_type temperature,
                                                           layout order = default_device_layout,
                                                           const device_batch<typename T::scalar_type>* ctx = nullptr) {
  return detail::run_device_sample<true, true>(d, n, seed, temperature, order, ctx);
}

struct device_gradient_options {
  // Consecutive samples per reduction slot (each slot is one gradient in device
  // memory); the order of the sum is fixed by this number alone.
  std::int64_t samples_per_slot = 256;
};

// Mean negative log-likelihood of the batch and its gradient into grad (overwritten),
// as nll_and_gradient(flow, X, grad) on the host; per-sample log densities to
// *log_probs when given.
template <class F>
typename F::scalar_type nll_and_gradient(exec::device_t, const device_flow<F>& df,
                                         const device_batch<typename F::scalar_type>& x, F& grad,
                                         thrust::device_vector<typename F::scalar_type>* log_probs = nullptr,
                                         const device_gradient_options& options = {},
                                         const device_batch<typename F::scalar_type>* ctx = nullptr) {
  using S = typename F::scalar_type;
  detail::check_batch<F>(x, "nll_and_gradient");
  const std::int64_t n = x.count();
  if (n < 1) detail::fail_shape("device nll_and_gradient: the batch is empty");
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

}  // namespace flowtmpl
