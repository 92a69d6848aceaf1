"""Export a trained nflows flow to a safetensors file that flowtmpl::load reads.

Usage:
    python tools/export/nflows_export.py model.pt out.safetensors [--dtype float64|float32]
                                         [--torch-knots]

model.pt is a whole flow saved with torch.save(flow) (loading it runs pickle: load only
files you trust). As a module: export(flow, path, dtype="float64", torch_knots=False)
writes the file and returns the C++ type to load it into; translate(flow, dtype,
torch_knots) returns the type, the spec text and the tensors without writing anything.
torch_knots gives every spline spline_options{.knots = spline_knots::as_torch_cpu}: the
knots rounded as torch computes them on the CPU (nflows's knots to the bit; without it
they agree to an ulp or so). The file format, the number text of the
spec and ExportError are flowtmpl_export.py's (the zuko exporter next to this file).

What is translated (nflows 0.14, nflows.flows.base.Flow and its subclasses such as
MaskedAutoregressiveFlow, with or without a context):
    transforms  CompositeTransform (nested ones flattened), InverseTransform,
                MaskedAffineAutoregressiveTransform,
                MaskedPiecewiseRationalQuadraticAutoregressiveTransform,
                AffineCouplingTransform, AdditiveCouplingTransform,
                PiecewiseRationalQuadraticCouplingTransform,
                ReversePermutation, RandomPermutation, Permutation,
                ActNorm (initialised), LULinear (eps 1e-3), IdentityTransform (left out)
    splines     tails="linear", tail_bound B -> flowtmpl::Spline<K, B, options>
                tails=None (on [0, 1])       -> flowtmpl::BoundedSpline<K[, 0.0, 1.0,
                                                options]>
                options: min_bin_width, min_bin_height, min_derivative where they are
                not nflows's defaults (1e-3); width_divisor = height_divisor =
                sqrt(net.hidden_features) where nflows divides by it (a coupling's
                transform_net with a hidden_features attribute, else hidden_channels;
                an autoregressive layer's MADE, which in nflows 0.14 has neither, so
                never there)
    coupling    transform_net = nflows.nn.nets.MLP (or a subclass that adds no
    nets        parameters and computes MLP's function: nflows 0.14's couplings call
                transform_net(inputs, context), which MLP.forward does not take, so a
                model trained with nflows has such a subclass; the exporter calls the
                net on probe inputs and refuses one whose output is not MLP's of its
                weights) -> flowtmpl::MLP<h...> / MLPWith<act::tanh | silu | elu, h...>
                (relu, tanh, silu, elu(alpha=1); activate_output=False);
                transform_net = nflows.nn.nets.ResidualNet (nflows's default, and
                SimpleRealNVP's; use_batch_norm=False; a subclass must compute its
                function, probed as for MLP) -> flowtmpl::ResidualNet<H, num_blocks> /
                ResidualNetWith<act::..., H, num_blocks>; with context_features = C
                the coupling reads the flow's context (its first layer and every
                block's gate)
    MADE        use_residual_blocks=True   -> flowtmpl::ResidualMADE<H, num_blocks>
                use_residual_blocks=False  -> flowtmpl::MADE<H, ..., H> (num_blocks + 1)
                random_mask=True           -> flowtmpl::MADE<H, ...>::with_degrees<
                                              hidden_degrees<...>, ...> (each hidden
                                              layer's `degrees` buffer)
                activation relu / tanh / silu / elu(alpha=1) (functions or modules);
                the others are MADEWith<act::tanh | silu | elu, ...> and
                ResidualMADEWith<act::..., H, num_blocks>
                dropout: inactive in evaluation, which is what is exported
    base        StandardNormal([D]) -> flowtmpl::StandardNormal
    context     the MADEs' context layers and the ResidualNets' context_features = C
                -> the flow is flowtmpl::bind_t<flowtmpl::Conditional<C,
                flowtmpl::Flow<...>>, D, S>; every MADE and coupling net of such a flow
                must read the context (nflows itself fails on a MADE that does not when
                the flow is given a context; flowtmpl gives every layer the same one)

The correspondence:
  * nflows's transform list T0, T1, ..., Tn-1 maps data x to noise z, T0 first
    (Flow.log_prob runs it forward); flowtmpl's Flow<Base, Chain<...>> forward maps noise
    to data. The chain is the list reversed, and each nflows transform T is the flowtmpl
    layer L whose inverse is T.forward:
      MaskedAffineAutoregressiveTransform  Inverse<InverseAutoregressive<SoftplusAffine, M>>
      MaskedPiecewiseRationalQuadratic-    Inverse<InverseAutoregressive<Spline<K, B, ...>
        AutoregressiveTransform            | BoundedSpline<K, ...>, M>>
      AffineCouplingTransform              Inverse<Coupling<SigmoidAffine, Net, mask>>
      AdditiveCouplingTransform            Inverse<Coupling<Additive, Net, mask>>
      PiecewiseRationalQuadratic-          Inverse<Coupling<Spline<K, B, ...> |
        CouplingTransform                  BoundedSpline<K, ...>, Net, mask>>
                                           (Net: MLP<...> or ResidualNet<H, blocks>)
      ActNorm                              Inverse<ActNorm>      (log_scale, shift)
      LULinear                             Inverse<LUConvT<lu_diag::softplus>>
                                           (lower_entries, upper_entries,
                                           diag = unconstrained_upper_diag, bias)
      Permutation(p) / RandomPermutation   Inverse<Permute<Indices<p0, p1, ...>>>
                                           (nflows's forward is y_i = x_{p_i}, which is
                                           Permute<Indices<p...>>'s forward)
      ReversePermutation                   Permute<Reverse>
      InverseTransform(T)                  Inverse<L>, Inverse<Inverse<X>> written X
  * MaskedAffineAutoregressiveTransform: the MADE's output for feature i is the pair
    (unconstrained scale u, shift t) at outputs 2i, 2i + 1, scale = softplus(u) + 1e-3:
    SoftplusAffine's (u, t) in the same order, so the output rows are copied as they are.
  * The spline autoregressive layer: the MADE's outputs for feature i are its 3K - 1
    (linear tails) or 3K + 1 raw parameters, widths, heights, derivatives: flowtmpl's
    per-feature order, copied as they are.
  * Couplings: nflows's forward is y_b = tau(x_b; net(x_a)), x_a copied, which is
    flowtmpl's Coupling forward as a function, so the flow layer is Inverse<Coupling<...>>.
    nflows's mask (mask > 0: transformed) is mask::bits<...> (1: transformed), read from
    the layer's identity_features / transform_features buffers. Both libraries feed the
    net the identity features in index order and give transformed feature i (in index
    order) its parameters; the output layout: AffineCouplingTransform's net gives all
    shifts, then all unconstrained scales (scale = sigmoid(u + 2) + 1e-3), SigmoidAffine
    takes (u_i, t_i) per feature, so the output layer's rows (weight and bias) are written
    in the order u_0, t_0, u_1, t_1, ...; the additive coupling's shifts and the spline
    coupling's per-feature blocks (nflows reshapes to (batch, features, P)) are in
    flowtmpl's order already. An MLP's layers are named conditioner.0 (_input_layer),
    conditioner.1 ... (_hidden_layers), conditioner.<last> (_output_layer), [out][in]; a
    ResidualNet's keep nflows's names (conditioner.initial_layer.weight, conditioner.
    blocks.0.context_layer.bias, ..., conditioner.final_layer.weight).
  * The MADE's parameters keep nflows's state_dict names with `autoregressive_net.`
    written `made.`; weights are written masked (weight * mask), [out][in] row-major.
    The exporter rebuilds every mask from the degrees and refuses a network whose mask
    or degree buffers differ from what flowtmpl derives.
  * Names are the dotted paths of flowtmpl::for_each_parameter_tensor: transform.<k>.
    made.initial_layer.weight, transform.<k>.log_scale, transform.<k>.lower_entries, ...
    (Inverse<> adds nothing to a path).
  * The header's metadata: format "flowtmpl", format_version "1", dtype F64 or F32, spec
    (flowtmpl::spec_text of the type, built here by the same rules) and cpp_type.

Anything else stops the export with an ExportError that names the module and what is
missing; among them: ConvResidualNet and image-shaped (4-D) flows, a ResidualNet with
batch norm, apply_unconditional_transform=True, activate_output=True, a coupling with an
MLP in a flow that reads a context (nflows's MLP reads none), spline tails other than
"linear" and None, BatchNorm layers (SimpleRealNVP's batch_norm_between_layers=True),
and the piecewise linear, quadratic and cubic layers.
"""

