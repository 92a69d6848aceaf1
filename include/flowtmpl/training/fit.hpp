// flowtmpl/training/fit.hpp: minibatch maximum-likelihood training of a bound flow
// distribution on the host.
//
//   fit(flow, train, valid, options) -> fit_result   (valid may have 0 columns)
//   fit(flow, train, options)                          without validation data
//   fit(flow, conditional_data<F>(X, Ctx), conditional_data<F>(Xv, Cv), options)
//   fit(flow, conditional_data<F>(X, Ctx), options)    a conditional flow: each sample
//       with its context (training/conditional_data.hpp), in its minibatch and in the
//       validation loss
// Each epoch shuffles the training columns with philox_stream(seed, epoch) (a seeded
// Fisher-Yates), then takes batches of options.batch_size: nll_and_gradient
// (training/losses.hpp), optional global-norm clipping, one step of adam or sgd
// (training/optimizers.hpp) at the learning rate of options.schedule (training/
// schedules.hpp) or options.learning_rate, then after_optimizer_step (training/
// layer_hooks.hpp: a residual layer's power iteration). The validation loss (mean NLL of valid) is
// computed after each epoch; with patience > 0 training stops when it has not improved
// for that many epochs and the best parameters are restored. Progress: one line per
// epoch on stderr (training/progress.hpp) unless options.on_progress replaces it or
// options.quiet. ActNorm layers are initialised from the first batch
// (flowtmpl::initialize) unless options.initialize_actnorm is false.
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
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../detail/eigen.hpp"

#include "../config.hpp"
#include "../differentiable.hpp"
#include "../errors.hpp"
#include "../host/batch.hpp"
#include "../host/checked_mode.hpp"
#include "../host/conditional_entry_points.hpp"
#include "../host/bijector_entry_points.hpp"
#include "../host/distribution_entry_points.hpp"
#include "../host/initialize.hpp"
#include "../parameters.hpp"
#include "../random.hpp"
#include "layer_hooks.hpp"
#include "losses.hpp"
#include "optimizers.hpp"
#include "conditional_data.hpp"
#include "progress.hpp"

namespace flowtmpl {

enum class optimizer_kind { adam, sgd };

struct fit_options {
  int epochs = 100;
  Eigen::Index batch_size = 256;
  long max_steps = 0;               // > 0: stop after this many optimizer steps
  std::uint64_t seed = 0;           // shuffling
  optimizer_kind optimizer = optimizer_kind::adam;
  double learning_rate = 1e-3;
  std::function<double(long)> schedule;  // learning rate at a step; empty: learning_rate
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;  // adam
  double momentum = 0.9;                                            // sgd
  bool nesterov = false;
  double clip_norm = 0;             // > 0: global-norm clipping
  int patience = 0;                 // > 0: early stopping on the validation loss
  bool initialize_actnorm = true;   // flowtmpl::initialize from the first batch
  std::function<void(const fit_progress&)> on_progress;  // empty: a line on stderr per epoch
  bool quiet = false;               // no progress line at all
};

enum class fit_stop { completed, early_stopping, non_finite };

struct fit_result {
  std::vector<double> train_loss, valid_loss;  // per epoch
  int best_epoch = 0;                          // 1-based; 0 without validation
  double best_valid_loss = std::numeric_limits<double>::quiet_NaN();
  long steps = 0;
  fit_stop stop = fit_stop::completed;
  std::string message;  // why training stopped early
  double seconds = 0;
};

namespace detail {

// The name of flat parameter i ("3.conditioner.0.weight[17]").
template <class F>
std::string parameter_name(const F& f, std::size_t index) {
  std::string out;
  std::size_t at = 0;
  for_each_parameter(f, [&](const std::string& name, const auto*, std::size_t k) {
    if (out.empty() && index < at + k) out = message(name, '[', index - at, ']');
    at += k;
  });
  return out;
}

// Why sample x has a non-finite log density: the layer where checked mode stops (ctx:
// the sample's context for a conditional flow, else nullptr).
template <class F>
std::string why_not_finite(const F& flow, const typename F::vec& x, const typename F::scalar_type* ctx) {
#if FLOWTMPL_HAS_EXCEPTIONS
  if constexpr (is_flow_distribution<F>::value) {
    try {
      (void)checked_sample(flow.transform, direction::inverse, x, 0, ctx);
    } catch (const domain_error& e) {
      return e.what();
    } catch (const std::exception&) {
    }
  }
#endif
  (void)flow;
  (void)x;
  (void)ctx;
  return "every layer gave finite values; the base distribution's log density is not finite";
}

// The context's values of column j of a context batch (C x N or C x 1), or nullptr.
template <class CR>
const auto* context_of(const CR* ctx, Eigen::Index j) {
  return ctx ? ctx->col(context_column(*ctx, j)).data() : nullptr;
}

}  // namespace detail

namespace detail {

// fit's loop. train and valid: the samples (D x N refs); train_c and valid_c: their
// context batches (C x N or C x 1) for a conditional flow, else nullptr.
template <class F, class XR, class CR>
fit_result fit_impl(F& flow, const XR& train, const CR* train_c, const XR& valid, const CR* valid_c,
                    const fit_options& opt) {
  using S = typename F::scalar_type;
  constexpr std::size_t NP = parameter_count_v<F>;
  constexpr bool conditional = context_dim_of<F>() > 0;
  constexpr int C = conditional ? context_dim_of<F>() : 1;
  const Eigen::Index n = train.cols();
  if (n < 1) detail::fail_shape("fit: the training data has no columns");
  if (opt.batch_size < 1) detail::fail_shape("fit: batch_size must be positive");
  if (opt.epochs < 1) detail::fail_shape("fit: epochs must be positive");
  const Eigen::Index bs = std::min(opt.batch_size, n);
  const long per_epoch = long((n + bs - 1) / bs);
  long total = per_epoch * long(opt.epochs);
  if (opt.max_steps > 0) total = std::min(total, opt.max_steps);

  fit_result res;
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds_since = [](auto t) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(); };

  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) order[std::size_t(i)] = i;
  std::vector<S> params(NP), g(NP), best(NP);
  adam<S> adam_opt{opt.beta1, opt.beta2, opt.eps, opt.weight_decay, {}, {}, 0};
  sgd<S> sgd_opt{opt.momentum, opt.nesterov, {}, false};
  F grad = make_gradient(flow);
  batch_t<S, F::dim> batch(F::dim, bs);
  Eigen::Matrix<S, C, Eigen::Dynamic> batch_c(C, conditional ? bs : 0);
  Eigen::Matrix<S, 1, Eigen::Dynamic> lp;
  int since_best = 0;
  long step = 0;
  long samples_done = 0;

