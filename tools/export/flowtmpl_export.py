"""Export a trained zuko flow to a safetensors file that flowtmpl::load reads (an nflows
flow is handed to nflows_export.py, next to this file: one command for both).

Usage:
    python tools/export/flowtmpl_export.py model.pt out.safetensors [--dtype float64|float32]

model.pt is a whole flow saved with torch.save(flow) (loading it runs pickle: load only
files you trust). As a module: export(flow, path, dtype="float64") writes the file and
returns the C++ type to load it into; translate(flow, dtype) returns the type, the spec
text and the tensors without writing anything.

What is translated (zuko 1.6, with or without a context):
    zuko.flows.MAF / zuko.flows.NSF, or any zuko.lazy.Flow whose transforms are all
    MaskedAutoregressiveTransform with
      univariate  MonotonicAffineTransform  -> flowtmpl::ZukoAffine<Slope>
                  MonotonicRQSTransform     -> flowtmpl::ZukoSpline<K, B, Slope>
      hyper       MaskedMLP(hidden h1..hn, no residual) -> flowtmpl::MADE<h1, ..., hn>
                  (ReLU; Tanh, SiLU, ELU(alpha=1) -> MADEWith<act::tanh|silu|elu, ...>)
      order       any permutation of arange(D) (randperm=True too), passes = D
      context     C features (the same in every transform) -> bind_t<Conditional<C, Flow<...>>, D, S>,
                  MADE<h...>::with_degrees<hidden_degrees<u mod D ...>...>::with_linear_context
    zuko.flows.NICE / zuko.flows.RealNVP, or any zuko.lazy.Flow of GeneralCouplingTransform
    (mixed with the above too) with
      univariate  MonotonicAffineTransform or MonotonicRQSTransform, as above
      hyper       zuko.nn.MLP(hidden h1..hn, normalize=False) over [x_a; c] ->
                  flowtmpl::MLP<h1, ..., hn> (MLPWith<act::tanh|silu|elu, ...>), the
                  context as extra first-layer inputs
      mask        any (randmask=True too) -> mask::bits<...> (zuko's constant features 0)
    base  DiagNormal(0, 1) -> StandardNormal; DiagNormal(loc, scale) -> DiagonalNormal
          (mean = loc, log_scale = log(scale))

The correspondence:
  * zuko's transform list t0, t1, ..., tn-1 maps data x to noise z, t0 first; flowtmpl's
    Flow<Base, Chain<...>> forward maps noise to data. The chain is the list reversed.
  * A zuko MaskedAutoregressiveTransform computes z_i = tau(x_i; phi_i(x)) with phi from
    a masked network of its own input: flowtmpl's InverseAutoregressive forward as a
    function, so in the flow it is Inverse<InverseAutoregressive<Transformer, MADE<...>>>.
  * zuko's MaskedMLP with order arange(D) has flowtmpl MADE's sequential degrees (hidden
    unit u of every layer: degree u mod (D-1) + 1; hidden masks deg_out >= deg_in, the
    output mask strict) and the same feature-major outputs (feature i owns outputs
    [i P, (i+1) P)). The exporter rebuilds those masks and refuses a network whose mask
    buffers differ.
  * With a context of C features zuko's first layer reads [x; c]; its hidden unit u has
    degree u mod D (degree 0: the context alone), which the type spells out with
    with_degrees, and with_linear_context adds the c columns to the first layer's sum:
    they are written as made.context_layer.weight, with a zero made.context_layer.bias.
  * A GeneralCouplingTransform computes z_b = tau(x_b; phi(x_a [, c])), x_a copied:
    flowtmpl's Coupling forward as a function, so Inverse<Coupling<Transformer, MLP<...>,
    mask::bits<...>>> with mask bit i = 1 where zuko's mask is False. The MLP's layers
    are written as transform.<k>.conditioner.<l>.{weight, bias}, as zuko stores them; the
    outputs are zuko's per-feature blocks of P, flowtmpl's layout.
  * With any other order the network is the same one on the permuted input y_k =
    x_sigma(k), sigma = argsort(order): the layer becomes Permute<Indices<sigma...>>,
    Inverse<InverseAutoregressive<...>>, Inverse<Permute<Indices<sigma...>>> (for the
    flip Permute<Reverse> both times) with the first layer's weight columns and the last
    layer's blocks of P rows put in sigma's order. A permutation next to its inverse
    cancels and is left out.
  * Weights are written masked (mask * weight), [out][in] row-major; names are the dotted
    paths that flowtmpl::for_each_parameter_tensor gives (transform.<k>.made.
    initial_layer.weight, ...blocks.<b>.linear.*, ...final_layer.*, base.mean, ...).
  * The header's metadata: format "flowtmpl", format_version "1", dtype F64 or F32, spec
    (flowtmpl::spec_text of the type, built here by the same rules) and cpp_type.

Anything else stops the export with an ExportError that names the module and what is
missing.
"""