import argparse
import copy
import functools
import math
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# number_text (C++ to_chars of a double) is re-exported for callers; these spec texts hold
# integers only.
from flowtmpl_export import DTYPES, ExportError, cpp_double, number_text, write_safetensors  # noqa: E402,F401

import nflows  # noqa: E402,F401
from nflows.distributions.normal import StandardNormal  # noqa: E402
from nflows.flows.base import Flow  # noqa: E402
from nflows.nn.nets import MLP as NflowsMLP  # noqa: E402
from nflows.nn.nets import ConvResidualNet, ResidualNet  # noqa: E402
from nflows.nn.nets.resnet import ResidualBlock  # noqa: E402
from nflows.transforms import made as made_module  # noqa: E402
from nflows.transforms.autoregressive import (MaskedAffineAutoregressiveTransform,  # noqa: E402
                                              MaskedPiecewiseRationalQuadraticAutoregressiveTransform)
from nflows.transforms.coupling import (AdditiveCouplingTransform, AffineCouplingTransform,  # noqa: E402
                                        PiecewiseRationalQuadraticCouplingTransform)
from nflows.transforms.base import CompositeTransform, InverseTransform  # noqa: E402
from nflows.transforms.lu import LULinear  # noqa: E402
from nflows.transforms.normalization import ActNorm  # noqa: E402
from nflows.transforms.permutations import Permutation, RandomPermutation, ReversePermutation  # noqa: E402
from nflows.transforms.standard import IdentityTransform  # noqa: E402

NS = "flowtmpl::"

# Reasons given for nflows transforms that have no translation here.
UNSUPPORTED = {
    "BatchNorm": "flowtmpl has no batch-norm layer (an nflows BatchNorm normalises with batch statistics in "
                 "training and running averages in evaluation)",
    "MaskedPiecewiseLinearAutoregressiveTransform": "flowtmpl has no piecewise-linear transformer",
    "MaskedPiecewiseQuadraticAutoregressiveTransform": "flowtmpl has no piecewise-quadratic transformer",
    "MaskedPiecewiseCubicAutoregressiveTransform": "flowtmpl has no piecewise-cubic transformer",
    "PiecewiseLinearCouplingTransform": "flowtmpl has no piecewise-linear transformer",
    "PiecewiseQuadraticCouplingTransform": "flowtmpl has no piecewise-quadratic transformer",
    "PiecewiseCubicCouplingTransform": "flowtmpl has no piecewise-cubic transformer",
    "CouplingTransform": "only AffineCouplingTransform, AdditiveCouplingTransform and "
                 "PiecewiseRationalQuadraticCouplingTransform are translated",
    "OneByOneConvolution": "an LULinear with a random permutation (and for 4D inputs) is not translated; "
                 "flowtmpl's LUConvT<lu_diag::softplus> is LULinear",
}


def flow_name(flow):
    cls = type(flow)
    return cls.__module__ + "." + cls.__qualname__


def tensor64(t):
    return t.detach().cpu().to(torch.float64).numpy().copy()


# ---- activations -----------------------------------------------------------------------

