"""Reference values of the transformers flowtmpl imports from nflows and zuko, computed by
nflows and zuko themselves (run in a virtual environment with torch, nflows and zuko;
the test suite only reads the JSON files this writes into tests/data):

  nflows_knots.json      the knots of nflows's rational_quadratic_spline, to the bit,
                         for K in {4, 8, 16}, tail bound B in {1, 3, 5}, two scales of
                         the raw parameters
  nflows_identity_init.json
                         unconstrained_rational_quadratic_spline with identity init
  nflows_interval_spline.json
                         rational_quadratic_spline on [left, right] -> [bottom, top]
  zuko_spline.json       zuko.transforms.MonotonicRQSTransform
  zuko_affine.json       zuko.transforms.MonotonicAffineTransform
  nflows_affine_coupling.json
                         the elementwise map of nflows's AffineCouplingTransform
  nflows_scaled_spline_coupling.json
                         PiecewiseRationalQuadraticCouplingTransform whose net has
                         hidden_features (widths and heights divided by its sqrt)

Usage: python tools/reference/transformer_references.py OUTPUT_DIR
"""
import json
import math
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

import nflows
import nflows.transforms.splines.rational_quadratic as rq
import zuko
from zuko.transforms import MonotonicAffineTransform, MonotonicRQSTransform

SEED = 20261206
torch.set_default_dtype(torch.float64)


def meta(function, **extra):
    m = {
        "generator": "tools/reference/transformer_references.py",
        "function": function,
        "torch_version": torch.__version__,
        "nflows_version": getattr(nflows, "__version__", "0.14"),
        "zuko_version": zuko.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "dtype": "float64",
        "seed": SEED,
    }
    m.update(extra)
    return m


def floats(t):
    return [float(v) for v in t.reshape(-1).tolist()]


class Capture:
    """Records the knot vectors nflows's searchsorted is given (before it moves the last
    knot by eps), i.e. the knots nflows computed."""

    def __init__(self):
        self.seen = []
        self.original = rq.torchutils.searchsorted

    def __enter__(self):
        def hook(bin_locations, inputs, eps=1e-6):
            self.seen.append(bin_locations.detach().clone())
            return self.original(bin_locations, inputs, eps)

        rq.torchutils.searchsorted = hook
        return self

    def __exit__(self, *exc):
        rq.torchutils.searchsorted = self.original


def nflows_knots(gen):
    cases = []
    for K in (4, 8, 16):
        for B in (1.0, 3.0, 5.0):
            for scale in (1.0, 4.0):
                n = 16
                uw = torch.randn(n, K, generator=gen) * scale
                uh = torch.randn(n, K, generator=gen) * scale
                ud = torch.randn(n, K - 1, generator=gen) * scale
                x = torch.zeros(n)  # inside: nflows evaluates the spline, and so its knots
                with Capture() as cw:
                    rq.unconstrained_rational_quadratic_spline(x, uw, uh, ud, inverse=False, tail_bound=B)
                with Capture() as ch:
                    rq.unconstrained_rational_quadratic_spline(x, uw, uh, ud, inverse=True, tail_bound=B)
                cumwidths, cumheights = cw.seen[0], ch.seen[0]
                cases.append({
                    "id": f"K{K}_B{B:g}_scale{scale:g}", "K": K, "tail_bound": B, "param_scale": scale,
                    "sets": [{
                        "unnormalized_widths": floats(uw[i]), "unnormalized_heights": floats(uh[i]),
                        "unnormalized_derivatives": floats(ud[i]),
                        "knots_x": floats(cumwidths[i]), "knots_y": floats(cumheights[i]),
                    } for i in range(n)],
                })
    return {"meta": meta("nflows.transforms.splines.rational_quadratic.unconstrained_rational_quadratic_spline "
                         "(the knots given to its searchsorted)", min_bin_width=1e-3, min_bin_height=1e-3),
            "cases": cases}


