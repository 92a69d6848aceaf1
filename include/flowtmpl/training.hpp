// flowtmpl/training.hpp: training a bound flow distribution on the host, with the
// analytic gradients of flowtmpl/differentiable.hpp.
//
// Losses (each returns the mean over the batch and writes its gradient, a value of the
// flow's type, into grad):
//   nll_and_gradient(flow, X, grad)        -> S           mean -log p(x) over the
//                                                         columns of X (D x N)
//   reverse_kl_and_gradient(flow, target, n, seed, grad) -> reverse_kl_result
//       mean of log q(x) - log p~(x) over n reparameterised draws x = f(z(eps)),
//       eps_j from philox_stream(seed, j) as sample() draws them; target(x) returns
//       {log p~(x), d log p~/dx} (flowtmpl::value_and_gradient), p~ unnormalised. Also
//       reports the effective sample size of the importance weights p~/q.
// Samples are evaluated in blocks of 256 (in parallel with OpenMP when on); each block
// accumulates its own gradient and the blocks are summed in order, so the result is
// bitwise the same for any number of threads.
//
// Optimizers on the flat parameter vector (copy_parameters order), as PyTorch defines
// them: adam (bias-corrected, eps outside the square root, optional decoupled weight
// decay = AdamW) and sgd (momentum buffer b = mu b + g, step -lr b; Nesterov optional).
// clip_grad_norm(g, n, max_norm) scales g to global norm max_norm when it is above it
// and returns the norm before. Schedules: constant_lr, cosine_lr (PyTorch's
// CosineAnnealingLR closed form), step_lr (gamma every step_size steps).
//
// fit(flow, train, valid, options): minibatch maximum likelihood (see fit_options).
// Each epoch shuffles the training columns with philox_stream(seed, epoch); the
// validation loss (mean NLL of valid) is computed after each epoch; with patience > 0
// training stops when it has not improved for that many epochs and the best
// parameters are restored. Progress: one line per epoch on stderr (epoch, losses,
// learning rate, samples/s, ETA) unless options.on_progress replaces it. ActNorm layers
// are initialised from the first batch (flowtmpl::initialize) unless told otherwise.
// Non-finite guard: a loss, gradient or updated parameter that is not finite stops
// training before the update is kept; the result says which step, which sample or
// which parameter (its name, from for_each_parameter), and for a sample the layer
// where its value first became non-finite (checked mode); the parameters are those
// before that step. A non-finite validation loss stops training after its epoch and
// names the validation sample and layer the same way (the best epoch's parameters are
// restored when there is one).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "detail/eigen.hpp"

#include "differentiable.hpp"
#include "errors.hpp"
#include "host.hpp"
#include "parameters.hpp"
#include "random.hpp"