def activation_of(a, where):
    """(flowtmpl name, C++ activation type or None for relu) of an nflows activation: a
    function (F.relu, torch.tanh, ...) or a module (nn.ReLU(), ...)."""
    funcs = {
        F.relu: "relu", torch.relu: "relu",
        torch.tanh: "tanh", F.tanh: "tanh",
        F.silu: "silu",
        F.elu: "elu",
    }
    name = None
    if isinstance(a, functools.partial):
        kw = dict(a.keywords)
        if a.func is F.elu and not a.args and set(kw) <= {"alpha"}:
            if float(kw.get("alpha", 1.0)) != 1.0:
                raise ExportError(f"{where}: activation elu(alpha={kw['alpha']}); flowtmpl's act::elu has alpha = 1")
            name = "elu"
        else:
            label = getattr(a.func, "__name__", None) or type(a.func).__name__
            raise ExportError(f"{where}: activation partial({label}, {a.args}, {kw}) is not supported "
                              "(relu, tanh, silu, elu with alpha 1)")
    elif isinstance(a, nn.Module):
        if type(a) is nn.ReLU:
            name = "relu"
        elif type(a) is nn.Tanh:
            name = "tanh"
        elif type(a) is nn.SiLU:
            name = "silu"
        elif type(a) is nn.ELU:
            if a.alpha != 1.0:
                raise ExportError(f"{where}: activation ELU(alpha={a.alpha}); flowtmpl's act::elu has alpha = 1")
            name = "elu"
    else:
        for f, n in funcs.items():
            if a is f:
                name = n
                break
    if name is None:
        label = type(a).__name__ if isinstance(a, nn.Module) else getattr(a, "__name__", None) or repr(a)
        raise ExportError(f"{where}: activation {label} has no flowtmpl counterpart "
                          "(relu, tanh, silu, elu with alpha 1)")
    return name, (None if name == "relu" else f"act::{name}")


# ---- MADE ------------------------------------------------------------------------------

def sequential_degrees(h, d):
    """nflows's (and flowtmpl's) hidden degrees without random masks."""
    return np.arange(h) % max(1, d - 1) + min(1, d - 1)


def check_linear(lin, in_degrees, out_degrees, is_output, where):
    """The masked linear's degrees and mask buffers against the ones flowtmpl derives;
    returns the masked weight and the bias (float64)."""
    got_deg = lin.degrees.detach().cpu().numpy().astype(np.int64)
    if got_deg.shape != out_degrees.shape or not np.array_equal(got_deg, out_degrees):
        raise ExportError(f"{where}: degrees {got_deg.tolist()} are not the ones flowtmpl derives "
                          f"({out_degrees.tolist()})")
    mask = (out_degrees[:, None] > in_degrees[None, :]) if is_output else (out_degrees[:, None] >= in_degrees[None, :])
    got = lin.mask.detach().cpu().numpy()
    if got.shape != mask.shape or not np.array_equal(got != 0, mask):
        bad = np.argwhere((got != 0) != mask)[:3].tolist() if got.shape == mask.shape else f"shape {list(got.shape)}"
        raise ExportError(f"{where}: mask differs from the one its degrees give (first differences at [out, in] {bad})")
    if lin.bias is None:
        raise ExportError(f"{where}: no bias; flowtmpl's MADE has one on every layer")
    return tensor64(lin.weight) * mask, tensor64(lin.bias)


def plain_linear(lin, where):
    if lin.bias is None:
        raise ExportError(f"{where}: no bias; flowtmpl's MADE has one on every layer")
    return tensor64(lin.weight), tensor64(lin.bias)


