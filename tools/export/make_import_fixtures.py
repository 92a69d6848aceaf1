"""Writes the zuko import fixtures of tests/unit/io/zuko_import_test.cpp into tests/data.

Usage: python tools/export/make_import_fixtures.py [OUT_DIR]   (default: tests/data)

Models (zuko 1.6, float64), each built after torch.manual_seed(seed):
  maf        zuko.flows.MAF(3, transforms=2, hidden_features=(8, 8))
  nsf        zuko.flows.NSF(3, transforms=2, hidden_features=(8, 8))   (8 bins on [-5, 5])
  maf_ctx2   zuko.flows.MAF(3, context=2, transforms=2, hidden_features=(8, 8), randperm=True)
  nsf_ctx2   zuko.flows.NSF(3, context=2, transforms=2, hidden_features=(8, 8), randperm=True)
  realnvp_ctx2  zuko.flows.RealNVP(3, context=2, transforms=2, hidden_features=(8, 8)):
             affine couplings, masks [1, 0, 1] and [0, 1, 0] (zuko: 1 = constant)
  nice_rqs   zuko.flows.NICE(3, transforms=2, hidden_features=(8, 8),
             univariate=MonotonicRQSTransform, shapes=[(6,), (6,), (5,)]): spline
             couplings (6 bins on [-5, 5]), the same masks
The second transform of maf and nsf has the flipped order (2, 1, 0); the orders of the
randperm models are drawn from the seed (the JSON records them). Each model comes in two
states:
  random   every parameter redrawn from N(0, RANDOM_STD^2) (zuko's default linear init is
           uniform within +-1/sqrt(fan_in), 0.35 to 0.58 here), so the flow is far from
           the identity
  trained  TRAIN_STEPS Adam steps (lr 3e-3, batches of 256) on toy 3-D data, from zuko's
           default init (with a context: toy data that the context rotates and shifts)
and is exported twice with flowtmpl_export.export: float64 and float32. Files:
  zuko_{maf,nsf}_{random,trained}_{f64,f32}.safetensors
  zuko_{maf,nsf,realnvp}_ctx2_{random,trained}_{f64,f32}.safetensors
  zuko_nice_rqs_{random,trained}_{f64,f32}.safetensors
  zuko_import.json: "meta" (generator, versions, seeds, the models and the point sets),
    "points" (200 points, 3-D), "noise" (50 standard normal draws, 3-D), "contexts" (200
    contexts, 2-D: context j goes with point j) and "noise_contexts" (50, with noise
    vector j), per file in "files": cpp_type, dtype, model, state, seed, context (0 or
    2), orders (zuko's order buffer of each autoregressive transform, else null), masks
    (the mask buffer of each coupling, else null), log_prob (zuko's, at the points;
    flow(contexts).log_prob(points) with a context), samples (zuko's
    flow().transform.inv(noise), or flow(noise_contexts).transform.inv(noise)),
    zuko_f32_error (zuko's own float32 model against the same reference, max over the
    points of |err| / max(1, |ref|): the scale of a float32 evaluation); and "refusal":
    the ExportError text for REFUSED_MODEL.
The reference numbers are computed in float64: for a float64 file from the model itself;
for a float32 file from the model with every parameter rounded to float32 (the function
the file holds), evaluated at the points, noise and contexts rounded to float32 (what a
float flow receives when it is given the recorded doubles).
Floats are written by Python's repr (shortest round trip), so C++ reads the same doubles.
"""

import copy
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import zuko

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import flowtmpl_export  # noqa: E402

SEED = 20261207
RANDOM_STD = 0.6
TRAIN_STEPS = 300
N_NORMAL, N_NOISE = 150, 50
BOUND = 5.0  # zuko's spline bound, NSF's default
EDGE_OFFSETS = [0.0, 1e-9, -1e-9, 1e-6, -1e-6, 1e-3, -1e-3]

CONTEXT = 2  # the context features of the *_ctx2 models
CONTEXT_STD = 1.5  # the recorded contexts: normal draws x CONTEXT_STD
# name: (class, keyword arguments besides the features, the model as text)
MODELS = {
    "maf": (zuko.flows.MAF, {}, "zuko.flows.MAF(3, transforms=2, hidden_features=(8, 8))"),
    "nsf": (zuko.flows.NSF, {}, "zuko.flows.NSF(3, transforms=2, hidden_features=(8, 8))"),
    "maf_ctx2": (zuko.flows.MAF, {"context": CONTEXT, "randperm": True},
                 "zuko.flows.MAF(3, context=2, transforms=2, hidden_features=(8, 8), randperm=True)"),
    "nsf_ctx2": (zuko.flows.NSF, {"context": CONTEXT, "randperm": True},
                 "zuko.flows.NSF(3, context=2, transforms=2, hidden_features=(8, 8), randperm=True)"),
    "realnvp_ctx2": (zuko.flows.RealNVP, {"context": CONTEXT},
                     "zuko.flows.RealNVP(3, context=2, transforms=2, hidden_features=(8, 8))"),
    "nice_rqs": (zuko.flows.NICE, {"univariate": zuko.transforms.MonotonicRQSTransform,
                                   "shapes": [(6,), (6,), (5,)]},
                 "zuko.flows.NICE(3, transforms=2, hidden_features=(8, 8), "
                 "univariate=zuko.transforms.MonotonicRQSTransform, shapes=[(6,), (6,), (5,)])"),
}
DTYPES = {"f64": "float64", "f32": "float32"}
REFUSED_MODEL = "zuko.flows.NAF(3, transforms=1)"


