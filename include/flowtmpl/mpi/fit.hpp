// flowtmpl/mpi/fit.hpp: data-parallel training over MPI, the same run as fit on one
// process, bitwise, for any number of processes.
//   mpi::fit(comm, flow, train, valid, options) -> fit_result   (valid may be empty)
//   mpi::fit(comm, flow, train, options)
//   mpi::fit(comm, flow, conditional_data<F>(X, Ctx), [conditional_data<F>(Xv, Cv),] options)
// Every process of comm calls it with its own shard of the data (its own columns; the
// whole set is the shards in rank order; a shard may be empty) and the same options.
// It is fit (training/fit.hpp, the same loop: training/fit_loop.hpp) with these parts
// spread over the processes:
// - The order: every process shuffles the indices of the whole set, as one process
//   would; a batch is the same global minibatch as on one process.
// - The batch's blocks of host_block_for(D) columns are split into contiguous runs, one
//   per rank in rank order; each process fetches the columns of its blocks from their
//   owners (one MPI_Alltoallv of the batch's values) and computes its blocks' gradient
//   parts, which are summed in block order by the rank-order chain of
//   mpi/ordered_sum.hpp: the gradient and the loss have the bits one process gives.
//   MPI_Allreduce is not used because its order of addition is not fixed.
// - The parameters start as rank 0's (broadcast); ActNorm's data initialisation runs on
//   rank 0 with the whole first batch, and its result is broadcast.
// - The validation loss is the mean over the whole validation set of mpi::log_prob
//   (mpi/sampling.hpp), gathered: the value one process computes, so early stopping and
//   the best epoch are decided alike on every process.
// - The non-finite guard's message (the first bad sample of the batch, its layer) is
//   built on the process that holds that sample and broadcast: every process stops at
//   the same step with the same result. Progress lines and the failure line come from
//   rank 0 only (on_progress is called on every process).
// - Checkpoints: on_checkpoint is called on every process with the same state; keep it
//   on one (e.g. if (rank == 0) save_checkpoint(...)); resume by giving every process
//   the state (load_checkpoint on each, or on one and broadcast).
// - The whole data set given to every process (each passes the same columns) is refused
//   in words: each process passes its own shard.
// - Options that must agree (batch size, epochs, steps, seed, optimizer, learning rate,
//   patience, clipping, ActNorm initialisation, checkpoint interval, the resumed step)
//   are compared with rank 0's first: a difference throws shape_error on every process.
// Because every sum has the one-process order, the parameters after any number of steps
// are bitwise those of fit on one process holding all the data (tested with 1, 2 and 3
// processes), and bitwise the same from run to run.
// Costs per step: the batch's values once over the network (the fetch), the chain
// (R - 1 hops of the gradient, pipelined by segments) and one broadcast of the
// gradient; memory: the order (one index per training sample) on every process.
#pragma once

#include <string>
#include <vector>

#include <mpi.h>

#include "../detail/eigen.hpp"
#include "../flowtmpl.hpp"
#include "../training.hpp"
#include "communicator.hpp"
#include "distributed_data.hpp"
#include "ordered_sum.hpp"
#include "sampling.hpp"

namespace flowtmpl::mpi {
namespace detail {

template <class F, class XR, class CR>
class fit_engine {
  using S = typename F::scalar_type;
  static constexpr bool conditional = context_dim_of<F>() > 0;
  static constexpr int C = conditional ? context_dim_of<F>() : 1;
  static constexpr Eigen::Index block = flowtmpl::detail::host_block_for(F::dim);

 public:
  fit_engine(const private_comm& c, const XR& train, const CR* train_c, const XR& valid, const CR* valid_c)
      : c_(c), train_(train), train_c_(train_c), valid_(valid), valid_c_(valid_c),
        train_sh_(layout(c, train.cols())), valid_sh_(layout(c, valid.cols())) {
    if constexpr (conditional) {
      int shared = train_c->cols() == 1 && train.cols() != 1 ? 1 : 0;
      MPI_Allreduce(&shared, &shared_context_, 1, MPI_INT, MPI_MIN, c.get());
      if (!shared_context_ && train_c->cols() == 1 && train.cols() != 1)
        expanded_c_ = train_c->replicate(1, train.cols());
    }
  }
  Eigen::Index train_count() const { return train_sh_.total; }
  Eigen::Index valid_count() const { return valid_sh_.total; }
  bool root() const { return c_.rank() == 0; }