def spline_points(knots, lo, hi, gen, n_uniform=48):
    """Uniform points in [lo, hi], every knot, the ends and one step either side."""
    pts = floats(lo + (hi - lo) * torch.rand(n_uniform, generator=gen))
    pts += [float(k) for k in knots]
    for e in (lo, hi):
        pts += [e, math.nextafter(e, -math.inf), math.nextafter(e, math.inf)]
    return pts


def identity_init(gen):
    min_d = 1e-3
    beta = math.log(2.0) / (1.0 - min_d)
    # nflows's enable_identity_init: its softplus takes beta = log 2 / (1 - min_d); the
    # released nflows 0.14 lacks the option, so its module gets that softplus
    shim = types.SimpleNamespace(softmax=F.softmax, pad=F.pad, softplus=lambda u: F.softplus(u, beta=beta))
    original = rq.F
    rq.F = shim
    cases = []
    try:
        for K, B, scale in ((8, 3.0, 1.0), (4, 5.0, 0.0), (16, 1.0, 2.0)):
            uw = torch.randn(1, K, generator=gen) * scale
            uh = torch.randn(1, K, generator=gen) * scale
            ud = torch.randn(1, K - 1, generator=gen) * scale
            with Capture() as cw:
                rq.unconstrained_rational_quadratic_spline(torch.zeros(1), uw, uh, ud, tail_bound=B)
            x = torch.tensor(spline_points(cw.seen[0][0], -B - 0.5, B + 0.5, gen) + [-1e3, 1e3])
            n = x.shape[0]
            y, ld = rq.unconstrained_rational_quadratic_spline(x, uw.expand(n, K), uh.expand(n, K),
                                                               ud.expand(n, K - 1), tail_bound=B)
            yr = torch.tensor(floats(-B - 0.5 + (2 * B + 1) * torch.rand(48, generator=gen)))
            m = yr.shape[0]
            xi, ldi = rq.unconstrained_rational_quadratic_spline(yr, uw.expand(m, K), uh.expand(m, K),
                                                                 ud.expand(m, K - 1), inverse=True, tail_bound=B)
            cases.append({
                "id": f"K{K}_B{B:g}_scale{scale:g}", "K": K, "tail_bound": B,
                "unnormalized_widths": floats(uw), "unnormalized_heights": floats(uh),
                "unnormalized_derivatives": floats(ud),
                "forward": {"inputs": floats(x), "outputs": floats(y), "logabsdet": floats(ld)},
                "inverse": {"inputs": floats(yr), "outputs": floats(xi), "logabsdet": floats(ldi)},
            })
    finally:
        rq.F = original
    return {"meta": meta("nflows.transforms.splines.rational_quadratic.unconstrained_rational_quadratic_spline "
                         "with enable_identity_init (softplus beta = log 2 / (1 - min_derivative))",
                         min_bin_width=1e-3, min_bin_height=1e-3, min_derivative=min_d, beta=beta,
                         end_derivative=1e-3 + float(F.softplus(torch.tensor(math.log(math.exp(1 - min_d) - 1)),
                                                                beta=beta))),
            "cases": cases}


