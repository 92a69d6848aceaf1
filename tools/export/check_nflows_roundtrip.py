"""Checks nflows_export.py end to end: nflows flows exported, loaded in C++, compared.

Builds nflows 0.14 MaskedAutoregressiveFlows (features 3 and 5, hidden 8 to 16, two
layers of two blocks; residual and feedforward MADEs, random masks, random permutations,
relu / tanh / silu / elu, one with dropout) and a hand-built Flow of ActNorm, LULinear,
RandomPermutation, MaskedAffineAutoregressiveTransform, InverseTransform and
ReversePermutation layers, each without a context and with context_features=2; spline
autoregressive flows (MaskedPiecewiseRationalQuadraticAutoregressiveTransform, linear
tails and tails=None) likewise; and coupling flows built by hand with nflows.nn.nets.MLP
transform nets (nflows's RealNVP class uses a ResidualNet, which is refused): affine
(RealNVP), additive (NICE), spline couplings with linear tails (one net with a
hidden_features attribute, so that nflows divides the widths and heights by its square
root) and with tails=None, and a flow mixing ActNorm, LULinear, couplings and a spline
autoregressive layer exported with spline_knots::as_torch_cpu. Each has random
parameters (drawn larger than nflows's initialisation) and is briefly trained (Adam on
toy data; flows of tails=None splines on data in [0, 1]). nflows 0.14's MLP.forward
takes no context argument, which its couplings pass: the nets here are MLP subclasses
whose forward(inputs, context=None) calls MLP's. Every model is exported as float64 and
float32; one program
(tools/export/nflows_roundtrip_main.cpp, compiled once for all the types) loads each file,
prints the spec text, which must equal the exporter's, and evaluates log_prob on 10^4
points (with a context per point) and the samples of 10^4 noise points (nflows:
flow._transform.inverse(z, context)). Flows with linear-tail splines get points on and
around +-tail_bound among them; flows of tails=None splines are evaluated on [0, 1]^D
(uniform draws, and points at and near 0 and 1) and sample from uniform noise there.

Errors are |flowtmpl - nflows| / max(1, |nflows|) (absolute below 1, relative above),
the largest component per point, against nflows in float64 with the same parameters.
Pass: float64, every point within 1e-12; float32, the 99th percentile within 1e-5. Next
to each, nflows's own spread: float64, nflows with its inputs (x, z) and every parameter
moved by one ulp in random directions (per point the farthest of 4 such draws); float32,
nflows run in float32. Where a model is so ill conditioned (affine scales near 1e-3
inverted through several layers, spline bins a few thousandths of the interval wide) that
nflows's own spread exceeds the tolerance, the case passes within twice that spread and
is marked so. Flows of tails=None splines: where nflows refuses a point itself (its
rounding puts an intermediate value an ulp outside [0, 1], InputOutsideDomain), the
point is left out and counted. Then every refusal is provoked and its message checked,
and a coupling whose net is nflows's MLP class itself is checked to export as the same
flow as with the subclass.

Usage: python tools/export/check_nflows_roundtrip.py [--steps 300] [--points 10000]
       [--keep DIR] [--include DIR] [--cxx g++] [--only REGEX] [--no-refusals]
"""

import argparse
import copy
import functools
import hashlib
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import nflows_export  # noqa: E402
from nflows_export import ExportError  # noqa: E402

from nflows.distributions.normal import ConditionalDiagonalNormal, StandardNormal  # noqa: E402
from nflows.flows.autoregressive import MaskedAutoregressiveFlow  # noqa: E402
from nflows.flows.base import Flow  # noqa: E402
from nflows.flows.realnvp import SimpleRealNVP  # noqa: E402
from nflows.transforms.base import InputOutsideDomain  # noqa: E402
from nflows.nn.nets import MLP, ConvResidualNet, ResidualNet  # noqa: E402
from nflows.transforms import (ActNorm, AdditiveCouplingTransform, AffineCouplingTransform,  # noqa: E402
                               CompositeTransform, InverseTransform, LULinear, MaskedAffineAutoregressiveTransform,
                               MaskedPiecewiseQuadraticAutoregressiveTransform,
                               MaskedPiecewiseRationalQuadraticAutoregressiveTransform, OneByOneConvolution,
                               PiecewiseLinearCouplingTransform, PiecewiseRationalQuadraticCouplingTransform,
                               RandomPermutation, ReversePermutation)

TOL = {"float64": 1e-12, "float32": 1e-5}
warnings.filterwarnings("ignore", message="torch.triangular_solve is deprecated")
warnings.filterwarnings("ignore", message="Inputs to the softmax are not scaled down")
CTX = 2


class CouplingMLP(MLP):
    """nflows's MLP as a coupling's transform_net: nflows's couplings call
    transform_net(inputs, context), which MLP.forward (inputs only) does not take."""

    def forward(self, inputs, context=None):
        return super().forward(inputs)


