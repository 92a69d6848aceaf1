// flowtmpl/training.hpp: training a bound flow distribution on the host, with the
// analytic gradients of flowtmpl/differentiable.hpp (this header includes its parts,
// under flowtmpl/training/).
//
// Losses (each returns the mean over the batch and writes its gradient, a value of the
// flow's type, into grad):
//   nll_and_gradient(flow, X, grad)        -> S           mean -log p(x) over the
//                                                         columns of X (D x N)
//   reverse_kl_and_gradient(flow, target, n, seed, grad) -> reverse_kl_result
//       mean of log q(x) - log p~(x) over n reparameterised draws x = f(z(eps)),
//       eps_j from philox_stream(seed, j) as sample() draws them; target(x) returns
//       {log p~(x), d log p~/dx} (flowtmpl::value_and_gradient), p~ unnormalised. Also
//       reports the effective sample size of the importance weights p~/q.
// Samples are evaluated in blocks of 128 (fewer for D > 256: host/parallel_loops.hpp's
// host_block_for; in parallel with OpenMP when on); each block
// accumulates its own gradient and the blocks are summed in order, so the result is
// bitwise the same for any number of threads.
//
// Optimizers on the flat parameter vector (copy_parameters order), as PyTorch defines
// them: adam (bias-corrected, eps outside the square root, optional decoupled weight
// decay = AdamW) and sgd (momentum buffer b = mu b + g, step -lr b; Nesterov optional).
// clip_grad_norm(g, n, max_norm) scales g to global norm max_norm when it is above it
// and returns the norm before. Schedules: constant_lr, cosine_lr (PyTorch's
// CosineAnnealingLR closed form), step_lr (gamma every step_size steps).
//
// fit(flow, train, valid, options): minibatch maximum likelihood (see fit_options).
// Each epoch shuffles the training columns with philox_stream(seed, epoch); the
// validation loss (mean NLL of valid) is computed after each epoch; with patience > 0
// training stops when it has not improved for that many epochs and the best
// parameters are restored. Progress: one line per epoch on stderr (epoch, losses,
// learning rate, samples/s, ETA) unless options.on_progress replaces it. ActNorm layers
// are initialised from the first batch (flowtmpl::initialize) unless told otherwise.
// Non-finite guard: a loss, gradient or updated parameter that is not finite stops
// training before the update is kept; the result says which step, which sample or
// which parameter (its name, from for_each_parameter), and for a sample the layer
// where its value first became non-finite (checked mode); the parameters are those
// before that step. A non-finite validation loss stops training after its epoch and
// names the validation sample and layer the same way (the best epoch's parameters are
// restored when there is one).
//
// Parts:
//   training/block_gradient.hpp   the gradient of a block of samples (coupling flows)
//   training/losses.hpp           nll_and_gradient, reverse_kl_and_gradient
//   training/optimizers.hpp       adam, sgd, clip_grad_norm
//   training/schedules.hpp        constant_lr, cosine_lr, step_lr
//   training/progress.hpp         fit_progress and its line on stderr
//   training/variational_dequantization.hpp  pixel_dequantizer (a learned q(u | x)),
//                                 negative_elbo_and_gradient, importance_bits_per_dim
//   training/fit_state.hpp        fit_options, fit_result, fit_state (checkpoints, resuming)
//   training/jump_detector.hpp    fit_jump: steps whose loss or gradient norm jumps
//   training/fit_loop.hpp         fit's loop, on one process or over MPI (mpi/fit.hpp)
//   training/fit.hpp              fit
#pragma once

#include "training/block_gradient.hpp"
#include "training/fit.hpp"
#include "training/losses.hpp"
#include "training/optimizers.hpp"
#include "training/progress.hpp"
#include "training/variational_dequantization.hpp"
#include "training/schedules.hpp"
