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

The flows added since (NEW_FLOWS, issue 23), in --flows by default after the five
above: float only (whatever --dtypes says, as the suite registers them), log_prob and
sample at batch 1, 256 and 4096 and the training step at 256 unless --batches /
--train-batches are given (given, they apply to every flow selected), eager only:
--compile and --deploy time the five flows above and none of these. Their peers:
nflows and zuko, and normflows for Residual (--new-libs; by default the libraries of
--libs other than torch, normflows with them: requirements.txt installs the three
together; --libs torch times none of them, plain_flows.py has the five flows only).
  CondNSF   D = 8 conditioned on 16 raw context values, embedded into 8 by
            torch.nn.Sequential(Linear(16, 64), ReLU, Linear(64, 64), ReLU,
            Linear(64, 8)). nflows: Flow(8 x [PiecewiseRationalQuadraticCouplingTransform
            (alternating masks, K = 8, linear tails, bound 3) whose net applies
            nflows.nn.nets.MLP([4 + 8], [4 x 23], [64, 64]) to [x_a, embedded context],
            ReversePermutation(8)], StandardNormal([8]), embedding_net=the embedding);
            zuko: NSF(8, context=8, bins=8, transforms=8, hidden_features=(64, 64),
            passes=2) called on the embedded context, flow(embed(c)), the embedding a
            module beside the flow (trained with it). Every timed call embeds its
            contexts (nflows's log_prob and sample do; zuko's flow(embed(c)) is built
            inside the call). Contexts: standard normal draws (n x 16, seed 5); log_prob
            and training read draws of the flow given those contexts (x, seed 7);
            sample draws one x per context (n contexts, n samples: nflows's
            sample(1, context), zuko's flow(embed(c)).sample()).
  ZukoNSF   zuko's default NSF, fully autoregressive. zuko: NSF(8, bins=8,
            transforms=5, hidden_features=(64, 64)) (passes=None; zuko reverses the
            feature order from one transformation to the next, spline domain [-5, 5]);
            nflows: 5 MaskedPiecewiseRationalQuadraticAutoregressiveTransform
            (features=8, hidden_features=64, num_bins=8, tails="linear",
            tail_bound=5.0, num_blocks=1, use_residual_blocks=False: MADE with two hidden
            layers of 64) with a ReversePermutation(8) between two.
  Residual  D = 2, normflows: residual_peer.py's build_model: 4 x
            normflows.flows.Residual(LipschitzMLP([2, 64, 64, 2], lipschitz_const=0.97),
            reverse=True, reduce_memory=True, brute_force=True: the exact 2 x 2
            log-det) on DiagGaussian(2, trainable=False). log_prob in eval mode without
            gradients (normflows takes the Jacobian by autograd inside); sample:
            normflows's sample, the fixed-point inversion of every block, which also
            computes each block's log-det; the training step: residual_peer.py's
            train_step (loss, backward, Adam, normflows.utils.update_lipschitz with 50
            power iterations, residual_peer.py's default).
  CNF       D = 2, zuko: cnf_peer.py's build_model: CNF(2, freqs=3, atol=1e-6,
            rtol=1e-5, exact=True, hidden_features=[64, 64], activation=ELU); log_prob
            and sample through the distribution flow() built once, as the five above;
            training as the five above (the adaptive checkpoint adjoint of zuko).
