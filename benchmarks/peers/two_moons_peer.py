#!/usr/bin/env python3
"""nflows peer of examples/two_moons.cpp's neural spline flow.

    python two_moons_peer.py DIR [--seed S] [--threads T] [--steps N]
                                 [--orientation flowtmpl|nflows]

DIR is the output directory of `two_moons DIR --model nsf`: two_moons_train.csv,
two_moons_test.csv (standardized two-moons data, header "x0,x1") and
two_moons_config.json (the architecture and optimizer settings). This script builds
the same flow in nflows, trains it with the same settings and prints

    nflows   held-out NLL x.xxxx nats  (N steps, T s)

in the format of the C++ example's line (T: the training loop only, as flowtmpl's
fit_result::seconds). benchmarks/peers/two_moons_side_by_side.sh runs both.

The architecture, setting by setting (flowtmpl -> nflows):

  Coupling<Spline<K, B>, MLP<h...>, mask>  -> PiecewiseRationalQuadraticCouplingTransform(
                                               num_bins=K, tails="linear", tail_bound=B)
  spline_options{} (1e-3, 1e-3, 1e-3)       -> min_bin_width / min_bin_height /
                                               min_derivative = 1e-3 (both libraries'
                                               defaults; optional config keys override)
  identity_init = false                     -> nflows's plain softplus (beta = 1)
  MLP<64, 64> (ReLU, no output activation)  -> transform_net: Linear-ReLU-Linear-ReLU-Linear
                                               (a plain MLP, not nflows's ResidualNet);
                                               it has no `hidden_features` attribute, so
                                               nflows does not divide the widths and
                                               heights by sqrt(hidden) (flowtmpl does not)
  raw parameters per feature: K widths, K heights, K - 1 derivatives, feature-major
                                            -> nflows's reshape(b, d, 3K - 1): the same
  mask::half (transforms x1 given x0)       -> mask [0, 1] (nflows: > 0 is transformed)
  mask::half_flipped (x0 given x1)          -> mask [1, 0]
  init::identity_start (reset_parameters)   -> hidden Linear layers with PyTorch's default
                                               init (U(+-1/sqrt(fan_in)), the same law);
                                               last layer weight 0, bias = the spline's
                                               identity parameters (0 for widths and
                                               heights, log(expm1(1 - min_d)) for the
                                               derivatives): every coupling starts as the
                                               identity, as in flowtmpl
  StandardNormal base                       -> nflows.distributions.StandardNormal([2])
  fit(): Adam(lr, betas, eps), bias-corrected, eps outside the root
                                            -> torch.optim.Adam(lr, betas, eps)
  cosine_lr{lr, steps, min_lr}              -> lr of step s set to PyTorch's
                                               CosineAnnealingLR closed form
                                               min_lr + (lr - min_lr)(1 + cos(pi s / steps)) / 2
  batch 256, seeded shuffle per epoch, last partial batch kept, exactly `steps` steps
                                            -> torch.randperm per epoch from a seeded
                                               torch.Generator, the same batching
  loss: mean -log p(x) over the batch       -> -flow.log_prob(batch).mean()
  float32                                   -> torch.float32 (dtype "float64" honoured)

Direction. flowtmpl's bijectors run in the sampling direction: the flow is
x = C8(C7(... C1(z))), each coupling applying its spline forward on the way from z to
x, so a density evaluation runs the splines' inverses. nflows's transforms run in the
normalizing direction (x -> z). With --orientation flowtmpl (the default) the nflows
flow is CompositeTransform([Inverse(C8), ..., Inverse(C1)]) with Ci the nflows coupling
of flowtmpl's layer i: the same function of the same parameters (docs/design.md,
"Conventions with nflows"); training then differentiates nflows's spline inverse, the
root of a quadratic. --orientation nflows builds the usual nflows NSF instead
(CompositeTransform([C1, ..., C8]), splines forward on the data): the same model family
mirrored, not the same function of the parameters.

What cannot match: the random draws (initial weights, shuffling) come from torch's
generator, not flowtmpl's Philox streams, so the two runs are two seeds of the same
experiment, not the same trajectory; flowtmpl's Adam keeps its moments in double.
"""

import argparse
import csv
import json
import math
import os
import sys
import time
import warnings
from types import SimpleNamespace

try:
    import torch
    from torch import nn
    from nflows.distributions import StandardNormal
    from nflows.flows import Flow
    from nflows.transforms import CompositeTransform, InverseTransform, PiecewiseRationalQuadraticCouplingTransform
except ImportError as e:
    sys.exit(f"two_moons_peer: {e}\n  create the environment: benchmarks/peers/two_moons_side_by_side.sh --setup")

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU, "elu": nn.ELU}