class ScaledMLP(CouplingMLP):
    """The same with a hidden_features attribute: nflows's spline couplings then divide
    the raw widths and heights by sqrt(hidden_features)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_features = self._hidden_sizes[0]


def mlp(hidden, activation=F.relu, cls=CouplingMLP):
    return lambda i, o: cls([i], [o], hidden, activation=activation)


# ---- models ----------------------------------------------------------------------------

def maf(d, hidden, residual, random_mask, random_perm, activation, context, dropout=0.0):
    """MaskedAutoregressiveFlow(d, hidden, num_layers=2, num_blocks_per_layer=2, ...); with
    a context, the same layers built by hand (the class takes none)."""
    if context is None:
        return MaskedAutoregressiveFlow(d, hidden, 2, 2, use_residual_blocks=residual, use_random_masks=random_mask,
                                        use_random_permutations=random_perm, activation=activation,
                                        dropout_probability=dropout)
    layers = []
    for _ in range(2):
        layers.append(RandomPermutation(d) if random_perm else ReversePermutation(d))
        layers.append(MaskedAffineAutoregressiveTransform(
            d, hidden, context_features=context, num_blocks=2, use_residual_blocks=residual,
            random_mask=random_mask, activation=activation, dropout_probability=dropout))
    return Flow(CompositeTransform(layers), StandardNormal([d]))


def hand_built(d, context):
    """ActNorm, LULinear, RandomPermutation, MADE layers (residual, feedforward with random
    masks, one inside an InverseTransform), ReversePermutation."""
    return Flow(CompositeTransform([
        ActNorm(d),
        LULinear(d),
        RandomPermutation(d),
        MaskedAffineAutoregressiveTransform(d, 12, context_features=context, num_blocks=2),
        ActNorm(d),
        LULinear(d),
        InverseTransform(MaskedAffineAutoregressiveTransform(d, 10, context_features=context, num_blocks=1,
                                                             use_residual_blocks=False, random_mask=True)),
        ReversePermutation(d),
        MaskedAffineAutoregressiveTransform(d, 8, context_features=context, num_blocks=1, use_residual_blocks=False,
                                            activation=torch.tanh),
    ]), StandardNormal([d]))


def spline_maf(d, hidden, bins, tails, residual, random_mask, activation, context, tail_bound=3.0):
    """Two MaskedPiecewiseRationalQuadraticAutoregressiveTransforms (two blocks each), a
    RandomPermutation before each."""
    layers = []
    for _ in range(2):
        layers.append(RandomPermutation(d))
        layers.append(MaskedPiecewiseRationalQuadraticAutoregressiveTransform(
            d, hidden, context_features=context, num_bins=bins, tails=tails, tail_bound=tail_bound, num_blocks=2,
            use_residual_blocks=residual, random_mask=random_mask, activation=activation))
    return Flow(CompositeTransform(layers), StandardNormal([d]))


def real_nvp(d):
    """RealNVP built by hand: four affine couplings, alternating masks, MLP nets."""
    masks = [[(i + k) % 2 for i in range(d)] for k in range(4)]
    return Flow(CompositeTransform([AffineCouplingTransform(m, mlp([16, 16])) for m in masks]), StandardNormal([d]))


def nice(d):
    """NICE: additive couplings with reversals between them."""
    return Flow(CompositeTransform([
        AdditiveCouplingTransform([1, 0, 1], mlp([12], torch.tanh)),
        ReversePermutation(d),
        AdditiveCouplingTransform([0, 1, 0], mlp([12], torch.tanh)),
        AdditiveCouplingTransform([1, 1, 0], mlp([12, 12], torch.tanh)),
    ]), StandardNormal([d]))


def spline_couplings(d):
    """Spline couplings with linear tails: a net with hidden_features (divisors), one
    without and with larger minimum sizes, one inside an InverseTransform."""
    return Flow(CompositeTransform([
        PiecewiseRationalQuadraticCouplingTransform([1, 0, 1], mlp([8, 8], F.silu, ScaledMLP), num_bins=8,
                                                    tails="linear", tail_bound=3.0),
        ReversePermutation(d),
        PiecewiseRationalQuadraticCouplingTransform([0, 1, 0], mlp([8, 8], F.silu), num_bins=8, tails="linear",
                                                    tail_bound=3.0, min_bin_width=1e-2, min_bin_height=2e-2,
                                                    min_derivative=5e-3),
        InverseTransform(PiecewiseRationalQuadraticCouplingTransform([1, 1, 0], mlp([10], F.silu, ScaledMLP),
                                                                     num_bins=5, tails="linear", tail_bound=3.0)),
    ]), StandardNormal([d]))


def bounded_couplings(d):
    """Spline couplings with tails=None ([0, 1] onto itself)."""
    return Flow(CompositeTransform([
        PiecewiseRationalQuadraticCouplingTransform([1, 1, 0], mlp([8, 8], F.elu), num_bins=6),
        PiecewiseRationalQuadraticCouplingTransform([0, 0, 1], mlp([8, 8], F.elu), num_bins=6),
        RandomPermutation(d),
        PiecewiseRationalQuadraticCouplingTransform([0, 1, 0], mlp([8], F.elu, ScaledMLP), num_bins=4),
    ]), StandardNormal([d]))


def mixed(d):
    """ActNorm, LULinear, affine and spline couplings, a spline autoregressive layer."""
    return Flow(CompositeTransform([
        ActNorm(d),
        AffineCouplingTransform([1, 0, 1, 0], mlp([12, 12])),
        LULinear(d),
        PiecewiseRationalQuadraticCouplingTransform([0, 1, 1, 0], mlp([12], torch.tanh, ScaledMLP), num_bins=6,
                                                    tails="linear", tail_bound=4.0),
        RandomPermutation(d),
        MaskedPiecewiseRationalQuadraticAutoregressiveTransform(d, 10, num_bins=6, tails="linear", tail_bound=4.0,
                                                                num_blocks=1),
        AdditiveCouplingTransform([0, 0, 1, 1], mlp([8])),
    ]), StandardNormal([d]))


def resnet(hidden, blocks, context, activation=F.relu, dropout=0.0):
    return lambda i, o: ResidualNet(i, o, hidden, context_features=context, num_blocks=blocks, activation=activation,
                                    dropout_probability=dropout)


def resnet_couplings(d, context):
    """nflows's default coupling net, ResidualNet, reading the context when there is one:
    affine, spline (divided by sqrt(hidden_features)) and additive couplings."""
    return Flow(CompositeTransform([
        AffineCouplingTransform([(i + 1) % 2 for i in range(d)], resnet(12, 2, context, dropout=0.1)),
        PiecewiseRationalQuadraticCouplingTransform([i % 2 for i in range(d)], resnet(10, 1, context, torch.tanh),
                                                    num_bins=6, tails="linear", tail_bound=3.0),
        ReversePermutation(d),
        AdditiveCouplingTransform([1 if i < d // 2 else 0 for i in range(d)], resnet(8, 3, context, F.silu)),
    ]), StandardNormal([d]))


def toy_data(d, n, context, seed, domain="real"):
    """A curved, correlated density; with a context, shifted and bent by it. Domain "unit":
    the same through the logistic function, in (0, 1)."""
    g = np.random.default_rng(seed)
    c = g.standard_normal((n, context)) if context else None
    x = np.empty((n, d))
    x[:, 0] = g.standard_normal(n) + (0.7 * c[:, 0] if context else 0.0)
    for i in range(1, d):
        x[:, i] = np.sin(1.5 * x[:, i - 1]) + 0.3 * g.standard_normal(n)
        if context:
            x[:, i] += 0.4 * c[:, 1] * (1 if i % 2 else -1)
    if domain == "unit":
        x = 1.0 / (1.0 + np.exp(-x))
    f32 = lambda a: None if a is None else torch.as_tensor(a.astype(np.float32))
    return f32(x), f32(c)


def initialize_actnorms(flow, d, context, seed, domain="real"):
    """One forward in train mode: nflows's ActNorm takes its parameters from that batch."""
    x, c = toy_data(d, 512, context, seed, domain)
    flow.train()
    with torch.no_grad():
        flow.log_prob(x, context=c)
    flow.eval()


