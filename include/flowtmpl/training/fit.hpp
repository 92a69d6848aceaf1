// flowtmpl/training/fit.hpp: minibatch maximum-likelihood training of a bound flow
// distribution on the host, on one process (mpi/fit.hpp: the same over MPI).
//
//   fit(flow, train, valid, options) -> fit_result   (valid may have 0 columns)
//   fit(flow, train, options)                          without validation data
//   fit(flow, conditional_data<F>(X, Ctx), conditional_data<F>(Xv, Cv), options)
//   fit(flow, conditional_data<F>(X, Ctx), options)    a conditional flow: each sample
//       with its context (training/conditional_data.hpp), in its minibatch and in the
//       validation loss
// The loop (training/fit_loop.hpp): each epoch shuffles the training columns with
// philox_stream(seed, epoch) (a seeded Fisher-Yates), then takes batches of
// options.batch_size: nll_and_gradient (training/losses.hpp), optional global-norm
// clipping, one step of adam or sgd (training/optimizers.hpp) at the learning rate of
// options.schedule (training/schedules.hpp) or options.learning_rate, then
// after_optimizer_step (training/layer_hooks.hpp: a residual layer's power iteration).
// The validation loss (mean NLL of valid) is computed after each epoch; with patience > 0
// training stops when it has not improved for that many epochs and the best parameters
// are restored. Progress: one line per epoch on stderr (training/progress.hpp) unless
// options.on_progress replaces it or options.quiet. ActNorm layers are initialised from
// the first batch (flowtmpl::initialize) unless options.initialize_actnorm is false.
// Checkpoints and resuming: options.on_checkpoint / options.resume
// (training/fit_state.hpp; io/checkpoint.hpp keeps them in files).
// Non-finite guard: a loss, gradient or updated parameter that is not finite stops
// training before the update is kept; the result says which step, which sample or
// which parameter (its name, from for_each_parameter), and for a sample the layer
// where its value first became non-finite (checked mode); the parameters are those
// before that step. A non-finite validation loss stops training after its epoch and
// names the validation sample and layer the same way (the best epoch's parameters are
// restored when there is one).
// Memory: train and valid are read in place (an expression without a column-major
// layout is evaluated once), one batch (and its contexts), one gradient, three flat
// vectors of the parameters (values, gradient, best) and the optimizer's state.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../detail/eigen.hpp"

#include "../differentiable.hpp"
#include "../errors.hpp"
#include "../host/batch.hpp"
#include "../host/conditional_entry_points.hpp"
#include "../host/bijector_entry_points.hpp"
#include "../host/distribution_entry_points.hpp"
#include "../host/initialize.hpp"
#include "../parameters.hpp"
#include "conditional_data.hpp"
#include "fit_loop.hpp"
#include "fit_state.hpp"
#include "losses.hpp"

namespace flowtmpl {

namespace detail {

// The context's values of column j of a context batch (C x N or C x 1), or nullptr.
template <class CR>
const auto* context_of(const CR* ctx, Eigen::Index j) {
  return ctx ? ctx->col(context_column(*ctx, j)).data() : nullptr;
}

// fit_loop's engine on one process (training/fit_loop.hpp). train and valid: the
// samples (D x N refs); train_c and valid_c: their context batches (C x N or C x 1)
// for a conditional flow, else nullptr.
template <class F, class XR, class CR>
class local_fit_engine {
  using S = typename F::scalar_type;
  static constexpr bool conditional = context_dim_of<F>() > 0;
  static constexpr int C = conditional ? context_dim_of<F>() : 1;

 public:
  local_fit_engine(const XR& train, const CR* train_c, const XR& valid, const CR* valid_c)
      : train_(train), train_c_(train_c), valid_(valid), valid_c_(valid_c) {}
  Eigen::Index train_count() const { return train_.cols(); }
  Eigen::Index valid_count() const { return valid_.cols(); }
  static bool root() { return true; }

