#!/usr/bin/env python3
"""normflows peer of flowtmpl's multi-scale Glow on Fashion-MNIST.

    python fashion_mnist_peer.py [--levels 2] [--steps K] [--hidden H] [--batch B]
                                 [--budget SECONDS] [--seed S] [--threads T]
                                 [--data-dir DIR] [--quick]

Trains normflows's own Glow blocks in a normflows.MultiscaleFlow on the 60000
Fashion-MNIST training images for --budget seconds of wall clock (default 1800), then
evaluates the bits per dimension of the 10000 test images, and prints one JSON object
on stdout:

    {"peer": "normflows 1.7.3", "torch": ..., "cpu": ..., "threads": T, "budget_s": ...,
     "train_seconds": ..., "train_images": ..., "images_per_second": ..., "steps": ...,
     "test_bpd": ..., "params": ..., "params_stored": ..., "levels": 2,
     "steps_per_level": K, "hidden": H, "batch": B, "alpha": 0.05}

A progress line goes to stderr every ~30 s (elapsed seconds, images seen, the mean
train bits/dim since the previous line); the first line is the bits/dim of the first
batch at initialisation (after ActNorm's data-dependent init, before any Adam step).
--quick is a smoke test: --budget 20, progress every 5 s, and only the first 1000
test images. Needs numpy, torch and normflows (requirements.txt); no torchvision.

Data: the gzip'd IDX files of Debian's dataset-fashion-mnist,
/usr/share/datasets/fashion-mnist/{train,t10k}-images-idx3-ubyte.gz (--data-dir), read
with gzip and numpy: uint8 images of shape 1 x 28 x 28 (labels unused).

Preprocessing (the flow models y, D = 784):
    v = (x + u) / 256,  u ~ U[0, 1) drawn afresh per pixel, per image, per step
    s = alpha + (1 - 2 alpha) v,  y = logit(s) = log s - log(1 - s),  alpha = 0.05
    log|dy_i/dv_i| = log(1 - 2 alpha) - log s_i - log(1 - s_i)
    bpd = (-log p_Y(y) - sum_i log|dy_i/dv_i| + D log 256) / (D log 2)
The test bpd is an upper bound on the discrete bits/dim (Jensen, one noise draw per
image): all 10000 test images (1000 with --quick), one draw per image from a
torch.Generator seeded with the constant 20240613 (whatever --seed), the model in
eval mode without gradients, batches of 500. The train bpd printed on stderr is the
same quantity on the training batches (fresh noise, training mode).

Architecture (--levels 2, --steps K = 4, --hidden H = 32), in the normalizing
direction (data -> latent):
  level 1: squeeze 1x28x28 -> 4x14x14, K Glow steps on 4 channels, split: channels
           2, 3 to a standard normal base, channels 0, 1 go on
  level 2: squeeze 2x14x14 -> 8x7x7, K Glow steps on 8 channels, the 8x7x7 to a
           standard normal base
A Glow step (normalizing direction): ActNorm, invertible 1x1 convolution in LU form,
affine coupling on the channel halves.

How that is built in normflows 1.7 (checked against its source):
  MultiscaleFlow(q0, flows, merges, class_cond=False): normflows numbers the levels
    from the latent side and log_prob runs flows[L-1] (next to the data) first, each
    level's list from its last element to its first. So flows[1] (the data-side level)
    = [GlowBlock(4, H) x K, Squeeze()] and flows[0] = [GlowBlock(8, H) x K, Squeeze()]
    (normflows's Glow example puts Squeeze last in each level's list), merges =
    [Merge()], q0 = [DiagGaussian((8, 7, 7)), DiagGaussian((2, 14, 14))].
  Squeeze: normflows's Squeeze.forward is the unsqueeze (generative direction); its
    inverse, which log_prob calls, maps (C, H, W) -> (4C, H/2, W/2) with
    out[c*4 + 2*dy + dx, i, j] = in[c, 2i + dy, 2j + dx].
  Split: Merge().inverse is torch.chunk(2, dim=1): the first half of the channels
    (0, 1) goes on to level 2, the second half (2, 3) to q0[1].
  Base: DiagGaussian(shape, trainable=False): loc and log_scale are zero buffers, i.e.
    a standard normal without learned parameters (MultiscaleFlow does not force a
    learnable base; normflows's Glow example uses a class-conditional learnable
    GlowBase, not used here).
  GlowBlock(C, hidden_channels=H, split_mode="channel", scale=True) with its defaults
    scale_map="sigmoid", leaky=0.0 (LeakyReLU(0) = ReLU), init_zeros=True, use_lu=True,
    net_actnorm=False. Its forward is coupling -> 1x1 conv -> ActNorm (generative), so
    log_prob (its inverse) runs ActNorm -> 1x1 conv -> coupling, as specified.
    ActNorm (normalizing direction): y = (x - t) exp(-s) per channel, log-det
      -HW sum(s); data-dependent init on the first batch it sees (the first training
      batch): s = log(std + 1e-6), t = mean per channel over batch and pixels (torch's
      unbiased std).
    Invertible1x1Conv(C, use_lu=True): W = P L U, P a fixed permutation buffer, L unit
      lower triangular (the strictly lower part of the parameter L), U strictly upper
      (parameter U) + diag(sign_S exp(log_S)), sign_S a buffer; y = W x per pixel,
      log-det HW sum(log_S). Initialised as the LU factors of the Q of a QR of a
      randn(C, C) (torch's global generator).
    Coupling (normalizing direction), x = [x1, x2] = torch.chunk(x, 2, dim=1):
      [t, r] = net(x1), t = output channels 0, 2, 4, ... (even), r = output channels
      1, 3, 5, ... (odd: interleaved, not first half / second half);
      y1 = x1, y2 = (x2 - t) * sigmoid(r + 2), log-det sum log sigmoid(r + 2).
      (The shift is subtracted before the scale multiplies, and there is no +eps on the
      scale as in nflows's / flowtmpl's SigmoidAffine.) The conditioning half is the
      first half at every step; only the 1x1 convolutions mix the halves.
    net = ConvNet2d([C/2, H, H, C], kernel sizes [3, 1, 3], leaky 0): Conv2d 3x3 (C/2
      -> H, padding 1, bias), ReLU, Conv2d 1x1 (H -> H, bias), ReLU, Conv2d 3x3 (H -> C,
      padding 1, bias) with weight and bias zero; the first two convolutions keep
      PyTorch's default init (kaiming_uniform(a=sqrt(5)) weights, U(+-1/sqrt(fan_in))
      biases). This is the specified network; no difference but the t/r interleaving.

Parameters: "params" counts the parameters the flow uses. normflows stores L and U
of each 1x1 convolution as full C x C matrices of which it uses only the strict lower
/ upper triangle (the rest gets zero gradients and never moves); "params_stored"
counts those too (sum of numel over model.parameters()). For K = 4, H = 32: level 1
step 2844 (net 608 + 1056 + 1156, 1x1 conv 6 + 6 + 4, ActNorm 8), level 2 step 4632
(net 1184 + 1056 + 2312, 1x1 conv 28 + 28 + 8, ActNorm 16): params 29904,
params_stored 30272.

Training: Adam(lr 1e-3, default betas/eps), batches of --batch (64) images from a
per-epoch shuffle (torch.randperm from a generator seeded with --seed), loss
-mean log p_Y(y) (the logit and 8-bit terms are constants of the parameters), until
--budget seconds have passed: the clock starts after the data are read and the model
built, covers every training step (ActNorm's init included; the last step may end
past the budget) and stops before the test evaluation. torch.manual_seed(--seed)
governs the initial weights and the dequantization noise;
torch.set_num_threads(--threads) (default 2).

What cannot match flowtmpl: the random draws (initial weights, 1x1 convolution's
rotation, shuffles, noise) come from torch's generators, so the two runs are two
seeds of the same experiment at best; the t/r channel layout of the coupling
network's last convolution and the (x2 - t) * scale form are normflows's.
"""

