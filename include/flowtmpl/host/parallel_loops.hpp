// flowtmpl/host/parallel_loops.hpp: the loops of the host backend over the columns of
// a batch, and the only OpenMP of the library.
//
// Columns are taken in fixed blocks: host_block = 128, or host_block_for(D) columns
// for samples of D values (128 up to D = 256; above, the largest power of two with at
// most 32768 values in a block, at least 16 columns: 32 images of 28 x 28). 128 and
// not more, so that a batch of 256 is two blocks, one for each of two threads (a
// block of 128 floats is still 16 SIMD vectors of AVX-512 per row). The blocks
// run in parallel with OpenMP (one `omp parallel for schedule(static)` per call) when
// the program is built with it, serially otherwise. A block's columns run in order on
// one thread, so a result that depends on its own column only is the same for any
// number of threads, and one that sums over blocks depends on D and n alone.
//   for_each_column(n, f)            f(j) for every column j
//   for_each_numbered_block(n, f[, block])  f(block, first, count) for every block;
//                                    returns the number of blocks
//   for_each_block(n, f[, block])    f(first, count) for every block
// Nothing here allocates.
#pragma once

#include "../detail/eigen.hpp"

namespace flowtmpl {
namespace detail {

inline constexpr Eigen::Index host_block = 128;

constexpr Eigen::Index host_block_for(int dim) {
  constexpr Eigen::Index values = 32768, least = 16;
  if (Eigen::Index(dim) * host_block <= values) return host_block;
  Eigen::Index b = host_block;
  while (b > least && Eigen::Index(dim) * b > values) b /= 2;
  return b;
}
static_assert(host_block_for(8) == 128 && host_block_for(256) == 128 && host_block_for(784) == 32 &&
              host_block_for(3072) == 16);

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
Eigen::Index for_each_numbered_block(Eigen::Index n, F&& f, Eigen::Index block = host_block) {
  const Eigen::Index blocks = (n + block - 1) / block;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static)
#endif
  for (Eigen::Index b = 0; b < blocks; ++b) {
    const Eigen::Index first = b * block;
    f(b, first, (first + block < n ? block : n - first));
  }
  return blocks;
}

// Runs f(first, count) for every block of columns, in parallel where OpenMP is on.
template <class F>
void for_each_block(Eigen::Index n, F&& f, Eigen::Index block = host_block) {
  for_each_numbered_block(n, [&](Eigen::Index, Eigen::Index first, Eigen::Index count) { f(first, count); }, block);
}

}  // namespace detail
}  // namespace flowtmpl
