"""The refusals of flowtmpl_export.py: each zuko flow it cannot translate stops the export
with an ExportError whose text names the module and what is missing, and writes no file.

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


def test_context():
    torch.manual_seed(0)
    msg = refusal(zuko.flows.MAF(3, context=2))
    assert msg == "zuko.flows.MAF transform.0: context=2 is not supported by this exporter yet", msg


def test_randperm_order():
    torch.manual_seed(1)  # draws the orders [1, 3, 2, 0] and [3, 2, 0, 1]
    flow = zuko.flows.MAF(4, transforms=2, randperm=True)
    order = flow.transform.transforms[0].order.tolist()
    assert order not in ([0, 1, 2, 3], [3, 2, 1, 0]), f"seed 1 drew order {order}; pick another seed"
    msg = refusal(flow)
    assert msg.startswith(f"zuko.flows.MAF transform.0: order {order} is not supported"), msg
    assert "only arange(4) and its flip" in msg and "randperm=True" in msg, msg


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


def test_non_maf_transform():
    torch.manual_seed(0)
    for cls in (zuko.flows.RealNVP, zuko.flows.NICE):
        msg = refusal(cls(3))
        assert msg == (f"zuko.flows.{cls.__name__} transform.0: GeneralCouplingTransform has no flowtmpl translation "
                       "in this exporter (only MaskedAutoregressiveTransform)"), msg


def test_not_a_flow():
    msg = refusal(torch.nn.Linear(3, 3))
    assert msg == "torch.nn.modules.linear.Linear: not a zuko.lazy.Flow", msg


def test_supported_flows_export():
    """The counterpart: MAF and NSF with both orders are exported."""
    torch.manual_seed(0)
    for flow in (zuko.flows.MAF(3, transforms=2, hidden_features=(8, 8)), zuko.flows.NSF(3, transforms=2, hidden_features=(8,))):
        cpp, _, _ = flowtmpl_export.translate(flow)
        assert cpp.startswith("flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<"), cpp


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