import argparse
import gzip
import json
import math
import os
import platform
import sys
import time
import warnings

try:
    import numpy as np
    import torch
    import normflows as nf
except ImportError as e:
    sys.exit(f"fashion_mnist_peer: {e}\n  install the peers' environment: "
             "pip install -r benchmarks/peers/requirements.txt")

DATA_DIR = "/usr/share/datasets/fashion-mnist"
TEST_NOISE_SEED = 20240613
D = 784


def fail(message):
    sys.exit(f"fashion_mnist_peer: {message}")


def read_idx_images(path):
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail(f"cannot read {path}: {e} (Debian package dataset-fashion-mnist, or --data-dir)")
    magic, n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in range(0, 16, 4))
    if magic != 0x00000803 or rows != 28 or cols != 28 or len(raw) != 16 + n * rows * cols:
        fail(f"{path}: not an IDX file of 28 x 28 uint8 images (magic {magic:#x})")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, rows, cols)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def build_model(levels, steps, hidden):
    if levels != 2:
        fail("only --levels 2 is implemented (1x28x28 -> 4x14x14 -> 8x7x7)")
    # normflows's order: index 0 is the level next to the latent, index levels-1 the one
    # next to the data; log_prob walks from the data side.
    flows = [
        [nf.flows.GlowBlock(8, hidden, split_mode="channel", scale=True) for _ in range(steps)]
        + [nf.flows.Squeeze()],
        [nf.flows.GlowBlock(4, hidden, split_mode="channel", scale=True) for _ in range(steps)]
        + [nf.flows.Squeeze()],
    ]
    merges = [nf.flows.Merge()]
    q0 = [nf.distributions.DiagGaussian((8, 7, 7), trainable=False),
          nf.distributions.DiagGaussian((2, 14, 14), trainable=False)]
    return nf.MultiscaleFlow(q0, flows, merges, class_cond=False)


