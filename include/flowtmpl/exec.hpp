// flowtmpl/exec.hpp: the execution policies that choose a backend, and the two
// layouts a batch can have on the device.
//
//   exec::host     the Eigen host backend (flowtmpl/host.hpp): batches are Eigen
//                  matrices, D x N, one sample per column; blocks of 128 columns run
//                  in parallel with OpenMP; networks run as matrix-matrix products.
//   exec::device   the thrust backend (flowtmpl/device.hpp): batches are
//                  device_batch<S> in device memory; one thread evaluates the whole
//                  chain for one sample, in one fused thrust operation per call.
//
// Every batch entry point takes the policy first (log_prob(exec::device, flow, x));
// the host entry points are also callable without it, as before.
//
// Layouts of a device batch of N samples of dimension D (element (i, j) is component
// i of sample j):
//   layout::columns  D x N column-major: element (i, j) at data[i + j * D]; a sample's
//                    components are adjacent (the host's layout).
//   layout::rows     N x D column-major: element (i, j) at data[i * N + j]; one
//                    component of all samples is adjacent (coalesced on a GPU).
#pragma once

namespace flowtmpl {
namespace exec {
struct host_t {
  explicit host_t() = default;
};
inline constexpr host_t host{};
struct device_t {
  explicit device_t() = default;
};
inline constexpr device_t device{};
}  // namespace exec

enum class layout { columns, rows };
}  // namespace flowtmpl