def translate_made(made, d, p, c, where):
    """An nflows MADE: (C++ spec, spec text, [(name, float64 array)] in flowtmpl's walk
    order). c: the flow's context size (0: none); a MADE without a context layer in a flow
    with one gets zero context weights."""
    if type(made) is not made_module.MADE:
        raise ExportError(f"{where}: {type(made).__module__}.{type(made).__qualname__} is not "
                          "nflows.transforms.made.MADE")
    act_name, act_type = activation_of(made.activation, where)
    init = made.initial_layer
    h = int(init.out_features)
    if int(init.in_features) != d:
        raise ExportError(f"{where}.initial_layer: {int(init.in_features)} inputs, the flow has {d} features")
    residual = bool(made.use_residual_blocks)
    blocks = list(made.blocks)
    in_deg = np.arange(1, d + 1)

    has_ctx = hasattr(made, "context_layer")
    if c > 0 and not has_ctx:
        raise ExportError(f"{where}: no context layer (context_features=None) in a flow whose other layers read a "
                          f"context of {c}; nflows's MADE fails when given a context it has no layer for")
    if has_ctx:
        mc = int(made.context_layer.in_features)
        if mc != c:
            raise ExportError(f"{where}.context_layer: {mc} context features, the flow's other layers read {c}")

    def context_tensors(name, layer_where, layer, width):
        if c == 0:
            return []
        if int(layer.out_features) != width:
            raise ExportError(f"{layer_where}: {int(layer.out_features)} outputs, expected {width}")
        w, b = plain_linear(layer, layer_where)
        return [(f"{name}.weight", w), (f"{name}.bias", b)]

    tensors = []
    hidden_degrees = []
    widths = [h]
    deg0 = init.degrees.detach().cpu().numpy().astype(np.int64)
    if deg0.shape != (h,) or np.any(deg0 < 0) or np.any(deg0 > max(0, d - 1)):
        raise ExportError(f"{where}.initial_layer: degrees {deg0.tolist()} are outside [0, {d - 1}]")
    w, b = check_linear(init, in_deg, deg0, False, f"{where}.initial_layer")
    tensors += [("initial_layer.weight", w), ("initial_layer.bias", b)]
    tensors += context_tensors("context_layer", f"{where}.context_layer", made.context_layer if has_ctx else None, h)
    hidden_degrees.append(deg0)
    prev = deg0

    if residual:
        if not blocks:
            raise ExportError(f"{where}: a residual MADE with num_blocks=0; flowtmpl's ResidualMADE needs at least "
                              "one block")
        if not np.array_equal(deg0, sequential_degrees(h, d)):
            raise ExportError(f"{where}.initial_layer: a residual MADE whose degrees are not sequential")
        for k, blk in enumerate(blocks):
            bw = f"{where}.blocks.{k}"
            if type(blk) is not made_module.MaskedResidualBlock:
                raise ExportError(f"{bw}: {type(blk).__name__} in a residual MADE")
            if blk.use_batch_norm:
                raise ExportError(f"{bw}: use_batch_norm=True; flowtmpl's MADE has no batch norm")
            if activation_of(blk.activation, bw)[0] != act_name:
                raise ExportError(f"{bw}: activation differs from the MADE's")
            l0, l1 = blk.linear_layers
            for j, lin in enumerate((l0, l1)):
                if int(lin.in_features) != h or int(lin.out_features) != h:
                    raise ExportError(f"{bw}.linear_layers.{j}: {int(lin.in_features)} -> {int(lin.out_features)}, "
                                      f"expected {h} -> {h}")
            w0, b0 = check_linear(l0, prev, sequential_degrees(h, d), False, f"{bw}.linear_layers.0")
            w1, b1 = check_linear(l1, sequential_degrees(h, d), sequential_degrees(h, d), False,
                                  f"{bw}.linear_layers.1")
            blk_ctx = getattr(blk, "context_layer", None)
            if (blk_ctx is not None) != has_ctx:
                raise ExportError(f"{bw}: has {'a' if blk_ctx is not None else 'no'} context layer, the MADE's "
                                  f"initial layer {'has' if has_ctx else 'has none'}")
            tensors += [(f"blocks.{k}.linear_layers.0.weight", w0), (f"blocks.{k}.linear_layers.0.bias", b0)]
            tensors += context_tensors(f"blocks.{k}.context_layer", f"{bw}.context_layer", blk_ctx, h)
            tensors += [(f"blocks.{k}.linear_layers.1.weight", w1), (f"blocks.{k}.linear_layers.1.bias", b1)]
            prev = sequential_degrees(h, d)
    else:
        for k, blk in enumerate(blocks):
            bw = f"{where}.blocks.{k}"
            if type(blk) is not made_module.MaskedFeedforwardBlock:
                raise ExportError(f"{bw}: {type(blk).__name__} in a feedforward MADE")
            if blk.batch_norm is not None:
                raise ExportError(f"{bw}: use_batch_norm=True; flowtmpl's MADE has no batch norm")
            if activation_of(blk.activation, bw)[0] != act_name:
                raise ExportError(f"{bw}: activation differs from the MADE's")
            lin = blk.linear
            hw = int(lin.out_features)
            deg = lin.degrees.detach().cpu().numpy().astype(np.int64)
            if deg.shape != (hw,) or np.any(deg < 0) or np.any(deg > max(0, d - 1)):
                raise ExportError(f"{bw}.linear: degrees {deg.tolist()} are outside [0, {d - 1}]")
            w, b = check_linear(lin, prev, deg, False, f"{bw}.linear")
            tensors += [(f"blocks.{k}.linear.weight", w), (f"blocks.{k}.linear.bias", b)]
            widths.append(hw)
            hidden_degrees.append(deg)
            prev = deg

    fin = made.final_layer
    if int(fin.out_features) != d * p:
        raise ExportError(f"{where}.final_layer: {int(fin.out_features)} outputs, expected {d} x {p}")
    w, b = check_linear(fin, prev, np.repeat(np.arange(1, d + 1), p), True, f"{where}.final_layer")
    tensors += [("final_layer.weight", w), ("final_layer.bias", b)]

    extra = []
    if c > 0:
        extra.append(f"ctx={c}")
    extra.append(f"act={act_name}")
    if residual:
        nb = len(blocks)
        cpp = (f"{NS}ResidualMADE<{h}, {nb}>" if act_type is None
               else f"{NS}ResidualMADEWith<{NS}{act_type}, {h}, {nb}>")
        spec = f"ResidualMADE<{h},{nb}>[{d}->{d * p}]({', '.join(extra)})"
    else:
        hid = ", ".join(map(str, widths))
        cpp = f"{NS}MADE<{hid}>" if act_type is None else f"{NS}MADEWith<{NS}{act_type}, {hid}>"
        if not all(np.array_equal(g, sequential_degrees(len(g), d)) for g in hidden_degrees):
            lists = ", ".join(f"{NS}hidden_degrees<{', '.join(map(str, g.tolist()))}>" for g in hidden_degrees)
            cpp += f"::with_degrees<{lists}>"
            extra.append("degrees=" + "/".join(".".join(map(str, g.tolist())) for g in hidden_degrees))
        spec = f"MADE<{','.join(map(str, widths))}>[{d}->{d * p}]({', '.join(extra)})"
    return cpp, spec, [(f"made.{n}", a) for n, a in tensors]


# ---- splines ---------------------------------------------------------------------------

def spline_divisor(net, attributes, where):
    """nflows's divisor of a spline layer's raw widths and heights: sqrt(net.<attr>) for
    the first of `attributes` the network has (hasattr, as nflows asks), else 1."""
    for attr in attributes:
        if hasattr(net, attr):
            v = getattr(net, attr)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not v > 0:
                raise ExportError(f"{where}: {attr} = {v!r}; nflows divides the spline's widths and heights by its "
                                  "square root, which needs a positive number")
            return float(np.sqrt(v)), attr
    return 1.0, None


def translate_spline(t, net, attributes, torch_knots, where):
    """The flowtmpl transformer of an nflows rational-quadratic spline layer t (coupling or
    autoregressive) whose network is net: (C++ type, spec text, raw parameters per
    feature). attributes: the network attributes nflows divides by (in its order)."""
    k = int(t.num_bins)
    tails = t.tails
    mw, mh, md = float(t.min_bin_width), float(t.min_bin_height), float(t.min_derivative)
    if tails == "linear":
        bound = float(t.tail_bound)
        if k < 2:
            raise ExportError(f"{where}: num_bins={k}; flowtmpl's Spline with linear tails needs at least 2 bins")
        if not (math.isfinite(bound) and bound > 0):
            raise ExportError(f"{where}: tail_bound={bound}; flowtmpl's Spline needs a positive, finite bound")
        p = 3 * k - 1
    elif tails is None:
        if k < 1:
            raise ExportError(f"{where}: num_bins={k}; a spline needs at least one bin")
        p = 3 * k + 1
    else:
        raise ExportError(f"{where}: tails={tails!r}; flowtmpl has linear tails (Spline) and none (BoundedSpline "
                          "on [0, 1])")
    if not (mw > 0 and mh > 0 and md > 0):
        raise ExportError(f"{where}: min_bin_width={mw}, min_bin_height={mh}, min_derivative={md}; flowtmpl's "
                          "splines need all three positive")
    if not (mw * k < 1 and mh * k < 1):
        raise ExportError(f"{where}: num_bins x min_bin_width ({mw * k}) or x min_bin_height ({mh * k}) is not "
                          "below 1; flowtmpl's splines need both below 1")
    divisor, _ = spline_divisor(net, attributes, where)
    opts = []
    if mw != 1e-3:
        opts.append(f".min_bin_width = {cpp_double(mw)}")
    if mh != 1e-3:
        opts.append(f".min_bin_height = {cpp_double(mh)}")
    if md != 1e-3:
        opts.append(f".min_derivative = {cpp_double(md)}")
    if torch_knots:
        opts.append(f".knots = {NS}spline_knots::as_torch_cpu")
    if divisor != 1.0:
        opts.append(f".width_divisor = {cpp_double(divisor)}")
        opts.append(f".height_divisor = {cpp_double(divisor)}")
    fields = f"min_w={number_text(mw)},min_h={number_text(mh)},min_d={number_text(md)},id_init=0"
    if torch_knots:
        fields += ",torch_knots=1"
    if divisor != 1.0:
        fields += f",w_div={number_text(divisor)},h_div={number_text(divisor)}"
    options = f"{NS}spline_options{{{', '.join(opts)}}}" if opts else None
    if tails == "linear":
        cpp = f"{NS}Spline<{k}, {cpp_double(bound)}" + (f", {options}>" if options else ">")
        spec = f"Spline[K={k},B={number_text(bound)},P={p},{fields}]"
    else:
        cpp = f"{NS}BoundedSpline<{k}" + (f", 0.0, 1.0, {options}>" if options else ">")
        spec = f"BoundedSpline[K={k},lo=0,hi=1,P={p},{fields}]"
    return cpp, spec, p