def randomize(flow, seed):
    """Every parameter drawn from a normal larger than nflows's initialisation (which
    leaves residual blocks and ActNorm near the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in flow.named_parameters():
            s = 1.0 if name.endswith("unconstrained_upper_diag") else 0.3 if name.endswith("log_scale") else 0.4
            p.copy_(s * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return flow.eval()


def train(flow, d, context, steps, seed, domain="real"):
    torch.manual_seed(seed)
    x, c = toy_data(d, 4096, context, seed, domain)
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    flow.train()
    loss = None
    for step in range(steps):
        idx = torch.randint(0, len(x), (256,))
        loss = -flow.log_prob(x[idx], context=None if c is None else c[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    flow.eval()
    with torch.no_grad():
        nll = float(-flow.log_prob(x, context=c).mean())
    return flow, nll


def cases(steps, only=None):
    """(name, flow, d, context, domain, torch_knots): per architecture a random and a
    trained model of the same masks and permutations (so the same C++ type). domain: "real",
    a tail bound (points around it), or "unit" ([0, 1]^D)."""
    configs = [
        ("MAF D=3 h=8 residual relu reverse", 3, lambda c: maf(3, 8, True, False, False, F.relu, c)),
        ("MAF D=3 h=12 feedforward tanh randperm dropout=0.1", 3,
         lambda c: maf(3, 12, False, False, True, torch.tanh, c, dropout=0.1)),
        ("MAF D=5 h=16 residual silu randperm", 5, lambda c: maf(5, 16, True, False, True, F.silu, c)),
        ("MAF D=5 h=10 feedforward relu randmask reverse", 5, lambda c: maf(5, 10, False, True, False, F.relu, c)),
        ("MAF D=3 h=16 feedforward elu randmask randperm", 3, lambda c: maf(3, 16, False, True, True, F.elu, c)),
        ("hand-built D=4 ActNorm/LU/perm/MADE/Inverse", 4, lambda c: hand_built(4, c)),
    ]
    configs = [(n, d, m, "real", False, (None, CTX)) for n, d, m in configs] + [
        ("spline MAF D=3 K=8 B=3 h=8 residual relu randperm", 3,
         lambda c: spline_maf(3, 8, 8, "linear", True, False, F.relu, c), 3.0, False, (None, CTX)),
        ("spline MAF D=4 K=5 tails=None h=10 feedforward tanh randmask", 4,
         lambda c: spline_maf(4, 10, 5, None, False, True, torch.tanh, c), "unit", False, (None, CTX)),
        ("RealNVP D=4 affine couplings MLP 16,16 relu", 4, lambda c: real_nvp(4), "real", False, (None,)),
        ("NICE D=3 additive couplings MLP tanh", 3, lambda c: nice(3), "real", False, (None,)),
        ("spline couplings D=3 K=8,5 B=3 silu divisors/min sizes/Inverse", 3, lambda c: spline_couplings(3), 3.0,
         False, (None,)),
        ("spline couplings D=3 K=6,4 tails=None elu", 3, lambda c: bounded_couplings(3), "unit", False, (None,)),
        ("mixed D=4 ActNorm/coupling/LU/spline/MAF-spline torch knots", 4, lambda c: mixed(4), 4.0, True, (None,)),
        ("SimpleRealNVP D=4 H=16 2 blocks", 4, lambda c: SimpleRealNVP(4, 16, 4, 2), "real", False, (None,)),
        ("SimpleRealNVP D=5 H=8 volume preserving tanh", 5,
         lambda c: SimpleRealNVP(5, 8, 3, 1, use_volume_preserving=True, activation=torch.tanh), "real", False,
         (None,)),
        ("ResidualNet couplings D=4 affine/spline/additive", 4, lambda c: resnet_couplings(4, c), 3.0, False,
         (None, CTX)),
    ]
    seed = 1000
    for name, d, make, domain, torch_knots, contexts in configs:
        for context in contexts:
            seed += 1
            label = name + (f" ctx={context}" if context else "")
            if only and not re.search(only, label):
                continue
            torch.manual_seed(seed)
            flow = make(context)
            initialize_actnorms(flow, d, context, seed, "unit" if domain == "unit" else "real")
            yield label + " random", randomize(copy.deepcopy(flow), seed), d, context, domain, torch_knots
            trained, nll = train(copy.deepcopy(flow), d, context, steps, seed, "unit" if domain == "unit" else "real")
            yield label + f" trained (NLL {nll:.2f})", trained, d, context, domain, torch_knots


EDGE_OFFSETS = [0.0, 1e-6, -1e-6, 1e-3, -1e-3, 1e-2, -1e-2]


def points(d, context, n, seed, domain="real"):
    """Evaluation points (half from the toy data, half N(0, 2^2)), noise N(0, 1) and one
    context per point, all float32 values. Domain B (a tail bound): the second half begins
    with points whose coordinate i is +-B + offset (each i, sign and offset). Domain
    "unit": toy data in (0, 1) and uniform draws, the uniform half beginning with
    coordinates at 0 and 1 and offsets inside; uniform noise, some of it at 0 and 1."""
    g = np.random.default_rng(seed)
    x, c = toy_data(d, n, context, seed, "unit" if domain == "unit" else "real")
    x = x.double().numpy()
    if domain == "unit":
        x[n // 2:] = g.random((n - n // 2, d))
        edge = [(i, e + o) for i in range(d) for e, o in [(0.0, 0.0), (1.0, 0.0)] + [
            (0.0, abs(o)) for o in EDGE_OFFSETS[1::2]] + [(1.0, -abs(o)) for o in EDGE_OFFSETS[1::2]]]
        for k, (i, v) in enumerate(edge):
            x[n // 2 + k, i] = v
        z = g.random((n, d))
        z[:n // 100] = g.choice([0.0, 1.0], (n // 100, d))
    else:
        x[n // 2:] = 2.0 * g.standard_normal((n - n // 2, d))
        if domain != "real":
            edge = [(i, s * domain + o) for i in range(d) for s in (-1.0, 1.0) for o in EDGE_OFFSETS]
            for k, (i, v) in enumerate(edge):
                x[n // 2 + k, i] = v
        z = g.standard_normal((n, d))
    f32 = lambda a: None if a is None else np.ascontiguousarray(a.astype(np.float32).astype(np.float64))
    return f32(x), f32(z), (None if c is None else f32(c.double().numpy()))


def refused_rows(fn, a, c, out):
    """out[rows] = fn(a[rows], c[rows]) in one call where nflows allows it: a block that
    nflows refuses (InputOutsideDomain: a tails=None spline given a value outside [0, 1],
    which its own rounding of an earlier layer can produce, one ulp out) is split until
    the refused points are single ones, whose rows stay NaN."""
    blocks = [np.arange(len(a))]
    while blocks:
        rows = blocks.pop()
        try:
            out[rows] = fn(a[rows], None if c is None else c[rows])
        except InputOutsideDomain:
            if len(rows) > 1:
                blocks += [rows[:len(rows) // 2], rows[len(rows) // 2:]]
    return out


def nflows_eval(flow, x, z, c, dtype):
    """nflows's log_prob at x and samples of z (NaN at the points nflows refuses)."""
    f = copy.deepcopy(flow).to(dtype).eval()
    t = lambda a: None if a is None else torch.as_tensor(a, dtype=dtype)
    with torch.no_grad():
        lp = refused_rows(lambda a, k: f.log_prob(t(a), context=t(k)).double().numpy(), x, c,
                          np.full(len(x), np.nan))
        s = refused_rows(lambda a, k: f._transform.inverse(t(a), context=t(k))[0].double().numpy(), z, c,
                         np.full(z.shape, np.nan))
    return lp, s