  for (int epoch = 0; epoch < opt.epochs && step < total; ++epoch) {
    // seeded Fisher-Yates
    philox_stream rng(opt.seed, std::uint64_t(epoch));
    for (Eigen::Index i = n - 1; i > 0; --i) {
      const Eigen::Index j = Eigen::Index((std::uint64_t(rng.next_u32()) * std::uint64_t(i + 1)) >> 32);
      std::swap(order[std::size_t(i)], order[std::size_t(j)]);
    }
    double epoch_loss = 0;
    long epoch_batches = 0;
    for (Eigen::Index first = 0; first < n && step < total; first += bs) {
      const Eigen::Index count = std::min(bs, n - first);
      batch.resize(F::dim, count);
      for (Eigen::Index j = 0; j < count; ++j) batch.col(j) = train.col(order[std::size_t(first + j)]);
      S loss;
      if constexpr (conditional) {
        batch_c.resize(C, count);
        for (Eigen::Index j = 0; j < count; ++j)
          batch_c.col(j) = train_c->col(context_column(*train_c, order[std::size_t(first + j)]));
        if (step == 0 && opt.initialize_actnorm) initialize(flow, batch, batch_c);
        loss = nll_and_gradient(flow, batch, batch_c, grad, &lp);
      } else {
        if (step == 0 && opt.initialize_actnorm) initialize(flow, batch);
        loss = nll_and_gradient(flow, batch, grad, &lp);
      }
      auto stop_here = [&](std::string why) {
        res.stop = fit_stop::non_finite;
        res.message = detail::message("step ", step, " (epoch ", epoch + 1, "): ", why,
                                      "; training stopped, the parameters are those before this step");
      };
      if (!std::isfinite(double(loss))) {
        Eigen::Index bad = 0;
        while (bad < count && std::isfinite(double(lp[bad]))) ++bad;
        if (bad == count) bad = 0;
        stop_here(detail::message("the loss is not finite (", double(loss), "): sample ", order[std::size_t(first + bad)],
                                  " of the training data has log_prob ", double(lp[bad]), ": ",
                                  detail::why_not_finite(flow, typename F::vec(batch.col(bad)),
                                                         conditional ? batch_c.col(bad).data() : nullptr)));
        break;
      }
      if constexpr (NP > 0) {
        copy_parameters(grad, g.data());
        for (std::size_t i = 0; i < NP; ++i)
          if (!std::isfinite(double(g[i]))) {
            stop_here(detail::message("the gradient of parameter ", detail::parameter_name(flow, i), " is ", double(g[i])));
            break;
          }
        if (res.stop == fit_stop::non_finite) break;
        if (opt.clip_norm > 0) clip_grad_norm(g.data(), NP, opt.clip_norm);
        copy_parameters(flow, params.data());
        const double lr = opt.schedule ? opt.schedule(step) : opt.learning_rate;
        if (opt.optimizer == optimizer_kind::adam)
          adam_opt.step(params.data(), g.data(), NP, lr);
        else
          sgd_opt.step(params.data(), g.data(), NP, lr);
        for (std::size_t i = 0; i < NP; ++i)
          if (!std::isfinite(double(params[i]))) {
            stop_here(detail::message("the update makes parameter ", detail::parameter_name(flow, i), " ", double(params[i]),
                                      " (learning rate ", lr, ")"));
            break;
          }
        if (res.stop == fit_stop::non_finite) break;
        assign_parameters(flow, params.data());
        after_optimizer_step(flow, step);  // layer_hooks.hpp: a residual layer's spectral norm
      }
      epoch_loss += double(loss);
      ++epoch_batches;
      ++step;
      samples_done += long(count);
    }
    if (res.stop == fit_stop::non_finite) break;
    res.train_loss.push_back(epoch_loss / double(std::max(epoch_batches, 1L)));
    double vloss = std::numeric_limits<double>::quiet_NaN();
    if (valid.cols() > 0) {
      row_t<S> vlp;
      if constexpr (conditional)
        vlp = log_prob(flow, valid, *valid_c);
      else
        vlp = log_prob(flow, valid);
      vloss = -double(vlp.template cast<double>().mean());
      res.valid_loss.push_back(vloss);
      if (!std::isfinite(vloss)) {
        Eigen::Index bad = 0;
        while (bad < valid.cols() && std::isfinite(double(vlp[bad]))) ++bad;
        if (bad == valid.cols()) bad = 0;
        res.stop = fit_stop::non_finite;
        res.message = detail::message("epoch ", epoch + 1, " (after step ", step, "): the validation loss is not finite (",
                                      vloss, "): sample ", bad, " of the validation data has log_prob ",
                                      double(vlp[bad]), ": ",
                                      detail::why_not_finite(flow, typename F::vec(valid.col(bad)),
                                                             context_of(valid_c, bad)),
                                      "; training stopped",
                                      res.best_epoch > 0 ? detail::message(", the parameters of epoch ", res.best_epoch,
                                                                           " (the best validation loss) are restored")
                                                         : std::string(", the parameters are those after this epoch"));
        if (res.best_epoch > 0 && NP > 0) assign_parameters(flow, best.data());
        break;
      }
      if (std::isnan(res.best_valid_loss) || vloss < res.best_valid_loss) {
        res.best_valid_loss = vloss;
        res.best_epoch = epoch + 1;
        since_best = 0;
        if constexpr (NP > 0) copy_parameters(flow, best.data());
      } else {
        ++since_best;
      }
    }
    const double elapsed = seconds_since(t0);
    fit_progress p;
    p.epoch = epoch + 1;
    p.epochs = opt.epochs;
    p.step = step;
    p.total_steps = total;
    p.train_loss = res.train_loss.back();
    p.valid_loss = vloss;
    p.learning_rate = opt.schedule ? opt.schedule(std::max(step - 1, 0L)) : opt.learning_rate;
    p.samples_per_second = elapsed > 0 ? double(samples_done) / elapsed : 0;
    p.eta_seconds = step > 0 ? elapsed / double(step) * double(total - step) : 0;
    if (opt.on_progress)
      opt.on_progress(p);
    else if (!opt.quiet)
      detail::print_progress(p);
    if (opt.patience > 0 && valid.cols() > 0 && since_best >= opt.patience) {
      res.stop = fit_stop::early_stopping;
      res.message = detail::message("early stopping: the validation loss has not improved for ", opt.patience,
                                    " epochs; the parameters of epoch ", res.best_epoch, " are restored");
      break;
    }
  }
  // (a failing step never assigned its update: the parameters are those before it)
  if (res.stop == fit_stop::non_finite && !opt.quiet) std::fprintf(stderr, "flowtmpl: fit: %s\n", res.message.c_str());
  if (res.stop == fit_stop::early_stopping && NP > 0) assign_parameters(flow, best.data());
  res.steps = step;
  res.seconds = seconds_since(t0);
  return res;
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