# ---- nflows's MLP (a coupling's transform_net) -----------------------------------------

ACTIVATION_FUNCTIONS = {"relu": F.relu, "tanh": torch.tanh, "silu": F.silu, "elu": F.elu}


def translate_mlp(net, n_in, n_out, rows, where):
    """nflows.nn.nets.MLP as a coupling's conditioner: (C++ spec, spec text, tensors). rows:
    flowtmpl's output row r is nflows's output row rows[r] (the output layer's weight
    rows and bias entries are written in that order)."""
    cls = type(net)
    label = f"{cls.__module__}.{cls.__qualname__}"
    if isinstance(net, ConvResidualNet):
        raise ExportError(f"{where}: {label}: image couplings (ConvResidualNet, 4-D inputs) have no flowtmpl "
                          "translation")
    if not isinstance(net, NflowsMLP):
        raise ExportError(f"{where}: {label}: a coupling's transform_net must be nflows.nn.nets.MLP")
    if bool(net._activate_output):
        raise ExportError(f"{where}: activate_output=True; flowtmpl's MLP has no activation on its output")
    act_name, act_type = activation_of(net._activation, where)
    if tuple(net._in_shape) != (n_in,) or tuple(net._out_shape) != (n_out,):
        raise ExportError(f"{where}: in_shape {list(net._in_shape)} and out_shape {list(net._out_shape)}, expected "
                          f"[{n_in}] and [{n_out}]")
    linears = [net._input_layer] + list(net._hidden_layers) + [net._output_layer]
    names = {f"_input_layer.{n}" for n in ("weight", "bias")}
    names |= {f"_hidden_layers.{i}.{n}" for i in range(len(net._hidden_layers)) for n in ("weight", "bias")}
    names |= {f"_output_layer.{n}" for n in ("weight", "bias")}
    extra = sorted(set(net.state_dict()) - names)
    if extra:
        raise ExportError(f"{where}: {label} has parameters or buffers that nflows's MLP does not ({extra})")
    widths = [int(l.out_features) for l in linears[:-1]]
    prev = n_in
    tensors = []
    for i, lin in enumerate(linears):
        if type(lin) is not nn.Linear or lin.bias is None:
            raise ExportError(f"{where}: layer {i} is not an nn.Linear with a bias")
        if int(lin.in_features) != prev:
            raise ExportError(f"{where}: layer {i} has {int(lin.in_features)} inputs, expected {prev}")
        w, b = tensor64(lin.weight), tensor64(lin.bias)
        if i == len(linears) - 1:
            if int(lin.out_features) != n_out:
                raise ExportError(f"{where}._output_layer: {int(lin.out_features)} outputs, expected {n_out}")
            w, b = w[rows], b[rows]
        tensors += [(f"conditioner.{i}.weight", w), (f"conditioner.{i}.bias", b)]
        prev = int(lin.out_features)
    probe_mlp(net, linears, act_name, where)
    hid = ", ".join(map(str, widths))
    cpp = f"{NS}MLP<{hid}>" if act_type is None else f"{NS}MLPWith<{NS}{act_type}, {hid}>"
    spec = f"MLP<{','.join(map(str, widths))}>[{n_in}->{n_out}](act={act_name})"
    return cpp, spec, tensors


# ---- nflows's ResidualNet (a coupling's transform_net, nflows's default) ------------------

