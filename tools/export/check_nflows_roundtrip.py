"""Checks nflows_export.py end to end: nflows flows exported, loaded in C++, compared.

Builds nflows 0.14 MaskedAutoregressiveFlows (features 3 and 5, hidden 8 to 16, two
layers of two blocks; residual and feedforward MADEs, random masks, random permutations,
relu / tanh / silu / elu, one with dropout) and a hand-built Flow of ActNorm, LULinear,
RandomPermutation, MaskedAffineAutoregressiveTransform, InverseTransform and
ReversePermutation layers, each without a context and with context_features=2, each with
random parameters (drawn larger than nflows's initialisation) and briefly trained (Adam
on toy data). Every model is exported as float64 and float32; one program
(tools/export/nflows_roundtrip_main.cpp, compiled once for all the types) loads each file,
prints the spec text, which must equal the exporter's, and evaluates log_prob on 10^4
points (with a context per point) and the samples of 10^4 noise points (nflows:
flow._transform.inverse(z, context)).

Errors are |flowtmpl - nflows| / max(1, |nflows|) (absolute below 1, relative above),
the largest component per point, against nflows in float64 with the same parameters.
Pass: float64, every point within 1e-12; float32, the 99th percentile within 1e-5. Next
to each, nflows's own spread: float64, nflows on its inputs (x, z) moved by one ulp;
float32, nflows run in float32. Where the samples of a random model are so ill
conditioned (scales near 1e-3, inverted through several layers) that nflows's own spread
exceeds the tolerance, the case passes within twice that spread and is marked so. Then
every refusal is provoked and its message checked.

Usage: python tools/export/check_nflows_roundtrip.py [--steps 300] [--points 10000]
       [--keep DIR] [--include DIR] [--cxx g++]
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
from nflows.nn.nets import ResidualNet  # noqa: E402
from nflows.transforms import (ActNorm, AffineCouplingTransform, CompositeTransform,  # noqa: E402
                               InverseTransform, LULinear, MaskedAffineAutoregressiveTransform,
                               MaskedPiecewiseRationalQuadraticAutoregressiveTransform, OneByOneConvolution,
                               PiecewiseRationalQuadraticCouplingTransform, RandomPermutation,
                               ReversePermutation)

TOL = {"float64": 1e-12, "float32": 1e-5}
warnings.filterwarnings("ignore", message="torch.triangular_solve is deprecated")
CTX = 2


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


def toy_data(d, n, context, seed):
    """A curved, correlated density; with a context, shifted and bent by it."""
    g = np.random.default_rng(seed)
    c = g.standard_normal((n, context)) if context else None
    x = np.empty((n, d))
    x[:, 0] = g.standard_normal(n) + (0.7 * c[:, 0] if context else 0.0)
    for i in range(1, d):
        x[:, i] = np.sin(1.5 * x[:, i - 1]) + 0.3 * g.standard_normal(n)
        if context:
            x[:, i] += 0.4 * c[:, 1] * (1 if i % 2 else -1)
    f32 = lambda a: None if a is None else torch.as_tensor(a.astype(np.float32))
    return f32(x), f32(c)


def initialize_actnorms(flow, d, context, seed):
    """One forward in train mode: nflows's ActNorm takes its parameters from that batch."""
    x, c = toy_data(d, 512, context, seed)
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


def train(flow, d, context, steps, seed):
    torch.manual_seed(seed)
    x, c = toy_data(d, 4096, context, seed)
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


def cases(steps):
    """(name, flow, d, context) pairs: per architecture a random and a trained model of the
    same masks and permutations (so the same C++ type)."""
    configs = [
        ("MAF D=3 h=8 residual relu reverse", 3, lambda c: maf(3, 8, True, False, False, F.relu, c)),
        ("MAF D=3 h=12 feedforward tanh randperm dropout=0.1", 3,
         lambda c: maf(3, 12, False, False, True, torch.tanh, c, dropout=0.1)),
        ("MAF D=5 h=16 residual silu randperm", 5, lambda c: maf(5, 16, True, False, True, F.silu, c)),
        ("MAF D=5 h=10 feedforward relu randmask reverse", 5, lambda c: maf(5, 10, False, True, False, F.relu, c)),
        ("MAF D=3 h=16 feedforward elu randmask randperm", 3, lambda c: maf(3, 16, False, True, True, F.elu, c)),
        ("hand-built D=4 ActNorm/LU/perm/MADE/Inverse", 4, lambda c: hand_built(4, c)),
    ]
    seed = 1000
    for name, d, make in configs:
        for context in (None, CTX):
            seed += 1
            torch.manual_seed(seed)
            flow = make(context)
            initialize_actnorms(flow, d, context, seed)
            label = name + (f" ctx={context}" if context else "")
            yield label + " random", randomize(copy.deepcopy(flow), seed), d, context
            trained, nll = train(copy.deepcopy(flow), d, context, steps, seed)
            yield label + f" trained (NLL {nll:.2f})", trained, d, context