OWN_DRAWS = 4


def own_spread(flow, x, z, c, domain, seed):
    """nflows in float64 with its inputs (x, z) and every parameter moved by one ulp in
    random directions, OWN_DRAWS times: per point the result farthest from nflows's own
    (NaN where nflows refused the moved input or the reference)."""
    g = np.random.default_rng(seed)
    ulp = lambda a: a * (1 + g.choice([-1.0, 1.0], a.shape) * 2.0 ** -52)
    if domain == "unit":  # nflows refuses inputs outside [0, 1]
        ulp = lambda a, u=ulp: np.clip(u(a), 0.0, 1.0)
    ref_lp, ref_s = nflows_eval(flow, x, z, c, torch.float64)
    row_dev = lambda s: (np.abs(s - ref_s) / np.maximum(1.0, np.abs(ref_s))).max(axis=1)
    best_lp, best_s = np.full_like(ref_lp, np.nan), np.full_like(ref_s, np.nan)
    for _ in range(OWN_DRAWS):
        moved = copy.deepcopy(flow).double()
        with torch.no_grad():
            for p in moved.parameters():
                p.mul_(1 + torch.as_tensor(g.choice([-1.0, 1.0], tuple(p.shape))) * 2.0 ** -52)
        lp, s = nflows_eval(moved, ulp(x), ulp(z), c, torch.float64)
        take = np.abs(lp - ref_lp) > np.nan_to_num(np.abs(best_lp - ref_lp), nan=-1.0)
        best_lp = np.where(take, lp, best_lp)
        take = row_dev(s) > np.nan_to_num(row_dev(best_s), nan=-1.0)
        best_s = np.where(take[:, None], s, best_s)
    return best_lp, best_s