namespace flowtmpl {

template <class S, int D>
struct value_and_gradient {
  S value;
  Eigen::Matrix<S, D, 1> gradient;
};

namespace detail {

// grad = sum of parts in order.
template <class F>
void sum_gradients(std::vector<F>& parts, F& grad) {
  constexpr std::size_t n = parameter_count_v<F>;
  std::vector<typename F::scalar_type> acc(n, typename F::scalar_type(0)), tmp(n);
  for (auto& p : parts) {
    copy_parameters(p, tmp.data());
    for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += tmp[i];
  }
  assign_parameters(grad, acc.data());
}

// ---- the gradient of a block of samples ----------------------------------------------
// A flow whose transform has a layer with a conditioner (coupling) differentiates a block
// of samples at once: one pass over the chain records every leaf layer's input block,
// then the reverse sweep calls each leaf's vjp_block (the conditioner's products as
// matrix-matrix products over the block) or, for a leaf without one, its per-sample
// vjp column by column. The per-sample path (log_prob_vjp per column) computes the same
// sums in another order.
template <class B>
consteval bool block_vjp_ok() {
  if constexpr (is_chain<B>::value) {
    return []<class... Ls>(Chain<Ls...>*) { return (block_vjp_ok<Ls>() && ...); }(static_cast<B*>(nullptr));
  } else if constexpr (is_inverse_layer<B>::value) {
    return block_vjp_ok<typename B::base_type>();
  } else if constexpr (is_context_bound<B>::value || ConditionalBijector<B>) {
    return false;
  } else {
    return leaf_vjp<B>;
  }
}
template <class B, bool Forward>
inline constexpr bool has_vjp_block_v =
    requires(const B& b, const Eigen::Matrix<typename B::scalar_type, B::dim, Eigen::Dynamic>& V,
             Eigen::Matrix<typename B::scalar_type, B::dim, Eigen::Dynamic>& G, typename B::scalar_type gld, B& grad) {
      b.template vjp_block<Forward>(V, G, gld, grad);
    };

// Whether nll_and_gradient takes the block path for flow type F.
template <class F>
consteval bool block_gradient_ok() {
  if constexpr (is_flow_distribution<F>::value && DifferentiableDistribution<typename F::base_type>)
    return uses_blocks<typename F::transform_type>() && block_vjp_ok<typename F::transform_type>();
  else
    return false;
}

template <class S, int D>
using sample_block = Eigen::Matrix<S, D, Eigen::Dynamic>;

// The pass in direction Forward over V (in place), adding the varying log-dets to ld and
// pushing every leaf's input block onto tape, in evaluation order.
template <bool Forward, class B>
void record_block(const B& b, sample_block<typename B::scalar_type, B::dim>& V,
                  Eigen::Matrix<typename B::scalar_type, 1, Eigen::Dynamic>& ld,
                  std::vector<sample_block<typename B::scalar_type, B::dim>>& tape) {
  using S = typename B::scalar_type;
  if constexpr (is_chain<B>::value) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      if constexpr (Forward)
        (record_block<true>(b.template get<I>(), V, ld, tape), ...);
      else
        (record_block<false>(b.template get<B::size - 1 - I>(), V, ld, tape), ...);
    }(std::make_index_sequence<B::size>{});
  } else if constexpr (is_inverse_layer<B>::value) {
    record_block<!Forward>(b.base, V, ld, tape);
  } else {
    tape.push_back(V);
    eval_block<Forward>(b, V, ld, static_cast<const batch_t<S, 1>*>(nullptr));
  }
}

// The reverse sweep: G holds the cotangents of the pass's output on entry and of its
// input on return; gld is the cotangent of every sample's log-det; next counts down the
// tape's leaves.
template <bool Forward, class B>
void backward_block(const B& b, const std::vector<sample_block<typename B::scalar_type, B::dim>>& tape, std::size_t& next,
                    sample_block<typename B::scalar_type, B::dim>& G, typename B::scalar_type gld, B& grad) {
  if constexpr (is_chain<B>::value) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      if constexpr (Forward)
        (backward_block<true>(b.template get<B::size - 1 - I>(), tape, next, G, gld,
                              grad.template get<B::size - 1 - I>()),
         ...);
      else
        (backward_block<false>(b.template get<I>(), tape, next, G, gld, grad.template get<I>()), ...);
    }(std::make_index_sequence<B::size>{});
  } else if constexpr (is_inverse_layer<B>::value) {
    backward_block<!Forward>(b.base, tape, next, G, gld, grad.base);
  } else {
    const auto& V = tape[--next];
    if constexpr (has_vjp_block_v<B, Forward>) {
      b.template vjp_block<Forward>(V, G, gld, grad);
    } else {
      for (Eigen::Index j = 0; j < V.cols(); ++j)
        G.col(j) = vjp<Forward>(b, vector_t<B>(V.col(j)), nullptr, vector_t<B>(G.col(j)), gld, grad);
    }
  }
}

// log p of the columns of X into lp, adding w d log p / dtheta (summed over the block)
// into grad.
template <class F, class XB>
void log_prob_vjp_block(const F& f, const XB& X, typename F::scalar_type w, F& grad, typename F::scalar_type* lp) {
  using S = typename F::scalar_type;
  constexpr int D = F::dim;
  const Eigen::Index n = X.cols();
  sample_block<S, D> V = X;
  Eigen::Matrix<S, 1, Eigen::Dynamic> ld = Eigen::Matrix<S, 1, Eigen::Dynamic>::Zero(n);
  std::vector<sample_block<S, D>> tape;
  record_block<false>(f.transform, V, ld, tape);
  const S c = constant_part(f.transform);
  sample_block<S, D> G(D, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    const typename F::vec z = V.col(j);
    lp[j] = f.base.log_prob(z) + (ld[j] - c);
    G.col(j) = f.base.log_prob_vjp(z, w, grad.base);
  }
  std::size_t next = tape.size();
  backward_block<false>(f.transform, tape, next, G, w, grad.transform);
}