import argparse
import decimal
import functools
import inspect
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

import zuko
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.flows.coupling import GeneralCouplingTransform
from zuko.lazy import Flow, LazyComposedTransform, UnconditionalDistribution
from zuko.nn import MaskedLinear, MaskedMLP
from zuko.transforms import MonotonicAffineTransform, MonotonicRQSTransform

NS = "flowtmpl::"

# zuko's activation modules that flowtmpl has: (flowtmpl name, C++ activation type)
ACTIVATIONS = {
    nn.ReLU: ("relu", None),
    nn.Tanh: ("tanh", "act::tanh"),
    nn.SiLU: ("silu", "act::silu"),
    nn.ELU: ("elu", "act::elu"),
}

DTYPES = {"float64": ("double", "F64", np.float64), "float32": ("float", "F32", np.float32)}


class ExportError(Exception):
    """A zuko module that this exporter cannot translate."""


def number_text(v):
    """v as C++'s std::to_chars(double) writes it: the shortest digits that read back to
    v, in fixed or scientific notation, whichever is shorter (fixed on a tie)."""
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    d = decimal.Decimal(repr(float(v))).normalize()
    sign, digits, exp = d.as_tuple()
    ds = "".join(map(str, digits))
    n = len(ds)
    point = n + exp  # the decimal point sits after `point` digits
    if exp >= 0:
        fixed = ds + "0" * exp
    elif point > 0:
        fixed = ds[:point] + "." + ds[point:]
    else:
        fixed = "0." + "0" * (-point) + ds
    e = point - 1
    sci = ds[0] + ("." + ds[1:] if n > 1 else "") + "e" + ("-" if e < 0 else "+") + "%02d" % abs(e)
    text = fixed if len(fixed) <= len(sci) else sci
    return ("-" if sign else "") + text


def cpp_double(v):
    """A C++ literal of the double v (Python's repr reads back exactly)."""
    return repr(float(v))


def flow_name(flow):
    cls = type(flow)
    if cls.__module__.startswith("zuko.flows"):
        return "zuko.flows." + cls.__qualname__
    return cls.__module__ + "." + cls.__qualname__


def default_of(fn, name):
    return inspect.signature(fn).parameters[name].default


def translate_univariate(t, where):
    """The flowtmpl transformer of a zuko univariate constructor: (C++ type, spec text,
    parameters per feature)."""
    u, kw = t.univariate, {}
    if isinstance(u, functools.partial):
        if u.args:
            raise ExportError(f"{where}: univariate {u!r} has positional arguments; only keyword ones are read")
        u, kw = u.func, dict(u.keywords)
    shapes = [tuple(int(n) for n in s) for s in t.shapes]
    if u is MonotonicAffineTransform:
        slope = float(kw.pop("slope", default_of(u, "slope")))
        if kw:
            raise ExportError(f"{where}: MonotonicAffineTransform options {sorted(kw)} are not supported")
        if shapes != [(), ()]:
            raise ExportError(f"{where}: MonotonicAffineTransform with parameter shapes {shapes}, expected [(), ()]")
        if not 0 < slope < 1:
            raise ExportError(f"{where}: MonotonicAffineTransform slope={slope} is outside (0, 1)")
        targs = "" if slope == 1e-3 else cpp_double(slope)
        return f"{NS}ZukoAffine<{targs}>", f"ZukoAffine[slope={number_text(slope)},P=2]", 2
    if u is MonotonicRQSTransform:
        slope = float(kw.pop("slope", default_of(u, "slope")))
        bound = float(kw.pop("bound", default_of(u, "bound")))
        if kw:
            raise ExportError(f"{where}: MonotonicRQSTransform options {sorted(kw)} are not supported")
        if len(shapes) != 3 or any(len(s) != 1 for s in shapes):
            raise ExportError(f"{where}: MonotonicRQSTransform with parameter shapes {shapes}, expected [(K,), (K,), (K-1,)]")
        k = shapes[0][0]
        if shapes != [(k,), (k,), (k - 1,)] or k < 2:
            raise ExportError(f"{where}: MonotonicRQSTransform with parameter shapes {shapes}, expected [(K,), (K,), (K-1,)], K >= 2")
        if not 0 < slope < 1 or not bound > 0:
            raise ExportError(f"{where}: MonotonicRQSTransform bound={bound}, slope={slope}: need bound > 0, 0 < slope < 1")
        targs = [str(k)]
        if bound != 5.0 or slope != 1e-3:
            targs.append(cpp_double(bound))
        if slope != 1e-3:
            targs.append(cpp_double(slope))
        spec = f"ZukoSpline[K={k},B={number_text(bound)},slope={number_text(slope)},P={3 * k - 1}]"
        return f"{NS}ZukoSpline<{', '.join(targs)}>", spec, 3 * k - 1
    # a class or function by its name; a module instance (NAF's MNN) by its class's name
    name = getattr(u, "__qualname__", None) or type(u).__name__
    raise ExportError(f"{where}: univariate {name} has no flowtmpl transformer in this exporter "
                      "(MonotonicAffineTransform and MonotonicRQSTransform have)")


