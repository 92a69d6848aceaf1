"""Writes the zuko import fixtures of tests/unit/io/zuko_import_test.cpp into tests/data.

Usage: python tools/export/make_import_fixtures.py [OUT_DIR]   (default: tests/data)

Models (zuko 1.6, float64, no context), each built after torch.manual_seed(seed):
  maf   zuko.flows.MAF(3, transforms=2, hidden_features=(8, 8))
  nsf   zuko.flows.NSF(3, transforms=2, hidden_features=(8, 8))   (8 bins on [-5, 5])
The second transform of each has the flipped order (2, 1, 0). Each model comes in two
states:
  random   every parameter redrawn from N(0, RANDOM_STD^2) (zuko's default linear init is
           uniform within +-1/sqrt(fan_in), 0.35 to 0.58 here), so the flow is far from
           the identity
  trained  TRAIN_STEPS Adam steps (lr 3e-3, batches of 256) on toy 3-D data, from zuko's
           default init
and is exported twice with flowtmpl_export.export: float64 and float32. Files:
  zuko_{maf,nsf}_{random,trained}_{f64,f32}.safetensors
  zuko_import.json: "meta" (generator, versions, seeds, the models and the point sets),
    "points" (200 points, 3-D), "noise" (50 standard normal draws, 3-D), per file in
    "files": cpp_type, dtype, model, state, seed, log_prob (zuko's, at the points),
    samples (zuko's flow().transform.inv(noise)), zuko_f32_error (zuko's own float32 model
    against the same reference, max over the points of |err| / max(1, |ref|): the scale
    of a float32 evaluation); and "refusal": the ExportError text for
    zuko.flows.MAF(3, context=2).
The reference numbers are computed in float64: for a float64 file from the model itself;
for a float32 file from the model with every parameter rounded to float32 (the function
the file holds), evaluated at the points and noise rounded to float32 (what a float flow
receives when it is given the recorded doubles).
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

MODELS = {
    "maf": (zuko.flows.MAF, "zuko.flows.MAF(3, transforms=2, hidden_features=(8, 8))"),
    "nsf": (zuko.flows.NSF, "zuko.flows.NSF(3, transforms=2, hidden_features=(8, 8))"),
}
DTYPES = {"f64": "float64", "f32": "float32"}


def build(kind, seed):
    torch.manual_seed(seed)
    return MODELS[kind][0](3, transforms=2, hidden_features=(8, 8)).double()


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


def train(flow, seed):
    data = torch.as_tensor(toy_data(4096, seed))
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(TRAIN_STEPS):
        batch = data[torch.randint(len(data), (256,), generator=g)]
        loss = -flow().log_prob(batch).mean()
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


def rounded(flow):
    """A float64 copy of flow with its parameters and floating buffers rounded to float32."""
    r = copy.deepcopy(flow)
    with torch.no_grad():
        for t in list(r.parameters()) + [b for b in r.buffers() if b.is_floating_point()]:
            t.copy_(t.to(torch.float32).double())
    return r


def evaluate(flow, x, z):
    dtype = next(flow.parameters()).dtype
    with torch.no_grad():
        d = flow()
        lp = d.log_prob(torch.as_tensor(x, dtype=dtype)).double().numpy()
        s = d.transform.inv(torch.as_tensor(z, dtype=dtype)).double().numpy()
    return lp, s


def rel_error(got, ref):
    e = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    return float(e.max())


def refusal_text():
    torch.manual_seed(SEED)
    try:
        flowtmpl_export.translate(zuko.flows.MAF(3, context=2))
    except flowtmpl_export.ExportError as e:
        return str(e)
    raise SystemExit("make_import_fixtures: zuko.flows.MAF(3, context=2) was exported; expected a refusal")


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
    points32, noise32 = points.astype(np.float32).astype(np.float64), noise.astype(np.float32).astype(np.float64)
    files = {}
    for k, kind in enumerate(MODELS):
        for state in ("random", "trained"):
            seed = SEED + 10 * k + (1 if state == "trained" else 0)
            flow = build(kind, seed)
            flow = randomize(flow, seed) if state == "random" else train(flow, seed)
            flow.eval()
            for tag, dtype in DTYPES.items():
                name = f"zuko_{kind}_{state}_{tag}.safetensors"
                cpp = flowtmpl_export.export(flow, out / name, dtype)
                if dtype == "float64":
                    lp, s = evaluate(flow, points, noise)
                    zuko_err = None
                else:
                    lp, s = evaluate(rounded(flow), points32, noise32)
                    lp32, s32 = evaluate(copy.deepcopy(flow).float(), points32, noise32)
                    zuko_err = {"log_prob": rel_error(lp32, lp), "samples": rel_error(s32, s)}
                assert np.all(np.isfinite(lp)) and np.all(np.isfinite(s)), name
                files[name] = {"cpp_type": cpp, "dtype": dtype, "model": MODELS[kind][1], "state": state, "seed": seed,
                               "log_prob": lp.tolist(), "samples": s.tolist(), "zuko_f32_error": zuko_err}
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
            "float32_reference": "the model's parameters rounded to float32, at the points and noise rounded to float32, "
                                 "evaluated in float64",
        },
        "points": points.tolist(),
        "noise": noise.tolist(),
        "files": files,
        "refusal": {"model": "zuko.flows.MAF(3, context=2)", "message": refusal_text()},
    }
    (out / "zuko_import.json").write_text(dump(data))
    print(f"zuko_import.json: {(out / 'zuko_import.json').stat().st_size} bytes")


if __name__ == "__main__":
    main()
