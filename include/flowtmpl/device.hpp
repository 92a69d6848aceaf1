// flowtmpl/device.hpp: the thrust device backend (this header includes its parts, under
// flowtmpl/device/, and the host backend, flowtmpl/host.hpp).
//
// One code for three thrust systems: THRUST_DEVICE_SYSTEM_CUDA (built with nvcc),
// THRUST_DEVICE_SYSTEM_OMP and THRUST_DEVICE_SYSTEM_CPP (built with any C++20
// compiler; the CMake targets flowtmpl::device_omp and flowtmpl::device_cpp set the
// macro). Include this header after choosing the system, before any other thrust
// header.
//
//   device_flow<T> df(flow)      copies a bound bijector or flow distribution to
//                                device memory once, with its prepared form (what
//                                flowtmpl::prepare gives); df.assign(flow) replaces
//                                the parameters (after an optimizer step), df.get()
//                                copies them back. T must be trivially copyable
//                                (every bound flowtmpl type is).
//   device_batch<S> x(D, N, order)   N samples of dimension D in device memory, in
//                                layout::columns or layout::rows (exec.hpp);
//                                to_device(X, order) copies a host Eigen matrix
//                                (D x N) there, to_host(x) copies back as D x N.
//
// Batch entry points, each one fused thrust::for_each over the samples in which one
// thread evaluates the whole chain for its sample (no kernel per layer, no temporary
// per layer):
//   forward / inverse(exec::device, df, x[, ctx])             -> device_batch
//   forward_and_log_det / inverse_and_log_det(...)            -> device_result
//   log_prob(exec::device, df, x[, ctx])                      -> device_vector<S> (N)
//   sample(exec::device, df, n, seed[, T][, order])           -> device_batch
//   sample_and_log_prob(exec::device, df, n, seed[, T][, order]) -> device_result
//   nll_and_gradient(exec::device, df, x, grad[, log_probs][, options]) -> S
// Outputs of forward / inverse take the input's layout; samples take `order`
// (default_device_layout). A context ctx is a device_batch of C rows and N samples, or
// of 1 sample shared by all. Sample j draws from philox_stream(seed, j) exactly as the
// host backend does, so both backends draw the same base samples for a seed.
//
// Gradients: nll_and_gradient evaluates log_prob_vjp per sample and reduces over the
// batch in a fixed order: samples are grouped into slots of options.samples_per_slot
// consecutive samples (128 by default, the host's block), each slot accumulated in
// sample order by one thread, then the slots summed in slot order per parameter. The
// result is the same for any thread count or GPU; with 128 per slot it is the host's
// own reduction order. Memory: one gradient (sizeof(T)) per slot.
//
// Numerics: evaluation runs the per-sample path of every layer, which is also what the
// host runs for chains without a network. For chains with networks (coupling, MADE),
// the host evaluates a block of samples as matrix-matrix products, which sums in
// another order: the backends then agree to float rounding, not bitwise. Nothing
// here throws on the device; the shape checks of the entry points throw shape_error
// on the host before the launch.
//
// Parts (each needs thrust with THRUST_DEVICE_SYSTEM chosen, as this header does):
//   device/device_batch.hpp   device_batch, device_result, to_device, to_host
//   device/device_flow.hpp    device_flow: a flow and its prepared form on the device
//   device/kernels.hpp        the fused per-sample kernels
//   device/launch.hpp         the shape checks and the thrust::for_each launch
//   device/entry_points.hpp   forward, inverse, log_prob, sample, ... (exec::device)
//   device/gradient.hpp       nll_and_gradient(exec::device, ...)
#pragma once

#include "device/device_batch.hpp"
#include "device/device_flow.hpp"
#include "device/entry_points.hpp"
#include "device/gradient.hpp"
#include "device/kernels.hpp"
#include "device/launch.hpp"
#include "host.hpp"
