#!/usr/bin/env python3
"""normflows peer of examples/residual_flow.cpp's residual flow.

    python residual_peer.py DIR [--seed S] [--threads T] [--steps N] [--repeats R]
                                [--timing-batch B] [--spectral-iterations N]
                                [--timing-only] [--quiet]

DIR is the output directory of `residual_flow DIR`: residual_train.csv,
residual_test.csv (standardized two-moons data, header "x0,x1") and
residual_config.json (the architecture, the log-det mode and the optimizer settings).
This script builds the same kind of flow in normflows, trains it with the same
settings and prints

    normflows held-out NLL x.xxxx nats  (N steps, T s)
    normflows log_prob batch B: median M ms (R runs)
    normflows train step batch B: median M ms (R runs)
    normflows mode: <the log-det normflows computed in training; in evaluation>

T is the training loop only (as flowtmpl's fit_result::seconds). The held-out NLL is
always the exact one: normflows's own log_prob in evaluation mode, which for 2-D inputs
takes its brute-force path (the 2 x 2 Jacobian) whatever brute_force says; this script
recomputes it independently (g rebuilt from the blocks' layers, torch.func Jacobians,
slogdet) and stops if the two disagree. With log_det "stochastic" the training-mode
estimate on the test set goes to stderr. The timings: log_prob on B samples in
evaluation mode without gradients (how normflows evaluates a density: brute force in
2-D, even with log_det "stochastic"), and one training step at batch B (loss,
backward, Adam step, Lipschitz update); the median of R runs after one warm-up, with
torch.set_num_threads(T) (default 1). --timing-only skips the training and
the NLL line (an untrained flow is timed).

The architecture, setting by setting (flowtmpl -> normflows 1.7):

  K x Residual<LipschitzMLP<h...>, {c}>     -> K x normflows.flows.Residual(
  ("layers": K, "hidden": [h...],               LipschitzMLP([2, h..., 2], lipschitz_const=c,
   "coefficient": c)                            init_zeros=True), reverse=True,
                                                reduce_memory=True, ...)
  density direction explicit: z = x + g(x)  -> reverse=True: Residual.inverse, which
                                               NormalizingFlow.log_prob calls, is
                                               x + g(x) with +log det(I + J_g); sampling
                                               is the fixed-point solve (not used here)
  layer order                               -> log_prob runs flows[K-1] (the block next
                                               to the data) first
  nothing between the blocks                -> nothing; config "actnorm": true puts
                                               normflows.flows.ActNorm(2) after every
                                               block (normflows's residual example), its
                                               data-dependent init on the first batch
  g: h0 = x, Linear, lipswish, ..., Linear  -> LipschitzMLP: [Swish, InducedNormLinear]
                                               per layer, so normflows's g also applies
                                               the activation to the input x itself
                                               (see "What cannot match")
  act::lipswish: silu(v) / 1.1              -> Swish: v sigmoid(softplus(b) v) / 1.1 with
                                               b a trainable scalar per activation,
                                               softplus(0.5) = 0.974 at the start
                                               ("activation" must be "lipswish")
  spectral norm: W / max(1, sigma / c),     -> InducedNormLinear(domain=2, codomain=2):
  sigma = |W^T u| / |u|                        W / max(1, sigma / c), sigma = u^T W v with
                                               the buffers u, v: the same value once
                                               v = W^T u / |W^T u|, the same gradient u v^T
  after_optimizer_step: power iteration     -> normflows.utils.update_lipschitz(model, n)
  until sigma settles (at most                 after every optimizer step: exactly n
  spectral_iterations)                         iterations from the stored u, v; n = config
                                               "spectral_iterations", else 50 (normflows's
                                               residual example); --spectral-iterations
  reset_parameters: PyTorch Linear's law    -> InducedNormLinear: U(+-1/sqrt(fan_in))
                                               weights and biases; init_zeros divides the
                                               last layer's weights by 1000 (its bias
                                               stays U(+-1/sqrt(fan_in))); u, v random,
                                               then 200 power iterations
  "log_det": "exact" (LU of I + J_g;       -> brute_force=True: normflows's 2-D path, J_g by
  "automatic" is the same in 2-D)              autograd (one backward per output, with
                                               create_graph), log|(1 + J00)(1 + J11) - J01 J10|
  "log_det": "stochastic"                   -> brute_force=False, exact_trace=False
                                               (Hutchinson), n_power_series=None (unbiased
                                               Russian roulette), n_dist="geometric",
                                               reduce_memory=True (the Neumann-series
                                               gradient, computed in the forward pass)
  "n_exact_terms" (2)                       -> n_exact_terms (normflows's default 2)
  "geom_p" p (0.5): N ~ Geometric(p) on     -> geom_p (default 0.5): numpy's
  {1, 2, ...}, n = n_exact_terms + N           np.random.geometric(p), the same law and the
                                               same weights 1 / P(n >= k)
  "n_samples" (probes, 1)                   -> n_samples (default 1), which in normflows is
                                               the number of series lengths N drawn, not of
                                               probes: normflows always takes one Gaussian
                                               probe per sample (randn_like), and draws the
                                               N once per block and batch (flowtmpl: once
                                               per sample); with 1 both take one probe
  StandardNormal base                       -> normflows.distributions.DiagGaussian(2,
                                               trainable=False)
  fit(): Adam(lr, betas, eps)               -> torch.optim.Adam(lr, betas, eps,
                                               weight_decay = config "weight_decay", else 0;
                                               normflows's example uses 1e-5)
  seeded shuffle per epoch, last partial    -> torch.randperm per epoch from a seeded
  batch kept, exactly `steps` steps            torch.Generator, the same batching
  loss: mean -log p(x) over the batch       -> -model.log_prob(batch).mean() in training
                                               mode (an estimate with "stochastic")
  "dtype" float64 / float32                 -> torch.set_default_dtype before building

Missing keys: "layers" and "hidden" are required; the others default to coefficient
0.97, activation "lipswish", log_det "exact" (also what "automatic" means in 2-D),
n_exact_terms 2, geom_p 0.5, n_samples 1, steps 2000, batch_size 256, learning_rate
1e-3, betas [0.9, 0.999], eps 1e-8, weight_decay 0, seed 1, dtype "float64",
timing_batch 4096, spectral_iterations 50, actnorm false. Unknown values (another activation, log_det,
series law) are errors, not silent differences.

What cannot match: normflows's LipschitzMLP puts an activation before its first linear
layer (g = W_L s(... W_1 s(x))) and learns each Swish's slope; flowtmpl's g starts
with the linear layer and lipswish's slope is fixed (1); the two are neighbouring
model families, not the same function of the same parameters. The random draws
(initial weights, shuffling, probes, series lengths) come from torch's and numpy's
generators, not flowtmpl's Philox streams, so the two runs are two seeds of the same
experiment at best. normflows's sigma uses the buffers as they stand after the last
update_lipschitz, so a step's weights are c-Lipschitz to those n iterations.
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
    import normflows as nf
except ImportError as e:
    sys.exit(f"residual_peer: {e}\n  install the peers' environment: "
             "pip install -r benchmarks/peers/requirements.txt")


def fail(message):
    sys.exit(f"residual_peer: {message}")


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
    """The settings of residual_config.json, checked, with the defaults of the module
    docstring for the keys that are missing."""
    try:
        with open(cfg_path) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{cfg_path}: {e}\n  run `residual_flow DIR` first")

    def need(key):
        if key not in cfg:
            fail(f"{cfg_path}: no key '{key}'")
        return cfg[key]

    def choice(key, default, *allowed):
        value = cfg.get(key, default)
        if value not in allowed:
            fail(f"{cfg_path}: '{key}' is {value!r}; this peer knows {list(allowed)}")
        return value

    hidden = need("hidden")
    if isinstance(hidden, int):
        hidden = [hidden]
    s = SimpleNamespace(
        layers=int(need("layers")),
        hidden=[int(h) for h in hidden],
        coefficient=float(cfg.get("coefficient", 0.97)),
        activation=choice("activation", "lipswish", "lipswish"),
        log_det=choice("log_det", "exact", "exact", "stochastic", "automatic"),
        series=choice("series", "geometric", "geometric"),
        n_exact_terms=int(cfg.get("n_exact_terms", 2)),
        geom_p=float(cfg.get("geom_p", 0.5)),
        n_samples=int(cfg.get("n_samples", 1)),
        steps=int(cfg.get("steps", 2000)),
        batch_size=int(cfg.get("batch_size", 256)),
        learning_rate=float(cfg.get("learning_rate", 1e-3)),
        betas=tuple(float(b) for b in cfg.get("betas", [0.9, 0.999])),
        eps=float(cfg.get("eps", 1e-8)),
        weight_decay=float(cfg.get("weight_decay", 0.0)),
        seed=int(cfg.get("seed", 1)),
        dtype={"float32": torch.float32, "float64": torch.float64}[choice("dtype", "float64", "float32", "float64")],
        timing_batch=int(cfg.get("timing_batch", 4096)),
        spectral_iterations=int(cfg.get("spectral_iterations", 50)),
        actnorm=bool(cfg.get("actnorm", False)),
    )
    if s.log_det == "automatic":
        s.log_det = "exact"  # flowtmpl's automatic mode is the exact log-det up to D = 16
    if s.layers < 1 or not s.hidden or min(s.hidden) < 1:
        fail(f"{cfg_path}: 'layers' and every width of 'hidden' must be positive")
    if not 0.0 < s.coefficient < 1.0:
        fail(f"{cfg_path}: 'coefficient' must be in (0, 1), not {s.coefficient}")
    if not 0.0 < s.geom_p < 1.0:
        fail(f"{cfg_path}: 'geom_p' must be in (0, 1), not {s.geom_p}")
    if s.n_exact_terms < 0 or s.n_samples < 1 or s.spectral_iterations < 0:
        fail(f"{cfg_path}: n_exact_terms and spectral_iterations must be >= 0, n_samples >= 1")
    if s.steps < 1 or s.batch_size < 1 or s.timing_batch < 1:
        fail(f"{cfg_path}: steps, batch_size and timing_batch must be positive")
    return s


def build_model(s):
    """K residual blocks (each followed by an ActNorm when s.actnorm) on a fixed
    standard normal base, in the current default dtype."""
    flows = []
    for _ in range(s.layers):
        net = nf.nets.LipschitzMLP([2] + s.hidden + [2], lipschitz_const=s.coefficient, init_zeros=True)
        flows.append(nf.flows.Residual(
            net,
            reverse=True,
            reduce_memory=True,
            geom_p=s.geom_p,
            n_exact_terms=s.n_exact_terms,
            n_samples=s.n_samples,
            n_dist="geometric",
            brute_force=(s.log_det == "exact"),
            exact_trace=False,
            n_power_series=None,
        ))
        if s.actnorm:
            flows.append(nf.flows.ActNorm(2))
    return nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), flows)


def residual_blocks(model):
    return [f for f in model.flows if isinstance(f, nf.flows.Residual)]


def describe_mode(model):
    """The log-det normflows computes, read back from its blocks: in training (the
    path of iResBlock._logdetgrad for 2-D inputs with training=True) and in evaluation
    (training=False: brute force for 2-D inputs, always)."""
    b = residual_blocks(model)[0].iresblock
    if b.brute_force:
        train = "brute_force"
    else:
        p = torch.sigmoid(b.geom_p).item()
        train = (f"stochastic n_exact_terms={b.n_exact_terms} geom_p={p:g} n_samples={b.n_samples}"
                 f" dist={b.n_dist} neumann_grad={b.neumann_grad}")
    return f"train {train}; eval brute_force"


def make_optimizer(model, s):
    return torch.optim.Adam(model.parameters(), lr=s.learning_rate, betas=s.betas, eps=s.eps,
                            weight_decay=s.weight_decay)


def train_step(model, optimizer, batch, n_iterations):
    """One step: the loss, its gradients, Adam, then normflows's own power-iteration
    update of every spectral-normalized layer. Returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = -model.log_prob(batch).mean()
    if not torch.isfinite(loss):
        return loss
    loss.backward()
    optimizer.step()
    nf.utils.update_lipschitz(model, n_iterations)
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
            loss = train_step(model, optimizer, data[order[first:first + bs]], s.spectral_iterations)
            if not torch.isfinite(loss):
                fail(f"step {step}: the loss is not finite ({loss.item()})")
            step += 1
            epoch_loss += loss.item()
            epoch_batches += 1
            if not quiet and (step % report_every == 0 or step == steps):
                print(f"normflows: step {step}/{steps}  train NLL {epoch_loss / epoch_batches:.4f}"
                      f"  (epoch {(step - 1) // per_epoch + 1}, mean so far)", file=sys.stderr)
    return step, time.perf_counter() - t0