// The mean NLL's gradient, by blocks of host_block columns (in parallel, each block into
// its own part, the parts summed in block order). Block selects the block path.
template <bool Block, class F, class Derived>
typename F::scalar_type nll_and_gradient_impl(const F& flow, const Eigen::MatrixBase<Derived>& Xin, F& grad,
                                              Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* log_probs) {
  using S = typename F::scalar_type;
  const batch_t<S, F::dim> X = detail::batch_view<F>(Xin, "nll_and_gradient");
  const Eigen::Index n = X.cols();
  if (n < 1) detail::fail_shape("nll_and_gradient: the batch is empty");
  const S w = S(-1) / S(n);
  const Eigen::Index blocks = (n + detail::host_block - 1) / detail::host_block;
  std::vector<F> parts(std::size_t(blocks), make_gradient(flow));
  std::vector<S> sums(std::size_t(blocks), S(0));
  Eigen::Matrix<S, 1, Eigen::Dynamic> lp(n);
  detail::for_each_numbered_block(n, [&](Eigen::Index b, Eigen::Index first, Eigen::Index count) {
    S acc(0);
    if constexpr (Block) {
      log_prob_vjp_block(flow, X.middleCols(first, count), w, parts[std::size_t(b)], lp.data() + first);
      for (Eigen::Index j = first; j < first + count; ++j) acc += lp[j];
    } else {
      for (Eigen::Index j = first; j < first + count; ++j) {
        const typename F::vec x = X.col(j);
        lp[j] = log_prob_vjp(flow, x, w, parts[std::size_t(b)]);
        acc += lp[j];
      }
    }
    sums[std::size_t(b)] = acc;
  });
  detail::sum_gradients(parts, grad);
  S total(0);
  for (S s : sums) total += s;
  if (log_probs) *log_probs = lp;
  return -total / S(n);
}

// The per-sample path whatever the flow (log_prob_vjp per column): the reference of the
// block path's tests, and the host counterpart of the device backend's gradient.
template <class F, class Derived>
typename F::scalar_type nll_and_gradient_per_sample(const F& flow, const Eigen::MatrixBase<Derived>& X, F& grad,
                                                    Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* log_probs =
                                                        nullptr) {
  return nll_and_gradient_impl<false>(flow, X, grad, log_probs);
}
}  // namespace detail

// Mean negative log-likelihood of the columns of X, and its gradient into grad
// (overwritten). Per-sample log densities go to *log_probs when given (1 x N). A flow
// with coupling layers (no context) is differentiated a block of 256 samples at a time
// with matrix-matrix products (detail::log_prob_vjp_block), others sample by sample.
template <class F, class Derived>
typename F::scalar_type nll_and_gradient(const F& flow, const Eigen::MatrixBase<Derived>& X, F& grad,
                                         Eigen::Matrix<typename F::scalar_type, 1, Eigen::Dynamic>* log_probs = nullptr) {
  return detail::nll_and_gradient_impl<detail::block_gradient_ok<F>()>(flow, X, grad, log_probs);
}
template <class F, class... A>
typename F::scalar_type nll_and_gradient(exec::host_t, const F& flow, A&&... a) {
  return nll_and_gradient(flow, std::forward<A>(a)...);
}

template <class S>
struct reverse_kl_result {
  S loss;             // mean of log q(x) - log p~(x): KL(q || p) - log Z
  S ess;              // effective sample size of the weights p~(x)/q(x), in [1, n]
  S ess_fraction;     // ess / n
  S log_normalizer;   // log of the mean weight: an estimate of log Z
};