  void load(const std::vector<Eigen::Index>& order, Eigen::Index first, Eigen::Index count) {
    wanted_.assign(order.begin() + first, order.begin() + first + count);
    bounds_ = block_bounds(count, block, c_.size());
    batch_ = fetch_columns<S, F::dim>(c_, train_sh_, train_, wanted_, bounds_, "mpi::fit");
    if constexpr (conditional) batch_c_ = contexts(bounds_);
    count_ = count;
  }
  void initialize(F& flow) {
    std::vector<Eigen::Index> to_root(std::size_t(c_.size()) + 1, count_);
    to_root[0] = 0;
    const batch_t<S, F::dim> all = fetch_columns<S, F::dim>(c_, train_sh_, train_, wanted_, to_root, "mpi::fit");
    Eigen::Matrix<S, C, Eigen::Dynamic> all_c;
    if constexpr (conditional) all_c = contexts(to_root);
    collectively(c_, [&] {
      if (c_.rank() != 0) return;
      if constexpr (conditional)
        flowtmpl::initialize(flow, all, all_c);
      else
        flowtmpl::initialize(flow, all);
    });
    broadcast_parameters(c_, flow, 0);
  }
  S loss_and_gradient(const F& flow, F&, S* g) {
    constexpr std::size_t NP = parameter_count_v<F>;
    flowtmpl::detail::gradient_parts<F> parts;
    std::vector<S> sums;
    lp_.resize(batch_.cols());
    const S w = S(-1) / S(count_);
    if constexpr (conditional)
      flowtmpl::detail::nll_gradient_parts<flowtmpl::detail::gradient_path_of<F>>(flow, batch_, &batch_c_, w, parts, sums,
                                                                                  lp_.data());
    else
      flowtmpl::detail::nll_gradient_parts<flowtmpl::detail::gradient_path_of<F>>(
          flow, batch_, static_cast<const batch_t<S, 1>*>(nullptr), w, parts, sums, lp_.data());
    std::vector<std::vector<S>> flat(parts.size(), std::vector<S>(NP + 1));
    for (std::size_t b = 0; b < parts.size(); ++b) {
      if constexpr (NP > 0) copy_parameters(parts[b].value, flat[b].data());
      flat[b][NP] = sums[b];
    }
    const std::vector<S> acc = ordered_sum(c_, flat, NP + 1);
    std::copy(acc.begin(), acc.begin() + std::ptrdiff_t(NP), g);
    return -acc[NP] / S(count_);
  }
  std::string bad_training_sample(const F& flow) const {
    return first_bad_everywhere(lp_, bounds_, [&](Eigen::Index first, Eigen::Index j) {
      return flowtmpl::detail::bad_sample_text(flow, wanted_[std::size_t(first)], double(lp_[j]),
                                               typename F::vec(batch_.col(j)),
                                               conditional ? batch_c_.col(j).data() : nullptr, "training");
    });
  }
  double validation(const F& flow, std::string* why) const {
    row_t<S> vlp;
    if constexpr (conditional)
      vlp = log_prob_shard(c_, flow, valid_, "mpi::fit (validation data)", *valid_c_);
    else
      vlp = log_prob_shard(c_, flow, valid_, "mpi::fit (validation data)");
    const double vloss = -mean_of_all(c_, vlp);
    if (!std::isfinite(vloss))
      *why = first_bad_everywhere(vlp, valid_sh_.offset, [&](Eigen::Index first, Eigen::Index j) {
        return flowtmpl::detail::bad_sample_text(flow, first, double(vlp[j]), typename F::vec(valid_.col(j)),
                                                 flowtmpl::detail::context_of(valid_c_, j), "validation");
      });
    return vloss;
  }

 private:
  const private_comm& c_;
  const XR& train_;
  const CR* train_c_;
  const XR& valid_;
  const CR* valid_c_;
  shards train_sh_, valid_sh_;
  int shared_context_ = 0;
  Eigen::Matrix<S, C, Eigen::Dynamic> expanded_c_;
  std::vector<Eigen::Index> wanted_, bounds_;
  batch_t<S, F::dim> batch_;
  Eigen::Matrix<S, C, Eigen::Dynamic> batch_c_;
  row_t<S> lp_;
  Eigen::Index count_ = 0;

  // The sentence about the first non-finite value of a set spread over the processes
  // (this process's values lp, from position starts[rank]; starts[size]: the set's size;
  // position 0 when none is), built by the process that holds it, describe(position,
  // its column here), and broadcast to every process.
  template <class LP, class Describe>
  std::string first_bad_everywhere(const LP& lp, const std::vector<Eigen::Index>& starts, Describe&& describe) const {
    const long long total = starts.back();
    long long mine = total, first = 0;
    for (Eigen::Index j = 0; j < lp.size(); ++j)
      if (!std::isfinite(double(lp[j]))) {
        mine = starts[std::size_t(c_.rank())] + j;
        break;
      }
    MPI_Allreduce(&mine, &first, 1, MPI_LONG_LONG, MPI_MIN, c_.get());
    if (first == total) first = 0;
    const int owner = int(std::upper_bound(starts.begin(), starts.end(), Eigen::Index(first)) - starts.begin()) - 1;
    std::string why;
    if (c_.rank() == owner) why = describe(Eigen::Index(first), Eigen::Index(first) - starts[std::size_t(owner)]);
    broadcast_string(why, owner, c_.get());
    return why;
  }
  Eigen::Matrix<S, C, Eigen::Dynamic> contexts(const std::vector<Eigen::Index>& bounds) const {
    if (shared_context_) return *train_c_;
    if (expanded_c_.cols() > 0)
      return fetch_columns<S, C>(c_, train_sh_, expanded_c_, wanted_, bounds, "mpi::fit");
    return fetch_columns<S, C>(c_, train_sh_, *train_c_, wanted_, bounds, "mpi::fit");
  }
};

// Refuses the whole data set passed on every process in place of its shard: every
// process holds as many columns, with the same first and last column (bits).
template <class XR>
void refuse_copies(const private_comm& c, const shards& sh, const XR& X, const char* what) {
  if (c.size() < 2 || sh.count[0] == 0) return;
  for (const Eigen::Index k : sh.count)
    if (k != sh.count[0]) return;
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the first and last columns' bytes
  for (const Eigen::Index j : {Eigen::Index(0), X.cols() - 1}) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(X.col(j).data());
    for (std::size_t i = 0; i < sizeof(typename XR::Scalar) * std::size_t(X.rows()); ++i)
      h = (h ^ bytes[i]) * 1099511628211ull;
  }
  std::uint64_t lo = 0, hi = 0;
  MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, c.get());
  MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, c.get());
  if (lo == hi)
    flowtmpl::detail::fail_shape(message(what, ": every process passed the same ", sh.count[0],
                                         " columns; each process passes only its own shard of the data (the whole "
                                         "set is the shards in rank order; mpi::sample_range splits one)"));
}

