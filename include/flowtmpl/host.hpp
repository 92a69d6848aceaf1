// flowtmpl/host.hpp: the host (Eigen) backend: batch entry points (this header includes
// its parts, under flowtmpl/host/).
//
// A batch is any Eigen expression with D rows and N columns, one sample per column, of
// the flow's scalar type: a Matrix<S, D, Dynamic>, a block of one, or an Eigen::Map.
// A user's N x D row-major buffer is the same memory as a D x N column-major matrix:
//   Eigen::Map<const Eigen::Matrix<S, D, Eigen::Dynamic>> x(buffer, D, N);
// (or, equivalently, the transpose of a row-major Map) and is read without a copy.
// An expression that has no such memory layout is evaluated once into a temporary.
//
//   forward(b, X)                -> D x N          inverse(b, Y)        -> D x N
//   log_det(b, X)                -> 1 x N          (log|det df/dx| per column)
//   forward_and_log_det(b, X)    -> {values, log_det}
//   inverse_and_log_det(b, Y)    -> {values, log_det}   (log|det df^-1/dy|)
//   log_prob(d, X)               -> 1 x N
//   sample(d, n, seed [, T])     -> D x n          sample j draws from philox_stream(seed, j)
//   sample_and_log_prob(d, n, seed [, T]) -> {values, log_prob}
//   initialize(b, X)             data-dependent initialisation (ActNorm) from data X,
//                                layer by layer in the normalizing direction
// Conditional flows (conditional.hpp) take a context batch Ctx, C x N or C x 1 (one
// context for all samples): forward(b, X, Ctx), inverse, forward_and_log_det,
// inverse_and_log_det, log_det, log_prob(d, X, Ctx [, mode]), sample(d, n, seed, Ctx [, T]),
// sample_and_log_prob(d, n, seed, Ctx [, T]), initialize(b, X, Ctx); checked mode too.
// Calling a conditional flow without its context, or passing one to a flow that reads
// none, is a compile-time error in words (host/context_diagnostics.hpp).
//
// Layers with a conditioner (Coupling, the autoregressive layers) evaluate a block of
// 256 samples at once, the network as matrix-matrix products; a chain holding one is
// evaluated layer by layer over each block, other chains whole per column.
//
// Execution: the bijector is prepared once per call (flowtmpl::prepare), the constant
// part of the log-det is computed once per call, then columns are evaluated in fixed
// blocks of 128, in parallel with OpenMP when the program is built with it. Every
// column's result depends on that column only, so results are bitwise the same for any
// number of threads, and a NaN in one sample reaches that sample's outputs only.
//
// Unchecked (the default): no test of the values. Outside a layer's domain the
// results are what the layer's header says (inf or NaN in that sample); nothing
// crashes and nothing is read or written outside the batch. Shapes are checked always:
// a wrong number of rows throws flowtmpl::shape_error.
//
// Checked: pass flowtmpl::checked as the last argument. Samples are evaluated one at a
// time, layer by layer, and the first problem throws flowtmpl::domain_error naming the
// layer (position and name), the sample, the component and the value: invalid
// parameters (a layer's validate()), a non-finite input, an input outside a layer's
// domain, a non-finite output or log-det. Checked mode needs exceptions.
//
// Parts:
//   host/batch.hpp                      batch_t, row_t, batch_result, the batch view
//   host/parallel_loops.hpp             the loops over blocks of 128 columns (OpenMP)
//   host/block_path.hpp                 eval_block: layers with a conditioner over a block
//   host/checked_mode.hpp               checked / unchecked, the checked walk
//   host/bijector_entry_points.hpp      forward, inverse, *_and_log_det, log_det
//   host/distribution_entry_points.hpp  log_prob, sample, sample_and_log_prob
//   host/conditional_entry_points.hpp   the same with a context batch
//   host/initialize.hpp                 data-dependent initialisation
//   host/exec_policy_overloads.hpp      the entry points with exec::host first
#pragma once

#include "host/batch.hpp"
#include "host/bijector_entry_points.hpp"
#include "host/block_path.hpp"
#include "host/checked_mode.hpp"
#include "host/conditional_entry_points.hpp"
#include "host/context_diagnostics.hpp"
#include "host/distribution_entry_points.hpp"
#include "host/exec_policy_overloads.hpp"
#include "host/initialize.hpp"
#include "host/parallel_loops.hpp"