def hidden_degrees(d, width, context):
    """The degrees of one hidden layer of zuko's MaskedMLP, in flowtmpl's terms: without a
    context those of flowtmpl MADE's sequential assignment (u mod max(1, D-1) + 1 for
    D >= 2); with one, u mod D (zuko's distinct mask rows, sorted, then taken in turn: the
    row that reads no input but the context has degree 0)."""
    if context:
        return np.arange(width) % d
    return np.arange(width) % max(1, d - 1) + 1


def made_masks(d, widths, p, context):
    """The masks of flowtmpl's MADE for those degrees (inputs 1..D, output i*P + j of degree
    i + 1): one [out][in] boolean array per linear map of zuko's network; the first one
    has the context columns after the inputs, all allowed."""
    deg_in = np.arange(1, d + 1)
    masks = []
    for l, h in enumerate(widths):
        deg = hidden_degrees(d, h, context)
        m = deg[:, None] >= deg_in[None, :]
        if l == 0 and context:
            m = np.concatenate([m, np.ones((h, context), dtype=bool)], axis=1)
        masks.append(m)
        deg_in = deg
    deg_out = np.repeat(np.arange(1, d + 1), p)
    masks.append(deg_out[:, None] > deg_in[None, :])
    return masks


def sequential_layers(hyper, where, is_linear, net, unknown):
    """The linear layers of a zuko network made of linear layers and one activation between
    them (MaskedMLP, MLP): (linears, flowtmpl activation name, C++ activation type or None
    for relu). is_linear(m) picks the linear layers; unknown(i, m) is the ExportError for
    a module that is neither; net names flowtmpl's network in the messages."""
    linears, acts = [], []
    for i, m in enumerate(hyper):
        if is_linear(m):
            linears.append(m)
        elif type(m) in ACTIVATIONS:
            if isinstance(m, nn.ELU) and m.alpha != 1.0:
                raise ExportError(f"{where}: hyper.{i} is ELU(alpha={m.alpha}); flowtmpl's act::elu has alpha = 1")
            acts.append(type(m))
        else:
            raise unknown(i, m)
    if len(linears) < 2:
        raise ExportError(f"{where}: hyper has no hidden layer (hidden_features=()); flowtmpl's {net} needs at least one")
    if len(acts) != len(linears) - 1 or len(set(acts)) != 1:
        raise ExportError(f"{where}: hyper's activations {[a.__name__ for a in acts]} are not one activation "
                          "between every two linear layers")
    for i, l in enumerate(linears):
        if l.bias is None:
            raise ExportError(f"{where}: hyper linear {i} has no bias; flowtmpl's {net} has one on every layer")
    return (linears, *ACTIVATIONS[acts[0]])