def points(d, context, n, seed):
    """Evaluation points (half from the toy data, half N(0, 2^2)), noise N(0, 1) and one
    context per point, all float32 values."""
    g = np.random.default_rng(seed)
    x, c = toy_data(d, n, context, seed)
    x = x.double().numpy()
    x[n // 2:] = 2.0 * g.standard_normal((n - n // 2, d))
    z = g.standard_normal((n, d))
    f32 = lambda a: None if a is None else np.ascontiguousarray(a.astype(np.float32).astype(np.float64))
    return f32(x), f32(z), (None if c is None else f32(c.double().numpy()))


def nflows_eval(flow, x, z, c, dtype):
    f = copy.deepcopy(flow).to(dtype).eval()
    t = lambda a: None if a is None else torch.as_tensor(a, dtype=dtype)
    with torch.no_grad():
        lp = f.log_prob(t(x), context=t(c)).double().numpy()
        s = f._transform.inverse(t(z), context=t(c))[0].double().numpy()
    return lp, s


def error(got, ref):
    """(max, 99th percentile) over the points of |got - ref| / max(1, |ref|)."""
    if got.shape != ref.shape:
        return math.inf, math.inf
    e = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    if not np.all(np.isfinite(e)):
        return math.inf, math.inf
    e = e.reshape(len(e), -1).max(axis=1)
    return float(e.max(initial=0.0)), float(np.quantile(e, 0.99))


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
    f = Flow(CompositeTransform([MaskedPiecewiseRationalQuadraticAutoregressiveTransform(
        3, 8, num_bins=4, tails="linear", tail_bound=3.0)]), StandardNormal([3]))
    out.append(("autoregressive spline", f, ["_transforms.0", "MaskedPiecewiseRationalQuadraticAutoregressive"]))
    net = lambda i, o: ResidualNet(i, o, 8)
    mask = torch.tensor([1, 0, 1])
    f = Flow(CompositeTransform([PiecewiseRationalQuadraticCouplingTransform(mask, net, num_bins=4, tails="linear")]),
             StandardNormal([3]))
    out.append(("spline coupling", f, ["_transforms.0", "ResidualNet", "sqrt(hidden_features)"]))
    f = Flow(CompositeTransform([AffineCouplingTransform(mask, net)]), StandardNormal([3]))
    out.append(("affine coupling", f, ["_transforms.0", "AffineCouplingTransform", "ResidualNet"]))
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
        print(f"  {what:30s} {'ok  ' if ok else 'FAIL'} {msg}")
    return failed


# ---- main ------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="Adam steps of a trained case")
    ap.add_argument("--points", type=int, default=10000)
    ap.add_argument("--keep", help="a directory for the compiled driver and files (kept; reused next time)")
    ap.add_argument("--include", default=str(HERE.parents[1] / "include"), help="flowtmpl's include directory")
    ap.add_argument("--cxx", default="g++")
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
    all_cases = list(cases(args.steps))
    exports = {}
    types = []
    for name, flow, _, _ in all_cases:
        for dtype in ("float64", "float32"):
            cpp, spec, _ = nflows_export.translate(flow, dtype)
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
    failed = not one_way
    strict_failed = False
    show = lambda e: f"{e[0]:8.2e} ({e[1]:7.1e})"
    print(f"{'':69s} {'flowtmpl, max (p99)':^39s} {'nflows itself, max (p99)':^39s}")
    print(f"{'case':60s} {'dtype':8s} {'log_prob':^19s} {'samples':^19s} {'log_prob':^19s} {'samples':^19s}")
    for name, flow, d, context in all_cases:
        seed = int(hashlib.sha1(name.split(" (")[0].encode()).hexdigest()[:8], 16)
        x, z, c = points(d, context, args.points, seed)
        ref_lp, ref_s = nflows_eval(flow, x, z, c, torch.float64)
        for dtype in ("float64", "float32"):
            cpp, spec = exports[name, dtype]
            model = work / "model.safetensors"
            if nflows_export.export(flow, model, dtype) != cpp:
                raise RuntimeError(f"{name}: export and translate give different types")
            got_spec = driver.spec(cpp)
            if got_spec != spec:
                print(f"{name}: spec text differs:\n  C++    {got_spec}\n  Python {spec}")
                failed = True
            lp, s = driver.run(cpp, model, x, z, c, work)
            e_lp, e_s = error(lp, ref_lp), error(s, ref_s)
            if dtype == "float64":  # nflows's own spread: its inputs moved by one ulp
                g = np.random.default_rng(seed)
                ulp = lambda a: a * (1 + g.choice([-1.0, 1.0], a.shape) * 2.0 ** -52)
                o_lp, o_s = nflows_eval(flow, ulp(x), ulp(z), c, torch.float64)
                k = 0
            else:  # nflows's own float32 error
                o_lp, o_s = nflows_eval(flow, x, z, c, torch.float32)
                k = 1
            own_lp, own_s = error(o_lp, ref_lp), error(o_s, ref_s)
            strict = max(e_lp[k], e_s[k]) > TOL[dtype]
            bad = e_lp[k] > max(TOL[dtype], 2 * own_lp[k]) or e_s[k] > max(TOL[dtype], 2 * own_s[k])
            strict_failed |= strict
            failed |= bad
            mark = "  FAIL" if bad else "  over the tolerance, within twice nflows's own" if strict else ""
            print(f"{name:60s} {dtype:8s} {show(e_lp)} {show(e_s)} {show(own_lp)} {show(own_s)}{mark}", flush=True)
    failed |= check_refusals()
    print("FAILED" if failed else "all within tolerance" + (" (some only within twice nflows's own spread)"
                                                           if strict_failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