template <class F, class XR, class CR>
fit_result fit_impl(MPI_Comm comm, F& flow, const XR& train, const CR* train_c, const XR& valid, const CR* valid_c,
                    const fit_options& opt) {
  const private_comm c(comm, "mpi::fit");
  same_everywhere(c, "mpi::fit",
                  {as_named("options.batch_size", std::uint64_t(opt.batch_size)),
                   as_named("options.epochs", std::uint64_t(opt.epochs)),
                   as_named("options.max_steps", std::uint64_t(opt.max_steps)), as_named("options.seed", opt.seed),
                   as_named("options.optimizer", std::uint64_t(opt.optimizer)),
                   as_named("options.learning_rate", opt.learning_rate),
                   as_named("options.patience", std::uint64_t(opt.patience)),
                   as_named("options.clip_norm", opt.clip_norm),
                   as_named("options.initialize_actnorm", std::uint64_t(opt.initialize_actnorm)),
                   as_named("options.checkpoint_every", std::uint64_t(opt.checkpoint_every)),
                   as_named("the resumed state's step", std::uint64_t(opt.resume ? opt.resume->step + 1 : 0))});
  broadcast_parameters(c, flow, 0);
  refuse_copies(c, layout(c, train.cols()), train, "mpi::fit");
  fit_engine<F, XR, CR> engine(c, train, train_c, valid, valid_c);
  return flowtmpl::detail::fit_loop(flow, engine, opt);
}

}  // namespace detail

template <class F, class DT, class DV>
  requires(!ConditionalDistribution<F>)
fit_result fit(MPI_Comm comm, F& flow, const Eigen::MatrixBase<DT>& train, const Eigen::MatrixBase<DV>& valid,
               const fit_options& opt = {}) {
  using S = typename F::scalar_type;
  {
    const detail::private_comm c(comm, "mpi::fit");
    detail::collectively(c, [&] {
      (void)flowtmpl::detail::batch_view<F>(train, "mpi::fit (training data)");
      (void)flowtmpl::detail::batch_view<F>(valid, "mpi::fit (validation data)");
    });
  }
  const auto t = flowtmpl::detail::batch_view<F>(train, "mpi::fit (training data)");
  const auto v = flowtmpl::detail::batch_view<F>(valid, "mpi::fit (validation data)");
  return detail::fit_impl(comm, flow, t, static_cast<const batch_t<S, 1>*>(nullptr), v,
                          static_cast<const batch_t<S, 1>*>(nullptr), opt);
}
template <class F, class DT>
  requires(!ConditionalDistribution<F>)
fit_result fit(MPI_Comm comm, F& flow, const Eigen::MatrixBase<DT>& train, const fit_options& opt = {}) {
  const batch_t<typename F::scalar_type, F::dim> none(F::dim, 0);
  return fit(comm, flow, train, none, opt);
}
template <ConditionalDistribution F>
fit_result fit(MPI_Comm comm, F& flow, const conditional_data<F>& train, const conditional_data<F>& valid,
               const fit_options& opt = {}) {
  return detail::fit_impl(comm, flow, train.x(), &train.context(), valid.x(), &valid.context(), opt);
}
template <ConditionalDistribution F>
fit_result fit(MPI_Comm comm, F& flow, const conditional_data<F>& train, const fit_options& opt = {}) {
  const batch_t<typename F::scalar_type, F::dim> none_x(F::dim, 0);
  const Eigen::Matrix<typename F::scalar_type, F::context_dim, Eigen::Dynamic> none_c(F::context_dim, 0);
  const conditional_data<F> none(none_x, none_c);
  return fit(comm, flow, train, none, opt);
}

}  // namespace flowtmpl::mpi
