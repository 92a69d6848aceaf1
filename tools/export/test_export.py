"""The refusals of flowtmpl_export.py: each zuko flow it cannot translate stops the export
with an ExportError whose text names the module and what is missing, and writes no file;
and the flows it translates since (a context, randperm orders) come out as the C++ types
they should.

Run: python -m pytest tools/export/test_export.py, or python tools/export/test_export.py
(needs torch and zuko; no C++ compiler).
"""

import sys
import tempfile
from pathlib import Path

import torch
import zuko

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import flowtmpl_export  # noqa: E402
from flowtmpl_export import ExportError  # noqa: E402


def refusal(flow):
    """The ExportError text of exporting flow; checks that no file was written."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.safetensors"
        try:
            flowtmpl_export.export(flow, path)
        except ExportError as e:
            assert not path.exists(), "a refused export wrote a file"
            return str(e)
    raise AssertionError(f"{type(flow).__name__} was exported; expected an ExportError")


def test_context_exports():
    """A context is no longer refused: Conditional<C, Flow<...>>, zuko's degrees and the
    linear context, the context columns of the first layer as their own tensor."""
    torch.manual_seed(0)
    cpp, spec, tensors = flowtmpl_export.translate(zuko.flows.MAF(3, context=2, transforms=2, hidden_features=(8, 8)))
    assert cpp.startswith("flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, "), cpp
    assert cpp.endswith(">>>, 3, double>"), cpp
    made = ("flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, "
            "flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context")
    assert cpp.count(made) == 2, cpp
    assert spec.endswith(" dim=3 scalar=double context=2"), spec
    shapes = {n.split(".made.")[1]: a.shape for n, a in tensors if ".made." in n}  # the last MADE's
    assert shapes["initial_layer.weight"] == (8, 3), shapes
    assert shapes["context_layer.weight"] == (8, 2) and shapes["context_layer.bias"] == (8,), shapes
    assert all(not a.any() for n, a in tensors if n.endswith("context_layer.bias")), "a context bias is not zero"


def test_context_differs_between_transforms():
    torch.manual_seed(0)
    MAT = zuko.flows.MaskedAutoregressiveTransform
    base = zuko.lazy.UnconditionalDistribution(zuko.distributions.DiagNormal, torch.zeros(3), torch.ones(3), buffer=True)
    msg = refusal(zuko.lazy.Flow([MAT(3, context=2), MAT(3, context=3)], base))
    assert msg == "zuko.lazy.Flow transform.1: context=3, transform.0 has context=2", msg


def test_randperm_order_exports():
    """randperm=True is no longer refused: order o becomes Permute<Indices<sigma...>>, the
    layer, Inverse<Permute<Indices<sigma...>>> with sigma = argsort(o)."""
    torch.manual_seed(1)  # draws the orders [1, 3, 2, 0] and [3, 2, 0, 1]
    flow = zuko.flows.MAF(4, transforms=2, randperm=True)
    orders = [t.order.tolist() for t in flow.transform.transforms]
    assert orders == [[1, 3, 2, 0], [3, 2, 0, 1]], f"seed 1 drew orders {orders}; pick another seed"
    cpp, spec, _ = flowtmpl_export.translate(flow)
    layer = "flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<64, 64>>>"
    # flowtmpl's chain runs zuko's list backwards: the second transform (sigma 2, 3, 1, 0) first
    perms = ["flowtmpl::Permute<flowtmpl::Indices<2, 3, 1, 0>>", "flowtmpl::Permute<flowtmpl::Indices<3, 0, 2, 1>>"]
    chain = ", ".join(f"{p}, {layer}, flowtmpl::Inverse<{p}>" for p in perms)
    assert cpp == f"flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<{chain}>>, 4, double>", cpp
    assert spec.startswith("Flow<StandardNormal, Chain<Permute[2,3,1,0], Inverse<InverseAutoregressive<"), spec


def test_not_fully_autoregressive():
    torch.manual_seed(0)
    msg = refusal(zuko.flows.MAF(3, passes=2))
    assert msg == "zuko.flows.MAF transform.0: passes=2, not fully autoregressive (3); not supported", msg


def test_unknown_univariate():
    torch.manual_seed(0)
    msg = refusal(zuko.flows.BPF(3))
    assert msg.startswith("zuko.flows.BPF transform.0: univariate BoundedBernsteinTransform has no flowtmpl transformer"), msg
    assert "MonotonicAffineTransform and MonotonicRQSTransform" in msg, msg
    # a univariate that is a module instance is named by its class, on one line
    msg = refusal(zuko.flows.NAF(3, transforms=1))
    assert msg.startswith("zuko.flows.NAF transform.0: univariate MNN has no flowtmpl transformer"), msg
    assert "\n" not in msg, msg


def test_residual():
    torch.manual_seed(0)
    msg = refusal(zuko.flows.MAF(3, residual=True))
    assert msg.startswith("zuko.flows.MAF transform.0: hyper.1 is a residual block (residual=True)"), msg
    assert msg.endswith("not supported"), msg


def test_coupling_flows_export():
    """zuko's RealNVP and NICE: Inverse<Coupling<ZukoAffine<>, MLP<...>, mask::bits<...>>>, the
    bits the complement of zuko's mask (zuko marks the constant features)."""
    torch.manual_seed(0)
    cpp, spec, tensors = flowtmpl_export.translate(zuko.flows.RealNVP(3, context=2, transforms=2,
                                                                      hidden_features=(8,)))
    layer = "flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::ZukoAffine<>, flowtmpl::MLP<8>, flowtmpl::mask::bits<{}>>>"
    # zuko's masks [1, 0, 1] then [0, 1, 0]; flowtmpl's chain runs the list backwards
    chain = layer.format("1, 0, 1") + ", " + layer.format("0, 1, 0")
    assert cpp == ("flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, "
                   f"flowtmpl::compose<{chain}>>>, 3, double>"), cpp
    assert "MLP<8>[1->4](ctx=2, act=relu), mask=101" in spec, spec
    assert [n for n, _ in tensors][:2] == ["transform.0.conditioner.0.weight", "transform.0.conditioner.0.bias"]
    assert tensors[0][1].shape == (8, 1 + 2), tensors[0][1].shape  # [x_a; c]


