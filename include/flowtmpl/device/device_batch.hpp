// flowtmpl/device/device_batch.hpp: batches in device memory and their transfers.
//
//   device_batch<S> x(D, N, order)   N samples of dimension D in one
//       thrust::device_vector<S> (D * N values), in layout::columns or layout::rows
//       (flowtmpl/exec.hpp; default_device_layout when not given); a non-positive D, a
//       negative N or D N values beyond device_batch_capacity<S>(D) samples (more bytes
//       than a signed 64-bit index reaches) throw shape_error.
//   batch_span<S>        what a kernel holds of a batch: element (i, j) at
//       data[i * row_stride + j * col_stride]
//   device_result<S>     {values, log_det}: a batch and one value per sample
//   to_device(X, order)  a host Eigen matrix (D x N, any expression) copied into a new
//       device_batch (through one host temporary, transposed for layout::rows)
//   to_host(x)           back to the host as D x N, whatever the layout; to_host(v)
//       a device vector as 1 x N
// Needs thrust with THRUST_DEVICE_SYSTEM chosen (flowtmpl/device.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include <thrust/copy.h>
#include <thrust/device_vector.h>

#include "../detail/eigen.hpp"

#include "../config.hpp"
#include "../errors.hpp"
#include "../exec.hpp"

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

// The most samples of dimension dim one device_batch<S> holds: D N values of S within
// PTRDIFF_MAX bytes (the device kernels index with std::int64_t).
template <class S>
constexpr std::int64_t device_batch_capacity(int dim) {
  return std::numeric_limits<std::int64_t>::max() / std::int64_t(sizeof(S)) / std::int64_t(dim < 1 ? 1 : dim);
}

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
    if (count < 0)
      detail::fail_shape(detail::message("device_batch: the number of samples is ", count, "; it must be at least 0"));
    if (count > device_batch_capacity<S>(dim))
      detail::fail_shape(detail::message("device_batch: ", count, " samples of dimension ", dim,
                                         " are more values than one device batch can index (at most ",
                                         device_batch_capacity<S>(dim), " samples)"));
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

}  // namespace flowtmpl