def error(got, ref):
    """(max, 99th percentile) over the points of |got - ref| / max(1, |ref|); points where
    nflows refused the reference (NaN) are left out, a NaN in got counts as infinite."""
    if got.shape != ref.shape:
        return math.inf, math.inf
    keep = ~np.isnan(ref.reshape(len(ref), -1)).any(axis=1)
    got, ref = got[keep], ref[keep]
    e = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    if not np.all(np.isfinite(e)):
        return math.inf, math.inf
    e = e.reshape(len(e), -1).max(axis=1)
    return float(e.max(initial=0.0)), float(np.quantile(e, 0.99))


def refused(ref):
    return int(np.isnan(ref.reshape(len(ref), -1)).any(axis=1).sum())


# ---- the C++ side ----------------------------------------------------------------------

class Driver:
    """nflows_roundtrip_main.cpp compiled once for a list of flow types."""

    def __init__(self, work, include, cxx):
        self.work, self.include, self.cxx = work, include, cxx
        self.exe, self.index = None, {}

    def build(self, types):
        self.index = {t: k for k, t in enumerate(types)}
        d = self.work / ("flows_" + hashlib.sha1("\n".join(types).encode()).hexdigest()[:12])
        d.mkdir(exist_ok=True)
        (d / "nflows_exported_flows.hpp").write_text(
            "#pragma once\n#include <flowtmpl/flowtmpl.hpp>\n#define FLOWTMPL_EXPORT_FLOWS " + ", ".join(types) + "\n")
        self.exe = d / "nflows_roundtrip_main"
        if not self.exe.exists():
            cmd = [self.cxx, "-std=c++20", "-O1", f"-I{self.include}", "-I/usr/include/eigen3", f"-I{d}",
                   str(HERE / "nflows_roundtrip_main.cpp"), "-o", str(self.exe)]
            t = time.time()
            subprocess.run(cmd, check=True)
            print(f"compiled {len(types)} flow types in {time.time() - t:.0f} s", flush=True)

    def spec(self, cpp):
        return subprocess.run([str(self.exe), "--spec", str(self.index[cpp])], capture_output=True, text=True,
                              check=True).stdout.strip()

    def run(self, cpp, model, x, z, c, out):
        x.astype("<f8").tofile(out / "x.bin")
        z.astype("<f8").tofile(out / "z.bin")
        args = [str(self.exe), str(self.index[cpp]), str(model), str(out / "x.bin"), str(out / "z.bin"), str(len(x)),
                str(out / "lp.bin"), str(out / "s.bin")]
        if c is not None:
            c.astype("<f8").tofile(out / "c.bin")
            args.append(str(out / "c.bin"))
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"nflows_roundtrip_main failed: {r.stderr.strip()}")
        lp = np.fromfile(out / "lp.bin", dtype="<f8")
        s = np.fromfile(out / "s.bin", dtype="<f8").reshape(len(x), -1)
        return lp, s


