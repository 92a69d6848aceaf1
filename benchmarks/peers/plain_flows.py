"""benchmarks/peers/plain_flows.py: the five standard flows of the suite in plain PyTorch.

The peer of last resort (flow_peers.py --libs torch): where PyPI cannot be reached, nflows
and zuko cannot be installed, and run-performance.sh falls back to Debian's python3-torch
with these. Same architectures as benchmarks/standard_flows.hpp, written from the
published formulas with torch operations only:

  RealNVP   8 affine couplings (alternating halves, MLP 64-64 with ReLU, log-scale
            3 tanh(r / 3)), a reversal after each
  Glow      8 x [ActNorm, LU-decomposed invertible linear map, affine coupling]
  NSF       8 rational-quadratic spline couplings (K = 8 bins on [-3, 3], linear tails,
            minimum bin width, height and derivative 1e-3), a reversal after each
  MAF       5 masked autoregressive affine layers (MADE 64-64, sequential degrees), a
            reversal after each; sampling re-runs the network D times
  TwoMoons  the RealNVP with 2 features

A flow has log_prob(x) (the normalizing direction, x -> z) and sample(n), as nflows's
Flow, so flow_peers.py times it like nflows.
"""

import math

import torch
import torch.nn.functional as F

HIDDEN = 64


def mlp(i, o):
    return torch.nn.Sequential(torch.nn.Linear(i, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, HIDDEN),
                               torch.nn.ReLU(), torch.nn.Linear(HIDDEN, o))


def bounded_log_scale(r):
    return 3.0 * torch.tanh(r / 3.0)


class Reverse(torch.nn.Module):
    def normalize(self, x):
        return x.flip(-1), x.new_zeros(x.shape[0])

    def generate(self, z):
        return z.flip(-1)


