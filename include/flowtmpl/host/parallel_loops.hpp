// flowtmpl/host/parallel_loops.hpp: the loops of the host backend over the columns of
// a batch, and the only OpenMP of the library.
//
// Columns are taken in fixed blocks of host_block = 256; the blocks run in parallel
// with OpenMP (one `omp parallel for schedule(static)` per call) when the program is
// built with it, serially otherwise. A block's columns run in order on one thread, so a
// result that depends on its own column only is the same for any number of threads.
//   for_each_column(n, f)            f(j) for every column j
//   for_each_numbered_block(n, f)    f(block, first, count) for every block; returns the
//                                    number of blocks ((n + 255) / 256)
//   for_each_block(n, f)             f(first, count) for every block
// Nothing here allocates.
#pragma once

#include "../detail/eigen.hpp"

namespace flowtmpl {
namespace detail {

inline constexpr Eigen::Index host_block = 256;

// Runs f(j) for every column j in fixed blocks, in parallel where OpenMP is on.
template <class F>
void for_each_column(Eigen::Index n, F&& f) {
  const Eigen::Index blocks = (n + host_block - 1) / host_block;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static)
#endif
  for (Eigen::Index b = 0; b < blocks; ++b) {
    const Eigen::Index end = (b + 1) * host_block < n ? (b + 1) * host_block : n;
    for (Eigen::Index j = b * host_block; j < end; ++j) f(j);
  }
}

// Runs f(block, first, count) for every block of columns, in parallel where OpenMP is
// on; returns the number of blocks.
template <class F>
Eigen::Index for_each_numbered_block(Eigen::Index n, F&& f) {
  const Eigen::Index blocks = (n + host_block - 1) / host_block;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static)
#endif
  for (Eigen::Index b = 0; b < blocks; ++b) {
    const Eigen::Index first = b * host_block;
    f(b, first, (first + host_block < n ? host_block : n - first));
  }
  return blocks;
}

// Runs f(first, count) for every block of columns, in parallel where OpenMP is on.
template <class F>
void for_each_block(Eigen::Index n, F&& f) {
  for_each_numbered_block(n, [&](Eigen::Index, Eigen::Index first, Eigen::Index count) { f(first, count); });
}

}  // namespace detail
}  // namespace flowtmpl