def translate_resnet(net, n_in, n_out, rows, c, where):
    """nflows.nn.nets.ResidualNet as a coupling's conditioner: (C++ spec, spec text,
    tensors). rows: as translate_mlp's. c: the flow's context size; the net must read
    exactly that context (context_features=c, or None when c = 0)."""
    label = f"{type(net).__module__}.{type(net).__qualname__}"
    nc = 0 if net.context_features is None else int(net.context_features)
    if nc != c:
        if c == 0:
            raise ExportError(f"{where}: {label} reads a context of {nc} features, and no other layer of the flow "
                              "does (flowtmpl binds a flow's context to every layer)")
        raise ExportError(f"{where}: {label} reads {'no context' if nc == 0 else f'a context of {nc} features'}; "
                          f"the flow's other layers read {c} (flowtmpl's Conditional<C> gives every layer the "
                          "same context)")
    h = int(net.hidden_features)
    blocks = list(net.blocks)
    acts = set()
    for k, blk in enumerate(blocks):
        bw = f"{where}.blocks.{k}"
        if type(blk) is not ResidualBlock:
            raise ExportError(f"{bw}: {type(blk).__qualname__}; flowtmpl's ResidualNet has nflows's ResidualBlock")
        if bool(blk.use_batch_norm):
            raise ExportError(f"{bw}: use_batch_norm=True; flowtmpl's ResidualNet has no batch norm")
        acts.add(activation_of(blk.activation, bw))
    if len(acts) > 1:
        raise ExportError(f"{where}: its blocks have different activations ({sorted(a for a, _ in acts)})")
    act_name, act_type = acts.pop() if acts else ("relu", None)  # without blocks nothing is activated
    init, fin = net.initial_layer, net.final_layer
    if int(init.in_features) != n_in + c or int(init.out_features) != h:
        raise ExportError(f"{where}.initial_layer: {int(init.in_features)} -> {int(init.out_features)}, expected "
                          f"{n_in + c} -> {h}")
    if int(fin.in_features) != h or int(fin.out_features) != n_out:
        raise ExportError(f"{where}.final_layer: {int(fin.in_features)} -> {int(fin.out_features)}, expected "
                          f"{h} -> {n_out}")
    tensors = []
    names = set()

    def linear(name, lin, n_from, n_to, order=None):
        if type(lin) is not nn.Linear or lin.bias is None:
            raise ExportError(f"{where}.{name}: not an nn.Linear with a bias")
        if int(lin.in_features) != n_from or int(lin.out_features) != n_to:
            raise ExportError(f"{where}.{name}: {int(lin.in_features)} -> {int(lin.out_features)}, expected "
                              f"{n_from} -> {n_to}")
        w, b = tensor64(lin.weight), tensor64(lin.bias)
        if order is not None:
            w, b = w[order], b[order]
        tensors.extend([(f"conditioner.{name}.weight", w), (f"conditioner.{name}.bias", b)])
        names.update({f"{name}.weight", f"{name}.bias"})

    linear("initial_layer", init, n_in + c, h)
    for k, blk in enumerate(blocks):
        if c > 0:
            linear(f"blocks.{k}.context_layer", blk.context_layer, c, h)
        for j in range(2):
            linear(f"blocks.{k}.linear_layers.{j}", blk.linear_layers[j], h, h)
    linear("final_layer", fin, h, n_out, rows)
    extra = sorted(set(net.state_dict()) - names)
    if extra:
        raise ExportError(f"{where}: {label} has parameters or buffers that flowtmpl's ResidualNet does not ({extra})")
    probe_resnet(net, act_name, c, where)
    cpp = (f"{NS}ResidualNet<{h}, {len(blocks)}>" if act_type is None
           else f"{NS}ResidualNetWith<{NS}{act_type}, {h}, {len(blocks)}>")
    ctx = f"ctx={c}, " if c > 0 else ""
    spec = f"ResidualNet<{h},{len(blocks)}>[{n_in}->{n_out}]({ctx}act={act_name})"
    return cpp, spec, tensors


def probe_resnet(net, act_name, c, where):
    """The network on fixed random inputs (and contexts) in float64 and eval mode, against
    flowtmpl's ResidualNet formula of its weights: a subclass that computes something
    else is refused."""
    g = torch.Generator().manual_seed(0)
    n_in = int(net.initial_layer.in_features) - c
    x = 2.0 * torch.randn(16, n_in, generator=g, dtype=torch.float64)
    ctx = 2.0 * torch.randn(16, c, generator=g, dtype=torch.float64) if c > 0 else None
    act = ACTIVATION_FUNCTIONS[act_name]

    def lin(layer, v):
        return F.linear(v, layer.weight.detach().to(torch.float64), layer.bias.detach().to(torch.float64))

    with torch.no_grad():
        t = lin(net.initial_layer, x if ctx is None else torch.cat([x, ctx], dim=1))
        for blk in net.blocks:
            q = lin(blk.linear_layers[1], act(lin(blk.linear_layers[0], act(t))))
            if ctx is not None:
                q = q * torch.sigmoid(lin(blk.context_layer, ctx))
            t = t + q
        want = lin(net.final_layer, t)
        probe = copy.deepcopy(net).to(torch.float64).eval()
        try:
            got = probe(x, ctx)
        except Exception as e:  # the subclass's forward, whatever it raises
            raise ExportError(f"{where}: calling the network as nflows's coupling does (net(inputs, context)) "
                              f"raised {type(e).__name__}: {e}")
    if not torch.is_tensor(got) or got.shape != want.shape or not torch.all(
            (got - want).abs() <= 1e-10 * torch.clamp(want.abs(), min=1.0)):
        raise ExportError(f"{where}: {type(net).__qualname__}'s output is not nflows's ResidualNet of its weights (a "
                          "subclass that computes something else?)")


def probe_mlp(net, linears, act_name, where):
    """The network, called as nflows's coupling calls it (net(x, None); nflows's own MLP
    takes net(x)), on fixed random inputs in float64, against the MLP formula of its
    weights: a subclass that computes something else is refused."""
    g = torch.Generator().manual_seed(0)
    x = 2.0 * torch.randn(16, int(linears[0].in_features), generator=g, dtype=torch.float64)
    act = ACTIVATION_FUNCTIONS[act_name]
    h = x
    with torch.no_grad():
        for i, lin in enumerate(linears):
            h = F.linear(h, lin.weight.detach().to(torch.float64), lin.bias.detach().to(torch.float64))
            if i < len(linears) - 1:
                h = act(h)
        probe = copy.deepcopy(net).to(torch.float64).eval()
        try:
            got = probe(x) if type(net) is NflowsMLP else probe(x, None)
        except Exception as e:  # the subclass's forward, whatever it raises
            raise ExportError(f"{where}: calling the network as nflows's coupling does (net(inputs, None)) raised "
                              f"{type(e).__name__}: {e}")
    if not torch.is_tensor(got) or got.shape != h.shape or not torch.all(
            (got - h).abs() <= 1e-10 * torch.clamp(h.abs(), min=1.0)):
        raise ExportError(f"{where}: {type(net).__qualname__}'s output is not nflows's MLP of its weights (a "
                          "subclass that computes something else?)")


# ---- couplings -------------------------------------------------------------------------

