// flowtmpl/detail/context_check.hpp: the context argument of a per-sample call on a
// conditional layer, chain or flow (b.forward(x, c), d.log_prob(x, c), with_context,
// forward_vjp(b, x, c, ...), ...). Those calls take any Eigen vector expression c;
//   detail::checked_context<S, C, Flow>(c, what)
// gives the C-vector they read: c itself when it is an Eigen::Matrix<S, C, 1>; a copy
// of its C values otherwise, after the checks: another scalar type, or a static size
// other than C x 1, is a compile-time diagnostic naming Flow (diagnostics.hpp); a
// dynamic size other than C x 1 throws shape_error, "<what>: the context has 2
// components, the flow reads 3", what being the function the user called.
#pragma once

#include <type_traits>

#include "eigen.hpp"

#include "../diagnostics.hpp"
#include "../errors.hpp"

namespace flowtmpl::detail {

template <class S, int C, class Flow, class Derived>
FLOWTMPL_HOST_DEVICE decltype(auto) checked_context(const Eigen::MatrixBase<Derived>& c, const char* what) {
  using V = Eigen::Matrix<S, C, 1>;
  constexpr int rows = Derived::RowsAtCompileTime, cols = Derived::ColsAtCompileTime;
  if constexpr (std::is_same_v<Derived, V>) {
    (void)what;
    return static_cast<const V&>(c.derived());
  } else if constexpr (!std::is_same_v<typename Derived::Scalar, S>) {
    (void)sizeof(diagnostic::context_scalar_differs_from_the_flows<typename Derived::Scalar, S, Flow>);
    return V();
  } else if constexpr ((rows != Eigen::Dynamic && rows != C) || (cols != Eigen::Dynamic && cols != 1)) {
    (void)sizeof(diagnostic::context_rows_differ_from_the_flows_context_dim<(cols == 1 ? rows : rows * cols), C, Flow>);
    return V();
  } else {
    if constexpr (rows == Eigen::Dynamic || cols == Eigen::Dynamic) {
      if (c.rows() != C || c.cols() != 1)
        fail_shape(message(what, ": the context has ", c.rows() * c.cols(), c.cols() == 1 ? " components" : " values (",
                           c.cols() == 1 ? "" : message(c.rows(), " x ", c.cols(), ")"), ", the flow reads ", C,
                           " (a context is a vector of C components)"));
    }
    (void)what;
    return V(c);
  }
}

}  // namespace flowtmpl::detail