def interval_spline(gen):
    cases = []
    for K, (left, right, bottom, top), scale in ((5, (-1.0, 2.0, 0.5, 4.0), 1.0), (8, (0.0, 1.0, -3.0, -2.5), 2.0),
                                                 (3, (-10.0, 10.0, -0.25, 0.75), 0.5)):
        uw = torch.randn(1, K, generator=gen) * scale
        uh = torch.randn(1, K, generator=gen) * scale
        ud = torch.randn(1, K + 1, generator=gen) * scale
        with Capture() as cw:
            rq.rational_quadratic_spline(torch.tensor([left]), uw, uh, ud, left=left, right=right, bottom=bottom,
                                         top=top)
        with Capture() as ch:  # the knots are recorded before the input is used
            try:
                rq.rational_quadratic_spline(torch.tensor([left]), uw, uh, ud, inverse=True, left=left,
                                             right=right, bottom=bottom, top=top)
            except RuntimeError:  # left may lie outside [bottom, top]: no bin to gather
                pass
        x = [v for v in spline_points(cw.seen[0][0], left, right, gen) if left <= v <= right]
        t = torch.tensor(x)
        n = t.shape[0]
        y, ld = rq.rational_quadratic_spline(t, uw.expand(n, K), uh.expand(n, K), ud.expand(n, K + 1), left=left,
                                             right=right, bottom=bottom, top=top)
        # nflows checks the inverse's inputs against [left, right] too, so its inverse
        # cannot be called on [bottom, top]: the inverse's reference is the forward read
        # backwards (y -> x, log-det negated)
        out = {"forward": {"inputs": floats(t), "outputs": floats(y), "logabsdet": floats(ld)},
               "knots_x": floats(cw.seen[0][0]), "knots_y": floats(ch.seen[0][0])}
        cases.append({"id": f"K{K}_[{left:g},{right:g}]_to_[{bottom:g},{top:g}]", "K": K, "left": left,
                      "right": right, "bottom": bottom, "top": top, "unnormalized_widths": floats(uw),
                      "unnormalized_heights": floats(uh), "unnormalized_derivatives": floats(ud), **out})
    return {"meta": meta("nflows.transforms.splines.rational_quadratic.rational_quadratic_spline",
                         min_bin_width=1e-3, min_bin_height=1e-3, min_derivative=1e-3),
            "cases": cases}


def zuko_spline(gen):
    cases = []
    for K, B, scale in ((8, 5.0, 1.0), (4, 3.0, 3.0), (16, 5.0, 0.3), (8, 1.0, 10.0)):
        w = torch.randn(K, generator=gen) * scale
        h = torch.randn(K, generator=gen) * scale
        d = torch.randn(K - 1, generator=gen) * scale
        t = MonotonicRQSTransform(w, h, d, bound=B)
        x = torch.tensor(spline_points(t.horizontal, -B - 1.0, B + 1.0, gen) +
                         [-B, B, float(t.horizontal[-1]), -1e3, 1e3, -1e300, 1e300])
        y, ld = t.call_and_ladj(x)
        yr = torch.tensor(spline_points(t.vertical, -B - 1.0, B + 1.0, gen) + [-1e3, 1e3])
        xi = t.inv(yr)
        _, ld_at_xi = t.call_and_ladj(xi)
        cases.append({"id": f"K{K}_B{B:g}_scale{scale:g}", "K": K, "bound": B, "slope": 1e-3,
                      "widths": floats(w), "heights": floats(h), "derivatives": floats(d),
                      "knots_x": floats(t.horizontal), "knots_y": floats(t.vertical),
                      "knot_derivatives": floats(t.derivatives),
                      "forward": {"inputs": floats(x), "outputs": floats(y), "logabsdet": floats(ld)},
                      "inverse": {"inputs": floats(yr), "outputs": floats(xi), "logabsdet": floats(-ld_at_xi)}})
    return {"meta": meta("zuko.transforms.MonotonicRQSTransform (call_and_ladj, inv)"), "cases": cases}


def zuko_affine(gen):
    cases = []
    for scale in (0.5, 3.0, 30.0):
        shift = torch.randn(64, generator=gen) * scale
        raw = torch.randn(64, generator=gen) * scale
        t = MonotonicAffineTransform(shift, raw)
        x = torch.randn(64, generator=gen) * 3
        y, ld = t.call_and_ladj(x)
        yr = torch.randn(64, generator=gen) * 3
        cases.append({"id": f"scale{scale:g}", "slope": 1e-3, "shift": floats(shift), "scale": floats(raw),
                      "forward": {"inputs": floats(x), "outputs": floats(y), "logabsdet": floats(ld)},
                      "inverse": {"inputs": floats(yr), "outputs": floats(t.inv(yr)),
                                  "logabsdet": floats(-t.log_abs_det_jacobian(t.inv(yr), yr))}})
    return {"meta": meta("zuko.transforms.MonotonicAffineTransform (call_and_ladj, inv), one feature per "
                         "parameter pair"), "cases": cases}


