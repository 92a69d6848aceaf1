"""Reference values of nflows's ResidualNet (nflows.nn.nets.ResidualNet, the default
conditioner of nflows's coupling transforms), computed by nflows itself: its state_dict
with every weight drawn away from torch's small start, inputs (some far out), contexts
and outputs, in float64 (tests/data/nflows_residual_net.json). flowtmpl's ResidualNet
reproduces them (tests/unit/conditioners/residual_net_test.cpp). Run in a virtual
environment with torch and nflows; the test suite only reads the JSON file.

Usage: python tools/reference/residual_net_references.py OUTPUT_DIR
"""
import json
import sys

import torch
from torch.nn import functional as F

import nflows
from nflows.nn.nets import ResidualNet

SEED = 20261207
torch.set_default_dtype(torch.float64)
ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh}


def tolist(t):
    return t.detach().tolist()


def case(case_id, n_in, n_out, hidden, blocks, context, activation):
    net = ResidualNet(in_features=n_in, out_features=n_out, hidden_features=hidden, context_features=context,
                      num_blocks=blocks, activation=ACTIVATIONS[activation])
    with torch.no_grad():
        for _, p in net.named_parameters():
            p.copy_(torch.randn(p.shape) * 0.6)
    net.eval()
    x = torch.randn(8, n_in)
    x[6] *= 40.0  # far out: large pre-activations, saturated gates
    x[7] = 0.0
    c = torch.randn(8, context) if context else None
    if c is not None:
        c[5] *= 25.0
    out = net(x, c)
    return {"id": case_id,
            "config": {"in_features": n_in, "out_features": n_out, "hidden_features": hidden,
                       "context_features": context, "num_blocks": blocks, "activation": activation,
                       "dropout_probability": 0.0, "use_batch_norm": False},
            "state_dict": {k: tolist(v) for k, v in net.state_dict().items()},
            "inputs": tolist(x), "context": tolist(c) if c is not None else None, "outputs": tolist(out)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(SEED)
    cases = [case("in3_out5_H8_B2_relu", 3, 5, 8, 2, None, "relu"),
             case("in2_out4_H6_B1_ctx3_tanh", 2, 4, 6, 1, 3, "tanh"),
             case("in3_out6_H5_B3_ctx2_relu", 3, 6, 5, 3, 2, "relu")]
    data = {"meta": {"generator": "tools/reference/residual_net_references.py",
                     "function": "nflows.nn.nets.ResidualNet(...).eval().forward(inputs, context)",
                     "nflows_version": getattr(nflows, "__version__", "0.14"), "torch_version": torch.__version__,
                     "dtype": "float64", "seed": SEED},
            "cases": cases}
    with open(f"{out}/nflows_residual_net.json", "w") as f:
        json.dump(data, f, allow_nan=False)
        f.write("\n")


if __name__ == "__main__":
    main()