def translate_made(t, d, p, where, np_dtype, context):
    """The MADE of a MaskedAutoregressiveTransform: (C++ spec, spec text, list of
    (name, array) in flowtmpl's walk order, the order sigma: zuko's network is flowtmpl's
    on the inputs x_sigma(0), x_sigma(1), ...)."""
    hyper = t.hyper
    if not isinstance(hyper, MaskedMLP):
        raise ExportError(f"{where}: hyper is {type(hyper).__name__}, not a zuko MaskedMLP")

    def unknown(i, m):
        if type(m).__name__ == "Residual":
            return ExportError(f"{where}: hyper.{i} is a residual block (residual=True); flowtmpl's ResidualMADE "
                               "is nflows's, not zuko's: not supported")
        return ExportError(f"{where}: hyper.{i} is {type(m).__name__}, an activation flowtmpl does not have "
                           "(it has ReLU, Tanh, SiLU, ELU(alpha=1))")
    linears, act_name, act_type = sequential_layers(hyper, where, lambda m: isinstance(m, MaskedLinear), "MADE", unknown)
    widths = [int(l.out_features) for l in linears[:-1]]
    if int(linears[-1].out_features) != d * p:
        raise ExportError(f"{where}: hyper has {int(linears[-1].out_features)} outputs, expected {d} x {p}")

    order = [int(v) for v in t.order.tolist()]
    if t.passes != d:
        raise ExportError(f"{where}: passes={t.passes}, not fully autoregressive ({d}); not supported")
    if sorted(order) != list(range(d)):
        raise ExportError(f"{where}: order {order} is not a permutation of 0..{d - 1}")
    sigma = [int(v) for v in np.argsort(order)]  # sigma[k]: the feature zuko puts k-th
    weights, biases, masks = [], [], []
    for l in linears:
        masks.append(l.mask.detach().cpu().numpy().astype(bool))
        weights.append(l.weight.detach().cpu().to(torch.float64).numpy().copy())
        biases.append(l.bias.detach().cpu().to(torch.float64).numpy().copy())
    # the same network on the inputs in zuko's order: first-layer columns (not the
    # context's) and output blocks permuted by sigma
    cols = np.concatenate([np.array(sigma), np.arange(d, d + context)]).astype(int)
    masks[0], weights[0] = masks[0][:, cols], weights[0][:, cols]
    rows = (np.array(sigma)[:, None] * p + np.arange(p)[None, :]).reshape(-1)
    masks[-1], weights[-1], biases[-1] = masks[-1][rows], weights[-1][rows], biases[-1][rows]
    expected = made_masks(d, widths, p, context)
    for i, (got, want) in enumerate(zip(masks, expected)):
        if got.shape != want.shape or not np.array_equal(got, want):
            bad = np.argwhere(got != want)[:3].tolist() if got.shape == want.shape else "shape"
            raise ExportError(f"{where}: hyper linear {i}'s mask is not flowtmpl MADE's (first differences at "
                              f"[out, in] {bad}, order {order})")

    names = ["initial_layer"] + [f"blocks.{b}.linear" for b in range(len(widths) - 1)] + ["final_layer"]
    tensors = []
    for l, (name, w, b, m) in enumerate(zip(names, weights, biases, masks)):
        wm = w * m
        tensors.append((f"made.{name}.weight", np.ascontiguousarray(wm[:, :wm.shape[1] - context] if l == 0 else wm,
                                                                    dtype=np_dtype)))
        tensors.append((f"made.{name}.bias", np.ascontiguousarray(b, dtype=np_dtype)))
        if l == 0 and context:  # zuko's one first layer over [x; c]: the c columns, no bias of their own
            tensors.append(("made.context_layer.weight", np.ascontiguousarray(wm[:, d:], dtype=np_dtype)))
            tensors.append(("made.context_layer.bias", np.zeros(w.shape[0], dtype=np_dtype)))
    hidden = ", ".join(map(str, widths))
    cpp = f"{NS}MADE<{hidden}>" if act_type is None else f"{NS}MADEWith<{NS}{act_type}, {hidden}>"
    extra = f"ctx={context}, act={act_name}" if context else f"act={act_name}"
    if context:  # zuko's degrees with a context, and its linear reading of the context
        lists = [hidden_degrees(d, h, context) for h in widths]
        cpp += ("::with_degrees<" + ", ".join(f"{NS}hidden_degrees<" + ", ".join(map(str, g)) + ">" for g in lists)
                + ">::with_linear_context")
        extra += ", degrees=" + "/".join(".".join(map(str, g)) for g in lists) + ", ctx_form=linear"
    spec = f"MADE<{','.join(map(str, widths))}>[{d}->{d * p}]({extra})"
    return cpp, spec, tensors, sigma