Parameters of these four: torch seed 1, then each library's start, which draws every
linear layer's weights and biases U(+-1/sqrt(fan_in)) (PyTorch's Linear law, what the
suite's init::uniform draws), not the U(+-0.1) of the five above; normflows's
init_zeros divides the last layer's weights of each g by 1000, so those are drawn
again by that law and the spectral-norm buffers brought up to date (200 power
iterations, as normflows's own start). A library that fails on one of these rows
(not installed, an error) gets one line on stderr and the run goes on.
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
NEW_FLOWS = ["CondNSF", "ZukoNSF", "Residual", "CNF"]
NEW_PEERS = {"CondNSF": ("nflows", "zuko"), "ZukoNSF": ("nflows", "zuko"), "Residual": ("normflows",),
             "CNF": ("zuko",)}
NEW_DIM = {"CondNSF": 8, "ZukoNSF": 8, "Residual": 2, "CNF": 2}
NEW_BATCHES, NEW_TRAIN_BATCHES = "1,256,4096", "256"
CONTEXT, EMBEDDED = 16, 8  # CondNSF: raw and embedded context values


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


def embedding_net():
    """CondNSF's embedding of the raw context: 16 -> 64 -> 64 -> 8, ReLU between."""
    return torch.nn.Sequential(torch.nn.Linear(CONTEXT, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                               torch.nn.ReLU(), torch.nn.Linear(64, EMBEDDED))


class ZukoConditional(torch.nn.Module):
    """zuko's conditional flow with the embedding beside it: dist(c) = flow(embed(c)).
    One module, so that parameters() (the optimizer's) holds both."""

    def __init__(self, flow):
        super().__init__()
        self.flow = flow
        self.embed = embedding_net()

    def dist(self, c):
        return self.flow(self.embed(c))


def nflows_new_flow(name):
    from nflows.distributions.normal import StandardNormal
    from nflows.flows.base import Flow
    from nflows.nn.nets import MLP
    from nflows.transforms.autoregressive import MaskedPiecewiseRationalQuadraticAutoregressiveTransform
    from nflows.transforms.base import CompositeTransform
    from nflows.transforms.coupling import PiecewiseRationalQuadraticCouplingTransform
    from nflows.transforms.permutations import ReversePermutation

    d = NEW_DIM[name]
    if name == "CondNSF":
        class Net(torch.nn.Module):  # nflows's MLP on the identity half and the embedded context
            def __init__(self, i, o):
                super().__init__()
                self.mlp = MLP([i + EMBEDDED], [o], hidden_sizes=[64, 64])

            def forward(self, x, context=None):
                return self.mlp(torch.cat([x, context], -1))

        def mask(k):
            m = torch.zeros(d)
            m[k % 2::2] = 1
            return m

        layers = []
        for k in range(8):
            layers += [PiecewiseRationalQuadraticCouplingTransform(
                mask(k), lambda i, o: Net(i, o), num_bins=8, tails="linear", tail_bound=3.0),
                ReversePermutation(d)]
        return Flow(CompositeTransform(layers), StandardNormal([d]), embedding_net=embedding_net())
    if name == "ZukoNSF":
        layers = []
        for k in range(5):
            if k:
                layers.append(ReversePermutation(d))
            layers.append(MaskedPiecewiseRationalQuadraticAutoregressiveTransform(
                features=d, hidden_features=64, num_bins=8, tails="linear", tail_bound=5.0, num_blocks=1,
                use_residual_blocks=False))
        return Flow(CompositeTransform(layers), StandardNormal([d]))
    return None  # Residual, CNF: not nflows's


def zuko_new_flow(name):
    import zuko
    if name == "CondNSF":
        return ZukoConditional(zuko.flows.NSF(8, context=EMBEDDED, bins=8, transforms=8, hidden_features=(64, 64),
                                              passes=2))
    if name == "ZukoNSF":
        return zuko.flows.NSF(8, bins=8, transforms=5, hidden_features=(64, 64))
    if name == "CNF":
        import cnf_peer  # the peer of examples/continuous_flow.cpp: its builder and settings
        s = argparse.Namespace(features=2, frequencies=3, atol=1e-6, rtol=1e-5, hidden=[64, 64])
        return cnf_peer.build_model(s, exact=True)
    return None  # Residual: not zuko's


def normflows_new_flow(name):
    if name != "Residual":
        return None
    import normflows as nf
    import residual_peer  # the peer of examples/residual_flow.cpp: its builder
    s = argparse.Namespace(layers=4, hidden=[64, 64], coefficient=0.97, geom_p=0.5, n_exact_terms=2, n_samples=1,
                           log_det="exact", actnorm=False)
    model = residual_peer.build_model(s)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nf.nets.InducedNormLinear):
                m.reset_parameters(zero_init=False)  # the last layers' init_zeros undone
                m.compute_weight(update=True, n_iterations=200)
    return model


def make_new(lib, name):
    """One of NEW_FLOWS in float, as `lib` builds it (None: not that library's), with
    its library's start drawn from torch seed 1."""
    torch.manual_seed(1)
    build = {"nflows": nflows_new_flow, "zuko": zuko_new_flow, "normflows": normflows_new_flow}.get(lib)
    flow = build(name) if build else None
    return None if flow is None else flow.to(torch.float32)


def contexts(n):
    """CondNSF's raw contexts: n x 16 standard normal draws, a fixed seed."""
    return torch.randn(n, CONTEXT, generator=torch.Generator().manual_seed(5))


def new_draw(lib, name, flow, n, c):
    """n draws of a new flow (given the contexts c for CondNSF), without gradients."""
    if name == "CondNSF":
        return flow.sample(1, context=c).reshape(n, -1) if lib == "nflows" else flow.dist(c).sample()
    if lib == "zuko":
        return flow().sample((n,))
    if lib == "normflows":
        return flow.sample(n)[0]
    return flow.sample(n)


def new_data(lib, name, flow, n, c):
    # Draws of the flow itself, given the contexts (as the suite's data()).
    torch.manual_seed(7)
    was = flow.training
    flow.eval()
    with torch.no_grad():
        x = new_draw(lib, name, flow, n, c)
    flow.train(was)
    return x.detach().to(torch.float32).contiguous()


def new_calls(lib, name, flow, op, n):
    """The timed call for one row of a new flow (a closure); eval mode for inference."""
    c = contexts(n) if name == "CondNSF" else None
    if op == "train":
        flow.train()
        x = new_data(lib, name, flow, n, c)
        opt = torch.optim.Adam(flow.parameters(), lr=1e-4)
        if lib == "normflows":
            import residual_peer
            # a fresh copy per call: normflows's brute-force log-det marks its input as
            # requiring gradients (as residual_peer.py's timings do)
            return lambda: residual_peer.train_step(flow, opt, x.clone(), 50)
        if name == "CondNSF":
            lp = (lambda: flow.log_prob(x, context=c)) if lib == "nflows" else (lambda: flow.dist(c).log_prob(x))
        elif lib == "zuko":
            lp = lambda: flow().log_prob(x)  # noqa: E731
        else:
            lp = lambda: flow.log_prob(x)  # noqa: E731

        def step():
            loss = -lp().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step
    flow.eval()
    if op == "log_prob":
        x = new_data(lib, name, flow, n, c)
        if name == "CondNSF":
            return (lambda: flow.log_prob(x, context=c)) if lib == "nflows" else (lambda: flow.dist(c).log_prob(x))
        if lib == "zuko":
            dist = flow()
            return lambda: dist.log_prob(x)
        if lib == "normflows":
            return lambda: flow.log_prob(x.clone())
        return lambda: flow.log_prob(x)
    if name == "CondNSF":
        return lambda: new_draw(lib, name, flow, n, c)
    if lib == "zuko":
        dist = flow()
        return lambda: dist.sample((n,))
    return lambda: flow.sample(n)


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
    ap.add_argument("--new-libs", default=None,
                    help="peers of the flows added since (NEW_FLOWS): default the libraries of --libs other "
                         "than torch, normflows with them")
    ap.add_argument("--flows", default=",".join(FLOWS + NEW_FLOWS))
    ap.add_argument("--dtypes", default="f32,f64", help="the flows added since: f32 only")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batches", default=None,
                    help="log_prob and sample batches (default 1,64,256,4096,65536; the flows added since: %s)"
                         % NEW_BATCHES)
    ap.add_argument("--train-batches", default=None,
                    help="training batches (default 256,4096; the flows added since: %s)" % NEW_TRAIN_BATCHES)
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
    names = [v for v in a.flows.split(",") if v]
    unknown = [v for v in names if v not in FLOWS + NEW_FLOWS]
    if unknown:
        ap.error("unknown flow(s) %s; known: %s" % (",".join(unknown), ",".join(FLOWS + NEW_FLOWS)))
    batches = a.batches or "1,64,256,4096,65536"
    train_batches = a.train_batches if a.train_batches is not None else "256,4096"
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
        for name in (v for v in names if v in FLOWS):
            dim = 2 if name == "TwoMoons" else 8
            for dt in a.dtypes.split(","):
                # the default dtype too: nflows's base draws its noise in it
                torch.set_default_dtype(dtypes[dt])
                for t in (int(v) for v in a.threads.split(",")):
                    torch.set_num_threads(t)
                    jobs = [(op, int(n)) for n in batches.split(",") for op in ("log_prob", "sample")
                            if not (int(n) == 1 and t != 1)]
                    jobs += [("train", int(n)) for n in train_batches.split(",") if n]
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
    new_rows(a, names, emit)
    with open(a.out, "w") as f:
        json.dump({"torch": torch.__version__, "blas": blas(), "threads_note": "torch.set_num_threads", "rows": rows},
                  f, indent=1)