class FixedParameters(torch.nn.Module):
    """A coupling's transform net that returns given parameters, whatever its input."""

    def __init__(self, params):
        super().__init__()
        self.params = params

    def forward(self, inputs, context=None):
        # a copy: nflows's spline coupling divides the widths and heights in place
        return self.params.clone()


def nflows_affine_coupling(gen):
    from nflows.transforms.coupling import AffineCouplingTransform
    n = 200
    # raw parameters in nflows's layout for one transformed feature: (shift, unconstrained scale)
    shift = torch.randn(n, 1, generator=gen) * 2
    raw = torch.randn(n, 1, generator=gen) * 4
    raw[:8, 0] = torch.tensor([-40.0, -20.0, -2.0, 0.0, 4.906754778648554, 10.0, 20.0, 40.0])
    params = torch.cat([shift, raw], dim=1)
    t = AffineCouplingTransform(mask=torch.tensor([0, 1]),
                                transform_net_create_fn=lambda i, o: FixedParameters(params))
    x = torch.randn(n, 2, generator=gen) * 3
    y, ld = t(x)
    xi, ldi = t.inverse(y)
    return {"meta": meta("nflows.transforms.coupling.AffineCouplingTransform with mask [0, 1] and a transform net "
                         "returning the given parameters"),
            "shift": floats(shift), "unconstrained_scale": floats(raw),
            "forward": {"inputs": floats(x[:, 1]), "outputs": floats(y[:, 1]), "logabsdet": floats(ld)},
            "inverse": {"inputs": floats(y[:, 1]), "outputs": floats(xi[:, 1]), "logabsdet": floats(ldi)}}


def nflows_scaled_spline_coupling(gen):
    from nflows.transforms.coupling import PiecewiseRationalQuadraticCouplingTransform
    n, K, B, hidden = 100, 8, 3.0, 64
    params = torch.randn(n, 3 * K - 1, generator=gen) * 6  # large: the division matters
    net = FixedParameters(params)
    net.hidden_features = hidden  # nflows divides the widths and heights by sqrt(64) = 8
    t = PiecewiseRationalQuadraticCouplingTransform(mask=torch.tensor([0, 1]), transform_net_create_fn=lambda i, o: net,
                                                    num_bins=K, tails="linear", tail_bound=B)
    x = torch.randn(n, 2, generator=gen) * 2
    y, ld = t(x)
    xi, ldi = t.inverse(y)
    return {"meta": meta("nflows.transforms.coupling.PiecewiseRationalQuadraticCouplingTransform (mask [0, 1], "
                         "linear tails) whose transform net returns the given raw parameters and has "
                         "hidden_features = 64", K=K, tail_bound=B, hidden_features=hidden),
            "raw_parameters": [floats(params[j]) for j in range(n)],
            "forward": {"inputs": floats(x[:, 1]), "outputs": floats(y[:, 1]), "logabsdet": floats(ld)},
            "inverse": {"inputs": floats(y[:, 1]), "outputs": floats(xi[:, 1]), "logabsdet": floats(ldi)}}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    gen = torch.Generator().manual_seed(SEED)
    for name, make in (("nflows_knots.json", nflows_knots), ("nflows_identity_init.json", identity_init),
                       ("nflows_interval_spline.json", interval_spline), ("zuko_spline.json", zuko_spline),
                       ("zuko_affine.json", zuko_affine), ("nflows_affine_coupling.json", nflows_affine_coupling),
                       ("nflows_scaled_spline_coupling.json", nflows_scaled_spline_coupling)):
        with open(f"{out}/{name}", "w") as f:
            json.dump(make(gen), f, allow_nan=False)
            f.write("\n")
        print("wrote", f"{out}/{name}")


if __name__ == "__main__":
    main()
