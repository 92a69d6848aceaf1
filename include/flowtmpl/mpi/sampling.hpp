// flowtmpl/mpi/sampling.hpp: sampling and log densities of a data set spread over the
// processes of a communicator (each process its own contiguous shard, in rank order).
//   mpi::sample_range(n, size, rank) -> {first, count}   the samples rank r draws:
//       [r n / R, (r + 1) n / R); n < 0 throws shape_error, size < 1 or a rank outside
//       [0, size) argument_error
//   mpi::sample(comm, d, n, seed [, T])                  this process's part of
//   mpi::sample_and_log_prob(comm, d, n, seed [, T])     sample(d, n, seed [, T]):
//       its columns sample_range(...), bitwise
//   mpi::sample(comm, d, n, seed, Ctx [, T]), sample_and_log_prob(...)   a conditional
//       flow; Ctx: this process's contexts (C x count) or one for all (C x 1, the same
//       on every process)
//   mpi::log_prob(comm, d, X [, Ctx]) -> 1 x (X's columns)   log p of this process's
//       shard: bitwise the columns that log_prob(d, whole set [, its contexts]) gives
//   mpi::mean_log_prob(comm, d, X [, Ctx]) -> double     the mean over the whole set,
//       on every process: bitwise log_prob(d, whole set).cast<double>().mean()
// All are collective: every process of comm calls them, with the same flow, n, seed and
// T. Bitwise equality with one process: a block-path flow evaluates samples in blocks
// of host_block_for(D) columns counted from the first sample of the whole set; each
// process evaluates the whole blocks that cover its part (fetching the neighbours'
// columns of its first and last block: at most two blocks more than its share) and
// keeps its own columns. mean_log_prob gathers one value per sample to every process.
// A bad argument on any process (a wrong row count, a context of the wrong size, an n,
// seed or T that differs from rank 0's) throws the same exception on every process,
// naming the rank (mpi/communicator.hpp). n and T, once the same everywhere, are
// checked as on one process (host/distribution_entry_points.hpp: n < 0 or too many
// values, shape_error; T not finite or below the smallest normal value of the scalar,
// argument_error), on every process alike, before anything is drawn: the message starts
// with the function's name ("mpi::sample: the temperature is 0; ..."). The communicator
// is refused where it is MPI_COMM_NULL or an intercommunicator (mpi/communicator.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include <mpi.h>

#include "../detail/eigen.hpp"
#include "../flowtmpl.hpp"
#include "communicator.hpp"
#include "distributed_data.hpp"