def is_plain_linear(m):
    """zuko's Linear (zuko.nn.Linear, what its MLP is made of) or torch's."""
    return type(m) in (zuko.nn.Linear, nn.Linear)


def translate_mlp(t, n_in, n_out, context, where, np_dtype):
    """The hyper network of a GeneralCouplingTransform, a zuko.nn.MLP over [x_a; c]: flowtmpl's
    MLP with the context as extra first-layer inputs, in the same order. (C++ spec, spec
    text, list of (name, array))."""
    hyper = t.hyper
    if not isinstance(hyper, nn.Sequential):
        raise ExportError(f"{where}: hyper is {type(hyper).__name__}, not a zuko MLP")

    def unknown(i, m):
        return ExportError(f"{where}: hyper.{i} is {type(m).__name__}; flowtmpl's MLP has linear layers with one "
                           "activation (ReLU, Tanh, SiLU, ELU(alpha=1)) between them (no normalize=True LayerNorm)")
    linears, act_name, act_type = sequential_layers(hyper, where, is_plain_linear, "MLP", unknown)
    for i, l in enumerate(linears):
        if l.weight.dim() != 2:
            raise ExportError(f"{where}: hyper linear {i} is a stack of linear maps (stack=...); not supported")
    widths = [int(l.out_features) for l in linears[:-1]]
    if int(linears[0].in_features) != n_in + context or int(linears[-1].out_features) != n_out:
        raise ExportError(f"{where}: hyper maps {int(linears[0].in_features)} -> {int(linears[-1].out_features)}, "
                          f"expected {n_in + context} -> {n_out}")
    tensors = []
    for i, l in enumerate(linears):
        tensors.append((f"conditioner.{i}.weight", l.weight.detach().cpu().to(torch.float64).numpy().astype(np_dtype)))
        tensors.append((f"conditioner.{i}.bias", l.bias.detach().cpu().to(torch.float64).numpy().astype(np_dtype)))
    hidden = ", ".join(map(str, widths))
    cpp = f"{NS}MLP<{hidden}>" if act_type is None else f"{NS}MLPWith<{NS}{act_type}, {hidden}>"
    extra = f"ctx={context}, act={act_name}" if context else f"act={act_name}"
    spec = f"MLP<{','.join(map(str, widths))}>[{n_in}->{n_out}]({extra})"
    return cpp, spec, tensors


def translate_coupling(t, where, np_dtype):
    """A GeneralCouplingTransform (zuko's NICE and RealNVP): (layer, features, context).
    zuko's mask marks the constant features x_a (True); flowtmpl's mask::bits marks the
    transformed ones (1). Both give the net x_a in index order and transformed feature i
    (in index order) the i-th block of P outputs, in the univariate's parameter order."""
    mask = [bool(v) for v in t.mask.detach().cpu().tolist()]
    d = len(mask)
    n_a = sum(mask)
    if n_a == 0 or n_a == d:
        raise ExportError(f"{where}: the mask {[int(m) for m in mask]} keeps {n_a} of {d} features constant; a "
                          "coupling needs both kinds")
    first = next((m for m in t.hyper if is_plain_linear(m)), None) if isinstance(t.hyper, nn.Sequential) else None
    c = int(first.in_features) - n_a if first is not None else 0
    t_cpp, t_spec, p = translate_univariate(t, where)
    m_cpp, m_spec, tensors = translate_mlp(t, n_a, (d - n_a) * p, c, where, np_dtype)
    bits = [0 if m else 1 for m in mask]
    layer = (f"{NS}Inverse<{NS}Coupling<{t_cpp}, {m_cpp}, {NS}mask::bits<{', '.join(map(str, bits))}>>>",
             f"Inverse<Coupling<{t_spec}, {m_spec}, mask={''.join(map(str, bits))}>>", tensors)
    return layer, d, c