def count_params(model):
    stored = sum(p.numel() for p in model.parameters())
    unused = 0
    for m in model.modules():
        if isinstance(m, nf.flows.Invertible1x1Conv) and m.use_lu:
            c = m.num_channels
            unused += 2 * (c * c - c * (c - 1) // 2)  # L's and U's entries off their strict triangle
    return stored - unused, stored


def preprocess(x_uint8, alpha, noise):
    """y = logit(alpha + (1 - 2 alpha) (x + u) / 256) and sum_i log|dy_i/dv_i| per image."""
    v = (x_uint8.float() + noise) / 256.0
    s = alpha + (1.0 - 2.0 * alpha) * v
    y = torch.log(s) - torch.log1p(-s)
    logdet = (math.log(1.0 - 2.0 * alpha) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)
    return y, logdet


def bits_per_dim(log_p_y, logdet):
    return (-log_p_y - logdet + D * math.log(256.0)) / (D * math.log(2.0))


def evaluate(model, images, alpha, batch=500):
    gen = torch.Generator().manual_seed(TEST_NOISE_SEED)
    noise = torch.rand(images.shape, generator=gen)  # one draw per test image, all 10000
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            y, logdet = preprocess(images[i:i + batch], alpha, noise[i:i + batch])
            total += bits_per_dim(model.log_prob(y, None), logdet).sum().item()
    model.train()
    return total / len(images)


def main():
    p = argparse.ArgumentParser(description="Train normflows's multi-scale Glow on Fashion-MNIST "
                                            "within a wall-clock budget; one JSON object on stdout.")
    p.add_argument("--levels", type=int, default=2, help="multi-scale levels (only 2)")
    p.add_argument("--steps", type=int, default=4, help="Glow steps per level (default 4)")
    p.add_argument("--hidden", type=int, default=32, help="hidden channels of the coupling network (default 32)")
    p.add_argument("--batch", type=int, default=64, help="training batch (default 64)")
    p.add_argument("--budget", type=float, default=None, help="training wall clock in seconds (default 1800; 20 with --quick)")
    p.add_argument("--seed", type=int, default=1, help="torch seed: weights, shuffles, noise (default 1)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--data-dir", default=DATA_DIR, help=f"the IDX files (default {DATA_DIR})")
    p.add_argument("--quick", action="store_true", help="smoke test: budget 20 s, first 1000 test images")
    args = p.parse_args()
    budget = args.budget if args.budget is not None else (20.0 if args.quick else 1800.0)
    progress_every = 5.0 if args.quick else 30.0
    alpha = 0.05
    lr = 1e-3

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    warnings.filterwarnings("ignore", message="torch.lu is deprecated")  # normflows's Invertible1x1Conv

    train = torch.from_numpy(read_idx_images(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz")).copy())
    test = torch.from_numpy(read_idx_images(os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz")).copy())
    if args.quick:
        test = test[:1000]

    model = build_model(args.levels, args.steps, args.hidden)
    params, params_stored = count_params(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    shuffle_gen = torch.Generator().manual_seed(args.seed)
    print(f"fashion_mnist_peer: normflows {nf.__version__}, {args.levels} levels x {args.steps} steps, "
          f"hidden {args.hidden}, {params} parameters ({params_stored} stored), batch {args.batch}, "
          f"budget {budget:g} s, {args.threads} thread(s)", file=sys.stderr, flush=True)

    model.train()
    steps = 0
    images_seen = 0
    window_bpd, window_n = 0.0, 0
    order, pos = torch.randperm(len(train), generator=shuffle_gen), 0
    start = time.perf_counter()
    last_report = start
    elapsed = 0.0
    while elapsed < budget:
        if pos + args.batch > len(train):  # drop the last partial batch of an epoch
            order, pos = torch.randperm(len(train), generator=shuffle_gen), 0
        x = train[order[pos:pos + args.batch]]
        pos += args.batch
        y, logdet = preprocess(x, alpha, torch.rand(x.shape))
        log_p = model.log_prob(y, None)
        loss = -log_p.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        bpd = bits_per_dim(log_p.detach(), logdet).mean().item()
        if not math.isfinite(bpd):
            fail(f"non-finite train bpd at step {steps}")
        if steps == 0:
            print(f"  init: first batch {bpd:.4f} bits/dim (after ActNorm init, before the first step)",
                  file=sys.stderr, flush=True)
        steps += 1
        images_seen += len(x)
        window_bpd += bpd
        window_n += 1
        now = time.perf_counter()
        elapsed = now - start
        if now - last_report >= progress_every:
            print(f"  {elapsed:7.1f} s  {images_seen:8d} images  train {window_bpd / window_n:.4f} bits/dim",
                  file=sys.stderr, flush=True)
            last_report = now
            window_bpd, window_n = 0.0, 0
    train_seconds = elapsed
    if window_n:
        print(f"  {elapsed:7.1f} s  {images_seen:8d} images  train {window_bpd / window_n:.4f} bits/dim (end)",
              file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    test_bpd = evaluate(model, test, alpha)
    print(f"  test: {test_bpd:.4f} bits/dim on {len(test)} images ({time.perf_counter() - t0:.1f} s)",
          file=sys.stderr, flush=True)

    print(json.dumps({
        "peer": f"normflows {nf.__version__}",
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "threads": args.threads,
        "budget_s": budget,
        "train_seconds": round(train_seconds, 3),
        "train_images": images_seen,
        "images_per_second": round(images_seen / train_seconds, 2),
        "steps": steps,
        "test_bpd": round(test_bpd, 5),
        "test_images": len(test),
        "params": params,
        "params_stored": params_stored,
        "levels": args.levels,
        "steps_per_level": args.steps,
        "hidden": args.hidden,
        "batch": args.batch,
        "alpha": alpha,
    }))


if __name__ == "__main__":
    main()
