"""Checks flowtmpl_export.py end to end: zuko flows are exported, loaded by flowtmpl
(tools/export/roundtrip_main.cpp, compiled once per flow type) and evaluated on the same
points as zuko.

Usage: python tools/export/check_roundtrip.py [--steps 300] [--points 10000] [--keep DIR]
                                              [--match TEXT]

Cases: zuko.flows.MAF and zuko.flows.NSF with features 2, 3, 5 and 1 or 3 transforms,
zuko.flows.RealNVP (features 2, 3, 5, with and without a context, random masks for 5)
and NICE with spline couplings (K = 8),
random (the default init, then every parameter moved by N(0, 0.3^2)) and trained (Adam
on a toy data set), float64 models; the same with a context (features 3 and 5, context
1 and 3, randperm False and True: a conditional flow, context per point) and with
randperm=True without one; plus a few random extras (a DiagNormal base that is not
standard, other activations, two flipped layers in a row, a spline with its own bins,
bound and slope). Each is exported as float64 and float32. --match keeps the cases whose
name contains TEXT.

Compared, as max |flowtmpl - reference| / max(1, |reference|):
  log_prob   flowtmpl's log_prob(flow, x[, c]) and zuko's flow([c]).log_prob(x)
  samples    flowtmpl's forward(flow.transform, z[, c]) and zuko's
             flow([c]).transform.inv(z), the same noise z
(c: a context per point, normal draws x 1.5, for a flow with a context)
on normal draws (scaled by 2) and points with some coordinates at or near the spline's
+-B (exactly, and 1e-12 ... 1e-3 inside and outside). The reference of a float32 export
is zuko in float64 with the parameters rounded to float32 (the function the file
holds); "zuko f32" is zuko's own float32 error against the same reference, for scale.
Tolerances: float64 exports 1e-12 at every point. float32 exports: at 99 % of the points
1e-5, and everywhere 1e-5, or in each case twice zuko's own float32 error (its 99th
percentile, its largest) where that is larger: where the flow is steep, rounding the
input or a parameter to float32 moves the output by more than 1e-5 in zuko too (a case
whose 99th percentile passes only so is marked "p99 > 1e-5, zuko's too"). The largest
error of a float32 evaluation is that of one unlucky point: zuko's own float model with
its sums taken in another order has other largest errors, up to twice as large or half,
at the same points. So up to 0.1 % of the points may exceed twice zuko's largest error
(marked "k over 2x zuko's max"); beyond that, or a 99th percentile over its bound, is a
failure. Exit status 1 if one is exceeded.
"""

import argparse
import copy
import functools
import hashlib
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import zuko

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import flowtmpl_export  # noqa: E402

TOL = {"float64": 1e-12, "float32": 1e-5}


def build(kind, d, transforms, hidden, seed, **kw):
    """The zuko flow, in float64; randperm=True draws its orders from the seed too, so the
    random and trained flows of one seed have one C++ type."""
    torch.manual_seed(seed)
    cls = {"MAF": zuko.flows.MAF, "NSF": zuko.flows.NSF, "RealNVP": zuko.flows.RealNVP, "NICE": zuko.flows.NICE}[kind]
    return cls(d, transforms=transforms, hidden_features=hidden, **kw).double()


