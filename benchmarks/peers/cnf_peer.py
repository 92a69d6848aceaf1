#!/usr/bin/env python3
"""zuko peer of examples/continuous_flow.cpp's continuous normalizing flow.

    python cnf_peer.py DIR [--seed S] [--threads T] [--steps N] [--repeats R]
                           [--timing-batch B] [--timing-only] [--quiet]

DIR is the output directory of `continuous_flow DIR`: cnf_train.csv, cnf_test.csv
(standardized two-moons data, header "x0,x1") and cnf_config.json (the network, the
time embedding, the tolerances, the trace mode and the optimizer settings). This
script builds the same kind of flow in zuko, trains it with the same settings and
prints

    zuko  held-out NLL x.xxxx nats  (N steps, T s)
    zuko  log_prob batch B: median M ms (R runs)
    zuko  train step batch B: median M ms (R runs)
    zuko  NFE log_prob batch B: F

T is the training loop only (as flowtmpl's fit_result::seconds). The held-out NLL is
always computed with the exact trace: zuko's log_prob without gradients on the test
set in chunks of 1024 rows (zuko picks its steps per chunk, see "Step control"); with
trace "hutchinson" it is a second CNF built with exact=True that holds the trained
weights, and the Hutchinson estimate of the same NLL goes to stderr. The timings:
log_prob on B test rows (repeated cyclically) in evaluation mode without gradients,
in the config's trace mode, and one training step at batch B (loss, backward, Adam
step); the median of R runs after one warm-up, with torch.set_num_threads(T)
(default 1). F is the number of evaluations of the ODE's network in one log_prob
call at batch B after the log_prob timings, counted by a hook on the network's
forward: zuko evaluates the network once per stage on the whole batch, so F is what
every sample of the batch costs (flowtmpl prints the mean over its samples, which
each choose their own steps). With the progress lines, stderr also gets the network
evaluations of one training step (forward and backward). --timing-only skips the
training and the NLL line (an untrained flow is timed).

The architecture, setting by setting (flowtmpl -> zuko 1.6):

  Continuous<DynamicsMLP<h...>             -> zuko.flows.CNF(2, freqs=K, atol=a, rtol=r,
    ::with<act::elu>, Dopri5<...>,             exact=..., hidden_features=[h...],
    {sinusoidal time embedding,                activation=torch.nn.ELU)
    K frequencies}>
  ("hidden": [64, 64], "activation": "elu",
   "frequencies": 3, "atol", "rtol")
  DynamicsMLP<h...>::with<act::elu>:        -> FFJTransform.ode = zuko.nn.MLP(2 + 2K, 2, [h...],
  Linear, ELU, ..., Linear (no output          ELU): Linear, ELU, ..., Linear (ELU with
  activation)                                  alpha 1, no output activation)
  network input [x, cos(k pi t),            -> [cos(k pi t), sin(k pi t), x] for k = 1..K
  sin(k pi t), c], k = 1..K (no context)       (FFJTransform.f, freqs = pi (1..K)): the same
                                               inputs in another order, a permutation of the
                                               first layer's columns; no effect on what can
                                               be learned
  dz/dt = f(z, t) on [0, 1], the base at    -> the other way: log_prob integrates the data x
  t = 0 and the data at t = 1: log_prob        from t = 0 to z at t = 1
  solves from the data at t = 1 back to        (FreeFormJacobianTransform.call_and_ladj) with
  t = 0, log-det -int_0^1 tr(df/dz) dt         the log-det state d(ladj)/dt = tr(df/dx), and
                                               returns DiagNormal(0, 1).log_prob(z) + ladj.
                                               The same family under t -> 1 - t, f -> -f:
                                               cos(k pi (1 - t)) = (-1)^k cos(k pi t) and
                                               sin(k pi (1 - t)) = -(-1)^k sin(k pi t) flip
                                               the signs of first-layer columns, -f negates
                                               the last layer
  "trace": "exact"                          -> exact=True: the full 2 x 2 Jacobian of f by
                                               batched vector-Jacobian products
                                               (is_grads_batched) with the identity rows, its
                                               diagonal summed
  "trace": "hutchinson" (one probe per      -> exact=False: eps^T (df/dx) eps with one
  sample and solve, Rademacher by default)     standard normal probe eps per sample
                                               (randn_like), drawn once per log_prob call
                                               and kept over the whole integration
  Dopri5: Dormand-Prince 5(4), the 5th-     -> zuko.utils.dopri45: the same tableau, the 5th-
  order solution propagated                    order solution propagated, the error the
                                               elementwise |x5 - x4| of the embedded pair
  step control: per sample, each with its   -> per batch (zuko.utils.AdaptiveCheckpointAdjoint
  own steps (see include/flowtmpl/             .forward): the states of all samples (x and
  bijectors/continuous.hpp)                    the log-det) are one packed vector; a step is
                                               accepted when max over all samples and
                                               components of |x5 - x4| / (atol + rtol
                                               max(|x_old|, |x_new|)) is below 1, so one
                                               sample's error sets the step of the whole
                                               batch; the log-det state is integrated
                                               scaled by trace_scale = 1e-2 (tr(df/dx) / 100,
                                               multiplied back at the end), so its effective
                                               absolute tolerance is 100 atol; the first
                                               step tried is the whole interval [0, 1]; the
                                               next step (after an accepted or a rejected
                                               one) is dt min(10, max(0.1, 0.9 err^(-1/5)))
                                               with err clipped below at 1e-9, the last step
                                               shortened to end at t = 1; no FSAL (the 7th
                                               stage is not reused as the next step's
                                               first): 7 network evaluations per attempted
                                               step, rejected ones included; no limit on
                                               the number of steps
  fit()'s gradient: discretise-then-        -> zuko's adaptive checkpoint adjoint: the forward
  optimise, the reverse sweep of the           keeps the state after every accepted step
  computed steps (bijectors/continuous.hpp)
                                               (only when gradients are enabled); backward
                                               runs, for each accepted step from the last,
                                               one fixed Dopri5 step of length -dt (6
                                               evaluations, no error control) of the
                                               adjoint system (state, adjoint of the state,
                                               adjoint of the parameters) from that stored
                                               state, each evaluation a network forward and a
                                               vector-Jacobian product w.r.t. x and the
                                               weights; the trace's own graph is kept
                                               (create_graph) so the log-det term is
                                               differentiated (second derivatives of the
                                               network); a discretized continuous adjoint,
                                               not the derivative of the forward's arithmetic.
                                               Only in training mode: in evaluation mode
                                               FFJTransform passes no parameters to the solver
  initial weights                           -> zuko.nn.Linear: U(+-1/sqrt(fan_in)) weights
                                               and biases
  StandardNormal base                       -> DiagNormal(zeros(2), ones(2)) (buffers)
  fit(): Adam(lr, betas, eps)               -> torch.optim.Adam(lr, betas, eps), no weight
                                               decay
  seeded shuffle per epoch, last partial    -> torch.randperm per epoch from a seeded
  batch kept, exactly `steps` steps            torch.Generator, the same batching
  loss: mean -log p(x) over the batch       -> -model().log_prob(batch).mean() in training
                                               mode (an estimate with "hutchinson")
  "dtype" float32 / float64                 -> torch.set_default_dtype before building

Missing keys: "hidden" is required; the others default to features 2 (the only value
the data allow), activation "elu" (the only one this peer knows), frequencies 3, atol
1e-6, rtol 1e-5, trace "exact", steps 1000, batch_size 256, learning_rate 1e-3, betas
[0.9, 0.999], eps 1e-8, seed 1, dtype "float32", timing_batch 1024. Other keys (such
as flowtmpl's own results) are ignored. Unknown values are errors, not silent
differences.

What cannot match: zuko's step control is per batch, so in a batch every sample takes
the steps its hardest member needs (more work and a smaller local error than flowtmpl's
per-sample steps at the same tolerances), and zuko's held-out NLL depends slightly on
how the test set is chunked. zuko relaxes the log-det's tolerance by 100. The random
draws (initial weights, shuffling, probes) come from torch's generator, not flowtmpl's
Philox streams, so the two runs are two seeds of the same experiment at best; with
"hutchinson", zuko's probes are standard normal, flowtmpl's Rademacher unless its
options say otherwise (both unbiased, the normal ones of larger variance).
"""