def new_rows(a, names, emit):
    """The rows of the flows added since (NEW_FLOWS): float, eager, their own batches
    unless --batches / --train-batches were given; a library that fails on one of them
    gets one line on stderr and the run goes on."""
    new = [v for v in names if v in NEW_FLOWS]
    if not new or "f32" not in a.dtypes.split(","):
        return
    if a.new_libs is not None:
        libs = [v for v in a.new_libs.split(",") if v]
    else:
        libs = [v for v in a.libs.split(",") if v and v != "torch"]
        libs += ["normflows"] if libs and "normflows" not in libs else []
    if not libs:
        print("flow_peers: no peer library for %s (plain_flows.py has the five flows of the first suite only)"
              % ",".join(new), file=sys.stderr)
        return
    batches = a.batches or NEW_BATCHES
    train_batches = a.train_batches if a.train_batches is not None else NEW_TRAIN_BATCHES
    torch.set_default_dtype(torch.float32)
    for lib in libs:
        for name in new:
            if lib not in NEW_PEERS[name]:
                continue
            for t in (int(v) for v in a.threads.split(",")):
                torch.set_num_threads(t)
                jobs = [(op, int(n)) for n in batches.split(",") if n for op in ("log_prob", "sample")
                        if not (int(n) == 1 and t != 1)]
                jobs += [("train", int(n)) for n in train_batches.split(",") if n]
                for op, n in jobs:
                    try:
                        flow = make_new(lib, name)
                    except (Exception, SystemExit) as e:  # not installed (a peer module exits), or fails
                        print("%s %s: cannot build the flow, no rows: %s" % (lib, name, first_line(e)),
                              file=sys.stderr)
                        break
                    if flow is None:
                        break
                    try:
                        fn = new_calls(lib, name, flow, op, n)
                        s = time_call(fn, a.min_time, a.repetitions, op == "train")
                    except Exception as e:
                        print("%s %s %s batch %d threads %d: failed, no row: %s" % (lib, name, op, n, t,
                                                                                   first_line(e)), file=sys.stderr)
                        continue
                    emit(dict(lib=lib, flow=name, dtype="f32", op=op, batch=n, threads=t, config="eager",
                              seconds=s))
                else:
                    continue
                break  # the flow could not be built: not at the other thread counts either


def first_line(e):
    text = str(e).strip()
    return "%s%s" % (type(e).__name__, ": " + text.splitlines()[0] if text else "")


def blas():
    """The BLAS this torch was built with (torch.__config__: mkl for PyPI's wheels; a
    distribution's build may link the reference BLAS or OpenBLAS)."""
    for part in torch.__config__.show().replace(",", "\n").splitlines():
        if "BLAS_INFO=" in part:
            return part.split("BLAS_INFO=")[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
