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
//   detail::prepared_for_call(b)     flowtmpl::prepare(b) in one heap allocation, read
//       by all the threads of a call; b itself, without a copy, where preparing changes
//       nothing (prepare(b) has b's own type: no layer precomputes anything).
//   detail::context_view<T>(Ctx, n, what)  the same for the context batch of a
//       conditional flow: C x n or C x 1 (one context for all), checked.
//   detail::is_flow_distribution, can_temper: traits of the dispatch.
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

template <class S, int C>
using context_ref = Eigen::Ref<const Eigen::Matrix<S, C, Eigen::Dynamic>, 0, Eigen::OuterStride<>>;

// The context batch of a call on a conditional flow T: C x n (one context per sample)
// or C x 1 (one for all), C = T::context_dim; `what` names the function the user
// called. A wrong scalar or a wrong static row count is a compile-time diagnostic, a
// wrong run-time row or column count throws shape_error.
template <class T, class Derived>
auto context_view(const Eigen::MatrixBase<Derived>& c, Eigen::Index n, const char* what) {
  using S = typename T::scalar_type;
  constexpr int C = context_dim_of<T>() > 0 ? context_dim_of<T>() : 1;
  using R = context_ref<S, C>;
  if constexpr (context_dim_of<T>() == 0) {
    (void)sizeof(diagnostic::flow_without_context_given_a_context<T>);
    return R(Eigen::Matrix<S, C, Eigen::Dynamic>(C, 0));
  } else if constexpr (!std::is_same_v<typename Derived::Scalar, S>) {
    (void)sizeof(diagnostic::context_scalar_differs_from_the_flows<typename Derived::Scalar, S, T>);
    return R(Eigen::Matrix<S, C, Eigen::Dynamic>(C, 0));
  } else if constexpr (Derived::RowsAtCompileTime != Eigen::Dynamic && Derived::RowsAtCompileTime != C) {
    (void)sizeof(diagnostic::context_rows_differ_from_the_flows_context_dim<int(Derived::RowsAtCompileTime), C, T>);
    return R(Eigen::Matrix<S, C, Eigen::Dynamic>(C, 0));
  } else {
    if (c.rows() != C)
      fail_shape(message(what, ": the context has ", c.rows(), " rows, the flow reads ", C,
                         " context components (contexts are columns: C x N, or C x 1 for one context)"));
    if (c.cols() != n && c.cols() != 1)
      fail_shape(message(what, ": the context has ", c.cols(), " columns; it needs one per sample (", n,
                         ") or one for all"));
    return R(c.derived());
  }
}

// A flow whose preparation is a copy of itself, read in place by the threads of a call
// (the copy cost more than a small batch's work: 160 KB for the suite's RealNVP, once
// per call, on one thread).
template <class T>
struct unprepared_view {
  const T* flow;
  const T& operator*() const { return *flow; }
  const T* operator->() const { return flow; }
};

template <class T>
auto prepared_for_call(const T& t) {
  using P = decltype(flowtmpl::prepare(t));
  if constexpr (std::is_same_v<P, T>)
    return unprepared_view<T>{&t};
  else
    return std::make_unique<P>(flowtmpl::prepare(t));
}

template <class T>
struct is_flow_distribution : std::false_type {};
template <class Base, class B>
struct is_flow_distribution<FlowDistribution<Base, B>> : std::true_type {};

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