class ActNorm(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.log_scale = torch.nn.Parameter(torch.zeros(d))
        self.shift = torch.nn.Parameter(torch.zeros(d))

    def normalize(self, x):
        return (x - self.shift) * torch.exp(-self.log_scale), (-self.log_scale.sum()).expand(x.shape[0])

    def generate(self, z):
        return z * torch.exp(self.log_scale) + self.shift


class LULinear(torch.nn.Module):
    """z = P L (U + diag(exp(s))) x + b, L unit lower, U strictly upper, P a reversal."""

    def __init__(self, d):
        super().__init__()
        self.d = d
        self.lower = torch.nn.Parameter(torch.zeros(d, d))
        self.upper = torch.nn.Parameter(torch.zeros(d, d))
        self.log_diag = torch.nn.Parameter(torch.zeros(d))
        self.bias = torch.nn.Parameter(torch.zeros(d))
        self.register_buffer("perm", torch.arange(d - 1, -1, -1))

    def factors(self):
        eye = torch.eye(self.d, dtype=self.lower.dtype)
        low = torch.tril(self.lower, -1) + eye
        up = torch.triu(self.upper, 1) + torch.diag(torch.exp(self.log_diag))
        return low, up

    def normalize(self, x):
        low, up = self.factors()
        w = (low @ up)[self.perm]
        return x @ w.T + self.bias, self.log_diag.sum().expand(x.shape[0])

    def generate(self, z):
        low, up = self.factors()
        rhs = torch.empty_like(z)
        rhs[:, self.perm] = z - self.bias  # P^T (z - b)
        y = torch.linalg.solve_triangular(low, rhs.T, upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(up, y, upper=True).T


def rq_spline(x, uw, uh, ud, inverse, bound=3.0, min_w=1e-3, min_h=1e-3, min_d=1e-3):
    """The monotone rational-quadratic spline (Durkan et al. 2019) with linear tails:
    x (...), uw and uh (..., K), ud (..., K - 1); returns the value and log |d out / d in|."""
    k = uw.shape[-1]
    inside = (x >= -bound) & (x <= bound)
    xi = x.clamp(-bound, bound)

    def knots(u, m):
        sizes = m + (1 - m * k) * torch.softmax(u, -1)
        c = F.pad(torch.cumsum(sizes, -1), (1, 0))
        c = 2 * bound * c - bound
        c = torch.cat([torch.full_like(c[..., :1], -bound), c[..., 1:-1], torch.full_like(c[..., :1], bound)], -1)
        return c, c[..., 1:] - c[..., :-1]

    cx, w = knots(uw, min_w)
    cy, h = knots(uh, min_h)
    end = math.log(math.expm1(1 - min_d))
    d = min_d + F.softplus(F.pad(ud, (1, 1), value=end))
    ref = cy if inverse else cx
    idx = (xi[..., None] >= ref[..., 1:-1]).sum(-1, keepdim=True)
    xk, yk = cx.gather(-1, idx)[..., 0], cy.gather(-1, idx)[..., 0]
    wk, hk = w.gather(-1, idx)[..., 0], h.gather(-1, idx)[..., 0]
    d0, d1 = d.gather(-1, idx)[..., 0], d.gather(-1, idx + 1)[..., 0]
    s = hk / wk
    m = d0 + d1 - 2 * s
    if inverse:
        e = xi - yk
        a = hk * (s - d0) + e * m
        b = hk * d0 - e * m
        c = -s * e
        disc = (b * b - 4 * a * c).clamp_min(0)
        theta = (2 * c) / (-b - torch.sqrt(disc))
        out = xk + theta * wk
    else:
        theta = (xi - xk) / wk
        tt = theta * (1 - theta)
        out = yk + hk * (s * theta * theta + d0 * tt) / (s + m * tt)
    tt = theta * (1 - theta)
    den = s + m * tt
    log_deriv = 2 * torch.log(s) + torch.log(d1 * theta * theta + 2 * s * tt + d0 * (1 - theta) ** 2) - 2 * torch.log(den)
    if inverse:
        log_deriv = -log_deriv
    return torch.where(inside, out, x), torch.where(inside, log_deriv, torch.zeros_like(x))


class Coupling(torch.nn.Module):
    """Half the features (alternating parity) condition the other half through an MLP."""

    def __init__(self, d, parity, spline):
        super().__init__()
        self.spline = spline
        self.register_buffer("a", torch.arange(parity, d, 2))
        self.register_buffer("b", torch.arange(1 - parity, d, 2))
        self.per = 3 * 8 - 1 if spline else 2
        self.net = mlp(len(self.a), len(self.b) * self.per)

    def params(self, x):
        return self.net(x[:, self.a]).view(x.shape[0], len(self.b), self.per)

    def apply(self, x, normalize):
        p = self.params(x)
        xb = x[:, self.b]
        if self.spline:
            yb, ld = rq_spline(xb, p[..., :8], p[..., 8:16], p[..., 16:], inverse=not normalize)
            ld = ld.sum(-1)
        else:
            s, t = bounded_log_scale(p[..., 0]), p[..., 1]
            yb = (xb - t) * torch.exp(-s) if normalize else xb * torch.exp(s) + t
            ld = -s.sum(-1) if normalize else s.sum(-1)
        y = x.clone()
        y[:, self.b] = yb
        return y, ld

    def normalize(self, x):
        return self.apply(x, True)

    def generate(self, z):
        return self.apply(z, False)[0]


class MaskedLinear(torch.nn.Linear):
    def __init__(self, i, o, mask):
        super().__init__(i, o)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MAFLayer(torch.nn.Module):
    """x_i = z_i exp(s_i) + t_i with (s_i, t_i) from a MADE of x_<i (sequential degrees)."""

    def __init__(self, d):
        super().__init__()
        self.d = d
        deg_in = torch.arange(1, d + 1)
        deg_h = torch.arange(HIDDEN) % max(1, d - 1) + min(1, d - 1)
        deg_out = torch.arange(d).repeat_interleave(2) + 1
        self.net = torch.nn.Sequential(
            MaskedLinear(d, HIDDEN, (deg_h[:, None] >= deg_in[None, :]).float()), torch.nn.ReLU(),
            MaskedLinear(HIDDEN, HIDDEN, (deg_h[:, None] >= deg_h[None, :]).float()), torch.nn.ReLU(),
            MaskedLinear(HIDDEN, 2 * d, (deg_out[:, None] > deg_h[None, :]).float()))

    def st(self, x):
        p = self.net(x).view(x.shape[0], self.d, 2)
        return bounded_log_scale(p[..., 0]), p[..., 1]

    def normalize(self, x):
        s, t = self.st(x)
        return (x - t) * torch.exp(-s), -s.sum(-1)

    def generate(self, z):
        x = torch.zeros_like(z)
        for _ in range(self.d):
            s, t = self.st(x)
            x = z * torch.exp(s) + t
        return x


class PlainFlow(torch.nn.Module):
    """layers in the sampling order (noise first); log_prob runs them backwards."""

    def __init__(self, d, layers):
        super().__init__()
        self.d = d
        self.layers = torch.nn.ModuleList(layers)

    def log_prob(self, x):
        total = x.new_zeros(x.shape[0])
        for layer in reversed(self.layers):
            x, ld = layer.normalize(x)
            total = total + ld
        return total - 0.5 * (x * x).sum(-1) - 0.5 * self.d * math.log(2 * math.pi)

    def sample(self, n):
        z = torch.randn(n, self.d, dtype=next(self.parameters()).dtype)
        for layer in self.layers:
            z = layer.generate(z)
        return z


def build(name):
    d = 2 if name == "TwoMoons" else 8
    layers = []
    if name in ("RealNVP", "TwoMoons", "NSF"):
        for k in range(8):
            layers += [Coupling(d, k % 2, spline=name == "NSF"), Reverse()]
    elif name == "Glow":
        for k in range(8):
            layers += [ActNorm(d), LULinear(d), Coupling(d, k % 2, spline=False)]
    elif name == "MAF":
        for _ in range(5):
            layers += [MAFLayer(d), Reverse()]
    else:
        raise ValueError(name)
    return PlainFlow(d, layers)