# ---- refusals --------------------------------------------------------------------------

def refusals():
    """(what, flow, words the message must contain)."""
    torch.manual_seed(5)
    out = []
    out.append(("batch norm between layers", MaskedAutoregressiveFlow(3, 8, 2, 2, batch_norm_between_layers=True),
                ["_transform._transforms.2", "BatchNorm", "no batch-norm layer"]))
    out.append(("batch norm within layers", MaskedAutoregressiveFlow(3, 8, 2, 2, batch_norm_within_layers=True),
                ["_transforms.1.autoregressive_net.blocks.0", "use_batch_norm=True"]))
    f = Flow(CompositeTransform([ActNorm(3), ReversePermutation(3)]), StandardNormal([3]))
    out.append(("ActNorm never initialised", f, ["_transforms.0", "not initialised", "train mode"]))
    f = Flow(CompositeTransform([LULinear(3, eps=1e-2)]), StandardNormal([3]))
    out.append(("LULinear eps 1e-2", f, ["_transforms.0", "eps 0.01"]))
    f = Flow(CompositeTransform([OneByOneConvolution(3)]), StandardNormal([3]))
    out.append(("OneByOneConvolution", f, ["_transforms.0", "OneByOneConvolution"]))
    f = Flow(CompositeTransform([MaskedPiecewiseQuadraticAutoregressiveTransform(3, 8, num_bins=4)]),
             StandardNormal([3]))
    out.append(("autoregressive quadratic spline", f, ["_transforms.0", "no piecewise-quadratic transformer"]))
    mask = torch.tensor([1, 0, 1])
    out.append(("ResidualNet with batch norm", SimpleRealNVP(4, 8, 2, 1, batch_norm_within_layers=True),
                ["_transforms.0.transform_net.blocks.0", "use_batch_norm=True"]))
    f = Flow(CompositeTransform([MaskedAffineAutoregressiveTransform(3, 8, context_features=2),
                                 AffineCouplingTransform(mask, resnet(8, 1, None))]), StandardNormal([3]))
    out.append(("ResidualNet without the flow's context", f, ["_transforms.1.transform_net", "reads no context",
                                                                "read 2"]))
    f = Flow(CompositeTransform([AffineCouplingTransform(mask, resnet(8, 1, 2))]), StandardNormal([3]))
    f._transform._transforms[0].transform_net.blocks[0].activation = torch.sigmoid
    out.append(("ResidualNet block with sigmoid", f, ["_transforms.0.transform_net.blocks.0", "activation sigmoid"]))
    f = Flow(CompositeTransform([AffineCouplingTransform(mask, lambda i, o: ConvResidualNet(i, o, 4))]),
             StandardNormal([3]))
    out.append(("coupling, ConvResidualNet", f, ["_transforms.0.transform_net", "ConvResidualNet"]))
    f = Flow(CompositeTransform([AffineCouplingTransform(mask, lambda i, o: CouplingMLP([i], [o], [8],
                                                                                         activate_output=True))]),
             StandardNormal([3]))
    out.append(("MLP activate_output=True", f, ["_transforms.0.transform_net", "activate_output=True"]))
    f = Flow(CompositeTransform([PiecewiseRationalQuadraticCouplingTransform(
        mask, mlp([8]), num_bins=4, tails="linear", apply_unconditional_transform=True)]), StandardNormal([3]))
    out.append(("unconditional transform", f, ["_transforms.0", "apply_unconditional_transform=True"]))
    f = Flow(CompositeTransform([PiecewiseRationalQuadraticCouplingTransform(mask, mlp([8]), num_bins=4,
                                                                             tails="circular")]), StandardNormal([3]))
    out.append(("spline tails='circular'", f, ["_transforms.0", "tails='circular'"]))
    f = Flow(CompositeTransform([MaskedAffineAutoregressiveTransform(3, 8, context_features=2),
                                 AffineCouplingTransform(mask, mlp([8]))]), StandardNormal([3]))
    out.append(("coupling with a context", f, ["_transforms.1", "context of 2", "MLP reads no context"]))
    f = Flow(CompositeTransform([AffineCouplingTransform([1, 0, 1, 1], mlp([8]))]), StandardNormal([4, 2, 2]))
    out.append(("image-shaped coupling flow", f, ["_distribution", "[4, 2, 2]", "image-shaped"]))

    class Doubled(CouplingMLP):
        def forward(self, inputs, context=None):
            return 2.0 * super().forward(inputs)
    f = Flow(CompositeTransform([AffineCouplingTransform(mask, lambda i, o: Doubled([i], [o], [8]))]),
             StandardNormal([3]))
    out.append(("MLP subclass computing another function", f, ["_transforms.0.transform_net", "not nflows's MLP"]))
    f = Flow(CompositeTransform([PiecewiseLinearCouplingTransform(mask, mlp([8]), num_bins=4)]), StandardNormal([3]))
    out.append(("piecewise-linear coupling", f, ["_transforms.0", "no piecewise-linear transformer"]))
    f = Flow(CompositeTransform([AffineCouplingTransform([1, 1, 1], mlp([8]))]), StandardNormal([3]))
    out.append(("coupling transforming everything", f, ["_transforms.0", "transforms 3 of 3"]))
    f = Flow(CompositeTransform([MaskedAffineAutoregressiveTransform(3, 8)]), ConditionalDiagonalNormal([3]))
    out.append(("ConditionalDiagonalNormal base", f, ["_distribution", "ConditionalDiagonalNormal", "StandardNormal"]))
    f = Flow(CompositeTransform([MaskedAffineAutoregressiveTransform(3, 8, context_features=2)]), StandardNormal([3]),
             embedding_net=nn.Linear(4, 2))
    out.append(("embedding net", f, ["_embedding_net", "Linear", "identity"]))
    out.append(("sigmoid activation", MaskedAutoregressiveFlow(3, 8, 1, 1, activation=torch.sigmoid),
                ["_transforms.1.autoregressive_net", "activation sigmoid"]))
    out.append(("ELU alpha 0.5", MaskedAutoregressiveFlow(3, 8, 1, 1, activation=functools.partial(F.elu, alpha=0.5)),
                ["_transforms.1.autoregressive_net", "alpha"]))
    f = Flow(CompositeTransform([MaskedAffineAutoregressiveTransform(3, 8, num_blocks=0)]), StandardNormal([3]))
    out.append(("residual MADE without blocks", f, ["_transforms.0.autoregressive_net", "num_blocks=0"]))
    f = Flow(CompositeTransform([MaskedAffineAutoregressiveTransform(3, 8, context_features=2),
                                 MaskedAffineAutoregressiveTransform(3, 8, context_features=3)]), StandardNormal([3]))
    out.append(("two context sizes", f, ["_transforms.1", "context of 3 features", "reads 2"]))
    f = Flow(CompositeTransform([MaskedAffineAutoregressiveTransform(3, 8, context_features=2),
                                 MaskedAffineAutoregressiveTransform(3, 8)]), StandardNormal([3]))
    out.append(("a MADE without the context", f, ["_transforms.1.autoregressive_net", "no context layer"]))
    f = MaskedAutoregressiveFlow(3, 8, 1, 1, use_residual_blocks=False)
    with torch.no_grad():
        f._transform._transforms[1].autoregressive_net.blocks[0].linear.mask[0, :] = 1.0
    out.append(("a mask changed by hand", f, ["_transforms.1.autoregressive_net.blocks.0.linear", "mask differs"]))
    f = Flow(CompositeTransform([MaskedAffineAutoregressiveTransform(3, 8)]), StandardNormal([3, 1]))
    out.append(("base of shape [3, 1]", f, ["_distribution", "[3, 1]"]))
    out.append(("not a Flow", MaskedAffineAutoregressiveTransform(3, 8), ["not an nflows.flows.base.Flow"]))
    return out


