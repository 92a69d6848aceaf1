"""benchmarks/peers/flow_peers.py: the peers' side of the performance suite.

The rows of benchmarks/suite (flow_suite) timed with the libraries a user would pick
instead of flowtmpl: nflows 0.14 and zuko, on PyTorch's CPU kernels (MKL / oneDNN). Same
architectures (suite.hpp), same batch sizes and thread counts (torch.set_num_threads),
float32 and float64. --libs torch times plain_flows.py instead (the same five flows in
plain PyTorch: the fallback where nflows and zuko cannot be installed). Writes one JSON
list of rows:

    {"lib", "flow", "dtype", "op", "batch", "threads", "config", "seconds"}

seconds: the median over --repetitions of the mean time of one call, each repetition
running the call for at least --min-time seconds after a warm-up.

The architectures, as each library builds them:
  RealNVP   nflows: 8 AffineCouplingTransform (alternating masks) with nflows.nn.nets.MLP
            [64, 64] (ReLU), a ReversePermutation after each; zuko: RealNVP(features,
            transforms=8, hidden_features=(64, 64)) (checkered masks, no permutation).
  Glow      nflows: 8 x [ActNorm, LULinear, AffineCouplingTransform with MLP [64, 64]];
            zuko has no ActNorm nor invertible 1x1 layer: nflows only.
  NSF       nflows: 8 PiecewiseRationalQuadraticCouplingTransform (K = 8, linear tails,
            bound 3) with MLP [64, 64], a ReversePermutation after each; zuko:
            NSF(features, bins=8, transforms=8, hidden_features=(64, 64), passes=2)
            (the coupling form of zuko's spline flow).
  MAF       nflows: 5 MaskedAffineAutoregressiveTransform (hidden 64, num_blocks=1,
            use_residual_blocks=False: MADE 64-64), a ReversePermutation after each;
            zuko: MAF(features, transforms=5, hidden_features=(64, 64)).
  TwoMoons  the RealNVP above with 2 features.

Configurations (the fastest honest one of each library is what the report compares):
  eager     torch.no_grad() (log_prob, sample), modules in eval mode (nflows's LULinear
            then caches its weight, zuko's distribution object is built once outside the
            timed loop: the parameters do not change between calls);
  compile   the same log_prob call through torch.compile (inductor, dynamic=False), where
            it compiles (--compile; at --compile-batches and --compile-dtypes only: every
            shape compiles anew, tens of seconds each).
  onnxruntime, libtorch  log_prob exported to ONNX Runtime and to TorchScript called
            from C++ (--deploy; at --deploy-batches, float only): what a C++ program
            deploying the PyTorch-trained flow would run (deploy_peers.py).
The training step is always eager: -log_prob(x).mean(), backward, torch.optim.Adam
(lr 1e-4), zuko's flow() rebuilt every step as its training loop does.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import torch

FLOWS = ["RealNVP", "Glow", "NSF", "MAF", "TwoMoons"]


def nflows_flow(name):
    from nflows.distributions.normal import StandardNormal
    from nflows.flows.base import Flow
    from nflows.nn.nets import MLP
    from nflows.transforms.base import CompositeTransform
    from nflows.transforms.coupling import (AffineCouplingTransform,
                                            PiecewiseRationalQuadraticCouplingTransform)
    from nflows.transforms.autoregressive import MaskedAffineAutoregressiveTransform
    from nflows.transforms.lu import LULinear
    from nflows.transforms.normalization import ActNorm
    from nflows.transforms.permutations import ReversePermutation

    d = 2 if name == "TwoMoons" else 8

    class Net(torch.nn.Module):  # nflows's MLP, with the context argument couplings pass
        def __init__(self, i, o):
            super().__init__()
            self.mlp = MLP([i], [o], hidden_sizes=[64, 64])

        def forward(self, x, context=None):
            return self.mlp(x)

    def net(i, o):
        return Net(i, o)

    def mask(k):
        m = torch.zeros(d)
        m[k % 2::2] = 1
        return m

    layers = []
    if name in ("RealNVP", "TwoMoons"):
        for k in range(8):
            layers += [AffineCouplingTransform(mask(k), net), ReversePermutation(d)]
    elif name == "Glow":
        for k in range(8):
            layers += [ActNorm(d), LULinear(d, using_cache=True, identity_init=True),
                       AffineCouplingTransform(mask(k), net)]
    elif name == "NSF":
        for k in range(8):
            layers += [PiecewiseRationalQuadraticCouplingTransform(
                mask(k), net, num_bins=8, tails="linear", tail_bound=3.0), ReversePermutation(d)]
    elif name == "MAF":
        for k in range(5):
            layers += [MaskedAffineAutoregressiveTransform(
                features=d, hidden_features=64, num_blocks=1, use_residual_blocks=False),
                ReversePermutation(d)]
    return Flow(CompositeTransform(layers), StandardNormal([d]))


def zuko_flow(name):
    import zuko
    if name in ("RealNVP", "TwoMoons"):
        return zuko.flows.RealNVP(2 if name == "TwoMoons" else 8, transforms=8, hidden_features=(64, 64))
    if name == "NSF":
        return zuko.flows.NSF(8, bins=8, transforms=8, hidden_features=(64, 64), passes=2)
    if name == "MAF":
        return zuko.flows.MAF(8, transforms=5, hidden_features=(64, 64))
    return None  # Glow: no ActNorm / invertible 1x1 layer in zuko


def make(lib, name, dtype):
    torch.manual_seed(1)
    if lib == "torch":
        import plain_flows
        flow = plain_flows.build(name)
    else:
        flow = nflows_flow(name) if lib == "nflows" else zuko_flow(name)
    if flow is None:
        return None
    flow = flow.to(dtype)
    # Random non-trivial parameters (not the identity start), as the suite uses.
    with torch.no_grad():
        for p in flow.parameters():
            p.uniform_(-0.1, 0.1)
    return flow


def calls(lib, flow, op, n, dim):
    """The timed call for one row (a closure), in eval mode / no_grad for inference."""
    dtype = next(flow.parameters()).dtype
    if op == "train":
        flow.train()
        x = data(lib, flow, n, dim, dtype)
        opt = torch.optim.Adam(flow.parameters(), lr=1e-4)

        def step():
            lp = flow().log_prob(x) if lib == "zuko" else flow.log_prob(x)
            loss = -lp.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step
    flow.eval()
    if lib != "zuko":  # nflows and plain_flows: the flow is the distribution
        dist = flow
        if op == "log_prob":
            x = data(lib, flow, n, dim, dtype)
            return lambda: dist.log_prob(x)
        return lambda: dist.sample(n)
    dist = flow()
    if op == "log_prob":
        x = data(lib, flow, n, dim, dtype)
        return lambda: dist.log_prob(x)
    return lambda: dist.sample((n,))


def data(lib, flow, n, dim, dtype):
    # Draws of the flow itself, as the suite does (typical inputs for log_prob).
    torch.manual_seed(7)
    was = flow.training
    flow.eval()
    with torch.no_grad():
        x = flow().sample((n,)) if lib == "zuko" else flow.sample(n)
    flow.train(was)
    return x.to(dtype).contiguous()


def time_call(fn, min_time, repetitions, grad):
    ctx = torch.enable_grad() if grad else torch.no_grad()
    with ctx:
        for _ in range(2):
            fn()
        per_call = []
        for _ in range(repetitions):
            k, t0 = 0, time.perf_counter()
            while True:
                fn()
                k += 1
                t = time.perf_counter() - t0
                if t >= min_time:
                    break
            per_call.append(t / k)
    return statistics.median(per_call)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--libs", default="nflows,zuko")
    ap.add_argument("--flows", default=",".join(FLOWS))
    ap.add_argument("--dtypes", default="f32,f64")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batches", default="1,64,256,4096,65536")
    ap.add_argument("--train-batches", default="256,4096")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time log_prob through torch.compile")
    ap.add_argument("--compile-batches", default="1,65536", help="batch sizes timed through torch.compile")
    ap.add_argument("--compile-dtypes", default="f32", help="scalar types timed through torch.compile")
    ap.add_argument("--deploy", action="store_true",
                    help="also time log_prob through ONNX Runtime and LibTorch from C++ (deploy_peers.py)")
    ap.add_argument("--deploy-batches", default="1,65536", help="batch sizes timed with --deploy (float)")
    ap.add_argument("--deploy-dir", default=None,
                    help="where --deploy writes the exported models and builds its C++ timer "
                         "(default: deploy/ next to --out)")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_interop_threads(1)
    dtypes = {"f32": torch.float32, "f64": torch.float64}
    rows = []

    def emit(row):
        rows.append(row)
        print("%-7s %-9s %s %-8s batch %6d threads %d %-8s %12.1f us" % (
            row["lib"], row["flow"], row["dtype"], row["op"], row["batch"], row["threads"], row["config"],
            row["seconds"] * 1e6), flush=True)

    for lib in a.libs.split(","):
        for name in a.flows.split(","):
            dim = 2 if name == "TwoMoons" else 8
            for dt in a.dtypes.split(","):
                # the default dtype too: nflows's base draws its noise in it
                torch.set_default_dtype(dtypes[dt])
                for t in (int(v) for v in a.threads.split(",")):
                    torch.set_num_threads(t)
                    jobs = [(op, int(n)) for n in a.batches.split(",") for op in ("log_prob", "sample")
                            if not (int(n) == 1 and t != 1)]
                    jobs += [("train", int(n)) for n in a.train_batches.split(",") if n]
                    for op, n in jobs:
                        flow = make(lib, name, dtypes[dt])
                        if flow is None:
                            continue
                        fn = calls(lib, flow, op, n, dim)
                        s = time_call(fn, a.min_time, a.repetitions, op == "train")
                        emit(dict(lib=lib, flow=name, dtype=dt, op=op, batch=n, threads=t, config="eager",
                                  seconds=s))
                        if (a.compile and op == "log_prob" and str(n) in a.compile_batches.split(",")
                                and dt in a.compile_dtypes.split(",")):
                            try:
                                cfn = torch.compile(fn, dynamic=False)
                                s = time_call(cfn, a.min_time, a.repetitions, False)
                                emit(dict(lib=lib, flow=name, dtype=dt, op=op, batch=n, threads=t,
                                          config="compile", seconds=s))
                            except Exception as e:  # a library whose code does not compile
                                print("%s %s: torch.compile failed: %s" % (lib, name, str(e).splitlines()[0]),
                                      file=sys.stderr)
                            if hasattr(torch, "_dynamo"):  # absent before torch 2 (no torch.compile)
                                torch._dynamo.reset()
                        if (a.deploy and op == "log_prob" and str(n) in a.deploy_batches.split(",")
                                and dt == "f32"):
                            import deploy_peers
                            work = a.deploy_dir or os.path.join(os.path.dirname(os.path.abspath(a.out)), "deploy")
                            x = data(lib, flow, n, dim, dtypes[dt])
                            for config, s in deploy_peers.deploy_rows(lib, name, dt, n, dim, t, flow, x, work,
                                                                      a.min_time, a.repetitions, time_call):
                                emit(dict(lib=lib, flow=name, dtype=dt, op=op, batch=n, threads=t, config=config,
                                          seconds=s))
    with open(a.out, "w") as f:
        json.dump({"torch": torch.__version__, "blas": blas(), "threads_note": "torch.set_num_threads", "rows": rows},
                  f, indent=1)


def blas():
    """The BLAS this torch was built with (torch.__config__: mkl for PyPI's wheels; a
    distribution's build may link the reference BLAS or OpenBLAS)."""
    for part in torch.__config__.show().replace(",", "\n").splitlines():
        if "BLAS_INFO=" in part:
            return part.split("BLAS_INFO=")[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