def translate_coupling(t, where, d, c, torch_knots):
    """An nflows coupling transform: the Layer Coupling<Transformer, MLP<...>,
    mask::bits<...>> (its inverse is t.forward)."""
    cls = type(t)
    if int(t.features) != d:
        raise ExportError(f"{where}: {int(t.features)} features, the flow has {d}")
    if t.unconditional_transform is not None:
        raise ExportError(f"{where}: apply_unconditional_transform=True (a spline of the identity features); "
                          "flowtmpl's coupling copies them")
    net = t.transform_net
    if c > 0 and not isinstance(net, ResidualNet):
        raise ExportError(f"{where}: a coupling whose transform_net is {type(net).__qualname__} in a flow whose layers "
                          f"read a context of {c}: nflows's MLP reads no context (a ResidualNet with "
                          "context_features does)")
    ident = [int(v) for v in t.identity_features.detach().cpu().tolist()]
    trans = [int(v) for v in t.transform_features.detach().cpu().tolist()]
    if sorted(ident + trans) != list(range(d)) or ident != sorted(ident) or trans != sorted(trans):
        raise ExportError(f"{where}: identity_features {ident} and transform_features {trans} do not split 0..{d - 1}")
    if not ident or not trans:
        raise ExportError(f"{where}: the mask transforms {len(trans)} of {d} features; flowtmpl's coupling needs at "
                          "least one conditioning and one transformed feature")
    nb = len(trans)
    bits = [1 if i in trans else 0 for i in range(d)]
    if cls is AffineCouplingTransform:
        t_cpp, t_spec, p = f"{NS}SigmoidAffine", "SigmoidAffine[P=2]", 2
        # nflows: all shifts, then all unconstrained scales; flowtmpl: (u_i, t_i) per feature
        rows = [r for i in range(nb) for r in (nb + i, i)]
    elif cls is AdditiveCouplingTransform:
        t_cpp, t_spec, p = f"{NS}Additive", "Additive[P=1]", 1
        rows = list(range(nb))
    else:
        t_cpp, t_spec, p = translate_spline(t, net, ("hidden_features", "hidden_channels"), torch_knots, where)
        rows = list(range(nb * p))  # nflows's reshape(batch, features, P): feature-major already
    if isinstance(net, ResidualNet):
        m_cpp, m_spec, tensors = translate_resnet(net, d - nb, nb * p, rows, c, f"{where}.transform_net")
    else:
        m_cpp, m_spec, tensors = translate_mlp(net, d - nb, nb * p, rows, f"{where}.transform_net")
    mask_cpp = f"{NS}mask::bits<{', '.join(map(str, bits))}>"
    return Layer(f"{NS}Coupling<{t_cpp}, {m_cpp}, {mask_cpp}>",
                 f"Coupling<{t_spec}, {m_spec}, mask={''.join(map(str, bits))}>", tensors, True)


# ---- transforms ------------------------------------------------------------------------

class Layer:
    """One flowtmpl layer: base C++ spec and spec text, its tensors (names relative to
    the layer), and whether it is that base's Inverse<>."""

    def __init__(self, cpp, spec, tensors, inverse):
        self.cpp, self.spec, self.tensors, self.inverse = cpp, spec, tensors, inverse

    def text(self):
        if self.inverse:
            return f"{NS}Inverse<{self.cpp}>", f"Inverse<{self.spec}>"
        return self.cpp, self.spec


def context_size(t):
    """The context size an nflows transform reads (0: none): a MADE's context layer, a
    coupling's ResidualNet's context_features."""
    net = getattr(t, "autoregressive_net", None)
    cl = getattr(net, "context_layer", None)
    if isinstance(cl, nn.Linear):
        return int(cl.in_features)
    net = getattr(t, "transform_net", None)
    if isinstance(net, ResidualNet) and net.context_features is not None:
        return int(net.context_features)
    return 0


def walk(t, where, inverted, out):
    """nflows transforms in data-to-noise order, each with its path and whether an
    InverseTransform around it inverts it."""
    if type(t) is CompositeTransform:
        children = [(c, f"{where}._transforms.{i}") for i, c in enumerate(t._transforms)]
        for c, w in (reversed(children) if inverted else children):
            walk(c, w, inverted, out)
    elif type(t) is InverseTransform:
        walk(t._transform, f"{where}._transform", not inverted, out)
    else:
        out.append((t, where, inverted))


def translate_transform(t, where, d, c, torch_knots=False):
    """The Layer of one nflows transform (the layer whose inverse is t.forward)."""
    cls = type(t)
    if cls is MaskedPiecewiseRationalQuadraticAutoregressiveTransform:
        # nflows divides by sqrt(autoregressive_net.hidden_features) if the net has that
        # attribute; its MADE (0.14) has none, so the divisors stay 1
        t_cpp, t_spec, p = translate_spline(t, t.autoregressive_net, ("hidden_features",), torch_knots, where)
        m_cpp, m_spec, tensors = translate_made(t.autoregressive_net, d, p, c, f"{where}.autoregressive_net")
        return Layer(f"{NS}InverseAutoregressive<{t_cpp}, {m_cpp}>",
                     f"InverseAutoregressive<{t_spec}, {m_spec}>", tensors, True)
    if cls in (AffineCouplingTransform, AdditiveCouplingTransform, PiecewiseRationalQuadraticCouplingTransform):
        return translate_coupling(t, where, d, c, torch_knots)
    if cls is MaskedAffineAutoregressiveTransform:
        if int(t.features) != d:
            raise ExportError(f"{where}: {int(t.features)} features, the flow has {d}")
        if float(t._epsilon) != 1e-3:
            raise ExportError(f"{where}: epsilon {t._epsilon}; flowtmpl's SoftplusAffine adds 1e-3")
        m_cpp, m_spec, tensors = translate_made(t.autoregressive_net, d, 2, c, f"{where}.autoregressive_net")
        return Layer(f"{NS}InverseAutoregressive<{NS}SoftplusAffine, {m_cpp}>",
                     f"InverseAutoregressive<SoftplusAffine[P=2], {m_spec}>", tensors, True)
    if cls in (Permutation, RandomPermutation, ReversePermutation):
        if int(t._dim) != 1:
            raise ExportError(f"{where}: permutes dimension {t._dim}; only dimension 1 (features) is supported")
        p = [int(v) for v in t._permutation.detach().cpu().tolist()]
        if sorted(p) != list(range(d)):
            raise ExportError(f"{where}: {p} is not a permutation of 0..{d - 1}")
        rev = ",".join(str(j) for j in range(d - 1, -1, -1))
        if cls is ReversePermutation:
            if p != list(range(d - 1, -1, -1)):
                raise ExportError(f"{where}: a ReversePermutation whose buffer is {p}, not the reversal")
            return Layer(f"{NS}Permute<{NS}Reverse>", f"Permute[{rev}]", [], False)
        return Layer(f"{NS}Permute<{NS}Indices<{', '.join(map(str, p))}>>",
                     f"Permute[{','.join(map(str, p))}]", [], True)
    if cls is ActNorm:
        if not bool(t.initialized):
            raise ExportError(f"{where}: ActNorm is not initialised (its `initialized` buffer is False: nflows sets "
                              "log_scale and shift from the first batch it sees in train mode); run a batch through "
                              "the flow in train mode first")
        ls, sh = tensor64(t.log_scale), tensor64(t.shift)
        if ls.shape != (d,) or sh.shape != (d,):
            raise ExportError(f"{where}: ActNorm of {ls.shape[0]} features, the flow has {d}")
        return Layer(f"{NS}ActNorm", "ActNorm", [("log_scale", ls), ("shift", sh)], True)
    if cls is LULinear:
        if int(t.features) != d:
            raise ExportError(f"{where}: {int(t.features)} features, the flow has {d}")
        if float(t.eps) != 1e-3:
            raise ExportError(f"{where}: eps {t.eps}; flowtmpl's lu_diag::softplus adds 1e-3")
        n = d * (d - 1) // 2
        lo, up = tensor64(t.lower_entries), tensor64(t.upper_entries)
        diag, bias = tensor64(t.unconstrained_upper_diag), tensor64(t.bias)
        if lo.shape != (n,) or up.shape != (n,) or diag.shape != (d,) or bias.shape != (d,):
            raise ExportError(f"{where}: LULinear parameters of unexpected shapes")
        return Layer(f"{NS}LUConvT<{NS}lu_diag::softplus>", "LUConv[diag=softplus]",
                     [("lower_entries", lo), ("upper_entries", up), ("diag", diag), ("bias", bias)], True)
    name = cls.__qualname__
    why = UNSUPPORTED.get(name)
    if why is None:
        for base in cls.__mro__[1:]:
            if base.__qualname__ in UNSUPPORTED:
                why = UNSUPPORTED[base.__qualname__]
                break
    if why is None:
        why = "it has no flowtmpl translation in this exporter"
    raise ExportError(f"{where}: {cls.__module__}.{name}: {why}")