def check_plain_mlp():
    """A coupling whose net is nflows's MLP itself (which nflows 0.14 cannot call in a
    coupling) exports as the same flow with the context-taking subclass."""
    torch.manual_seed(6)
    sub = Flow(CompositeTransform([AffineCouplingTransform([1, 0, 1], mlp([8, 8], torch.tanh))]), StandardNormal([3]))
    plain = Flow(CompositeTransform([AffineCouplingTransform(
        [1, 0, 1], lambda i, o: MLP([i], [o], [8, 8], activation=torch.tanh))]), StandardNormal([3]))
    plain.load_state_dict(sub.state_dict())
    a, b = nflows_export.translate(sub.eval()), nflows_export.translate(plain.eval())
    ok = a[:2] == b[:2] and all(n == m and np.array_equal(x, y) for (n, x), (m, y) in zip(a[2], b[2]))
    print(f"  {'plain nflows MLP as a coupling net':40s} {'ok  ' if ok else 'FAIL'} exported as its subclass")
    return not ok


def check_refusals():
    failed = False
    print("\nrefusals:")
    for what, flow, words in refusals():
        try:
            nflows_export.translate(flow.eval())
            msg = None
        except ExportError as e:
            msg = str(e)
        ok = msg is not None and all(w in msg for w in words)
        failed |= not ok
        print(f"  {what:40s} {'ok  ' if ok else 'FAIL'} {msg}")
    failed |= check_plain_mlp()
    return failed


