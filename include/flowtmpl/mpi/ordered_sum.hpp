// flowtmpl/mpi/ordered_sum.hpp: a sum over processes in a fixed order, the same bits
// on every process and for any number of processes.
//   mpi::detail::ordered_sum(c, parts, m) -> std::vector<S>
//       parts: this process's vectors of m values, in order. The result, on every
//       process, is the left fold 0 + p_0 + p_1 + ... over all processes' parts in rank
//       order, element by element: exactly what one process holding every part would
//       compute with the same loop.
// How: a chain in rank order. Rank 0 starts from zeros and adds its parts; it passes
// the running sum to rank 1, which adds its parts, and so on; the last rank broadcasts
// the result. The chain is cut into k segments (segment_values_for(m, R): m / R values,
// at least 1024 and at most 65536), so rank r + 1 adds segment i while rank r is on
// segment i + 1: the time is about (R - 1 + k) (latency + segment / bandwidth), plus the
// broadcast, against 2 (R - 1) latencies and 2 m (R - 1) / R values for a ring allreduce
// (docs/performance.md, "MPI"). The segments do not change the bits: the sum is element
// by element.
// MPI_Allreduce is not used: the order in which it adds is the library's choice (it
// depends on the algorithm, the process count and the message size), so its bits are
// not fixed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include <mpi.h>

#include "communicator.hpp"

namespace flowtmpl::mpi {
namespace detail {

inline constexpr std::size_t segment_values = std::size_t(1) << 16;  // at most
inline constexpr std::size_t least_segment_values = 1024;
inline std::size_t segment_values_for(std::size_t m, int processes) {
  return std::clamp((m + std::size_t(processes) - 1) / std::size_t(processes), least_segment_values, segment_values);
}

template <class S>
std::vector<S> ordered_sum(const private_comm& c, const std::vector<std::vector<S>>& parts, std::size_t m) {
  constexpr int chain_tag = 7301;
  std::vector<S> acc(m, S(0));
  const int me = c.rank(), R = c.size();
  const std::size_t segment = segment_values_for(m, R);
  for (std::size_t at = 0; at < m; at += segment) {
    const std::size_t len = std::min(segment, m - at);
    if (me > 0) MPI_Recv(acc.data() + at, int(len), datatype<S>(), me - 1, chain_tag, c.get(), MPI_STATUS_IGNORE);
    for (const auto& p : parts)
      for (std::size_t i = at; i < at + len; ++i) acc[i] += p[i];
    if (me + 1 < R) MPI_Send(acc.data() + at, int(len), datatype<S>(), me + 1, chain_tag, c.get());
  }
  for (std::size_t at = 0; at < m; at += segment_values) {
    const std::size_t len = std::min(segment_values, m - at);
    MPI_Bcast(acc.data() + at, int(len), datatype<S>(), R - 1, c.get());
  }
  return acc;
}

}  // namespace detail
}  // namespace flowtmpl::mpi