import argparse
import csv
import json
import math
import os
import statistics
import sys
import time
from types import SimpleNamespace

try:
    import numpy as np
    import torch
    import zuko
except ImportError as e:
    sys.exit(f"cnf_peer: {e}\n  install the peers' environment: "
             "pip install -r benchmarks/peers/requirements.txt")

NLL_CHUNK = 1024  # test rows per log_prob call for the held-out NLL


def fail(message):
    sys.exit(f"cnf_peer: {message}")


def read_csv(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        fail(f"{path}: {e}")
    if not rows or [c.strip() for c in rows[0]] != ["x0", "x1"]:
        fail(f"{path}: expected the header 'x0,x1'")
    try:
        data = [[float(v) for v in r] for r in rows[1:] if r]
    except ValueError as e:
        fail(f"{path}: {e}")
    if not data or any(len(r) != 2 for r in data):
        fail(f"{path}: expected rows of two values")
    return data


def read_settings(cfg_path):
    """The settings of cnf_config.json, checked, with the defaults of the module
    docstring for the keys that are missing."""
    try:
        with open(cfg_path) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{cfg_path}: {e}\n  run `continuous_flow DIR` first")

    def need(key):
        if key not in cfg:
            fail(f"{cfg_path}: no key '{key}'")
        return cfg[key]

    def choice(key, default, *allowed):
        value = cfg.get(key, default)
        if value not in allowed:
            fail(f"{cfg_path}: '{key}' is {value!r}; this peer knows {list(allowed)}")
        return value

    model = cfg.get("model", "cnf")
    if model != "cnf":
        fail(f"{cfg_path}: 'model' is {model!r}, not 'cnf'")
    hidden = need("hidden")
    if isinstance(hidden, int):
        hidden = [hidden]
    s = SimpleNamespace(
        features=int(cfg.get("features", 2)),
        hidden=[int(h) for h in hidden],
        activation=choice("activation", "elu", "elu"),
        frequencies=int(cfg.get("frequencies", 3)),
        atol=float(cfg.get("atol", 1e-6)),
        rtol=float(cfg.get("rtol", 1e-5)),
        trace=choice("trace", "exact", "exact", "hutchinson"),
        steps=int(cfg.get("steps", 1000)),
        batch_size=int(cfg.get("batch_size", 256)),
        learning_rate=float(cfg.get("learning_rate", 1e-3)),
        betas=tuple(float(b) for b in cfg.get("betas", [0.9, 0.999])),
        eps=float(cfg.get("eps", 1e-8)),
        seed=int(cfg.get("seed", 1)),
        dtype={"float32": torch.float32, "float64": torch.float64}[choice("dtype", "float32", "float32", "float64")],
        timing_batch=int(cfg.get("timing_batch", 1024)),
    )
    if s.features != 2:
        fail(f"{cfg_path}: 'features' is {s.features}; the data have 2 columns")
    if not s.hidden or min(s.hidden) < 1:
        fail(f"{cfg_path}: every width of 'hidden' must be positive")
    if s.frequencies < 0:
        fail(f"{cfg_path}: 'frequencies' must be >= 0")
    if not (s.atol > 0.0 and s.rtol >= 0.0):
        fail(f"{cfg_path}: 'atol' must be positive and 'rtol' non-negative")
    if s.steps < 1 or s.batch_size < 1 or s.timing_batch < 1:
        fail(f"{cfg_path}: steps, batch_size and timing_batch must be positive")
    return s


def build_model(s, exact):
    """zuko's CNF with the config's network, embedding and tolerances, in the current
    default dtype; exact chooses the trace (True: the full Jacobian, False: Hutchinson)."""
    return zuko.flows.CNF(
        s.features,
        freqs=s.frequencies,
        atol=s.atol,
        rtol=s.rtol,
        exact=exact,
        hidden_features=list(s.hidden),
        activation=torch.nn.ELU,
    )


def make_optimizer(model, s):
    return torch.optim.Adam(model.parameters(), lr=s.learning_rate, betas=s.betas, eps=s.eps, weight_decay=0.0)


def train_step(model, optimizer, batch):
    """One step: the loss, its gradients (zuko's adjoint), Adam. Returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = -model().log_prob(batch).mean()
    if not torch.isfinite(loss):
        return loss
    loss.backward()
    optimizer.step()
    return loss


def train(model, data, s, steps, seed, quiet):
    """fit() without validation: minibatches of a seeded shuffle per epoch (the last
    one partial), exactly `steps` steps. Returns the steps done and the seconds."""
    model.train()
    optimizer = make_optimizer(model, s)
    n = data.shape[0]
    bs = min(s.batch_size, n)
    per_epoch = (n + bs - 1) // bs
    report_every = max(1, (steps + 9) // 10)
    shuffle = torch.Generator().manual_seed(seed)
    step = 0
    t0 = time.perf_counter()
    while step < steps:
        order = torch.randperm(n, generator=shuffle)
        epoch_loss, epoch_batches = 0.0, 0
        for first in range(0, n, bs):
            if step >= steps:
                break
            loss = train_step(model, optimizer, data[order[first:first + bs]])
            if not torch.isfinite(loss):
                fail(f"step {step}: the loss is not finite ({loss.item()})")
            step += 1
            epoch_loss += loss.item()
            epoch_batches += 1
            if not quiet and (step % report_every == 0 or step == steps):
                print(f"zuko: step {step}/{steps}  train NLL {epoch_loss / epoch_batches:.4f}"
                      f"  (epoch {(step - 1) // per_epoch + 1}, mean so far)", file=sys.stderr)
    return step, time.perf_counter() - t0


def zuko_log_prob(model, data):
    """zuko's log_prob over data in chunks of NLL_CHUNK rows, evaluation mode, no
    gradients."""
    model.eval()
    with torch.no_grad():
        out = [model().log_prob(chunk).detach() for chunk in torch.split(data, NLL_CHUNK)]
    model.train()
    return torch.cat(out)


class NetworkCalls:
    """Counts the forward calls of the ODE's network (zuko's FFJTransform.ode) while
    the `with` block runs: one per Dopri5 stage, each on the whole batch."""

    def __init__(self, model):
        self.net = model.transform.ode
        self.count = 0
        self.handle = None

    def _seen(self, module, inputs):
        self.count += 1

    def __enter__(self):
        self.count = 0
        self.handle = self.net.register_forward_pre_hook(self._seen)
        return self

    def __exit__(self, *exc):
        self.handle.remove()
        self.handle = None
        return False


def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def parse_args():
    p = argparse.ArgumentParser(description="Train the zuko peer of flowtmpl's continuous normalizing flow, "
                                            "print its held-out NLL, its timings and its network evaluations.")
    p.add_argument("dir", help="the output directory of `continuous_flow DIR`")
    p.add_argument("--seed", type=int, default=None, help="torch and numpy seed (default: the config's seed)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the config's steps)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs after one warm-up (default 5)")
    p.add_argument("--timing-batch", type=int, default=None, help="timing batch (default: the config's timing_batch)")
    p.add_argument("--timing-only", action="store_true", help="no training and no NLL: time an untrained flow")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p.parse_args()


def main():
    args = parse_args()
    s = read_settings(os.path.join(args.dir, "cnf_config.json"))
    steps = args.steps if args.steps is not None else s.steps
    seed = args.seed if args.seed is not None else s.seed
    batch = args.timing_batch if args.timing_batch is not None else s.timing_batch
    if steps < 1 or args.repeats < 1 or batch < 1 or args.threads < 1:
        fail("--steps, --repeats, --timing-batch and --threads must be positive")
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(s.dtype)
    torch.manual_seed(seed)
    np.random.seed(seed)

    test_set = torch.tensor(read_csv(os.path.join(args.dir, "cnf_test.csv")), dtype=s.dtype)
    model = build_model(s, exact=(s.trace == "exact"))

    if not args.timing_only:
        train_set = torch.tensor(read_csv(os.path.join(args.dir, "cnf_train.csv")), dtype=s.dtype)
        done, seconds = train(model, train_set, s, steps, seed, args.quiet)
        if s.trace == "exact":
            judge = model
        else:
            judge = build_model(s, exact=True)
            judge.load_state_dict(model.state_dict())
        exact = zuko_log_prob(judge, test_set).double()
        nll = -exact.mean().item()
        if not math.isfinite(nll):
            fail(f"the held-out NLL is not finite ({nll})")
        if not args.quiet:
            print(f"zuko: held-out NLL exact {nll:.6f} (exact trace, chunks of {NLL_CHUNK})", file=sys.stderr)
            if s.trace == "hutchinson":
                estimate = -zuko_log_prob(model, test_set).double().mean().item()
                print(f"zuko: held-out NLL estimate {estimate:.6f} (Hutchinson trace, one probe per sample)",
                      file=sys.stderr)
        print(f"zuko  held-out NLL {nll:.4f} nats  ({done} steps, {seconds:.1f} s)")

    timing_set = test_set[torch.arange(batch) % test_set.shape[0]]
    model.eval()

    def eval_log_prob():
        with torch.no_grad():
            model().log_prob(timing_set)

    lp_ms = median_ms(eval_log_prob, args.repeats)
    with NetworkCalls(model) as calls:
        eval_log_prob()
    nfe = calls.count

    model.train()
    optimizer = make_optimizer(model, s)
    if not args.quiet:
        with NetworkCalls(model) as calls:
            optimizer.zero_grad(set_to_none=True)
            loss = -model().log_prob(timing_set).mean()
            forward_calls = calls.count
            loss.backward()
        optimizer.zero_grad(set_to_none=True)
        print(f"zuko: NFE train step batch {batch}: {forward_calls} forward + "
              f"{calls.count - forward_calls} backward", file=sys.stderr)
    step_ms = median_ms(lambda: train_step(model, optimizer, timing_set), args.repeats)
    print(f"zuko  log_prob batch {batch}: median {lp_ms:.2f} ms ({args.repeats} runs)")
    print(f"zuko  train step batch {batch}: median {step_ms:.2f} ms ({args.repeats} runs)")
    print(f"zuko  NFE log_prob batch {batch}: {nfe}")


if __name__ == "__main__":
    main()