namespace flowtmpl::mpi {

struct sample_span {
  Eigen::Index first = 0, count = 0;
};

inline sample_span sample_range(Eigen::Index n, int size, int rank) {
  using flowtmpl::detail::message;
  if (n < 0) flowtmpl::detail::fail_shape(message("mpi::sample_range: the number of samples is ", n, "; it must be at least 0"));
  if (size < 1)
    flowtmpl::detail::fail_argument(message("mpi::sample_range: the number of processes is ", size, "; it must be at least 1"));
  if (rank < 0 || rank >= size)
    flowtmpl::detail::fail_argument(message("mpi::sample_range: the rank is ", rank, "; it must be in [0, ", size - 1,
                                            "] for ", size, " processes"));
  const Eigen::Index a = Eigen::Index(rank) * n / size, b = Eigen::Index(rank + 1) * n / size;
  return {a, b - a};
}

namespace detail {

// Every rank's cover of its own columns, as the wanted / bounds of fetch_columns.
inline void covers(const shards& sh, Eigen::Index block, std::vector<Eigen::Index>& wanted,
                   std::vector<Eigen::Index>& bounds, std::vector<index_range>& cover) {
  const std::size_t R = sh.count.size();
  wanted.clear();
  bounds.assign(1, 0);
  cover.resize(R);
  for (std::size_t r = 0; r < R; ++r) {
    cover[r] = block_cover(sh.offset[r], sh.count[r], sh.total, block);
    for (Eigen::Index k = 0; k < cover[r].count; ++k) wanted.push_back(cover[r].first + k);
    bounds.push_back(Eigen::Index(wanted.size()));
  }
}

// The contexts of the columns this process evaluates: Ctx itself when it is one column
// for all, else fetched as the samples are.
template <class Dist, class CR>
Eigen::Matrix<typename Dist::scalar_type, Dist::context_dim, Eigen::Dynamic> cover_contexts(
    const private_comm& c, const shards& sh, const CR& ctx, Eigen::Index own_count, const std::vector<Eigen::Index>& wanted,
    const std::vector<Eigen::Index>& bounds, const char* what) {
  using S = typename Dist::scalar_type;
  int shared = ctx.cols() == 1 && own_count != 1 ? 1 : 0, all_shared = 0;
  MPI_Allreduce(&shared, &all_shared, 1, MPI_INT, MPI_MIN, c.get());
  if (all_shared) return ctx;
  if (ctx.cols() == 1 && own_count != 1) {  // this one shared, another not: expand it
    Eigen::Matrix<S, Dist::context_dim, Eigen::Dynamic> full = ctx.replicate(1, own_count);
    return fetch_columns<S, Dist::context_dim>(c, sh, full, wanted, bounds, what);
  }
  return fetch_columns<S, Dist::context_dim>(c, sh, ctx, wanted, bounds, what);
}

template <class Dist, class DX, class... Ctx>
row_t<typename Dist::scalar_type> log_prob_shard(const private_comm& c, const Dist& d, const Eigen::MatrixBase<DX>& xin,
                                                  const char* what, const Ctx&... ctxin) {
  using S = typename Dist::scalar_type;
  collectively(c, [&] {
    (void)flowtmpl::detail::batch_view<Dist>(xin, what);
    ((void)flowtmpl::detail::context_view<Dist>(ctxin, xin.cols(), what), ...);
  });
  const auto X = flowtmpl::detail::batch_view<Dist>(xin, what);
  const shards sh = layout(c, X.cols());
  std::vector<Eigen::Index> wanted, bounds;
  std::vector<index_range> cover;
  covers(sh, flowtmpl::detail::host_block_for(Dist::dim), wanted, bounds, cover);
  const batch_t<S, Dist::dim> Xe = fetch_columns<S, Dist::dim>(c, sh, X, wanted, bounds, what);
  const index_range mine = cover[std::size_t(c.rank())];
  const Eigen::Index skip = sh.offset[std::size_t(c.rank())] - mine.first;
  row_t<S> lp;
  if constexpr (sizeof...(Ctx) == 1) {
    const auto C = flowtmpl::detail::context_view<Dist>(ctxin..., X.cols(), what);
    const auto Ce = cover_contexts<Dist>(c, sh, C, X.cols(), wanted, bounds, what);
    lp = flowtmpl::log_prob(d, Xe, Ce);
  } else {
    lp = flowtmpl::log_prob(d, Xe);
  }
  return lp.segment(skip, X.cols());
}

template <class S>
double mean_of_all(const private_comm& c, const row_t<S>& lp) {
  const shards sh = layout(c, lp.size());
  std::vector<int> counts(std::size_t(c.size())), displs(std::size_t(c.size()));
  for (int r = 0; r < c.size(); ++r) {
    counts[std::size_t(r)] = count_of(sh.count[std::size_t(r)], "mpi::mean_log_prob");
    displs[std::size_t(r)] = count_of(sh.offset[std::size_t(r)], "mpi::mean_log_prob");
  }
  row_t<S> all(sh.total);
  MPI_Allgatherv(lp.data(), int(lp.size()), datatype<S>(), all.data(), counts.data(), displs.data(), datatype<S>(),
                 c.get());
  return all.template cast<double>().mean();
}

// n and T the same everywhere, then checked (the same refusal on every process).
template <class Dist, class... T>
void check_draw_arguments(const private_comm& c, Eigen::Index n, std::uint64_t seed, const char* what,
                          const T&... temperature) {
  same_everywhere(c, what, {as_named("n", std::uint64_t(n)), as_named("seed", seed),
                            as_named("the temperature", double(temperature))...});
  flowtmpl::detail::check_sample_count<Dist::dim, typename Dist::scalar_type>(n, what);
  (flowtmpl::detail::check_temperature(temperature, what), ...);
}

template <class Dist, class... T>
batch_result<typename Dist::scalar_type, Dist::dim> draw_part(const private_comm& c, const Dist& d, Eigen::Index n,
                                                              std::uint64_t seed, bool with_lp, const char* what,
                                                              const T&... temperature) {
  check_draw_arguments<Dist>(c, n, seed, what, temperature...);
  const sample_span mine = sample_range(n, c.size(), c.rank());
  const index_range cover = block_cover(mine.first, mine.count, n, flowtmpl::detail::host_block_for(Dist::dim));
  auto r = flowtmpl::detail::draw_columns(d, cover.first, cover.count, seed, with_lp, temperature...);
  const Eigen::Index skip = mine.first - cover.first;
  return {r.values.middleCols(skip, mine.count), with_lp ? row_t<typename Dist::scalar_type>(r.log_det.segment(skip, mine.count))
                                                         : row_t<typename Dist::scalar_type>()};
}

template <class Dist, class DC, class... T>
batch_result<typename Dist::scalar_type, Dist::dim> draw_conditional_part(const private_comm& c, const Dist& d,
                                                                          Eigen::Index n, std::uint64_t seed,
                                                                          const Eigen::MatrixBase<DC>& ctxin,
                                                                          const char* what, const T&... temperature) {
  check_draw_arguments<Dist>(c, n, seed, what, temperature...);
  const sample_span mine = sample_range(n, c.size(), c.rank());
  collectively(c, [&] { (void)flowtmpl::detail::context_view<Dist>(ctxin, mine.count, what); });
  const auto C = flowtmpl::detail::context_view<Dist>(ctxin, mine.count, what);
  const shards sh = layout(c, mine.count);
  std::vector<Eigen::Index> wanted, bounds;
  std::vector<index_range> cover;
  covers(sh, flowtmpl::detail::host_block_for(Dist::dim), wanted, bounds, cover);
  const auto Ce = cover_contexts<Dist>(c, sh, C, mine.count, wanted, bounds, what);
  const index_range mc = cover[std::size_t(c.rank())];
  auto r = flowtmpl::detail::draw_conditional_columns(d, mc.first, mc.count, seed, Ce, what, temperature...);
  const Eigen::Index skip = mine.first - mc.first;
  return {r.values.middleCols(skip, mine.count), r.log_det.segment(skip, mine.count)};
}

}  // namespace detail

template <Distribution Dist>
  requires(!ConditionalDistribution<Dist>)
batch_t<typename Dist::scalar_type, Dist::dim> sample(MPI_Comm comm, const Dist& d, Eigen::Index n, std::uint64_t seed) {
  const detail::private_comm c(comm, "mpi::sample");
  return detail::draw_part(c, d, n, seed, false, "mpi::sample").values;
}
template <Distribution Dist>
  requires(!ConditionalDistribution<Dist>)
batch_t<typename Dist::scalar_type, Dist::dim> sample(MPI_Comm comm, const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      typename Dist::scalar_type temperature) {
  static_assert(flowtmpl::detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  const detail::private_comm c(comm, "mpi::sample");
  return detail::draw_part(c, d, n, seed, false, "mpi::sample", temperature).values;
}
template <Distribution Dist>
  requires(!ConditionalDistribution<Dist>)
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(MPI_Comm comm, const Dist& d, Eigen::Index n,
                                                                        std::uint64_t seed) {
  const detail::private_comm c(comm, "mpi::sample_and_log_prob");
  return detail::draw_part(c, d, n, seed, true, "mpi::sample_and_log_prob");
}
template <Distribution Dist>
  requires(!ConditionalDistribution<Dist>)
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(MPI_Comm comm, const Dist& d, Eigen::Index n,
                                                                        std::uint64_t seed,
                                                                        typename Dist::scalar_type temperature) {
  static_assert(flowtmpl::detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  const detail::private_comm c(comm, "mpi::sample_and_log_prob");
  return detail::draw_part(c, d, n, seed, true, "mpi::sample_and_log_prob", temperature);
}
template <ConditionalDistribution Dist, class DC>
batch_t<typename Dist::scalar_type, Dist::dim> sample(MPI_Comm comm, const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      const Eigen::MatrixBase<DC>& context) {
  const detail::private_comm c(comm, "mpi::sample");
  return detail::draw_conditional_part(c, d, n, seed, context, "mpi::sample").values;
}
template <ConditionalDistribution Dist, class DC>
batch_t<typename Dist::scalar_type, Dist::dim> sample(MPI_Comm comm, const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      const Eigen::MatrixBase<DC>& context,
                                                      typename Dist::scalar_type temperature) {
  static_assert(flowtmpl::detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  const detail::private_comm c(comm, "mpi::sample");
  return detail::draw_conditional_part(c, d, n, seed, context, "mpi::sample", temperature).values;
}
template <ConditionalDistribution Dist, class DC>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(MPI_Comm comm, const Dist& d, Eigen::Index n,
                                                                        std::uint64_t seed,
                                                                        const Eigen::MatrixBase<DC>& context) {
  const detail::private_comm c(comm, "mpi::sample_and_log_prob");
  return detail::draw_conditional_part(c, d, n, seed, context, "mpi::sample_and_log_prob");
}
template <ConditionalDistribution Dist, class DC>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(MPI_Comm comm, const Dist& d, Eigen::Index n,
                                                                        std::uint64_t seed,
                                                                        const Eigen::MatrixBase<DC>& context,
                                                                        typename Dist::scalar_type temperature) {
  static_assert(flowtmpl::detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  const detail::private_comm c(comm, "mpi::sample_and_log_prob");
  return detail::draw_conditional_part(c, d, n, seed, context, "mpi::sample_and_log_prob", temperature);
}

template <Distribution Dist, class DX>
  requires(!ConditionalDistribution<Dist>)
row_t<typename Dist::scalar_type> log_prob(MPI_Comm comm, const Dist& d, const Eigen::MatrixBase<DX>& x) {
  const detail::private_comm c(comm, "mpi::log_prob");
  return detail::log_prob_shard(c, d, x, "mpi::log_prob");
}
template <ConditionalDistribution Dist, class DX, class DC>
row_t<typename Dist::scalar_type> log_prob(MPI_Comm comm, const Dist& d, const Eigen::MatrixBase<DX>& x,
                                           const Eigen::MatrixBase<DC>& context) {
  const detail::private_comm c(comm, "mpi::log_prob");
  return detail::log_prob_shard(c, d, x, "mpi::log_prob", context);
}
template <Distribution Dist, class DX>
  requires(!ConditionalDistribution<Dist>)
double mean_log_prob(MPI_Comm comm, const Dist& d, const Eigen::MatrixBase<DX>& x) {
  const detail::private_comm c(comm, "mpi::mean_log_prob");
  return detail::mean_of_all(c, detail::log_prob_shard(c, d, x, "mpi::mean_log_prob"));
}
template <ConditionalDistribution Dist, class DX, class DC>
double mean_log_prob(MPI_Comm comm, const Dist& d, const Eigen::MatrixBase<DX>& x, const Eigen::MatrixBase<DC>& context) {
  const detail::private_comm c(comm, "mpi::mean_log_prob");
  return detail::mean_of_all(c, detail::log_prob_shard(c, d, x, "mpi::mean_log_prob", context));
}

}  // namespace flowtmpl::mpi
