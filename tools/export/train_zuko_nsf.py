"""Trains a small zuko NSF on two moons and exports it for flowtmpl (examples/zuko_nsf.cpp).

Usage: python tools/export/train_zuko_nsf.py [OUT.safetensors] [--seconds 60 | --steps N]

Writes OUT.safetensors (flowtmpl_export.py, float64) and OUT.json next to it; OUT is
tests/data/zuko_nsf_two_moons.safetensors unless given. The JSON holds the generator, the
zuko and torch versions, the seed, the training time and steps, the final loss, the C++
type, a few points and zuko's log densities at them (float64). examples/zuko_nsf.cpp
loads both and prints flowtmpl's log densities beside zuko's.

The flow: zuko.flows.NSF(2, transforms=3, hidden_features=(32, 32)), 8 bins on [-5, 5].
Training runs for --seconds of wall time (the number of steps it reached is recorded), or
for exactly --steps steps: with the recorded seed and steps, on one thread, the same
torch build gives the same parameters again.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import zuko

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import flowtmpl_export  # noqa: E402

SEED = 0
DEFAULT_OUT = ROOT / "tests" / "data" / "zuko_nsf_two_moons.safetensors"
# on the moons, between them, in the tails, and one on the spline's bound
POINTS = [[0.0, 0.5], [1.0, 0.0], [0.5, 0.25], [-1.0, 0.3], [2.0, 0.5], [1.5, -0.4], [0.0, -3.0], [5.0, 0.0]]


def two_moons(n, rng):
    t = rng.uniform(0.0, math.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return np.stack([x, y], axis=1) + 0.08 * rng.standard_normal((n, 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=str(DEFAULT_OUT),
                    help="the safetensors file to write (the JSON goes next to it)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--seconds", type=float, default=60.0, help="training time (wall clock)")
    group.add_argument("--steps", type=int, help="train exactly this many steps instead")
    args = ap.parse_args()
    out = Path(args.out)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    data = torch.as_tensor(two_moons(20000, np.random.default_rng(SEED)), dtype=torch.float32)

    flow = zuko.flows.NSF(2, transforms=3, hidden_features=(32, 32))
    opt = torch.optim.Adam(flow.parameters(), lr=2e-3)
    start, step, avg = time.time(), 0, None
    while (step < args.steps) if args.steps is not None else (time.time() - start < args.seconds):
        batch = data[torch.randint(len(data), (256,))]
        loss = -flow().log_prob(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        avg = float(loss.detach()) if avg is None else 0.98 * avg + 0.02 * float(loss.detach())
        step += 1
        if step % 500 == 0:
            print(f"step {step}: NLL {avg:.3f}", flush=True)
    seconds = time.time() - start

    flow = flow.double().eval()
    cpp = flowtmpl_export.export(flow, out, "float64")
    with torch.no_grad():
        lp = flow().log_prob(torch.tensor(POINTS, dtype=torch.float64)).tolist()
    meta = {
        "generator": "tools/export/train_zuko_nsf.py",
        "flow": "zuko.flows.NSF(2, transforms=3, hidden_features=(32, 32))",
        "zuko": zuko.__version__,
        "torch": torch.__version__,
        "seed": SEED,
        "training_seconds": round(seconds, 1),
        "steps": step,
        "train_nll": avg,
        "cpp_type": cpp,
        "points": POINTS,
        "log_prob": lp,
    }
    # one key a line, each value on its line as compact JSON
    lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in meta.items()]
    out.with_suffix(".json").write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"{step} steps in {seconds:.0f} s, NLL {avg:.3f}; wrote {out} and {out.with_suffix('.json')}")
    print(cpp)


if __name__ == "__main__":
    main()