def fail(message):
    sys.exit(f"two_moons_peer: {message}")


def read_csv(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        fail(f"{path}: {e}")
    if not rows or [c.strip() for c in rows[0]] != ["x0", "x1"]:
        fail(f"{path}: expected the header 'x0,x1'")
    try:
        return [[float(v) for v in r] for r in rows[1:] if r]
    except ValueError as e:
        fail(f"{path}: {e}")


def read_settings(cfg_path):
    """The settings of two_moons_config.json, checked: what this peer cannot build is
    an error, not a silent difference."""
    try:
        with open(cfg_path) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{cfg_path}: {e}\n  run `two_moons DIR --model nsf` first")

    def need(key, *allowed):
        if key not in cfg:
            fail(f"{cfg_path}: no key '{key}'")
        if allowed and cfg[key] not in allowed:
            fail(f"{cfg_path}: '{key}' is {cfg[key]!r}; this peer knows {list(allowed)}")
        return cfg[key]

    need("model", "nsf")
    need("masks", "alternating")
    need("optimizer", "adam")
    if cfg.get("identity_init", False):
        fail(f"{cfg_path}: identity_init splines are not built by this peer")
    s = SimpleNamespace(
        features=int(need("features")),
        layers=int(need("layers")),
        bins=int(need("bins")),
        tail_bound=float(need("tail_bound")),
        hidden=[int(h) for h in need("hidden")],
        activation=need("activation", *ACTIVATIONS),
        steps=int(need("steps")),
        batch_size=int(need("batch_size")),
        learning_rate=float(need("learning_rate")),
        betas=tuple(float(b) for b in need("betas")),
        eps=float(cfg.get("eps", 1e-8)),
        schedule=need("schedule", "cosine", "constant"),
        min_learning_rate=float(cfg.get("min_learning_rate", 0.0)),
        clip_norm=float(cfg.get("clip_norm", 0) or 0),
        seed=int(cfg.get("seed", 1)),
        dtype={"float32": torch.float32, "float64": torch.float64}[need("dtype", "float32", "float64")],
        # flowtmpl's spline_options{} (nflows's defaults too); the config may name others
        min_bin_width=float(cfg.get("min_bin_width", 1e-3)),
        min_bin_height=float(cfg.get("min_bin_height", 1e-3)),
        min_derivative=float(cfg.get("min_derivative", 1e-3)),
    )
    if s.features < 2 or s.layers < 1 or s.bins < 2 or s.batch_size < 1 or s.steps < 1:
        fail(f"{cfg_path}: features must be at least 2, bins at least 2, layers, batch_size and steps positive")
    return s


class MLP(nn.Module):
    """flowtmpl's MLP<hidden...>: Linear, act, ..., Linear (no output activation),
    started as init::identity_start: the hidden layers with PyTorch's default init
    (U(+-1/sqrt(fan_in)), as flowtmpl draws them), the last layer's weight 0 and its
    bias the spline's identity parameters, for every transformed feature."""

    def __init__(self, n_in, n_out, hidden, activation, identity_bias):
        super().__init__()
        widths = [n_in] + list(hidden)
        mods = []
        for a, b in zip(widths[:-1], widths[1:]):
            mods += [nn.Linear(a, b), ACTIVATIONS[activation]()]
        last = nn.Linear(widths[-1], n_out)
        if n_out % len(identity_bias):
            raise ValueError("the output width is not a multiple of the parameters per feature")
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.tensor(identity_bias * (n_out // len(identity_bias))))
        self.net = nn.Sequential(*mods, last)

    def forward(self, x, context=None):
        return self.net(x)


def build_flow(s, orientation="flowtmpl"):
    """The nflows flow of flowtmpl's NSF; returns it and the couplings in flowtmpl's
    layer order (couplings[i].transform_net.net is layer i's conditioner)."""
    # the spline's identity parameters (flowtmpl's identity_parameters, identity_init
    # false): widths and heights 0 (uniform bins on [-B, B]), derivatives
    # softplus^-1(1 - min_d), so that min_d + softplus(u) = 1
    identity_bias = [0.0] * (2 * s.bins) + [math.log(math.expm1(1.0 - s.min_derivative))] * (s.bins - 1)
    half = s.features // 2

    def coupling(i):
        # flowtmpl layer i (0-based): mask::half for even i (the last D - D/2 components
        # are transformed), mask::half_flipped for odd i (the first D/2); nflows
        # transforms the components whose mask entry is > 0
        mask = [1 if (j >= half) == (i % 2 == 0) else 0 for j in range(s.features)]
        return PiecewiseRationalQuadraticCouplingTransform(
            mask=mask,
            transform_net_create_fn=lambda n_in, n_out: MLP(n_in, n_out, s.hidden, s.activation, identity_bias),
            num_bins=s.bins,
            tails="linear",
            tail_bound=s.tail_bound,
            min_bin_width=s.min_bin_width,
            min_bin_height=s.min_bin_height,
            min_derivative=s.min_derivative,
        )

    couplings = [coupling(i) for i in range(s.layers)]  # drawn in flowtmpl's layer order
    if orientation == "flowtmpl":
        # x = C_L(...C_1(z)) with each spline forward towards x: nflows's x -> z transform
        # is Inverse(C_L), ..., Inverse(C_1)
        transform = CompositeTransform([InverseTransform(c) for c in reversed(couplings)])
    else:
        transform = CompositeTransform(couplings)
    return Flow(transform, StandardNormal([s.features])), couplings


# nflows warns when the transform net has no `hidden_features` that the softmax inputs
# are not divided by sqrt(hidden): deliberate, flowtmpl's spline does not divide them.
warnings.filterwarnings("ignore", message="Inputs to the softmax are not scaled down")


def train(flow, data, s, steps, seed, quiet):
    """flowtmpl's fit() without validation: Adam, the schedule's learning rate at each
    step, minibatches of a seeded shuffle per epoch (the last one partial), exactly
    `steps` steps. Returns the steps done and the seconds they took."""
    optimizer = torch.optim.Adam(flow.parameters(), lr=s.learning_rate, betas=s.betas, eps=s.eps)

    def lr_at(step):
        if s.schedule == "constant":
            return s.learning_rate
        t = min(step, steps) / max(steps, 1)
        return s.min_learning_rate + (s.learning_rate - s.min_learning_rate) * 0.5 * (1.0 + math.cos(math.pi * t))

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
            batch = data[order[first:first + bs]]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            optimizer.zero_grad(set_to_none=True)
            loss = -flow.log_prob(batch).mean()
            if not torch.isfinite(loss):
                fail(f"step {step}: the loss is not finite ({loss.item()})")
            loss.backward()
            if s.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(flow.parameters(), s.clip_norm)
            optimizer.step()
            step += 1
            epoch_loss += loss.item()
            epoch_batches += 1
            if not quiet and (step % report_every == 0 or step == steps):
                print(f"nflows: step {step}/{steps}  train NLL {epoch_loss / epoch_batches:.4f}"
                      f"  (epoch {(step - 1) // per_epoch + 1}, mean so far)", file=sys.stderr)
    return step, time.perf_counter() - t0


def mean_nll(flow, data):
    flow.eval()
    with torch.no_grad():
        lp = torch.cat([flow.log_prob(chunk) for chunk in torch.split(data, 1024)])
    return -lp.double().mean().item()


def parse_args():
    p = argparse.ArgumentParser(description="Train the nflows peer of flowtmpl's two-moons NSF and print its held-out NLL.")
    p.add_argument("dir", help="the output directory of `two_moons DIR --model nsf`")
    p.add_argument("--seed", type=int, default=None, help="torch seed (default: the config's seed)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own choice)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the config's steps)")
    p.add_argument("--orientation", choices=["flowtmpl", "nflows"], default="flowtmpl",
                   help="flowtmpl: splines forward in the sampling direction, exactly flowtmpl's model (default); "
                        "nflows: splines forward on the data, nflows's usual NSF")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p.parse_args()


def main():
    args = parse_args()
    s = read_settings(os.path.join(args.dir, "two_moons_config.json"))
    steps = args.steps if args.steps is not None else s.steps
    seed = args.seed if args.seed is not None else s.seed
    if steps < 1:
        fail("--steps must be positive")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.set_default_dtype(s.dtype)
    torch.manual_seed(seed)

    train_set = torch.tensor(read_csv(os.path.join(args.dir, "two_moons_train.csv")), dtype=s.dtype)
    test_set = torch.tensor(read_csv(os.path.join(args.dir, "two_moons_test.csv")), dtype=s.dtype)
    if train_set.shape[1] != s.features or test_set.shape[1] != s.features:
        fail(f"the CSVs have {train_set.shape[1]} columns, the config {s.features} features")

    flow, _ = build_flow(s, args.orientation)
    done, seconds = train(flow, train_set, s, steps, seed, args.quiet)
    nll = mean_nll(flow, test_set)
    if not math.isfinite(nll):
        fail(f"the held-out NLL is not finite ({nll})")
    print(f"{'nflows':<8} held-out NLL {nll:.4f} nats  ({done} steps, {seconds:.1f} s)")


if __name__ == "__main__":
    main()
