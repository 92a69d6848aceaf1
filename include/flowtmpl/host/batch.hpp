// flowtmpl/host/batch.hpp: the batch types of the host backend and the view of a
// user's batch.
//
//   batch_t<S, D>        Eigen::Matrix<S, D, Dynamic>: D x N, one sample per column
//   row_t<S>             1 x N, one value per sample (log-dets, log densities)
//   batch_result<S, D>   {values, log_det} of a batch
//   detail::batch_view<T>(x, what)   any Eigen expression as a D x N Ref of T's scalar,
//       without a copy when x has a column-major layout with unit inner stride (a
//       Matrix, a block of one, a Map), else evaluated once into a temporary; a wrong
//       scalar or a wrong static row count is a compile-time diagnostic, a wrong run-time
//       row count throws shape_error.
//   detail::prepared_on_heap(b)      flowtmpl::prepare(b) in one heap allocation, read
//       by all the threads of a call.
//   detail::is_flow_distribution, is_inverse_of, can_temper: traits of the dispatch.
#pragma once

#include <memory>
#include <type_traits>

#include "../detail/eigen.hpp"

#include "../bijectors/inverse.hpp"
#include "../core.hpp"
#include "../distributions/flow_distribution.hpp"
#include "../errors.hpp"

namespace flowtmpl {

template <class S, int D>
using batch_t = Eigen::Matrix<S, D, Eigen::Dynamic>;
template <class S>
using row_t = Eigen::Matrix<S, 1, Eigen::Dynamic>;

template <class S, int D>
struct batch_result {
  batch_t<S, D> values;
  row_t<S> log_det;
};

namespace detail {

template <class S, int D>
using batch_ref = Eigen::Ref<const batch_t<S, D>, 0, Eigen::OuterStride<>>;

template <class T, class Derived>
batch_ref<typename T::scalar_type, T::dim> batch_view(const Eigen::MatrixBase<Derived>& x, const char* what) {
  using S = typename T::scalar_type;
  if constexpr (!std::is_same_v<typename Derived::Scalar, S>) {
    (void)sizeof(diagnostic::batch_scalar_differs_from_the_flows<typename Derived::Scalar, S, T>);
    return batch_ref<S, T::dim>(batch_t<S, T::dim>(T::dim, 0));
  } else if constexpr (Derived::RowsAtCompileTime != Eigen::Dynamic && Derived::RowsAtCompileTime != T::dim) {
    (void)sizeof(diagnostic::batch_rows_differ_from_the_flows_dimension<int(Derived::RowsAtCompileTime), T::dim, T>);
    return batch_ref<S, T::dim>(batch_t<S, T::dim>(T::dim, 0));
  } else {
    if (x.rows() != T::dim)
      fail_shape(message(what, ": the batch has ", x.rows(), " rows, the flow has dimension ", T::dim,
                         " (samples are columns)"));
    return batch_ref<S, T::dim>(x.derived());
  }
}

template <class T>
auto prepared_on_heap(const T& t) {
  using P = decltype(flowtmpl::prepare(t));
  return std::make_unique<P>(flowtmpl::prepare(t));
}

template <class T>
struct is_flow_distribution : std::false_type {};
template <class Base, class B>
struct is_flow_distribution<FlowDistribution<Base, B>> : std::true_type {};

template <class T>
struct is_inverse_of : std::false_type {};
template <class B>
struct is_inverse_of<InverseBijector<B>> : std::true_type {};

// Whether Dist (a distribution, or a flow distribution through its base) can be sampled
// at a temperature.
template <class Dist>
consteval bool can_temper() {
  if constexpr (is_flow_distribution<Dist>::value)
    return TemperedDistribution<typename Dist::base_type>;
  else
    return TemperedDistribution<Dist>;
}

}  // namespace detail
}  // namespace flowtmpl