def randomize(flow, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return flow


def toy_data(d, n, seed, context=0):
    """Two moons in the first two coordinates, nonlinear functions of them and noise in
    the others; standardized. With a context (standard normal, context columns), the
    moons are rotated by 0.8 c_0 and x_2 onwards shifted by 0.5 tanh(c_last): (x, c),
    c None without one."""
    g = np.random.default_rng(seed)
    c = g.standard_normal((n, context)) if context else None
    t = g.uniform(0, math.pi, n)
    upper = g.random(n) < 0.5
    x0 = np.where(upper, np.cos(t), 1 - np.cos(t))
    x1 = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    if context:
        a = 0.8 * c[:, 0]
        x0, x1 = np.cos(a) * x0 - np.sin(a) * x1, np.sin(a) * x0 + np.cos(a) * x1
    cols = [x0, x1]
    for k in range(2, d):
        cols.append(np.sin((k + 1) * cols[k - 1]) + 0.5 * cols[k - 2] ** 2 + (0.5 * np.tanh(c[:, -1]) if context else 0))
    x = np.stack(cols, axis=1) + 0.05 * g.standard_normal((n, d))
    return (x - x.mean(0)) / x.std(0), c


def train(flow, d, steps, seed, context=0):
    x, c = toy_data(d, 4096, seed, context)
    data = torch.as_tensor(x)
    ctx = torch.as_tensor(c) if context else None
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(data), (256,), generator=g)
        loss = -(flow(ctx[idx]) if context else flow()).log_prob(data[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return flow, float(loss.detach())


def points(d, n, bound, seed):
    """n x d: 90 % normal draws (x 2), 10 % with random coordinates at or near +-bound."""
    g = np.random.default_rng(seed)
    p = 2.0 * g.standard_normal((n, d))
    m = n // 10
    offsets = np.array([0.0, 1e-12, -1e-12, 1e-9, -1e-9, 1e-6, -1e-6, 1e-3, -1e-3])
    edge = g.choice([-bound, bound], (m, d)) + g.choice(offsets, (m, d))
    pick = g.random((m, d)) < 0.6
    p[:m] = np.where(pick, edge, p[:m])
    return np.ascontiguousarray(p)


def contexts(context, n, seed):
    """n contexts of the given size (normal draws x 1.5), or None without a context."""
    if not context:
        return None
    return np.ascontiguousarray(1.5 * np.random.default_rng(seed).standard_normal((n, context)))


def zuko_eval(flow, x, z, c=None):
    """zuko's log_prob at x and transform.inv at z, context c[j] with x[j] and z[j]."""
    dtype = next(flow.parameters()).dtype
    with torch.no_grad():
        dist = flow() if c is None else flow(torch.as_tensor(c, dtype=dtype))
        lp = dist.log_prob(torch.as_tensor(x, dtype=dtype)).double().numpy()
        s = dist.transform.inv(torch.as_tensor(z, dtype=dtype)).double().numpy()
    return lp, s


def rounded(flow, dtype):
    """A float64 copy of flow whose parameters and buffers are rounded to dtype."""
    r = copy.deepcopy(flow)
    with torch.no_grad():
        for t in list(r.parameters()) + [b for b in r.buffers() if b.is_floating_point()]:
            t.copy_(t.to(dtype).double())
    return r


def error(got, ref):
    """(max, 99th percentile, per point) of |got - ref| / max(1, |ref|), the largest over a
    point's coordinates."""
    if got.shape != ref.shape:
        return math.inf, math.inf, np.full(len(ref), math.inf)
    e = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    e = np.where(np.isfinite(e), e, math.inf).reshape(len(e), -1).max(axis=1)
    return float(e.max(initial=0.0)), float(np.quantile(e, 0.99)), e


class Driver:
    """roundtrip_main.cpp compiled once per flow type."""

    def __init__(self, work, include, cxx):
        self.work, self.include, self.cxx, self.built = work, include, cxx, {}

    def binary(self, cpp_type):
        if cpp_type in self.built:
            return self.built[cpp_type]
        d = self.work / ("flow_" + hashlib.sha1(cpp_type.encode()).hexdigest()[:12])
        d.mkdir(exist_ok=True)
        (d / "exported_flow.hpp").write_text(
            "#pragma once\n#include <flowtmpl/flowtmpl.hpp>\n#define FLOWTMPL_EXPORT_FLOW " + cpp_type + "\n")
        exe = d / "roundtrip_main"
        if not exe.exists():
            cmd = [self.cxx, "-std=c++20", "-O1", f"-I{self.include}", "-I/usr/include/eigen3", f"-I{d}",
                   str(HERE / "roundtrip_main.cpp"), "-o", str(exe)]
            t = time.time()
            subprocess.run(cmd, check=True)
            print(f"    compiled in {time.time() - t:.0f} s", flush=True)
        self.built[cpp_type] = exe
        return exe

    def run(self, exe, model, x, z, out, c=None):
        x.astype("<f8").tofile(out / "x.bin")
        z.astype("<f8").tofile(out / "z.bin")
        extra = []
        if c is not None:
            c.astype("<f8").tofile(out / "c.bin")
            extra = [str(out / "c.bin")]
        r = subprocess.run([str(exe), str(model), str(out / "x.bin"), str(out / "z.bin"), str(len(x)),
                            str(out / "lp.bin"), str(out / "s.bin"), *extra], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"roundtrip_main failed: {r.stderr.strip()}")
        lp = np.fromfile(out / "lp.bin", dtype="<f8")
        s = np.fromfile(out / "s.bin", dtype="<f8").reshape(len(x), -1)
        return lp, s


def cases(steps, match=""):
    """(name, flow, bound, context) per case whose name contains match (the name before
    training: a trained case's NLL is added after)."""
    for name, make, bound, context in case_list(steps):
        if match in name:
            flow, suffix = make()
            yield name + suffix, flow, bound, context


def case_list(steps):
    hidden = {2: (16,), 3: (32, 24), 4: (16, 16), 5: (24, 24, 16)}

    def pair(kind, d, n, seed, context=0, suffix="", **kw):
        label = f"{kind} D={d}" + (f" C={context}" if context else "") + f" T={n}"
        label += " randperm" if kw.get("randperm") else ""
        label += " randmask" if kw.get("randmask") else ""
        label += suffix
        random = lambda: (randomize(build(kind, d, n, hidden[d], seed, context=context, **kw), seed), "")

        def trained():
            flow, loss = train(build(kind, d, n, hidden[d], seed, context=context, **kw), d, steps, seed, context)
            return flow, f" (NLL {loss:.2f})"
        return [(label + " random", random, 5.0, context), (label + " trained", trained, 5.0, context)]

    out = []
    seed = 100
    for kind in ("MAF", "NSF"):
        for d in (2, 3, 5):
            for n in (1, 3):
                seed += 1
                out += pair(kind, d, n, seed)
    seed = 200
    for kind in ("MAF", "NSF"):
        for d in (3, 5):
            for context in (1, 3):
                for randperm in (False, True):
                    for n in (1, 3):
                        seed += 1
                        out += pair(kind, d, n, seed, context, randperm=randperm)
        for d in (3, 5):
            seed += 1
            out += pair(kind, d, 3, seed, randperm=True)
    seed = 300  # zuko's couplings (GeneralCouplingTransform with a zuko MLP)
    for d in (2, 3, 5):
        for context in (0, 2):
            seed += 1
            out += pair("RealNVP", d, 3, seed, context, randmask=(d == 5))
    spline = dict(univariate=zuko.transforms.MonotonicRQSTransform, shapes=[(8,), (8,), (7,)])
    out += pair("NICE", 4, 2, 311, 0, " RQS coupling K=8", randmask=True, **spline)
    out += pair("NICE", 3, 2, 312, 2, " RQS coupling K=8", **spline)
    out += [(name, (lambda f=f: (f(), "")), bound, 0) for name, f, bound in extras()]
    return out


def extras():
    """(name, function returning the flow, bound) of the random extras."""
    return [
        ("MAF D=3 T=2 DiagNormal base", diag_normal_base, 5.0),
        *[(f"NSF D=3 T=2 {act.__name__}",
           functools.partial(lambda a: randomize(build("NSF", 3, 2, (16, 16), 8, activation=a), 8), act), 5.0)
          for act in (torch.nn.Tanh, torch.nn.SiLU, torch.nn.ELU)],
        ("Flow of two flipped MAF layers", two_flipped, 5.0),
        ("MAF D=4 T=2 RQS bins=5 bound=3 slope=1e-4", own_spline, 3.0),
    ]


def diag_normal_base():
    f = randomize(build("MAF", 3, 2, (20, 20), 7), 7)
    with torch.no_grad():
        f.base.loc.copy_(torch.tensor([0.5, -1.0, 2.0]))
        f.base.scale.copy_(torch.tensor([0.5, 2.0, 1.5]))
    return f


def two_flipped():
    flip = torch.arange(3).flip(0)
    torch.manual_seed(10)
    f = zuko.lazy.Flow([zuko.flows.MaskedAutoregressiveTransform(3, order=flip, hidden_features=(12,)) for _ in range(2)],
                       zuko.lazy.UnconditionalDistribution(zuko.distributions.DiagNormal, torch.zeros(3), torch.ones(3),
                                                           buffer=True))
    return randomize(f.double(), 10)


def own_spline():
    spline = functools.partial(zuko.transforms.MonotonicRQSTransform, bound=3.0, slope=1e-4)
    return randomize(build("MAF", 4, 2, (16,), 9, univariate=spline, shapes=[(5,), (5,), (4,)]), 9)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="Adam steps of a trained case")
    ap.add_argument("--points", type=int, default=10000)
    ap.add_argument("--keep", help="a directory for the compiled drivers and files (kept; reused next time)")
    ap.add_argument("--include", default=str(HERE.parents[1] / "include"), help="flowtmpl's include directory")
    ap.add_argument("--cxx", default="g++")
    ap.add_argument("--match", default="", help="only the cases whose name contains this text")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="flowtmpl_roundtrip_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return check(args, Driver(work, args.include, args.cxx), work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def check(args, driver, work):
    # the spec text's numbers as C++'s to_chars writes them
    values = [5.0, 3.0, 1e-3, 1e-4, 1e-5, 2.5, 100.0, 1e16, 0.1, 2.5e-7, 1e21, 0.30000000000000004]
    exe = driver.binary(flowtmpl_export.translate(build("MAF", 2, 1, (4,), 0))[0])
    got = subprocess.run([str(exe), "--to-chars", *map(repr, values)], capture_output=True, text=True,
                         check=True).stdout.split()
    want = [flowtmpl_export.number_text(v) for v in values]
    print("number text", "ok" if got == want else f"DIFFERS: C++ {got}, Python {want}")
    failed = got != want

    print(f"{'':60s} {'flowtmpl, max (p99)':^39s} {'zuko f32, max (p99)':^39s}")
    print(f"{'case':51s} {'dtype':8s} {'log_prob':^19s} {'samples':^19s} {'log_prob':^19s} {'samples':^19s}")
    for name, flow, bound, context in cases(args.steps, args.match):
        flow.eval()
        seed = int(hashlib.sha1(name.split(" (NLL")[0].encode()).hexdigest()[:8], 16)
        first = flow.transform.transforms[0]
        d = int((first.order if hasattr(first, "order") else first.mask).numel())
        x, z = points(d, args.points, bound, seed), points(d, args.points, bound, seed + 1)
        c = contexts(context, args.points, seed + 2)
        for dtype in ("float64", "float32"):
            model = work / "model.safetensors"
            cpp = flowtmpl_export.export(flow, model, dtype)
            exe = driver.binary(cpp)
            spec = subprocess.run([str(exe), "--spec"], capture_output=True, text=True, check=True).stdout.strip()
            if spec != flowtmpl_export.translate(flow, dtype)[1]:
                print(f"{name}: spec text differs:\n  C++    {spec}\n  Python {flowtmpl_export.translate(flow, dtype)[1]}")
                failed = True
            lp, s = driver.run(exe, model, x, z, work, c)
            ref = flow if dtype == "float64" else rounded(flow, torch.float32)
            ref_lp, ref_s = zuko_eval(ref, x, z, c)
            e_lp, e_s = error(lp, ref_lp), error(s, ref_s)
            show = lambda e: f"{e[0]:8.2e} ({e[1]:7.1e})"
            line = f"{name:51s} {dtype:8s} {show(e_lp)} {show(e_s)}"
            if dtype == "float64":
                bad = max(e_lp[0], e_s[0]) > TOL[dtype]
            else:  # float32 arithmetic: zuko's own float32 error is the scale
                z_lp, z_s = zuko_eval(copy.deepcopy(flow).float(), x.astype(np.float32), z.astype(np.float32),
                                      None if c is None else c.astype(np.float32))
                z_lp, z_s = error(z_lp, ref_lp), error(z_s, ref_s)
                line += f" {show(z_lp)} {show(z_s)}"
                bad = e_lp[1] > max(TOL[dtype], 2 * z_lp[1]) or e_s[1] > max(TOL[dtype], 2 * z_s[1])
                # the points beyond twice zuko's largest error (or 1e-5)
                over = sum(int(np.sum(e[2] > max(TOL[dtype], 2 * zk[0]))) for e, zk in ((e_lp, z_lp), (e_s, z_s)))
                bad |= over > len(x) // 1000
                if not bad and max(e_lp[1], e_s[1]) > TOL[dtype]:
                    line += "  p99 > 1e-5, zuko's too"
                if not bad and over:
                    line += f"  {over} over 2x zuko's max"
            failed |= bad
            print(line + ("  FAIL" if bad else ""), flush=True)
    print("FAILED" if failed else "all within tolerance")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