def normflows_log_prob(model, data, training):
    """normflows's log_prob over data in chunks, in evaluation or training mode."""
    model.train(training)
    with torch.no_grad():
        out = [model.log_prob(chunk.clone()).detach() for chunk in torch.split(data, 1024)]
    model.train()
    return torch.cat(out)


def lipschitz_net_function(net):
    """g of a normflows LipschitzMLP as a pure function of x, written out here from its
    layers: each Swish v sigmoid(softplus(b) v) / 1.1, each InducedNormLinear with its
    spectrally normalized weight as it stands (the buffers are not updated)."""
    steps = []
    for layer in net.net:
        if isinstance(layer, nf.nets.InducedNormLinear):
            steps.append(("linear", layer.compute_weight(update=False).detach(), layer.bias.detach()))
        elif type(layer).__name__ == "Swish":
            steps.append(("swish", torch.nn.functional.softplus(layer.beta.detach()), None))
        else:
            fail(f"unexpected layer {type(layer).__name__} in a LipschitzMLP")

    def g(v):
        for kind, a, b in steps:
            if kind == "linear":
                v = torch.nn.functional.linear(v, a, b)
            else:
                v = v * torch.sigmoid(a * v) / 1.1
        return v
    return g


def own_exact_log_prob(model, data):
    """The exact log density, computed here without normflows's log-det code: for each
    block from the last, the Jacobian of x -> x + g(x) (g rebuilt from the block's
    layers, lipschitz_net_function) by torch.func (jacrev under vmap) and its log|det|
    by slogdet; other flows (ActNorm) by their own inverse; the standard normal base
    written out."""
    model.eval()
    out = []
    with torch.no_grad():
        gs = [lipschitz_net_function(f.iresblock.nnet) if isinstance(f, nf.flows.Residual) else None
              for f in model.flows]
        for chunk in torch.split(data, 1024):
            z = chunk.clone()
            total = torch.zeros(z.shape[0], dtype=z.dtype)
            for flow, g in reversed(list(zip(model.flows, gs))):
                if g is not None:
                    jac = torch.func.vmap(torch.func.jacrev(lambda v: v + g(v)))(z)
                    total = total + torch.linalg.slogdet(jac).logabsdet
                    z = z + g(z)
                else:
                    z, ld = flow.inverse(z)
                    total = total + ld
            total = total - 0.5 * (z * z).sum(1) - math.log(2.0 * math.pi)
            out.append(total)
    model.train()
    return torch.cat(out)


