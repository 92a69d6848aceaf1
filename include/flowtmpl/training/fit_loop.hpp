// flowtmpl/training/fit_loop.hpp: fit's loop, the same on one process (training/fit.hpp)
// and over MPI (mpi/fit.hpp); what differs is where the data is, given by an engine:
//   e.train_count(), e.valid_count()   the sizes of the whole data sets
//   e.root()                           whether this process prints (progress, failures)
//   e.load(order, first, count)        the batch: positions [first, first + count) of
//                                      order (indices into the whole training set)
//   e.initialize(flow)                 ActNorm's data initialisation from that batch
//                                      (every process ends with the same parameters)
//   e.loss_and_gradient(flow, grad, g) the batch's mean NLL; its gradient, flat, into g
//                                      (the same on every process, bitwise)
//   e.bad_training_sample(flow)        after a non-finite loss: "sample i of the training
//                                      data has log_prob v: <where it stopped being finite>"
//   e.validation(flow, &why)           the mean NLL of the validation data; why is set
//                                      as above when it is not finite
// Each epoch shuffles the whole training set's indices with philox_stream(seed, epoch)
// (a seeded Fisher-Yates over the previous epoch's order), then takes batches of
// batch_size: loss and gradient, optional global-norm clipping, one optimizer step at
// the schedule's learning rate, after_optimizer_step (training/layer_hooks.hpp). The
// non-finite guard and early stopping are decided from values every process holds
// equal, so every process stops at the same step with the same message.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../detail/eigen.hpp"

#include "../config.hpp"
#include "../differentiable.hpp"
#include "../errors.hpp"
#include "../host/checked_mode.hpp"
#include "../parameters.hpp"
#include "../random.hpp"
#include "fit_state.hpp"
#include "jump_detector.hpp"
#include "layer_hooks.hpp"
#include "optimizers.hpp"
#include "progress.hpp"