def context_of(kind):
    return MODELS[kind][1].get("context", 0)


def build(kind, seed):
    """The model after torch.manual_seed(seed), in float64 (randperm draws its orders
    from that seed too)."""
    torch.manual_seed(seed)
    cls, kw, _ = MODELS[kind]
    return cls(3, transforms=2, hidden_features=(8, 8), **kw).double()


def randomize(flow, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(RANDOM_STD * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return flow


def toy_data(n, seed):
    """Two moons in (x0, x1), x2 = sin(3 x1) + x0^2 / 2, plus noise; standardized."""
    g = np.random.default_rng(seed)
    t = g.uniform(0, math.pi, n)
    upper = g.random(n) < 0.5
    x0 = np.where(upper, np.cos(t), 1 - np.cos(t))
    x1 = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    x2 = np.sin(3 * x1) + 0.5 * x0**2
    x = np.stack([x0, x1, x2], axis=1) + 0.05 * g.standard_normal((n, 3))
    return (x - x.mean(0)) / x.std(0)


def toy_context_data(n, seed):
    """(x, c): c standard normal in 2-D; the moons rotated by 0.8 c0, x2 = sin(3 x1) +
    x0^2 / 2 + 0.5 tanh(c1), plus noise; x standardized."""
    g = np.random.default_rng(seed)
    c = g.standard_normal((n, CONTEXT))
    t = g.uniform(0, math.pi, n)
    upper = g.random(n) < 0.5
    u0 = np.where(upper, np.cos(t), 1 - np.cos(t))
    u1 = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    a = 0.8 * c[:, 0]
    x0, x1 = np.cos(a) * u0 - np.sin(a) * u1, np.sin(a) * u0 + np.cos(a) * u1
    x2 = np.sin(3 * x1) + 0.5 * x0**2 + 0.5 * np.tanh(c[:, 1])
    x = np.stack([x0, x1, x2], axis=1) + 0.05 * g.standard_normal((n, 3))
    return (x - x.mean(0)) / x.std(0), c


def train(flow, seed, context=0):
    if context:
        x, c = toy_context_data(4096, seed)
        data, ctx = torch.as_tensor(x), torch.as_tensor(c)
    else:
        data, ctx = torch.as_tensor(toy_data(4096, seed)), None
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(TRAIN_STEPS):
        idx = torch.randint(len(data), (256,), generator=g)
        loss = -(flow(ctx[idx]) if context else flow()).log_prob(data[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return flow


def point_sets(seed):
    """(points, noise): N_NORMAL normal draws x 2; one coordinate at +-BOUND + offset for
    every coordinate, sign and offset (the others normal x 2); the rest with every
    coordinate at +-BOUND + a random offset. noise: N_NOISE standard normal draws."""
    g = np.random.default_rng(seed)
    normal = 2.0 * g.standard_normal((N_NORMAL, 3))
    edge = []
    for i in range(3):
        for sign in (-1.0, 1.0):
            for off in EDGE_OFFSETS:
                p = 2.0 * g.standard_normal(3)
                p[i] = sign * BOUND + off
                edge.append(p)
    corners = g.choice([-BOUND, BOUND], (200 - N_NORMAL - len(edge), 3)) + g.choice(EDGE_OFFSETS, (200 - N_NORMAL - len(edge), 3))
    points = np.concatenate([normal, np.array(edge), corners])
    noise = g.standard_normal((N_NOISE, 3))
    return points, noise


def context_sets(seed):
    """(contexts, noise_contexts): one context per point and per noise vector, normal
    draws x CONTEXT_STD, from a generator of their own (the points and noise stay those
    of point_sets)."""
    g = np.random.default_rng([seed, CONTEXT])
    return CONTEXT_STD * g.standard_normal((200, CONTEXT)), CONTEXT_STD * g.standard_normal((N_NOISE, CONTEXT))


def rounded(flow):
    """A float64 copy of flow with its parameters and floating buffers rounded to float32."""
    r = copy.deepcopy(flow)
    with torch.no_grad():
        for t in list(r.parameters()) + [b for b in r.buffers() if b.is_floating_point()]:
            t.copy_(t.to(torch.float32).double())
    return r


def evaluate(flow, x, z, cx=None, cz=None):
    """zuko's log_prob at x and transform.inv at z; with a context, cx[j] with x[j] and
    cz[j] with z[j]."""
    dtype = next(flow.parameters()).dtype
    t = lambda a: torch.as_tensor(a, dtype=dtype)
    with torch.no_grad():
        if cx is None:
            lp = flow().log_prob(t(x)).double().numpy()
            s = flow().transform.inv(t(z)).double().numpy()
        else:
            lp = flow(t(cx)).log_prob(t(x)).double().numpy()
            s = flow(t(cz)).transform.inv(t(z)).double().numpy()
    return lp, s


def rel_error(got, ref):
    e = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    return float(e.max())


def refusal_text():
    torch.manual_seed(SEED)
    try:
        flowtmpl_export.translate(zuko.flows.NAF(3, transforms=1))
    except flowtmpl_export.ExportError as e:
        return str(e)
    raise SystemExit(f"make_import_fixtures: {REFUSED_MODEL} was exported; expected a refusal")


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
    points, noise = point_sets(SEED)
    contexts, noise_contexts = context_sets(SEED)
    f32 = lambda a: a.astype(np.float32).astype(np.float64)
    files = {}
    for k, kind in enumerate(MODELS):
        context = context_of(kind)
        # the contexts of this model (none without one), and the float32 ones
        cx, cz = (contexts, noise_contexts) if context else (None, None)
        cx32, cz32 = (f32(contexts), f32(noise_contexts)) if context else (None, None)
        for state in ("random", "trained"):
            seed = SEED + 10 * k + (1 if state == "trained" else 0)
            flow = build(kind, seed)
            flow = randomize(flow, seed) if state == "random" else train(flow, seed, context)
            flow.eval()
            orders = [t.order.tolist() if hasattr(t, "order") else None for t in flow.transform.transforms]
            masks = [t.mask.int().tolist() if hasattr(t, "mask") else None for t in flow.transform.transforms]
            for tag, dtype in DTYPES.items():
                name = f"zuko_{kind}_{state}_{tag}.safetensors"
                cpp = flowtmpl_export.export(flow, out / name, dtype)
                if dtype == "float64":
                    lp, s = evaluate(flow, points, noise, cx, cz)
                    zuko_err = None
                else:
                    lp, s = evaluate(rounded(flow), f32(points), f32(noise), cx32, cz32)
                    lp32, s32 = evaluate(copy.deepcopy(flow).float(), f32(points), f32(noise), cx32, cz32)
                    zuko_err = {"log_prob": rel_error(lp32, lp), "samples": rel_error(s32, s)}
                assert np.all(np.isfinite(lp)) and np.all(np.isfinite(s)), name
                files[name] = {"cpp_type": cpp, "dtype": dtype, "model": MODELS[kind][2], "state": state, "seed": seed,
                               "context": context, "orders": orders, "masks": masks, "log_prob": lp.tolist(), "samples": s.tolist(),
                               "zuko_f32_error": zuko_err}
                size = (out / name).stat().st_size
                extra = f", zuko f32 error {zuko_err['log_prob']:.1e} / {zuko_err['samples']:.1e}" if zuko_err else ""
                print(f"{name}: {size} bytes, log_prob in [{lp.min():.2f}, {lp.max():.2f}]{extra}")
    data = {
        "meta": {
            "generator": "tools/export/make_import_fixtures.py",
            "zuko": zuko.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "seed": SEED,
            "random_std": RANDOM_STD,
            "train_steps": TRAIN_STEPS,
            "points": f"{N_NORMAL} normal draws x 2; one coordinate at +-{BOUND} + offset {EDGE_OFFSETS} (each coordinate, "
                      "sign and offset, the others normal x 2); the rest every coordinate at +-5 + a random offset",
            "noise": f"{N_NOISE} standard normal draws",
            "contexts": f"per point and per noise vector, {CONTEXT} normal draws x {CONTEXT_STD} "
                        f"(numpy default_rng([{SEED}, {CONTEXT}]))",
            "float32_reference": "the model's parameters rounded to float32, at the points, noise and contexts rounded "
                                 "to float32, evaluated in float64",
        },
        "points": points.tolist(),
        "noise": noise.tolist(),
        "contexts": contexts.tolist(),
        "noise_contexts": noise_contexts.tolist(),
        "files": files,
        "refusal": {"model": REFUSED_MODEL, "message": refusal_text()},
    }
    (out / "zuko_import.json").write_text(dump(data))
    print(f"zuko_import.json: {(out / 'zuko_import.json').stat().st_size} bytes")


if __name__ == "__main__":
    main()
