"""Writes the nflows import fixtures of tests/unit/io/nflows_import_test.cpp into tests/data.

Usage: python tools/export/make_nflows_fixtures.py [OUT_DIR]   (default: tests/data)

Models (nflows 0.14, D = 3, hidden widths 8, no context unless said), each built after
torch.manual_seed(seed):
  maf             MaskedAutoregressiveFlow(3, hidden_features=8, num_layers=2,
                  num_blocks_per_layer=1): ReversePermutation and
                  MaskedAffineAutoregressiveTransform (residual MADE of one block, relu),
                  twice
  maf_ctx2        the same layers built by hand with context_features=2
  splinecoupling  PiecewiseRationalQuadraticCouplingTransform, K = 5, tails="linear",
                  tail_bound=3, masks [1, 0, 1], [0, 1, 0], [1, 1, 0], MLP nets of
                  widths (8, 8) (relu); the first and third nets carry hidden_features = 8,
                  so nflows divides their raw widths and heights by sqrt(8); the second
                  has min_bin_width 0.01, min_bin_height 0.02, min_derivative 0.005; a
                  ReversePermutation after the first
  affinecoupling  AffineCouplingTransform with masks [1, 0, 1], [0, 1, 0], [1, 1, 0] and
                  MLP nets of widths (8, 8) (relu, tanh, silu), then an
                  AdditiveCouplingTransform with mask [0, 0, 1] (MLP (8,), elu)
  simplerealnvp   SimpleRealNVP(3, 8, num_layers=2, num_blocks_per_layer=1): affine
                  couplings with masks [0, 1, 0], [1, 0, 1] and ResidualNet nets (8 units,
                  one block, relu)
  resnetcoupling_ctx2  an AffineCouplingTransform (mask [1, 0, 1], ResidualNet of 8 units,
                  2 blocks, relu) and a PiecewiseRationalQuadraticCouplingTransform (mask
                  [0, 1, 0], K = 5, linear tails at 3, ResidualNet of 8 units, 1 block,
                  tanh, divided by sqrt(8)), both nets with context_features=2
The coupling nets are nflows.nn.nets.MLP subclasses whose forward(inputs, context=None)
calls MLP's (nflows 0.14's couplings pass a context argument that MLP.forward does not
take). Each model comes in two states:
  random   every parameter redrawn from N(0, RANDOM_STD^2), far from nflows's
           initialisation (which leaves residual blocks near the identity)
  trained  TRAIN_STEPS Adam steps (lr 3e-3, batches of 256) on a standardized toy 3-D
           set (with a context: shifted and bent by it), from nflows's initialisation
and is exported with nflows_export.export. Files (float64; float32 for the trained
state of each of the three kinds):
  nflows_{maf,splinecoupling,affinecoupling}_{random,trained}_f64.safetensors
  nflows_{maf,splinecoupling,affinecoupling}_trained_f32.safetensors
  nflows_maf_ctx2_trained_f64.safetensors
  nflows_simplerealnvp_{random,trained}_f64.safetensors, nflows_simplerealnvp_trained_f32.safetensors
  nflows_resnetcoupling_ctx2_{random,trained}_f64.safetensors
  nflows_import.json: "meta" (generator, versions, seeds, the models and the point sets),
    "points" (200 points), "noise" (50 standard normal draws), "contexts" and
    "noise_contexts" (one 2-D context per point and per noise vector, for the
    conditional file), per file in "files": cpp_type, dtype, model, state, seed, context
    (0 or 2), log_prob (nflows's Flow.log_prob at the points), samples (nflows's
    flow._transform.inverse(noise)[0]), nflows_f32_error (nflows's own float32 model
    against the same reference, max over the points of |err| / max(1, |ref|)); and
    "refusal": the exporter's message for nflows.flows.realnvp.SimpleRealNVP with
    batch_norm_between_layers=True (its BatchNorm layers).
The reference numbers are computed in float64: for a float64 file from the model itself;
for a float32 file from the model with every parameter and floating buffer rounded to
float32, at the points, noise and contexts rounded to float32 (what a float flow computes
when it is given the recorded doubles, up to float arithmetic).
Floats are written by Python's repr (shortest round trip), so C++ reads the same doubles.
"""

import copy
import importlib.metadata
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import nflows_export  # noqa: E402

