// flowtmpl/testing.hpp: the conformance kit. Any Bijector, a user's own included, can be
// run through it; it depends on no test framework and returns a report
// (testing/report.hpp).
//
//   auto report = flowtmpl::testing::check_bijector(b, options);
//   if (!report.ok()) std::cerr << report.text();
//
// ok() holds when at least one check ran and none failed. The report counts each check
// by name; a check that cannot run on the layer is listed as skipped, with the reason
// (report.skipped(), and in text()), and never counts as passed.
//
// What check_bijector checks (testing/check_bijector.hpp), at `options.points` points
// drawn from options.lo, hi (per component, uniform; by default the layer's
// forward_domain() clipped to [-3, 3], else [-3, 3]), plus options.extra_points:
//   round_trip        |inverse(forward(x)) - x| <= round_trip_tol * max(1, |x|), per component
//   log_det           log_det(x) against log|det J| of a central-difference Jacobian
//                     (Richardson-extrapolated, step fd_step * max(1, |x_j|), and at most a
//                     hundredth of the distance to the end of the forward domain; where
//                     that misses, also a tenth and a hundredth of it, for maps that are
//                     C^1 but not C^2, like splines at their knots), within log_det_tol relative
//                     (absolute below 1). Meaningful in double; for float it is still run,
//                     with the float defaults.
//   inverse_log_det   inverse_log_det(b, forward(x)) == -log_det(x) within log_det_tol
//   fused             forward_and_log_det / inverse_and_log_det agree with the separate calls
//   kind              zero: log_det(x) == 0 exactly; constant: log_det(x) == constant_log_det()
//                     for every x. Skipped for an input-dependent log-det.
//   structure         every entry that the declared structure says is zero is exactly
//                     zero: output i does not change at all when input j is moved (by
//                     a large step) for a forbidden (i, j); for permutation structure,
//                     each output depends on exactly one input and each input on one output.
//                     Skipped for dense structure.
//   jacobian          flowtmpl::jacobian(b, x) against the central differences within
//                     jacobian_tol (relative to max(1, |J|)). Skipped unless has_jacobian_v<B>.
//   prepared          the real prepared form, flowtmpl::prepare(b) (b.prepare()), computes
//                     the same forward, inverse and log-dets within round_trip_tol
//                     (log_det_tol for the inverse log-det). Skipped when b has no
//                     prepare() (prepare(b) is then a copy of b).
//   finite.forward,   the finiteness sweep (testing/sweep.hpp), run for every layer in
//   finite.inverse    both directions: forward_and_log_det and inverse_and_log_det finite
//                     at edge and random points inside each direction's declared domain
//                     (forward_domain() / inverse_domain(); a chain's is that of the
//                     layer its input enters first; else the real line): 0, -0,
//                     +-tiny, +-1, +-large-but-representable values (up to max / 2^28),
//                     the domain's ends nudged inside, and random points; plus
//                     options.sweep / inverse_sweep as given. A test narrows a direction
//                     (options.narrow_sweep(dir, lo, hi, reason)) or drops its default
//                     points (options.drop_sweep(dir, reason)) only with a reason, which
//                     the report prints.
//   sweep             each direction's sweep range is the domain, or narrowed or dropped
//                     with a reason, and meets the domain
//   nan               a NaN in one component gives a NaN in the output or log-det (not a
//                     silently finite result). Skipped when options.check_nan is off.
//
//   auto report = flowtmpl::testing::check_gradients(b, gradient_options<S>{});
//
// checks the vector-Jacobian products of a differentiable bijector against central
// differences, in both directions, for the input and the parameters
// (testing/check_gradients.hpp: forward_vjp.input, forward_vjp.parameters,
// inverse_vjp.input, inverse_vjp.parameters; the parameter checks of a layer without
// parameters are skipped). Meant for double.
//
//   auto report = flowtmpl::testing::sweep_bad_inputs("my flow", flow, bad_input_options<S>{});
//
// feeds NaN, infinities, the largest values, denormals and (for splines) bounds and knots
// through every host entry point, checked and unchecked, per sample and per batch, with
// wrong shapes, strided and row-major views and bad contexts, and checks the contract of
// docs/robustness.md (testing/bad_input.hpp: checked.refuses, checked.message,
// unchecked.agrees, unchecked.finite, isolation, batch_size, shape, views, one_context,
// sample, no_exception).
#pragma once

#include "testing/bad_input.hpp"
#include "testing/check_bijector.hpp"
#include "testing/check_gradients.hpp"
#include "testing/finite_differences.hpp"
#include "testing/options.hpp"
#include "testing/report.hpp"
#include "testing/sweep.hpp"