namespace flowtmpl {
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

// "sample i of the <set> data has log_prob v: <why>" for sample x (index i of its set)
// with context ctx (nullptr without): one wording for one process and for MPI's.
template <class F>
std::string bad_sample_text(const F& flow, Eigen::Index index, double log_prob, const typename F::vec& x,
                            const typename F::scalar_type* ctx, const char* set) {
  return message("sample ", index, " of the ", set, " data has log_prob ", log_prob, ": ", why_not_finite(flow, x, ctx));
}

// The same for the first non-finite entry of lp
// (entry 0 when none is), samples[k] its index in the data set.
template <class F, class XB, class LP, class CtxAt>
std::string first_bad_sample(const F& flow, const XB& X, const LP& lp, const std::vector<Eigen::Index>* samples,
                             Eigen::Index offset, const char* set, CtxAt&& ctx_at) {
  Eigen::Index bad = 0;
  while (bad < lp.size() && std::isfinite(double(lp[bad]))) ++bad;
  if (bad == lp.size()) bad = 0;
  const Eigen::Index index = samples ? (*samples)[std::size_t(bad)] : offset + bad;
  return bad_sample_text(flow, index, double(lp[bad]), typename F::vec(X.col(bad)), ctx_at(bad), set);
}

template <class S>
void to_double(const std::vector<S>& in, std::vector<double>& out) {
  out.assign(in.begin(), in.end());
}

// Throws argument_error ("fit: ...") for an option outside its domain.
inline void check_fit_options(const fit_options& opt) {
  auto bad = [](const char* name, double v, const char* domain) {
    fail_argument(message("fit: options.", name, " is ", v, "; it must be ", domain));
  };
  auto finite_at_least = [&](const char* name, double v, double low, const char* domain) {
    if (!(std::isfinite(v) && v >= low)) bad(name, v, domain);
  };
  if (!opt.schedule && !(std::isfinite(opt.learning_rate) && opt.learning_rate > 0))
    bad("learning_rate", opt.learning_rate, "finite and positive");
  if (!(opt.beta1 >= 0 && opt.beta1 < 1)) bad("beta1", opt.beta1, "in [0, 1)");
  if (!(opt.beta2 >= 0 && opt.beta2 < 1)) bad("beta2", opt.beta2, "in [0, 1)");
  if (!(std::isfinite(opt.eps) && opt.eps > 0)) bad("eps", opt.eps, "finite and positive");
  finite_at_least("weight_decay", opt.weight_decay, 0, "finite and not negative");
  if (!(opt.momentum >= 0 && opt.momentum < 1)) bad("momentum", opt.momentum, "in [0, 1)");
  finite_at_least("clip_norm", opt.clip_norm, 0, "finite and not negative (0: no clipping)");
  if (opt.patience < 0) bad("patience", opt.patience, "0 (no early stopping) or positive");
  if (opt.max_steps < 0) bad("max_steps", double(opt.max_steps), "0 (no limit) or positive");
  if (!(opt.jump_factor == 0 || (std::isfinite(opt.jump_factor) && opt.jump_factor > 1)))
    bad("jump_factor", opt.jump_factor, "0 (no jump detection) or a finite factor above 1");
  if (opt.skip_jumps && opt.jump_factor == 0)
    fail_argument("fit: options.skip_jumps is set but jump_factor is 0 (no step would be detected to skip)");
}

// A jumping step: into the result, then to on_jump, or (the first few) a line on stderr.
inline void report_jump(const fit_jump& j, fit_result& res, const fit_options& opt, bool root) {
  constexpr long printed = 5;
  ++res.jump_count;
  if (res.jumps.size() < fit_result::max_recorded_jumps) res.jumps.push_back(j);
  if (opt.on_jump) {
    opt.on_jump(j);
  } else if (!opt.quiet && root && res.jump_count <= printed) {
    std::fprintf(stderr, "flowtmpl: fit: %s%s\n", j.message.c_str(), j.skipped ? " (skipped: no update)" : "");
    if (res.jump_count == printed)
      std::fprintf(stderr, "flowtmpl: fit: further jumps are not printed; the progress lines and fit_result::jump_count count them\n");
  }
}

template <class F, class Engine>
fit_result fit_loop(F& flow, Engine& e, const fit_options& opt) {
  using S = typename F::scalar_type;
  constexpr std::size_t NP = parameter_count_v<F>;
  const Eigen::Index n = e.train_count();
  const bool has_valid = e.valid_count() > 0;
  if (n < 1) fail_shape("fit: the training data has no columns");
  if (opt.batch_size < 1) fail_shape("fit: batch_size must be positive");
  if (opt.epochs < 1) fail_shape("fit: epochs must be positive");
  if (opt.checkpoint_every < 0) fail_shape("fit: checkpoint_every must not be negative");
  if (opt.checkpoint_every > 0 && !opt.on_checkpoint)
    fail_shape("fit: checkpoint_every is set but on_checkpoint is empty (nothing would keep the checkpoints)");
  check_fit_options(opt);
  const Eigen::Index bs = std::min(opt.batch_size, n);
  const long per_epoch = long((n + bs - 1) / bs);
  long total = per_epoch * long(opt.epochs);
  if (opt.max_steps > 0) total = std::min(total, opt.max_steps);

  fit_result res;
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds_since = [](auto t) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(); };

  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) order[std::size_t(i)] = i;
  auto shuffle = [&](int epoch) {  // seeded Fisher-Yates
    philox_stream rng(opt.seed, std::uint64_t(epoch));
    for (Eigen::Index i = n - 1; i > 0; --i) {
      const Eigen::Index j = Eigen::Index((std::uint64_t(rng.next_u32()) * std::uint64_t(i + 1)) >> 32);
      std::swap(order[std::size_t(i)], order[std::size_t(j)]);
    }
  };
  std::vector<S> params(NP), g(NP), best(NP);
  adam<S> adam_opt{opt.beta1, opt.beta2, opt.eps, opt.weight_decay, {}, {}, 0};
  sgd<S> sgd_opt{opt.momentum, opt.nesterov, {}, false};
  F grad = make_gradient(flow);
  jump_detector jumps{opt.jump_factor};
  long epoch_jumps = 0;
  int since_best = 0;
  long step = 0;
  long samples_done = 0;
  int first_epoch = 0;
  Eigen::Index first_position = 0;
  double epoch_loss = 0;
  long epoch_batches = 0;

  if (opt.resume) {
    const fit_state& s = *opt.resume;
    check_resume(s, std::uint64_t(n), std::uint64_t(e.valid_count()), opt, NP);
    std::vector<S> p(s.parameters.begin(), s.parameters.end());
    if constexpr (NP > 0) assign_parameters(flow, p.data());
    for (int k = 0; k <= s.epoch; ++k) shuffle(k);
    first_epoch = s.epoch;
    first_position = Eigen::Index(s.position);
    step = s.step;
    epoch_loss = s.epoch_loss;
    epoch_batches = s.epoch_batches;
    res.train_loss = s.train_loss;
    res.valid_loss = s.valid_loss;
    res.best_epoch = s.best_epoch;
    if (s.best_epoch > 0) {
      res.best_valid_loss = s.best_valid_loss;
      best.assign(s.best_parameters.begin(), s.best_parameters.end());
    }
    since_best = s.since_best;
    adam_opt.m = s.first_moment;
    adam_opt.v = s.second_moment;
    adam_opt.t = s.adam_steps;
    sgd_opt.buffer = s.momentum_buffer;
    sgd_opt.started = s.momentum_started;
    jumps.seen = s.jump_seen;
    jumps.loss = s.jump_loss;
    jumps.change = s.jump_change;
    jumps.grad_norm = s.jump_grad_norm;
    jumps.warmup_loss = s.jump_warmup_loss;
    jumps.warmup_norm = s.jump_warmup_norm;
    res.jump_count = s.jump_count;
  }
  auto checkpoint = [&](int epoch, Eigen::Index position) {
    fit_state s;
    s.train_count = std::uint64_t(n);
    s.valid_count = std::uint64_t(e.valid_count());
    s.batch_size = std::uint64_t(opt.batch_size);
    s.seed = opt.seed;
    s.optimizer = opt.optimizer;
    s.step = step;
    s.epoch = epoch;
    s.position = std::uint64_t(position);
    s.epoch_loss = epoch_loss;
    s.epoch_batches = epoch_batches;
    s.train_loss = res.train_loss;
    s.valid_loss = res.valid_loss;
    s.best_epoch = res.best_epoch;
    s.best_valid_loss = res.best_epoch > 0 ? res.best_valid_loss : 0.0;
    s.since_best = since_best;
    if constexpr (NP > 0) copy_parameters(flow, params.data());
    to_double(params, s.parameters);
    if (res.best_epoch > 0) to_double(best, s.best_parameters);
    s.first_moment = adam_opt.m;
    s.second_moment = adam_opt.v;
    s.adam_steps = adam_opt.t;
    s.momentum_buffer = sgd_opt.buffer;
    s.momentum_started = sgd_opt.started;
    s.jump_seen = jumps.seen;
    s.jump_loss = jumps.loss;
    s.jump_change = jumps.change;
    s.jump_grad_norm = jumps.grad_norm;
    s.jump_warmup_loss = jumps.warmup_loss;
    s.jump_warmup_norm = jumps.warmup_norm;
    s.jump_count = res.jump_count;
    opt.on_checkpoint(s);
  };

  // (a resumed run's first epoch has begun: its end, validation included, is still due)
  for (int epoch = first_epoch; epoch < opt.epochs && (step < total || (opt.resume && epoch == first_epoch)); ++epoch) {
    if (epoch != first_epoch || !opt.resume) shuffle(epoch);
    if (epoch != first_epoch) {
      epoch_loss = 0;
      epoch_batches = 0;
    }
    epoch_jumps = 0;
    for (Eigen::Index first = epoch == first_epoch ? first_position : 0; first < n && step < total; first += bs) {
      const Eigen::Index count = std::min(bs, n - first);
      e.load(order, first, count);
      if (step == 0 && opt.initialize_actnorm) e.initialize(flow);
      const S loss = e.loss_and_gradient(flow, grad, g.data());
      auto stop_here = [&](std::string why) {
        res.stop = fit_stop::non_finite;
        res.message = message("step ", step, " (epoch ", epoch + 1, "): ", why,
                              "; training stopped, the parameters are those before this step");
      };
      if (!std::isfinite(double(loss))) {
        stop_here(message("the loss is not finite (", double(loss), "): ", e.bad_training_sample(flow)));
        break;
      }
      if constexpr (NP > 0) {
        bool skip = false;  // a jumping step with options.skip_jumps: no update
        for (std::size_t i = 0; i < NP; ++i)
          if (!std::isfinite(double(g[i]))) {
            stop_here(message("the gradient of parameter ", parameter_name(flow, i), " is ", double(g[i])));
            break;
          }
        if (res.stop == fit_stop::non_finite) break;
        const double grad_norm = clip_grad_norm(g.data(), NP, opt.clip_norm);  // (the norm before clipping)
        if (auto jump = jumps.check(step, epoch + 1, double(loss), grad_norm)) {
          jump->skipped = opt.skip_jumps;
          report_jump(*jump, res, opt, e.root());
          ++epoch_jumps;
          skip = opt.skip_jumps;
        }
        if (!skip) {
          for (const fit_jump& late : jumps.accept(double(loss), grad_norm, per_epoch)) {
            report_jump(late, res, opt, e.root());
            if (late.epoch == epoch + 1) ++epoch_jumps;
          }
          copy_parameters(flow, params.data());
          const double lr = opt.schedule ? opt.schedule(step) : opt.learning_rate;
          if (!(std::isfinite(lr) && lr >= 0))
            fail_argument(message("fit: options.schedule(", step, ") is ", lr, "; a learning rate must be finite and not negative"));
          if (opt.optimizer == optimizer_kind::adam)
            adam_opt.step(params.data(), g.data(), NP, lr);
          else
            sgd_opt.step(params.data(), g.data(), NP, lr);
          for (std::size_t i = 0; i < NP; ++i)
            if (!std::isfinite(double(params[i]))) {
              stop_here(message("the update makes parameter ", parameter_name(flow, i), " ", double(params[i]),
                                " (learning rate ", lr, ")"));
              break;
            }
          if (res.stop == fit_stop::non_finite) break;
          assign_parameters(flow, params.data());
          after_optimizer_step(flow, step);  // layer_hooks.hpp: a residual layer's spectral norm
        }
      }
      // (a skipped batch is in the epoch's loss: it is the mean over all the epoch's batches)
      epoch_loss += double(loss);
      ++epoch_batches;
      ++step;
      samples_done += long(count);
      if (opt.checkpoint_every > 0 && step % opt.checkpoint_every == 0) checkpoint(epoch, first + count);
    }
    if (res.stop == fit_stop::non_finite) break;
    res.train_loss.push_back(epoch_loss / double(std::max(epoch_batches, 1L)));
    double vloss = std::numeric_limits<double>::quiet_NaN();
    if (has_valid) {
      std::string why;
      vloss = e.validation(flow, &why);
      res.valid_loss.push_back(vloss);
      if (!std::isfinite(vloss)) {
        res.stop = fit_stop::non_finite;
        res.message = message("epoch ", epoch + 1, " (after step ", step, "): the validation loss is not finite (", vloss,
                              "): ", why, "; training stopped",
                              res.best_epoch > 0 ? message(", the parameters of epoch ", res.best_epoch,
                                                           " (the best validation loss) are restored")
                                                 : std::string(", the parameters are those after this epoch"));
        if constexpr (NP > 0)
          if (res.best_epoch > 0) assign_parameters(flow, best.data());
        break;
      }
      if (res.best_epoch == 0 || vloss < res.best_valid_loss) {
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
    p.eta_seconds = samples_done > 0 ? elapsed / double(samples_done) * double(total - step) * double(bs) : 0;
    p.jumps = epoch_jumps;
    if (opt.on_progress)
      opt.on_progress(p);
    else if (!opt.quiet && e.root())
      print_progress(p);
    if (opt.patience > 0 && has_valid && since_best >= opt.patience) {
      res.stop = fit_stop::early_stopping;
      res.message = message("early stopping: the validation loss has not improved for ", opt.patience,
                            " epochs; the parameters of epoch ", res.best_epoch, " are restored");
      break;
    }
  }
  // (a failing step never assigned its update: the parameters are those before it)
  if (res.stop == fit_stop::non_finite && !opt.quiet && e.root())
    std::fprintf(stderr, "flowtmpl: fit: %s\n", res.message.c_str());
  if constexpr (NP > 0)
    if (res.stop == fit_stop::early_stopping) assign_parameters(flow, best.data());
  res.steps = step;
  res.seconds = seconds_since(t0);
  return res;
}

}  // namespace detail
}  // namespace flowtmpl