def permutation_layer(sigma, inverse):
    """Permute<...> with y_k = x_sigma(k) (Permute<Reverse> when sigma reverses), or its
    Inverse<>: (C++ type, spec text, None). A layer's text ends with its order, so two
    layers cancel when one is the other's inverse (see cancels)."""
    d = len(sigma)
    if sigma == list(range(d - 1, -1, -1)):
        cpp, spec = f"{NS}Permute<{NS}Reverse>", "Permute[" + ",".join(map(str, sigma)) + "]"
        return cpp, spec, None  # its own inverse
    cpp = f"{NS}Permute<{NS}Indices<" + ", ".join(map(str, sigma)) + ">>"
    spec = "Permute[" + ",".join(map(str, sigma)) + "]"
    if inverse:
        return f"{NS}Inverse<{cpp}>", f"Inverse<{spec}>", None
    return cpp, spec, None


def cancels(a, b):
    """Whether permutation layer b undoes permutation layer a (same order, one of them the
    Inverse<> of the other, or both the self-inverse reversal)."""
    if a[0] == b[0]:
        return "Reverse" in a[0]
    return a[0] == f"{NS}Inverse<{b[0]}>" or b[0] == f"{NS}Inverse<{a[0]}>"


def translate_base(flow, name, d, np_dtype):
    base = flow.base
    f = getattr(base, "f", None)
    if not isinstance(base, UnconditionalDistribution) or f is not zuko.distributions.DiagNormal:
        raise ExportError(f"{name} base: {type(base).__name__}({getattr(f, '__name__', f)}) is not supported "
                          "(only an unconditional DiagNormal)")
    try:
        bound = inspect.signature(f).bind(*base.args, **base.kwargs)
    except TypeError as e:
        raise ExportError(f"{name} base: DiagNormal's arguments do not bind ({e})")
    bound.apply_defaults()
    loc, scale, ndims = bound.arguments["loc"], bound.arguments["scale"], bound.arguments["ndims"]
    if not (torch.is_tensor(loc) and torch.is_tensor(scale)) or ndims != 1:
        raise ExportError(f"{name} base: DiagNormal needs tensor loc and scale and ndims=1")
    loc = loc.detach().cpu().to(torch.float64).numpy().reshape(-1)
    scale = scale.detach().cpu().to(torch.float64).numpy().reshape(-1)
    if loc.shape != (d,) or scale.shape != (d,):
        raise ExportError(f"{name} base: loc {loc.shape} and scale {scale.shape}, expected ({d},)")
    if np.all(loc == 0) and np.all(scale == 1):
        return f"{NS}StandardNormal", "StandardNormal", []
    if not np.all(scale > 0):
        raise ExportError(f"{name} base: a scale is not positive")
    return (f"{NS}DiagonalNormal", "DiagonalNormal",
            [("base.mean", loc.astype(np_dtype)), ("base.log_scale", np.log(scale).astype(np_dtype))])