// Reverse KL by reparameterised draws (see the top of this header). The flow's base
// must model ReparameterizedDistribution.
template <class F, class Target>
reverse_kl_result<typename F::scalar_type> reverse_kl_and_gradient(const F& flow, Target&& target, Eigen::Index n,
                                                                   std::uint64_t seed, F& grad) {
  using S = typename F::scalar_type;
  using V = typename F::vec;
  using B = typename F::transform_type;
  static_assert(ReparameterizedDistribution<typename F::base_type>,
                "flowtmpl: reverse_kl_and_gradient: the flow's base distribution has no reparameterised draw "
                "(from_noise); use StandardNormal or DiagonalNormal");
  if (n < 1) detail::fail_shape("reverse_kl_and_gradient: the number of draws must be positive");
  const S w = S(1) / S(n);
  const Eigen::Index blocks = (n + detail::host_block - 1) / detail::host_block;
  std::vector<F> parts(std::size_t(blocks), make_gradient(flow));
  std::vector<S> log_w(static_cast<std::size_t>(n));
  detail::for_each_numbered_block(n, [&](Eigen::Index b, Eigen::Index first, Eigen::Index count) {
    F& g = parts[std::size_t(b)];
    for (Eigen::Index j = first; j < first + count; ++j) {
      philox_stream rng(seed, std::uint64_t(j));
      V eps;
      for (int i = 0; i < F::dim; ++i) eps[i] = rng.normal<S>();
      const V z = flow.base.from_noise(eps, S(1));
      tape_t<B, true> tape;
      const auto r = record<true>(flow.transform, z, nullptr, tape);
      const S lq = flow.base.log_prob(z) - r.log_det;
      const auto t = target(r.value);
      log_w[std::size_t(j)] = S(t.value) - lq;
      // d/dtheta of w (log base(z) - ld(z) - log p~(x)), x = f(z), z = from_noise(eps)
      V gz = backward<true>(flow.transform, tape, nullptr, V(-w * t.gradient), -w, g.transform);
      gz += flow.base.log_prob_vjp(z, w, g.base);
      flow.base.from_noise_vjp(eps, S(1), gz, g.base);
    }
  });
  detail::sum_gradients(parts, grad);
  // loss and ESS from the log weights, in double
  double mean = 0, mx = -std::numeric_limits<double>::infinity();
  for (S v : log_w) {
    mean -= double(v);
    mx = std::max(mx, double(v));
  }
  mean /= double(n);
  double s1 = 0, s2 = 0;
  for (S v : log_w) {
    const double e = std::exp(double(v) - mx);
    s1 += e;
    s2 += e * e;
  }
  const double ess = (std::isfinite(mx) && s2 > 0) ? s1 * s1 / s2 : 0.0;
  return {S(mean), S(ess), S(ess / double(n)), S(mx + std::log(s1 / double(n)))};
}

// ---- optimizers -----------------------------------------------------------------------
template <class S>
struct adam {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;  // decoupled (AdamW): p -= lr wd p before the step
  std::vector<double> m, v;
  long t = 0;
  void step(S* p, const S* g, std::size_t n, double lr) {
    if (m.size() != n) {
      m.assign(n, 0.0);
      v.assign(n, 0.0);
      t = 0;
    }
    ++t;
    const double bc1 = 1 - std::pow(beta1, double(t)), bc2 = 1 - std::pow(beta2, double(t));
    const double step_size = lr / bc1, sq2 = std::sqrt(bc2);
    for (std::size_t i = 0; i < n; ++i) {
      const double gi = double(g[i]);
      double pi = double(p[i]);
      if (weight_decay != 0) pi -= lr * weight_decay * pi;
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      pi -= step_size * m[i] / (std::sqrt(v[i]) / sq2 + eps);
      p[i] = S(pi);
    }
  }
};

template <class S>
struct sgd {
  double momentum = 0.9;
  bool nesterov = false;
  std::vector<double> buffer;
  bool started = false;
  void step(S* p, const S* g, std::size_t n, double lr) {
    if (buffer.size() != n) {
      buffer.assign(n, 0.0);
      started = false;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const double gi = double(g[i]);
      double d = gi;
      if (momentum != 0) {
        buffer[i] = started ? momentum * buffer[i] + gi : gi;
        d = nesterov ? gi + momentum * buffer[i] : buffer[i];
      }
      p[i] = S(double(p[i]) - lr * d);
    }
    started = true;
  }
};