def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def parse_args():
    p = argparse.ArgumentParser(description="Train the normflows peer of flowtmpl's residual flow, "
                                            "print its held-out NLL and its timings.")
    p.add_argument("dir", help="the output directory of `residual_flow DIR`")
    p.add_argument("--seed", type=int, default=None, help="torch and numpy seed (default: the config's seed)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the config's steps)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs after one warm-up (default 5)")
    p.add_argument("--timing-batch", type=int, default=None, help="timing batch (default: the config's timing_batch)")
    p.add_argument("--spectral-iterations", type=int, default=None,
                   help="update_lipschitz's power iterations per step (default: the config's, else 50)")
    p.add_argument("--timing-only", action="store_true", help="no training and no NLL: time an untrained flow")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p.parse_args()


def main():
    args = parse_args()
    s = read_settings(os.path.join(args.dir, "residual_config.json"))
    steps = args.steps if args.steps is not None else s.steps
    seed = args.seed if args.seed is not None else s.seed
    batch = args.timing_batch if args.timing_batch is not None else s.timing_batch
    if args.spectral_iterations is not None:
        s.spectral_iterations = args.spectral_iterations
    if steps < 1 or args.repeats < 1 or batch < 1 or args.threads < 1 or s.spectral_iterations < 0:
        fail("--steps, --repeats, --timing-batch and --threads must be positive, --spectral-iterations >= 0")
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(s.dtype)
    torch.manual_seed(seed)
    np.random.seed(seed)  # normflows draws the series lengths with numpy's global generator

    train_set = torch.tensor(read_csv(os.path.join(args.dir, "residual_train.csv")), dtype=s.dtype)
    model = build_model(s)
    mode = describe_mode(model)

    if not args.timing_only:
        test_set = torch.tensor(read_csv(os.path.join(args.dir, "residual_test.csv")), dtype=s.dtype)
        done, seconds = train(model, train_set, s, steps, seed, args.quiet)
        if s.log_det == "stochastic":
            # evidence that the estimator ran: its series lengths are recorded in training
            drawn = [int(b.iresblock.last_n_samples.max().item()) for b in residual_blocks(model)]
            if min(drawn) < 1:
                fail("log_det stochastic, but normflows recorded no series length: it did not run its estimator")
        exact = normflows_log_prob(model, test_set, training=False).double()
        own = own_exact_log_prob(model, test_set).double()
        nll = -exact.mean().item()
        gap = (exact - own).abs().max().item()
        tol = 1e-8 if s.dtype == torch.float64 else 1e-3
        if not math.isfinite(nll):
            fail(f"the held-out NLL is not finite ({nll})")
        if not gap <= tol * max(1.0, exact.abs().max().item()):
            fail(f"normflows's exact log_prob and this script's differ by up to {gap:.3g}")
        if not args.quiet:
            print(f"normflows: held-out NLL exact {nll:.6f} (normflows eval log_prob), this script's "
                  f"Jacobians agree to {gap:.2g}", file=sys.stderr)
            if s.log_det == "stochastic":
                estimate = -normflows_log_prob(model, test_set, training=True).double().mean().item()
                print(f"normflows: held-out NLL estimate {estimate:.6f} (training-mode log_prob, stochastic)",
                      file=sys.stderr)
        print(f"normflows held-out NLL {nll:.4f} nats  ({done} steps, {seconds:.1f} s)")

    timing_set = train_set[torch.arange(batch) % train_set.shape[0]]
    model.eval()

    def eval_log_prob():
        with torch.no_grad():
            model.log_prob(timing_set.clone())

    lp_ms = median_ms(eval_log_prob, args.repeats)
    model.train()
    optimizer = make_optimizer(model, s)
    step_ms = median_ms(lambda: train_step(model, optimizer, timing_set.clone(), s.spectral_iterations), args.repeats)
    print(f"normflows log_prob batch {batch}: median {lp_ms:.2f} ms ({args.repeats} runs)")
    print(f"normflows train step batch {batch}: median {step_ms:.2f} ms ({args.repeats} runs)")
    print(f"normflows mode: {mode}")


if __name__ == "__main__":
    main()
