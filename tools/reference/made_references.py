"""Reference values of masked networks flowtmpl's MADE reproduces, computed by nflows and
zuko themselves: nflows's MADE with random masks (random_mask=True: the hidden degrees
it drew, its masks, its unmasked weights, its outputs; tests/data/made_random_mask.json)
and zuko's MaskedMLP of a MaskedAutoregressiveTransform with a context (its masks,
masked weights and outputs; tests/data/made_zuko_context.json). Run in a virtual
environment with torch, nflows and zuko; the test suite only reads the JSON files.

Usage: python tools/reference/made_references.py OUTPUT_DIR
"""
import json
import sys

import torch

import nflows
from nflows.transforms.made import MADE

SEED = 20261206
torch.set_default_dtype(torch.float64)


def tolist(t):
    return t.detach().tolist()


def case(case_id, features, hidden, num_blocks, multiplier, context):
    made = MADE(features=features, hidden_features=hidden, context_features=context, num_blocks=num_blocks,
                output_multiplier=multiplier, use_residual_blocks=False, random_mask=True)
    # weights away from torch's small start, so that every unit matters
    with torch.no_grad():
        for name, p in made.named_parameters():
            p.copy_(torch.randn(p.shape) * 0.7)
    made.eval()
    x = torch.randn(6, features)
    c = torch.randn(6, context) if context else None
    out = made(x, c)
    return {
        "id": case_id,
        "config": {"features": features, "hidden_features": hidden, "num_blocks": num_blocks,
                   "output_multiplier": multiplier, "use_residual_blocks": False, "random_mask": True,
                   "context_features": context, "activation": "relu", "dropout_probability": 0.0,
                   "use_batch_norm": False},
        "state_dict": {k: tolist(v) for k, v in made.state_dict().items()},
        "inputs": tolist(x),
        "context": tolist(c) if c is not None else None,
        "outputs": tolist(out),
    }


def zuko_case(case_id, features, context, hidden, passes_order):
    import zuko
    from zuko.flows.autoregressive import MaskedAutoregressiveTransform
    t = MaskedAutoregressiveTransform(features=features, context=context, order=passes_order,
                                      hidden_features=hidden)
    linears = [m for m in t.hyper if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for l in linears:
            l.weight.copy_(torch.randn(l.weight.shape) * 0.7)
            l.bias.copy_(torch.randn(l.bias.shape) * 0.7)
    x = torch.randn(6, features)
    c = torch.randn(6, context)
    out = t.hyper(torch.cat([x, c], dim=-1))
    return {"id": case_id, "features": features, "context": context, "hidden_features": list(hidden),
            "order": [int(v) for v in t.order.tolist()], "outputs_per_feature": t.total,
            "zuko_version": zuko.__version__,
            "layers": [{"weight": tolist(l.weight * l.mask), "mask": tolist(l.mask.double()), "bias": tolist(l.bias)}
                       for l in linears],
            "inputs": tolist(x), "context_values": tolist(c), "outputs": tolist(out)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(SEED)
    cases = [case("random_D4_H6_ff1", 4, 6, 1, 2, None), case("random_D5_H7_ff2_ctx3", 5, 7, 2, 3, 3)]
    data = {"meta": {"generator": "tools/reference/made_references.py",
                     "function": "nflows.transforms.made.MADE(random_mask=True, use_residual_blocks=False)"
                                 ".forward(inputs, context)",
                     "nflows_version": getattr(nflows, "__version__", "0.14"), "torch_version": torch.__version__,
                     "dtype": "float64", "seed": SEED},
            "cases": cases}
    with open(f"{out}/made_random_mask.json", "w") as f:
        json.dump(data, f, allow_nan=False)
        f.write("\n")
    zuko_cases = [zuko_case("zuko_D3_C2_H8x8", 3, 2, (8, 8), None), zuko_case("zuko_D4_C1_H6x5", 4, 1, (6, 5), None)]
    with open(f"{out}/made_zuko_context.json", "w") as f:
        json.dump({"meta": {"generator": "tools/reference/made_references.py",
                            "function": "zuko.flows.autoregressive.MaskedAutoregressiveTransform(features, context, "
                                        "hidden_features).hyper (a MaskedMLP) on [x; c], affine univariate (2 "
                                        "parameters per feature)",
                            "torch_version": torch.__version__, "dtype": "float64", "seed": SEED},
                   "cases": zuko_cases}, f, allow_nan=False)
        f.write("\n")
    for c in cases:
        sd = c["state_dict"]
        layers = [k[:-len(".degrees")] for k in sd if k.endswith(".degrees") and not k.startswith("final")]
        print(c["id"], "hidden degrees:", "; ".join(f"{l}: {sd[l + '.degrees']}" for l in layers))


if __name__ == "__main__":
    main()
