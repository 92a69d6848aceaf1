// What the MPI tests share: communicators of the first k processes, shards of a data
// set of uneven sizes, flat parameter vectors.
#pragma once

#include <mpi.h>

#include <flowtmpl/flowtmpl.hpp>

#include <vector>

namespace flowtmpl_mpi_test {

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
inline int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// The communicator of world ranks 0, ..., k - 1 (MPI_COMM_NULL on the others); freed
// when it goes out of scope.
class first_ranks {
 public:
  explicit first_ranks(int k) {
    MPI_Comm_split(MPI_COMM_WORLD, world_rank() < k ? 0 : MPI_UNDEFINED, world_rank(), &comm_);
  }
  first_ranks(const first_ranks&) = delete;
  first_ranks& operator=(const first_ranks&) = delete;
  ~first_ranks() {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }
  bool member() const { return comm_ != MPI_COMM_NULL; }
  MPI_Comm get() const { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// Shard r of k of n columns: uneven on purpose (rank 0 gets about half as many as the
// others), so shard edges fall inside blocks and batches.
inline Eigen::Index shard_first(Eigen::Index n, int k, int r) {
  if (r == 0) return 0;
  if (r >= k) return n;
  const Eigen::Index first_size = n / (2 * k - 1);
  return first_size + (n - first_size) * (r - 1) / (k - 1);
}
template <class M>
M shard(const M& all, int k, int r) {
  const Eigen::Index a = shard_first(all.cols(), k, r), b = shard_first(all.cols(), k, r + 1);
  return all.middleCols(a, b - a);
}

template <class F>
std::vector<typename F::scalar_type> flat(const F& f) {
  std::vector<typename F::scalar_type> v(flowtmpl::parameter_count_v<F>);
  flowtmpl::copy_parameters(f, v.data());
  return v;
}

}  // namespace flowtmpl_mpi_test
