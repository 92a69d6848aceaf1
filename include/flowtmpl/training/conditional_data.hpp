// flowtmpl/training/conditional_data.hpp: a data set of (x, context) pairs for training
// a conditional flow (fit, training/fit.hpp).
//
//   conditional_data<Flow> data(X, Ctx);
// X is D x N (one sample per column), Ctx is C x N (the context of each sample) or
// C x 1 (one context for all), D and C the flow's dim and context_dim, of the flow's
// scalar type. Both are viewed, not copied, when they are column-major with unit inner
// stride (a Matrix, a block of columns of one, an Eigen::Map over the user's buffer:
//   Eigen::Map<const Eigen::Matrix<float, D, Eigen::Dynamic>> x(theta_buffer, D, N);
// is the user's N x D row-major array); another expression is evaluated once into a
// copy the data set owns. The viewed memory must outlive the data set. A wrong scalar
// or static row count is a compile-time diagnostic (diagnostics.hpp); a wrong run-time
// row count, or a context whose column count is neither N nor 1, throws shape_error
// naming conditional_data. A data set is not copied (it may own a temporary): pass it
// by reference.
#pragma once

#include "../detail/eigen.hpp"

#include "../concepts.hpp"
#include "../host/batch.hpp"

namespace flowtmpl {

template <class Flow>
  requires(ConditionalDistribution<Flow>)
class conditional_data {
 public:
  using scalar_type = typename Flow::scalar_type;
  static constexpr int dim = Flow::dim;
  static constexpr int context_dim = Flow::context_dim;

  template <class DX, class DC>
  conditional_data(const Eigen::MatrixBase<DX>& x, const Eigen::MatrixBase<DC>& context)
      : x_(detail::batch_view<Flow>(x, "conditional_data")),
        context_(detail::context_view<Flow>(context, x.cols(), "conditional_data")) {}
  conditional_data(const conditional_data&) = delete;
  conditional_data& operator=(const conditional_data&) = delete;

  Eigen::Index size() const { return x_.cols(); }
  const detail::batch_ref<scalar_type, dim>& x() const { return x_; }
  const detail::context_ref<scalar_type, context_dim>& context() const { return context_; }

 private:
  detail::batch_ref<scalar_type, dim> x_;
  detail::context_ref<scalar_type, context_dim> context_;
};

}  // namespace flowtmpl