def test_coupling_refusals():
    torch.manual_seed(0)
    msg = refusal(zuko.flows.RealNVP(3, normalize=True))
    assert msg.startswith("zuko.flows.RealNVP transform.0: hyper.2 is LayerNorm; flowtmpl's MLP has linear layers"), msg
    msg = refusal(zuko.flows.NICE(3, hidden_features=()))
    assert msg == ("zuko.flows.NICE transform.0: hyper has no hidden layer (hidden_features=()); flowtmpl's MLP needs "
                   "at least one"), msg
    msg = refusal(zuko.flows.RealNVP(3, activation=torch.nn.Sigmoid))
    assert msg.startswith("zuko.flows.RealNVP transform.0: hyper.1 is Sigmoid"), msg


def test_not_a_flow():
    msg = refusal(torch.nn.Linear(3, 3))
    assert msg == "torch.nn.modules.linear.Linear: not a zuko.lazy.Flow", msg


def test_supported_flows_export():
    """The counterpart: MAF and NSF with both orders are exported, with or without a
    context and randperm."""
    torch.manual_seed(0)
    for flow in (zuko.flows.MAF(3, transforms=2, hidden_features=(8, 8)), zuko.flows.NSF(3, transforms=2, hidden_features=(8,))):
        cpp, _, _ = flowtmpl_export.translate(flow)
        assert cpp.startswith("flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<"), cpp
    for cls in (zuko.flows.MAF, zuko.flows.NSF):
        cpp, _, _ = flowtmpl_export.translate(cls(5, context=3, transforms=3, hidden_features=(16,), randperm=True))
        assert cpp.startswith("flowtmpl::bind_t<flowtmpl::Conditional<3, flowtmpl::Flow<"), cpp


if __name__ == "__main__":
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    failed = 0
    for name, f in tests:
        try:
            f()
            print(f"ok      {name}")
        except AssertionError as e:
            failed += 1
            print(f"FAILED  {name}: {e}")
    print(f"{len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