def translate(flow, dtype="float64"):
    """(C++ type, spec text, [(name, numpy array)] in flowtmpl's walk order) of a zuko
    flow, or of an nflows flow (handed to nflows_export.py next to this file)."""
    if dtype not in DTYPES:
        raise ExportError(f"dtype {dtype!r}: use float64 or float32")
    if type(flow).__module__.startswith("nflows."):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import nflows_export
        return nflows_export.translate(flow, dtype)
    scalar, _, np_dtype = DTYPES[dtype]
    if not isinstance(flow, Flow):
        raise ExportError(f"{type(flow).__module__}.{type(flow).__qualname__}: not a zuko.lazy.Flow")
    name = flow_name(flow)
    ts = flow.transform.transforms if isinstance(flow.transform, LazyComposedTransform) else [flow.transform]
    if len(ts) == 0:
        raise ExportError(f"{name}: no transforms")

    d = None
    context = None
    zuko_layers = []  # per zuko transform: list of (C++ layer, spec, tensors or None)
    for i, t in enumerate(ts):
        where = f"{name} transform.{i}"
        if isinstance(t, GeneralCouplingTransform):
            layer, td, c = translate_coupling(t, where, np_dtype)
            if d is None:
                d, context = td, c
            elif td != d:
                raise ExportError(f"{where}: {td} features, transform.0 has {d}")
            elif c != context:
                raise ExportError(f"{where}: context={c}, transform.0 has context={context}")
            zuko_layers.append([layer])
            continue
        if not isinstance(t, MaskedAutoregressiveTransform):
            raise ExportError(f"{where}: {type(t).__name__} has no flowtmpl translation in this exporter "
                              "(MaskedAutoregressiveTransform and GeneralCouplingTransform have)")
        if t.order is None:
            raise ExportError(f"{where}: built from an adjacency matrix (no order); only orders arange and "
                              "flip(arange) are supported")
        td = int(t.order.numel())
        if td < 2:
            raise ExportError(f"{where}: {td} feature(s); the exporter needs features >= 2")
        if d is None:
            d = td
        elif td != d:
            raise ExportError(f"{where}: {td} features, transform.0 has {d}")
        first = next((m for m in t.hyper if isinstance(m, nn.Linear)), None) if isinstance(t.hyper, nn.Sequential) else None
        c = int(first.in_features) - d if first is not None else 0
        if context is None:
            context = c
        elif c != context:
            raise ExportError(f"{where}: context={c}, transform.0 has context={context}")
        t_cpp, t_spec, p = translate_univariate(t, where)
        m_cpp, m_spec, tensors, sigma = translate_made(t, d, p, where, np_dtype, c)
        layer = (f"{NS}Inverse<{NS}InverseAutoregressive<{t_cpp}, {m_cpp}>>",
                 f"Inverse<InverseAutoregressive<{t_spec}, {m_spec}>>", tensors)
        group = [layer]
        if sigma != list(range(d)):  # zuko's layer is P^-1 T P, P the permutation y_k = x_sigma(k)
            group = [permutation_layer(sigma, False), layer, permutation_layer(sigma, True)]
        zuko_layers.append(group)

    chain = []
    for group in reversed(zuko_layers):  # flowtmpl's forward runs zuko's list backwards
        for layer in group:
            if layer[2] is None and chain and chain[-1][2] is None and cancels(chain[-1], layer):
                chain.pop()  # a permutation, then its inverse: the identity
            else:
                chain.append(layer)
    if not chain:
        raise ExportError(f"{name}: nothing is left after the permutations cancel")

    base_cpp, base_spec, tensors = translate_base(flow, name, d, np_dtype)
    for k, (_, _, ts_k) in enumerate(chain):
        for n, a in ts_k or []:
            tensors.append((f"transform.{k}.{n}", a))
    flow_cpp = f"{NS}Flow<{base_cpp}, {NS}compose<" + ", ".join(c for c, _, _ in chain) + ">>"
    if context:
        flow_cpp = f"{NS}Conditional<{context}, {flow_cpp}>"
    cpp = f"{NS}bind_t<{flow_cpp}, {d}, {scalar}>"
    spec = (f"Flow<{base_spec}, Chain<" + ", ".join(s for _, s, _ in chain)
            + f">> dim={d} scalar={scalar}" + (f" context={context}" if context else ""))
    for n, a in tensors:
        if not np.all(np.isfinite(a)):
            raise ExportError(f"{name}: tensor {n} has a non-finite value in {dtype}")
    return cpp, spec, tensors


def write_safetensors(path, tensors, metadata, dtype_code):
    """The safetensors file: 8-byte little-endian header length, the JSON header (padded
    with spaces to a multiple of 8), the tensors' little-endian bytes in order."""
    header = {"__metadata__": metadata}
    offset, blobs = 0, []
    for name, a in tensors:
        blob = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype_code, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def export(flow, path, dtype="float64"):
    """Writes flow's parameters to path for flowtmpl::load; returns the C++ type to load
    them into. Raises ExportError for anything it cannot translate."""
    cpp, spec, tensors = translate(flow, dtype)
    _, code, _ = DTYPES[dtype]
    metadata = {"format": "flowtmpl", "format_version": "1", "spec": spec, "dtype": code, "cpp_type": cpp}
    write_safetensors(path, tensors, metadata, code)
    return cpp


def main(argv=None):
    ap = argparse.ArgumentParser(description="Export a zuko or nflows flow (torch.save(flow)) for flowtmpl::load.")
    ap.add_argument("model", help="a file written by torch.save(flow)")
    ap.add_argument("out", help="the safetensors file to write")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="float64", help="the flowtmpl flow's scalar")
    args = ap.parse_args(argv)
    flow = torch.load(args.model, map_location="cpu", weights_only=False)
    try:
        cpp = export(flow, args.out, args.dtype)
    except ExportError as e:
        print(f"flowtmpl_export: {e}", file=sys.stderr)
        return 1
    print(cpp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
