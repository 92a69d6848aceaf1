// flowtmpl/mpi/distributed_data.hpp: a data set whose columns are spread over the
// processes of a communicator, each holding a contiguous shard, in rank order: the
// whole set is shard 0, then shard 1, ...
//   mpi::detail::shards                    every shard's size and first global column
//   mpi::detail::layout(c, local_count)    them, from every process's own count
//   mpi::detail::fetch_columns(c, sh, X, wanted, bounds)
//       the columns each process needs, from wherever they are: process r receives the
//       columns at global indices wanted[bounds[r]], ..., wanted[bounds[r+1] - 1], in
//       that order (every process passes the same wanted and bounds). One
//       MPI_Alltoallv; each process sends only the columns it holds.
//   mpi::detail::block_cover(first, count, total, block)
//       the range of whole blocks of `block` columns (counted from column 0 of the
//       whole set, the last one shorter) that covers [first, first + count): the
//       columns a process evaluates so that every block is the one that one process
//       evaluating the whole set would take, bitwise
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <mpi.h>

#include "../detail/eigen.hpp"
#include "../errors.hpp"
#include "communicator.hpp"

namespace flowtmpl::mpi {
namespace detail {

struct shards {
  std::vector<Eigen::Index> count, offset;  // per rank; offset[size] == total
  Eigen::Index total = 0;
  int owner(Eigen::Index global) const {
    return int(std::upper_bound(offset.begin(), offset.end(), global) - offset.begin()) - 1;
  }
};

inline shards layout(const private_comm& c, Eigen::Index local_count) {
  shards sh;
  long long mine = local_count;
  std::vector<long long> all(std::size_t(c.size()));
  MPI_Allgather(&mine, 1, MPI_LONG_LONG, all.data(), 1, MPI_LONG_LONG, c.get());
  sh.count.assign(all.begin(), all.end());
  sh.offset.assign(std::size_t(c.size()) + 1, 0);
  for (int r = 0; r < c.size(); ++r) sh.offset[std::size_t(r) + 1] = sh.offset[std::size_t(r)] + sh.count[std::size_t(r)];
  sh.total = sh.offset.back();
  return sh;
}

struct index_range {
  Eigen::Index first = 0, count = 0;
};

inline index_range block_cover(Eigen::Index first, Eigen::Index count, Eigen::Index total, Eigen::Index block) {
  if (count == 0) return {first, 0};
  const Eigen::Index lo = first / block * block;
  const Eigen::Index hi = std::min((first + count + block - 1) / block * block, total);
  return {lo, hi - lo};
}

// The bounds that give rank r the whole blocks [b_r, b_{r+1}) of a batch of count
// columns in blocks of `block`, b_r = r * blocks / size (contiguous, in rank order).
inline std::vector<Eigen::Index> block_bounds(Eigen::Index count, Eigen::Index block, int size) {
  const Eigen::Index blocks = (count + block - 1) / block;
  std::vector<Eigen::Index> b(std::size_t(size) + 1);
  for (int r = 0; r <= size; ++r) b[std::size_t(r)] = std::min(Eigen::Index(r) * blocks / size * block, count);
  return b;
}

template <class S, int Rows, class XR>
Eigen::Matrix<S, Rows, Eigen::Dynamic> fetch_columns(const private_comm& c, const shards& sh, const XR& X,
                                                     const std::vector<Eigen::Index>& wanted,
                                                     const std::vector<Eigen::Index>& bounds, const char* what) {
  const int R = c.size(), me = c.rank();
  const Eigen::Index rows = X.rows();
  const Eigen::Index mine_first = sh.offset[std::size_t(me)];
  // send: for every destination, the columns of its range that this process holds
  std::vector<int> send_counts(std::size_t(R), 0), send_displs(std::size_t(R), 0);
  std::vector<S> send;
  for (int d = 0; d < R; ++d) {
    send_displs[std::size_t(d)] = flowtmpl::mpi::detail::count_of(static_cast<long long>(send.size()), what);
    for (Eigen::Index k = bounds[std::size_t(d)]; k < bounds[std::size_t(d) + 1]; ++k) {
      const Eigen::Index g = wanted[std::size_t(k)];
      if (sh.owner(g) != me) continue;
      const auto col = X.col(g - mine_first);
      send.insert(send.end(), col.data(), col.data() + rows);
    }
    send_counts[std::size_t(d)] =
        count_of(static_cast<long long>(send.size()) - send_displs[std::size_t(d)], what);
  }
  // receive: this process's range, grouped by the owner, in order within each owner
  const Eigen::Index lo = bounds[std::size_t(me)], hi = bounds[std::size_t(me) + 1];
  std::vector<int> recv_counts(std::size_t(R), 0), recv_displs(std::size_t(R), 0);
  for (Eigen::Index k = lo; k < hi; ++k) recv_counts[std::size_t(sh.owner(wanted[std::size_t(k)]))] += int(rows);
  long long total = 0;
  for (int s = 0; s < R; ++s) {
    recv_displs[std::size_t(s)] = count_of(total, what);
    total += recv_counts[std::size_t(s)];
  }
  std::vector<S> recv(static_cast<std::size_t>(total));
  MPI_Alltoallv(send.data(), send_counts.data(), send_displs.data(), datatype<S>(), recv.data(), recv_counts.data(),
                recv_displs.data(), datatype<S>(), c.get());
  Eigen::Matrix<S, Rows, Eigen::Dynamic> out(rows, hi - lo);
  std::vector<long long> next(recv_displs.begin(), recv_displs.end());
  for (Eigen::Index k = lo; k < hi; ++k) {
    const int s = sh.owner(wanted[std::size_t(k)]);
    for (Eigen::Index i = 0; i < rows; ++i) out(i, k - lo) = recv[std::size_t(next[std::size_t(s)] + i)];
    next[std::size_t(s)] += rows;
  }
  return out;
}

}  // namespace detail
}  // namespace flowtmpl::mpi