  void load(const std::vector<Eigen::Index>& order, Eigen::Index first, Eigen::Index count) {
    samples_.assign(order.begin() + first, order.begin() + first + count);
    batch_.resize(F::dim, count);
    for (Eigen::Index j = 0; j < count; ++j) batch_.col(j) = train_.col(samples_[std::size_t(j)]);
    if constexpr (conditional) {
      batch_c_.resize(C, count);
      for (Eigen::Index j = 0; j < count; ++j)
        batch_c_.col(j) = train_c_->col(context_column(*train_c_, samples_[std::size_t(j)]));
    }
  }
  void initialize(F& flow) const {
    if constexpr (conditional)
      flowtmpl::initialize(flow, batch_, batch_c_);
    else
      flowtmpl::initialize(flow, batch_);
  }
  S loss_and_gradient(const F& flow, F& grad, S* g) {
    S loss;
    if constexpr (conditional)
      loss = nll_and_gradient(flow, batch_, batch_c_, grad, &lp_);
    else
      loss = nll_and_gradient(flow, batch_, grad, &lp_);
    if constexpr (parameter_count_v<F> > 0) copy_parameters(grad, g);
    return loss;
  }
  std::string bad_training_sample(const F& flow) const {
    return first_bad_sample(flow, batch_, lp_, &samples_, 0, "training", [&](Eigen::Index j) {
      return conditional ? batch_c_.col(j).data() : static_cast<const S*>(nullptr);
    });
  }
  double validation(const F& flow, std::string* why) const {
    row_t<S> vlp;
    if constexpr (conditional)
      vlp = log_prob(flow, valid_, *valid_c_);
    else
      vlp = log_prob(flow, valid_);
    const double vloss = -double(vlp.template cast<double>().mean());
    if (!std::isfinite(vloss))
      *why = first_bad_sample(flow, valid_, vlp, nullptr, 0, "validation",
                              [&](Eigen::Index j) { return context_of(valid_c_, j); });
    return vloss;
  }

 private:
  const XR& train_;
  const CR* train_c_;
  const XR& valid_;
  const CR* valid_c_;
  std::vector<Eigen::Index> samples_;
  batch_t<S, F::dim> batch_;
  Eigen::Matrix<S, C, Eigen::Dynamic> batch_c_;
  row_t<S> lp_;
};

template <class F, class XR, class CR>
fit_result fit_impl(F& flow, const XR& train, const CR* train_c, const XR& valid, const CR* valid_c,
                    const fit_options& opt) {
  local_fit_engine<F, XR, CR> engine(train, train_c, valid, valid_c);
  return fit_loop(flow, engine, opt);
}

}  // namespace detail

// Maximum-likelihood training of flow on the columns of train (D x N); valid may have
// 0 columns (no validation, no early stopping). See the top of this header.
template <class F, class DT, class DV>
  requires(!ConditionalDistribution<F>)
fit_result fit(F& flow, const Eigen::MatrixBase<DT>& train, const Eigen::MatrixBase<DV>& valid,
               const fit_options& opt = {}) {
  using S = typename F::scalar_type;
  const auto t = detail::batch_view<F>(train, "fit (training data)");
  const auto v = detail::batch_view<F>(valid, "fit (validation data)");
  return detail::fit_impl(flow, t, static_cast<const batch_t<S, 1>*>(nullptr), v,
                          static_cast<const batch_t<S, 1>*>(nullptr), opt);
}
// Without validation data.
template <class F, class DT>
  requires(!ConditionalDistribution<F>)
fit_result fit(F& flow, const Eigen::MatrixBase<DT>& train, const fit_options& opt = {}) {
  const batch_t<typename F::scalar_type, F::dim> none(F::dim, 0);
  return fit(flow, train, none, opt);
}

// A conditional flow: the pairs (x, context) of train and valid (conditional_data<F>,
// training/conditional_data.hpp); a minibatch takes each sample with its context, the
// validation loss is the mean of -log p(x | c) over valid. valid may be empty.
template <ConditionalDistribution F>
fit_result fit(F& flow, const conditional_data<F>& train, const conditional_data<F>& valid,
               const fit_options& opt = {}) {
  return detail::fit_impl(flow, train.x(), &train.context(), valid.x(), &valid.context(), opt);
}
template <ConditionalDistribution F>
fit_result fit(F& flow, const conditional_data<F>& train, const fit_options& opt = {}) {
  const batch_t<typename F::scalar_type, F::dim> none_x(F::dim, 0);
  const Eigen::Matrix<typename F::scalar_type, F::context_dim, Eigen::Dynamic> none_c(F::context_dim, 0);
  const conditional_data<F> none(none_x, none_c);
  return fit(flow, train, none, opt);
}
// A conditional flow's samples without their contexts: a compile-time error in words.
template <ConditionalDistribution F, class DT, class... Rest>
fit_result fit(F&, const Eigen::MatrixBase<DT>&, const Rest&...) {
  (void)sizeof(diagnostic::conditional_flow_called_without_its_context<F>);
  return {};
}
}  // namespace flowtmpl