// Scales g[0..n) to global 2-norm max_norm when its norm is above (as PyTorch's
// clip_grad_norm_, with its 1e-6); returns the norm before clipping.
template <class S>
double clip_grad_norm(S* g, std::size_t n, double max_norm) {
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i) ss += double(g[i]) * double(g[i]);
  const double norm = std::sqrt(ss);
  if (max_norm > 0 && norm > max_norm) {
    const double c = max_norm / (norm + 1e-6);
    for (std::size_t i = 0; i < n; ++i) g[i] = S(double(g[i]) * c);
  }
  return norm;
}

// ---- learning-rate schedules: callables of the step (0-based) ----------------------
struct constant_lr {
  double lr;
  double operator()(long) const { return lr; }
};
struct cosine_lr {
  double lr;           // at step 0
  long total_steps;    // reaches min_lr here
  double min_lr = 0;
  double operator()(long step) const {
    const double t = double(std::min(step, total_steps)) / double(std::max(total_steps, 1L));
    return min_lr + (lr - min_lr) * 0.5 * (1 + std::cos(3.14159265358979323846 * t));
  }
};
struct step_lr {
  double lr;
  long step_size;
  double gamma = 0.1;
  double operator()(long step) const { return lr * std::pow(gamma, double(step / std::max(step_size, 1L))); }
};

// ---- the fit loop ----------------------------------------------------------------------
struct fit_progress {
  int epoch = 0, epochs = 0;       // 1-based epoch just finished
  long step = 0, total_steps = 0;  // optimizer steps done / planned
  double train_loss = 0;           // mean training NLL over the epoch's batches
  double valid_loss = std::numeric_limits<double>::quiet_NaN();  // NaN without validation data
  double learning_rate = 0;
  double samples_per_second = 0;
  double eta_seconds = 0;
};

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
inline std::string format_duration(double s) {
  const long t = long(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

inline void print_progress(const fit_progress& p) {
  char valid[48] = "";
  if (!std::isnan(p.valid_loss)) std::snprintf(valid, sizeof valid, "  valid %.4f", p.valid_loss);
  std::fprintf(stderr, "epoch %d/%d  step %ld/%ld  loss %.4f%s  lr %.2e  %.0f samples/s  ETA %s\n", p.epoch, p.epochs,
               p.step, p.total_steps, p.train_loss, valid, p.learning_rate, p.samples_per_second,
               format_duration(p.eta_seconds).c_str());
}

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

// Why sample x has a non-finite log density: the layer where checked mode stops.
template <class F>
std::string why_not_finite(const F& flow, const typename F::vec& x) {
#if FLOWTMPL_HAS_EXCEPTIONS
  if constexpr (Bijector<typename F::transform_type>) {
    try {
      Eigen::Matrix<typename F::scalar_type, F::dim, 1> one = x;
      (void)inverse_and_log_det(flow.transform, one, checked);
    } catch (const domain_error& e) {
      return e.what();
    } catch (const std::exception&) {
    }
  }
#endif
  (void)flow;
  (void)x;
  return "every layer gave finite values; the base distribution's log density is not finite";
}
}  // namespace detail

// Maximum-likelihood training of flow on the columns of train (D x N); valid may have
// 0 columns (no validation, no early stopping). See the top of this header.
template <class F, class DT, class DV>
fit_result fit(F& flow, const Eigen::MatrixBase<DT>& train_in, const Eigen::MatrixBase<DV>& valid_in,
               const fit_options& opt = {}) {
  using S = typename F::scalar_type;
  constexpr std::size_t NP = parameter_count_v<F>;
  const batch_t<S, F::dim> train = detail::batch_view<F>(train_in, "fit (training data)");
  const batch_t<S, F::dim> valid = detail::batch_view<F>(valid_in, "fit (validation data)");
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
      if (step == 0 && opt.initialize_actnorm) initialize(flow, batch);

      const S loss = nll_and_gradient(flow, batch, grad, &lp);
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
                                  detail::why_not_finite(flow, typename F::vec(batch.col(bad)))));
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
      const auto vlp = log_prob(flow, valid);
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
                                      detail::why_not_finite(flow, typename F::vec(valid.col(bad))),
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

// Without validation data.
template <class F, class DT>
fit_result fit(F& flow, const Eigen::MatrixBase<DT>& train, const fit_options& opt = {}) {
  const batch_t<typename F::scalar_type, F::dim> none(F::dim, 0);
  return fit(flow, train, none, opt);
}

}  // namespace flowtmpl