# ---- main ------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="Adam steps of a trained case")
    ap.add_argument("--points", type=int, default=10000)
    ap.add_argument("--keep", help="a directory for the compiled driver and files (kept; reused next time)")
    ap.add_argument("--include", default=str(HERE.parents[1] / "include"), help="flowtmpl's include directory")
    ap.add_argument("--cxx", default="g++")
    ap.add_argument("--only", help="only the cases whose name matches this regular expression")
    ap.add_argument("--no-refusals", action="store_true", help="skip the refusal checks")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="flowtmpl_nflows_roundtrip_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return check(args, Driver(work, args.include, args.cxx), work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def check(args, driver, work):
    all_cases = list(cases(args.steps, args.only))
    exports = {}
    types = []
    for name, flow, _, _, _, torch_knots in all_cases:
        for dtype in ("float64", "float32"):
            cpp, spec, _ = nflows_export.translate(flow, dtype, torch_knots)
            exports[name, dtype] = (cpp, spec)
            if cpp not in types:
                types.append(cpp)
    driver.build(types)

    # the direction of Permutation(p) matters only where p is not its own inverse
    perms = set(re.findall(r"Inverse<Permute\[([0-9,]+)\]>", " ".join(spec for _, spec in exports.values())))
    perms = [list(map(int, p.split(","))) for p in perms]
    one_way = [p for p in perms if any(p[p[i]] != i for i in range(len(p)))]
    print(f"{len(perms)} exported Permutation(p) orders, {len(one_way)} of them not their own inverse: "
          + " ".join(str(p) for p in one_way))
    failed = not one_way and not args.only
    strict_failed = False
    show = lambda e: f"{e[0]:8.2e} ({e[1]:7.1e})"
    print(f"{'':69s} {'flowtmpl, max (p99)':^39s} {'nflows itself, max (p99)':^39s}")
    print(f"{'case':60s} {'dtype':8s} {'log_prob':^19s} {'samples':^19s} {'log_prob':^19s} {'samples':^19s}")
    for name, flow, d, context, domain, torch_knots in all_cases:
        seed = int(hashlib.sha1(name.split(" (")[0].encode()).hexdigest()[:8], 16)
        x, z, c = points(d, context, args.points, seed, domain)
        ref_lp, ref_s = nflows_eval(flow, x, z, c, torch.float64)
        for dtype in ("float64", "float32"):
            cpp, spec = exports[name, dtype]
            model = work / "model.safetensors"
            if nflows_export.export(flow, model, dtype, torch_knots) != cpp:
                raise RuntimeError(f"{name}: export and translate give different types")
            got_spec = driver.spec(cpp)
            if got_spec != spec:
                print(f"{name}: spec text differs:\n  C++    {got_spec}\n  Python {spec}")
                failed = True
            lp, s = driver.run(cpp, model, x, z, c, work)
            e_lp, e_s = error(lp, ref_lp), error(s, ref_s)
            if dtype == "float64":  # nflows's own spread: inputs and parameters moved by one ulp
                o_lp, o_s = own_spread(flow, x, z, c, domain, seed)
                k = 0
            else:  # nflows's own float32 error
                o_lp, o_s = nflows_eval(flow, x, z, c, torch.float32)
                k = 1
            # nflows's own spread where both nflows evaluations ran
            o_lp = np.where(np.isnan(o_lp), ref_lp, o_lp)
            o_s = np.where(np.isnan(o_s), ref_s, o_s)
            own_lp, own_s = error(o_lp, ref_lp), error(o_s, ref_s)
            strict = max(e_lp[k], e_s[k]) > TOL[dtype]
            bad = e_lp[k] > max(TOL[dtype], 2 * own_lp[k]) or e_s[k] > max(TOL[dtype], 2 * own_s[k])
            strict_failed |= strict
            failed |= bad
            mark = "  FAIL" if bad else "  over the tolerance, within twice nflows's own" if strict else ""
            if dtype == "float64" and (refused(ref_lp) or refused(ref_s)):
                mark += f"  (nflows refused {refused(ref_lp)} points, {refused(ref_s)} noise vectors: left out)"
            print(f"{name:60s} {dtype:8s} {show(e_lp)} {show(e_s)} {show(own_lp)} {show(own_s)}{mark}", flush=True)
    if not args.no_refusals:
        failed |= check_refusals()
    print("FAILED" if failed else "all within tolerance" + (" (some only within twice nflows's own spread)"
                                                           if strict_failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