from nflows.distributions.normal import StandardNormal  # noqa: E402
from nflows.flows.autoregressive import MaskedAutoregressiveFlow  # noqa: E402
from nflows.flows.base import Flow  # noqa: E402
from nflows.flows.realnvp import SimpleRealNVP  # noqa: E402
from nflows.nn.nets import MLP, ResidualNet  # noqa: E402
from nflows.transforms import (AdditiveCouplingTransform, AffineCouplingTransform, CompositeTransform,  # noqa: E402
                               MaskedAffineAutoregressiveTransform, PiecewiseRationalQuadraticCouplingTransform,
                               ReversePermutation)

SEED = 20261208
RANDOM_STD = 0.5
TRAIN_STEPS = 300
CTX = 2
N_NORMAL, N_NOISE = 150, 50
BOUND = 3.0  # the spline couplings' tail_bound
EDGE_OFFSETS = [0.0, 1e-9, -1e-9, 1e-6, -1e-6, 1e-3, -1e-3]


class CouplingMLP(MLP):
    """nflows's MLP, called as its couplings call a transform_net: net(inputs, context)."""

    def forward(self, inputs, context=None):
        return super().forward(inputs)


class ScaledMLP(CouplingMLP):
    """With a hidden_features attribute: nflows's spline couplings divide the raw widths
    and heights by its square root."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_features = 8


def net(cls=CouplingMLP, hidden=(8, 8), activation=F.relu):
    return lambda i, o: cls([i], [o], list(hidden), activation=activation)


def maf(context):
    if context is None:
        return MaskedAutoregressiveFlow(3, 8, num_layers=2, num_blocks_per_layer=1)
    layers = []
    for _ in range(2):
        layers += [ReversePermutation(3), MaskedAffineAutoregressiveTransform(3, 8, context_features=context,
                                                                              num_blocks=1)]
    return Flow(CompositeTransform(layers), StandardNormal([3]))


def spline_coupling(context):
    return Flow(CompositeTransform([
        PiecewiseRationalQuadraticCouplingTransform([1, 0, 1], net(ScaledMLP), num_bins=5, tails="linear",
                                                    tail_bound=BOUND),
        ReversePermutation(3),
        PiecewiseRationalQuadraticCouplingTransform([0, 1, 0], net(), num_bins=5, tails="linear", tail_bound=BOUND,
                                                    min_bin_width=1e-2, min_bin_height=2e-2, min_derivative=5e-3),
        PiecewiseRationalQuadraticCouplingTransform([1, 1, 0], net(ScaledMLP), num_bins=5, tails="linear",
                                                    tail_bound=BOUND),
    ]), StandardNormal([3]))


def affine_coupling(context):
    return Flow(CompositeTransform([
        AffineCouplingTransform([1, 0, 1], net()),
        AffineCouplingTransform([0, 1, 0], net(activation=torch.tanh)),
        AffineCouplingTransform([1, 1, 0], net(activation=F.silu)),
        AdditiveCouplingTransform([0, 0, 1], net(hidden=(8,), activation=F.elu)),
    ]), StandardNormal([3]))


def resnet_coupling(context):
    resnet = lambda hidden, blocks, act: lambda i, o: ResidualNet(i, o, hidden, context_features=context,
                                                                  num_blocks=blocks, activation=act)
    return Flow(CompositeTransform([
        AffineCouplingTransform([1, 0, 1], resnet(8, 2, F.relu)),
        PiecewiseRationalQuadraticCouplingTransform([0, 1, 0], resnet(8, 1, torch.tanh), num_bins=5, tails="linear",
                                                    tail_bound=BOUND),
    ]), StandardNormal([3]))


def simple_real_nvp(context):
    assert context is None
    return SimpleRealNVP(3, 8, num_layers=2, num_blocks_per_layer=1)


# name: (builder, description, context)
MODELS = {
    "maf": (maf, "MaskedAutoregressiveFlow(3, hidden_features=8, num_layers=2, num_blocks_per_layer=1)", None),
    "maf_ctx2": (maf, "2 x (ReversePermutation(3), MaskedAffineAutoregressiveTransform(3, 8, context_features=2, "
                      "num_blocks=1))", CTX),
    "splinecoupling": (spline_coupling, "3 PiecewiseRationalQuadraticCouplingTransform (K=5, linear tails at 3, "
                                        "masks 101, 010, 110; MLP (8, 8) nets, the 1st and 3rd with "
                                        "hidden_features=8; the 2nd min sizes 0.01/0.02/0.005), ReversePermutation "
                                        "after the 1st", None),
    "affinecoupling": (affine_coupling, "AffineCouplingTransform x 3 (masks 101, 010, 110; MLP (8, 8) relu, tanh, "
                                        "silu), AdditiveCouplingTransform (mask 001, MLP (8,) elu)", None),
    "simplerealnvp": (simple_real_nvp, "SimpleRealNVP(3, 8, num_layers=2, num_blocks_per_layer=1)", None),
    "resnetcoupling_ctx2": (resnet_coupling, "AffineCouplingTransform (mask 101, ResidualNet(hidden 8, 2 blocks, "
                                             "relu, context_features=2)), PiecewiseRationalQuadraticCoupling"
                                             "Transform (mask 010, K=5, linear tails at 3, ResidualNet(hidden 8, 1 "
                                             "block, tanh, context_features=2))", CTX),
}
FILES = [  # (model, state, dtype)
    ("maf", "random", "float64"), ("maf", "trained", "float64"), ("maf", "trained", "float32"),
    ("splinecoupling", "random", "float64"), ("splinecoupling", "trained", "float64"),
    ("splinecoupling", "trained", "float32"),
    ("affinecoupling", "random", "float64"), ("affinecoupling", "trained", "float64"),
    ("affinecoupling", "trained", "float32"),
    ("maf_ctx2", "trained", "float64"),
    ("simplerealnvp", "random", "float64"), ("simplerealnvp", "trained", "float64"),
    ("simplerealnvp", "trained", "float32"),
    ("resnetcoupling_ctx2", "random", "float64"), ("resnetcoupling_ctx2", "trained", "float64"),
]
TAGS = {"float64": "f64", "float32": "f32"}


def randomize(flow, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(RANDOM_STD * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return flow


def toy_data(n, context, seed):
    """x0 ~ N(0, 1), x1 = sin(1.5 x0) + noise, x2 = x0 x1 / 2 + noise; with a context c,
    x0 shifted by 0.7 c0 and x1, x2 by +-0.4 c1; standardized. Returns (x, c)."""
    g = np.random.default_rng(seed)
    c = g.standard_normal((n, context)) if context else None
    x = np.empty((n, 3))
    x[:, 0] = g.standard_normal(n) + (0.7 * c[:, 0] if context else 0.0)
    x[:, 1] = np.sin(1.5 * x[:, 0]) + 0.3 * g.standard_normal(n) + (0.4 * c[:, 1] if context else 0.0)
    x[:, 2] = 0.5 * x[:, 0] * x[:, 1] + 0.3 * g.standard_normal(n) - (0.4 * c[:, 1] if context else 0.0)
    return (x - x.mean(0)) / x.std(0), c


def train(flow, context, seed):
    x, c = toy_data(4096, context, seed)
    x = torch.as_tensor(x)
    c = None if c is None else torch.as_tensor(c)
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    flow.train()
    for _ in range(TRAIN_STEPS):
        idx = torch.randint(len(x), (256,), generator=g)
        loss = -flow.log_prob(x[idx], context=None if c is None else c[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return flow


def point_sets(seed):
    """(points, noise, contexts, noise_contexts): N_NORMAL normal draws x 2; one coordinate
    at +-BOUND + offset for every coordinate, sign and offset (the others normal x 2); the
    rest with every coordinate at +-BOUND + a random offset. noise: N_NOISE standard normal
    draws; contexts: standard normal draws, one per point and one per noise vector."""
    g = np.random.default_rng(seed)
    normal = 2.0 * g.standard_normal((N_NORMAL, 3))
    edge = []
    for i in range(3):
        for sign in (-1.0, 1.0):
            for off in EDGE_OFFSETS:
                p = 2.0 * g.standard_normal(3)
                p[i] = sign * BOUND + off
                edge.append(p)
    n_corner = 200 - N_NORMAL - len(edge)
    corners = g.choice([-BOUND, BOUND], (n_corner, 3)) + g.choice(EDGE_OFFSETS, (n_corner, 3))
    points = np.concatenate([normal, np.array(edge), corners])
    noise = g.standard_normal((N_NOISE, 3))
    contexts = g.standard_normal((len(points), CTX))
    noise_contexts = g.standard_normal((N_NOISE, CTX))
    return points, noise, contexts, noise_contexts


def rounded(flow):
    """A float64 copy of flow with its parameters and floating buffers rounded to float32."""
    r = copy.deepcopy(flow)
    with torch.no_grad():
        for t in list(r.parameters()) + [b for b in r.buffers() if b.is_floating_point()]:
            t.copy_(t.to(torch.float32).double())
    return r


def evaluate(flow, x, z, c, cz):
    dtype = next(flow.parameters()).dtype
    t = lambda a: None if a is None else torch.as_tensor(a, dtype=dtype)
    flow.eval()
    with torch.no_grad():
        lp = flow.log_prob(t(x), context=t(c)).double().numpy()
        s = flow._transform.inverse(t(z), context=t(cz))[0].double().numpy()
    return lp, s


def rel_error(got, ref):
    e = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    return float(e.max())


REFUSED = "SimpleRealNVP(3, 8, num_layers=2, num_blocks_per_layer=1, batch_norm_between_layers=True)"


def refusal_text():
    torch.manual_seed(SEED)
    try:
        nflows_export.translate(SimpleRealNVP(3, 8, num_layers=2, num_blocks_per_layer=1,
                                              batch_norm_between_layers=True).eval())
    except nflows_export.ExportError as e:
        return str(e)
    raise SystemExit(f"make_nflows_fixtures: {REFUSED} was exported; expected a refusal")


def dump(data):
    """JSON with one line per entry of the top two levels."""
    def block(obj, indent):
        pad = " " * indent
        items = [f"{pad} {json.dumps(k)}: " + (block(v, indent + 1) if indent == 0 and isinstance(v, dict) else json.dumps(v))
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    return block(data, 0) + "\n"


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data"
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Inputs to the softmax are not scaled down")
    points, noise, contexts, noise_contexts = point_sets(SEED)
    f32 = lambda a: a.astype(np.float32).astype(np.float64)
    models = {}
    files = {}
    for kind, state, dtype in FILES:
        build, description, context = MODELS[kind]
        k = list(MODELS).index(kind)
        seed = SEED + 10 * k + (1 if state == "trained" else 0)
        if (kind, state) not in models:
            torch.manual_seed(seed)
            flow = build(context).double()
            flow = randomize(flow, seed) if state == "random" else train(flow, context, seed)
            models[kind, state] = flow.eval()
        flow = models[kind, state]
        c, cz = (contexts, noise_contexts) if context else (None, None)
        name = f"nflows_{kind}_{state}_{TAGS[dtype]}.safetensors"
        cpp = nflows_export.export(flow, out / name, dtype)
        if dtype == "float64":
            lp, s = evaluate(flow, points, noise, c, cz)
            own = None
        else:
            c32, cz32 = (f32(c), f32(cz)) if context else (None, None)
            lp, s = evaluate(rounded(flow), f32(points), f32(noise), c32, cz32)
            lp32, s32 = evaluate(copy.deepcopy(flow).float(), f32(points), f32(noise), c32, cz32)
            own = {"log_prob": rel_error(lp32, lp), "samples": rel_error(s32, s)}
        assert np.all(np.isfinite(lp)) and np.all(np.isfinite(s)), name
        files[name] = {"cpp_type": cpp, "dtype": dtype, "model": description, "state": state, "seed": seed,
                       "context": context or 0, "log_prob": lp.tolist(), "samples": s.tolist(),
                       "nflows_f32_error": own}
        size = (out / name).stat().st_size
        extra = f", nflows f32 error {own['log_prob']:.1e} / {own['samples']:.1e}" if own else ""
        print(f"{name}: {size} bytes, log_prob in [{lp.min():.2f}, {lp.max():.2f}]{extra}")
    data = {
        "meta": {
            "generator": "tools/export/make_nflows_fixtures.py",
            "nflows": importlib.metadata.version("nflows"),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "seed": SEED,
            "random_std": RANDOM_STD,
            "train_steps": TRAIN_STEPS,
            "points": f"{N_NORMAL} normal draws x 2; one coordinate at +-{BOUND} + offset {EDGE_OFFSETS} (each "
                      f"coordinate, sign and offset, the others normal x 2); the rest every coordinate at +-{BOUND} "
                      "+ a random offset",
            "noise": f"{N_NOISE} standard normal draws",
            "contexts": "standard normal draws: contexts[j] goes with points[j], noise_contexts[j] with noise[j] "
                        "(the files with context 2)",
            "float32_reference": "the model's parameters rounded to float32, at the points, noise and contexts "
                                 "rounded to float32, evaluated in float64",
        },
        "points": points.tolist(),
        "noise": noise.tolist(),
        "contexts": contexts.tolist(),
        "noise_contexts": noise_contexts.tolist(),
        "files": files,
        "refusal": {"model": f"nflows.flows.realnvp.{REFUSED}", "message": refusal_text()},
    }
    (out / "nflows_import.json").write_text(dump(data))
    print(f"nflows_import.json: {(out / 'nflows_import.json').stat().st_size} bytes")


if __name__ == "__main__":
    main()