def translate(flow, dtype="float64", torch_knots=False):
    """(C++ type, spec text, [(name, numpy array)] in flowtmpl's walk order) of an nflows
    flow. torch_knots: the splines' knots rounded as torch computes them on the CPU
    (spline_options{.knots = spline_knots::as_torch_cpu}: nflows's knots to the bit)."""
    if dtype not in DTYPES:
        raise ExportError(f"dtype {dtype!r}: use float64 or float32")
    scalar, _, np_dtype = DTYPES[dtype]
    if not isinstance(flow, Flow):
        raise ExportError(f"{type(flow).__module__}.{type(flow).__qualname__}: not an nflows.flows.base.Flow")
    name = flow_name(flow)

    emb = flow._embedding_net
    if type(emb) is not nn.Identity:
        raise ExportError(f"{name} _embedding_net: {type(emb).__module__}.{type(emb).__qualname__}: only "
                          "embedding_net=None (the identity) is supported")
    base = flow._distribution
    if type(base) is not StandardNormal:
        raise ExportError(f"{name} _distribution: {type(base).__module__}.{type(base).__qualname__}: only "
                          "StandardNormal([D]) is supported")
    shape = list(base._shape)
    if len(shape) != 1:
        raise ExportError(f"{name} _distribution: StandardNormal of shape {shape}; only [D] is supported (no "
                          "image-shaped flows: 4-D inputs, couplings over channels)")
    d = int(shape[0])

    items = []
    walk(flow._transform, f"{name} _transform", False, items)
    items = [it for it in items if type(it[0]) is not IdentityTransform]
    if not items:
        raise ExportError(f"{name} _transform: no transforms")

    c = 0
    for t, where, _ in items:
        tc = context_size(t)
        if tc and c and tc != c:
            raise ExportError(f"{where}: context of {tc} features, an earlier layer reads {c}")
        c = c or tc

    layers = []
    for t, where, inverted in items:
        layer = translate_transform(t, where, d, c, torch_knots)
        if inverted and layer.cpp != f"{NS}Permute<{NS}Reverse>":
            layer.inverse = not layer.inverse
        layers.append(layer)

    chain = list(reversed(layers))  # flowtmpl's forward runs nflows's list backwards
    tensors = []
    for k, layer in enumerate(chain):
        for n, a in layer.tensors:
            tensors.append((f"transform.{k}.{n}", np.ascontiguousarray(a, dtype=np_dtype)))
    texts = [layer.text() for layer in chain]
    inner = f"{NS}Flow<{NS}StandardNormal, {NS}compose<" + ", ".join(cpp for cpp, _ in texts) + ">>"
    if c > 0:
        inner = f"{NS}Conditional<{c}, {inner}>"
    cpp = f"{NS}bind_t<{inner}, {d}, {scalar}>"
    spec = "Flow<StandardNormal, Chain<" + ", ".join(s for _, s in texts) + f">> dim={d} scalar={scalar}"
    if c > 0:
        spec += f" context={c}"
    for n, a in tensors:
        if not np.all(np.isfinite(a)):
            raise ExportError(f"{name}: tensor {n} has a non-finite value in {dtype}")
    return cpp, spec, tensors


def export(flow, path, dtype="float64", torch_knots=False):
    """Writes flow's parameters to path for flowtmpl::load; returns the C++ type to load
    them into. Raises ExportError for anything it cannot translate."""
    cpp, spec, tensors = translate(flow, dtype, torch_knots)
    _, code, _ = DTYPES[dtype]
    metadata = {"format": "flowtmpl", "format_version": "1", "spec": spec, "dtype": code, "cpp_type": cpp}
    write_safetensors(path, tensors, metadata, code)
    return cpp


def main(argv=None):
    ap = argparse.ArgumentParser(description="Export an nflows flow (torch.save(flow)) for flowtmpl::load.")
    ap.add_argument("model", help="a file written by torch.save(flow)")
    ap.add_argument("out", help="the safetensors file to write")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="float64", help="the flowtmpl flow's scalar")
    ap.add_argument("--torch-knots", action="store_true",
                    help="splines with spline_knots::as_torch_cpu (nflows's knots to the bit)")
    args = ap.parse_args(argv)
    flow = torch.load(args.model, map_location="cpu", weights_only=False)
    try:
        cpp = export(flow, args.out, args.dtype, args.torch_knots)
    except ExportError as e:
        print(f"nflows_export: {e}", file=sys.stderr)
        return 1
    print(cpp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
