#!/usr/bin/env python3
"""sbi peer of flowtmpl's neural posterior estimation (NPE) side-by-side comparison.

    python posterior_peer.py [--seed S] [--data-dir DIR] [--out FILE] [--quick]
                             [--tasks gaussian_linear,two_moons] [--data-only] ...

Two steps, both seeded:

1. Simulates two tasks with numpy and writes them to DIR (default
   build/posterior-data under the repository root) for the C++ side:

   gaussian_linear  theta in R^10, theta ~ N(0, 0.1 I); x | theta ~ N(theta, 0.1 I).
                    Exact posterior for an observation x_o: N(x_o / 2, 0.05 I).
   two_moons        the simulation-based-inference benchmark's task (Greenberg et al.
                    2019, as in sbibm): theta ~ U(-1, 1)^2, a ~ U(-pi/2, pi/2),
                    r ~ N(0.1, 0.01^2), p = (r cos a + 0.25, r sin a),
                    x = p + (-|theta1 + theta2| / sqrt 2, (-theta1 + theta2) / sqrt 2).

   Per task: train (10000 pairs), valid (1000), test (5000), and observations
   (gaussian_linear: 3 pairs (theta_o, x_o) with theta_o drawn from the prior;
   two_moons: x_o = (0, 0) only, no theta file). Files are raw little-endian float32,
   one sample contiguous (a numpy (N, dim) C-order array, i.e. a dim x N column-major
   Eigen matrix), named <task>_<split>_<theta|x>.f32 and <task>_observations_<theta|x>.f32;
   DIR/manifest.json lists every file with its shape [N, dim], the seed and the
   definitions above.

2. Trains sbi's single-round NPE on each task (train and valid passed together, sbi
   holding out valid/(train+valid) of them for its validation loss) with sbi's
   zuko-based neural spline flow where the installed sbi has one ("zuko_nsf"), else its
   nflows "nsf": 5 transforms, 8 bins, hidden layers of 64 (two when the builder takes a
   list of widths), no embedding net, sbi's default z-scoring of theta and x; Adam,
   learning rate 1e-3, batch 256, exactly 50 epochs (early stopping never triggers), one
   torch thread. Then it reports, per task, into a JSON file (--out) and a table on
   stdout:

   - the held-out NLL: mean -log q(theta | x) over the test pairs, from the density
     estimator's own log_prob (z-scoring included, so a normalized density of theta in
     its original units, over all of R^dim: sbi's posterior object would in addition
     set it to -inf outside the prior's support and divide by the mass inside it, its
     "leakage correction"; that mass is reported for two_moons at x_o);
   - gaussian_linear: for each observation, KL(N_fit || N(x_o/2, 0.05 I)) in closed form,
     N_fit the Gaussian with the sample mean and covariance of 10^4 posterior draws; and
     for reference the same KL for 10^4 exact draws (its finite-sample floor);
   - training seconds (time.perf_counter around sbi's train() only), per epoch, the
     epochs run, sbi's last training and validation losses, the architecture built (the
     module as printed, its layers and parameter count), versions, threads, CPU, date;
   - two_moons: 10^4 draws of sbi's posterior at x_o = (0, 0) (with its prior-support
     rejection) in DIR/two_moons_sbi_draws.f32, and 10^4 draws of the flow itself (no
     rejection) in DIR/two_moons_sbi_flow_draws.f32, in the raw format above.

How sbi trains (read off sbi 0.27.0's trainer, and recorded in the JSON): its epoch
loop runs max_num_epochs + 1 epochs (the epoch counter starts at 0 and the test is
`<=`), so this script passes epochs - 1 and checks the count; the validation pairs are
a random subset (torch.randperm, seeded here) of all train + valid pairs, not the valid
file's; both loaders drop their last partial batch (10000 / 256: 39 steps an epoch);
gradients are clipped to norm 5 unless --clip-max-norm says otherwise; when the epoch
budget ends, sbi returns the weights of the epoch with the best validation loss, not
the last epoch's, so the test NLL (and the gaussian_linear KL) are reported for both.
sbi's zuko "nsf" is zuko's NSF: autoregressive (MADE conditioners, the feature order
reversed every other transform), each transform a monotonic rational-quadratic spline
on [-5, 5] of every feature; with an int hidden_features sbi would make num_transforms
hidden layers of it, so the widths are passed as a list.

--quick: 1000 training pairs and 3 epochs, a smoke test (valid and test keep their
sizes). benchmarks/peers/posterior_side_by_side.sh runs this script and then the C++
side.
"""

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TASKS = ("gaussian_linear", "two_moons")
SPLITS = ("train", "valid", "test")

DEFINITIONS = {
    "gaussian_linear": {
        "theta_dim": 10,
        "x_dim": 10,
        "prior": "theta ~ N(0, 0.1 I_10) (variance 0.1 per component)",
        "simulator": "x | theta ~ N(theta, 0.1 I_10)",
        "exact_posterior": "theta | x_o ~ N(x_o / 2, 0.05 I_10)",
        "observations": "3 pairs: theta_o drawn from the prior, x_o simulated from theta_o",
    },
    "two_moons": {
        "theta_dim": 2,
        "x_dim": 2,
        "prior": "theta ~ U(-1, 1)^2",
        "simulator": "a ~ U(-pi/2, pi/2), r ~ N(0.1, 0.01^2), p = (r cos a + 0.25, r sin a), "
                     "x = p + (-|theta1 + theta2| / sqrt(2), (-theta1 + theta2) / sqrt(2))",
        "exact_posterior": "none in closed form (bimodal crescent pair)",
        "observations": "1 observation x_o = (0, 0); no theta file",
    },
}
GL_DIM, GL_PRIOR_VAR, GL_NOISE_VAR = 10, 0.1, 0.1
GL_POST_VAR = 1.0 / (1.0 / GL_PRIOR_VAR + 1.0 / GL_NOISE_VAR)  # 0.05


def fail(message):
    sys.exit(f"posterior_peer: {message}")


# ---------------------------------------------------------------------------------------
# simulation (numpy only)


def gaussian_linear_prior(rng, n):
    return rng.normal(0.0, math.sqrt(GL_PRIOR_VAR), size=(n, GL_DIM))


def gaussian_linear_simulator(rng, theta):
    return theta + rng.normal(0.0, math.sqrt(GL_NOISE_VAR), size=theta.shape)


def two_moons_prior(rng, n):
    return rng.uniform(-1.0, 1.0, size=(n, 2))


def two_moons_simulator(rng, theta):
    n = theta.shape[0]
    a = rng.uniform(-math.pi / 2, math.pi / 2, size=n)
    r = rng.normal(0.1, 0.01, size=n)
    p = np.stack([r * np.cos(a) + 0.25, r * np.sin(a)], axis=1)
    shift = np.stack([-np.abs(theta[:, 0] + theta[:, 1]) / math.sqrt(2.0),
                      (-theta[:, 0] + theta[:, 1]) / math.sqrt(2.0)], axis=1)
    return p + shift


SIMULATORS = {
    "gaussian_linear": (gaussian_linear_prior, gaussian_linear_simulator),
    "two_moons": (two_moons_prior, two_moons_simulator),
}


def simulate_task(task, rng, sizes):
    """{split: (theta, x)} as float32 arrays, the splits drawn in the order train, valid,
    test, observations from the task's own generator."""
    prior, simulator = SIMULATORS[task]
    out = {}
    for split in SPLITS:
        theta = prior(rng, sizes[split])
        out[split] = (theta.astype(np.float32), simulator(rng, theta).astype(np.float32))
    if task == "gaussian_linear":
        theta_o = prior(rng, 3)
        out["observations"] = (theta_o.astype(np.float32), simulator(rng, theta_o).astype(np.float32))
    else:
        out["observations"] = (None, np.zeros((1, 2), dtype=np.float32))
    return out


def write_f32(path, array):
    a = np.ascontiguousarray(array, dtype="<f4")
    if a.ndim != 2:
        raise ValueError(f"{path}: expected a 2-d array")
    a.tofile(path)


def write_data(data_dir, seed, data, sizes, quick):
    data_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for task, splits in data.items():
        for split, pair in splits.items():
            for name, array in zip(("theta", "x"), pair):
                if array is None:
                    continue
                fname = f"{task}_{split}_{name}.f32"
                write_f32(data_dir / fname, array)
                files.append({"file": fname, "task": task, "split": split, "variable": name,
                              "shape": [int(array.shape[0]), int(array.shape[1])]})
    manifest = {
        "format": "raw little-endian float32, one sample contiguous: a numpy (N, dim) C-order array, "
                  "i.e. a dim x N column-major Eigen matrix",
        "seed": seed,
        "quick": quick,
        "generator": "numpy.random.default_rng(numpy.random.SeedSequence(seed).spawn(2)[i]) for task i in "
                     "(gaussian_linear, two_moons); per task: train, valid, test, observations, each split "
                     "drawing all its theta, then all its noise",
        "sizes": sizes,
        "tasks": {t: DEFINITIONS[t] for t in data},
        "files": files,
    }
    with open(data_dir / "manifest.json", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


# ---------------------------------------------------------------------------------------
# Gaussian KL


def kl_gaussians(m0, s0, m1, s1):
    """KL(N(m0, s0) || N(m1, s1)) in nats, in closed form."""
    k = m0.shape[0]
    s1_inv = np.linalg.inv(s1)
    d = m1 - m0
    _, logdet0 = np.linalg.slogdet(s0)
    _, logdet1 = np.linalg.slogdet(s1)
    return 0.5 * (np.trace(s1_inv @ s0) + d @ s1_inv @ d - k + logdet1 - logdet0)


def kl_fit_vs_exact(draws, x_o):
    draws = np.asarray(draws, dtype=np.float64)
    mean = draws.mean(axis=0)
    cov = np.cov(draws, rowvar=False)  # the unbiased sample covariance (divisor n - 1)
    exact_mean = np.asarray(x_o, dtype=np.float64) / 2.0
    exact_cov = GL_POST_VAR * np.eye(draws.shape[1])
    return float(kl_gaussians(mean, cov, exact_mean, exact_cov))


# ---------------------------------------------------------------------------------------
# sbi


def import_sbi():
    try:
        import torch
        import sbi
    except ImportError as e:
        fail(f"{e}\n  create the environment: benchmarks/peers/posterior_side_by_side.sh --setup")
    return torch, sbi


def version_of(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def npe_class():
    """sbi's single-round NPE trainer: NPE in sbi >= 0.23, SNPE (SNPE_C) before."""
    from sbi import inference
    for name in ("NPE", "NPE_C", "SNPE", "SNPE_C"):
        if hasattr(inference, name):
            return name, getattr(inference, name)
    fail("this sbi has no NPE / SNPE trainer in sbi.inference")


def posterior_nn_fn():
    try:
        from sbi.neural_nets import posterior_nn
    except ImportError:
        from sbi.utils import posterior_nn  # sbi < 0.23
    return posterior_nn


def zuko_hidden_accepts_list():
    """Whether sbi's zuko flow builder takes hidden_features as a list of layer widths."""
    import inspect
    try:
        from sbi.neural_nets.net_builders import flow as flow_builders
    except ImportError:
        return False
    fn = getattr(flow_builders, "build_zuko_nsf", None)
    if fn is None:
        return False
    ann = str(inspect.signature(fn).parameters.get("hidden_features", inspect.Parameter("h", 1)).annotation)
    return "Sequence" in ann or "List" in ann or "list" in ann


def has_zuko_nsf():
    try:
        from sbi.neural_nets.net_builders import flow as flow_builders
    except ImportError:
        return False
    return hasattr(flow_builders, "build_zuko_nsf") and version_of("zuko") is not None


def sbi_z_score_defaults(posterior_nn):
    import inspect
    params = inspect.signature(posterior_nn).parameters
    return {k: params[k].default for k in ("z_score_theta", "z_score_x") if k in params}


def make_prior(task, torch):
    if task == "two_moons":
        from sbi.utils import BoxUniform
        return BoxUniform(low=-torch.ones(2), high=torch.ones(2))
    return torch.distributions.MultivariateNormal(torch.zeros(GL_DIM), GL_PRIOR_VAR * torch.eye(GL_DIM))


def describe_module(net, torch):
    """What was built, read off the module: its printout, parameter count, the Linear
    layers in order, and spline bin counts found on its submodules."""
    linears = [[m.in_features, m.out_features] for m in net.modules() if isinstance(m, torch.nn.Linear)]
    import re
    printout = str(net)
    # zuko prints its spline as MonotonicRQSTransform(bins=K); nflows keeps num_bins on the module
    bins = sorted({int(getattr(m, "num_bins")) for m in net.modules() if isinstance(getattr(m, "num_bins", None), int)}
                  | {int(k) for k in re.findall(r"bins=(\d+)", printout)})
    return {
        "class": f"{type(net).__module__}.{type(net).__name__}",
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "linear_layers_in_out": linears,
        "spline_bins": bins,
        "trainable_parameters": int(sum(p.numel() for p in net.parameters() if p.requires_grad)),
        "buffers": [[name, list(b.shape)] for name, b in net.named_buffers()],
        "printout": printout,
    }


def estimator_log_prob(net, theta, x, torch):
    """log q(theta | x) per pair from the density estimator itself (sbi >= 0.23's
    ConditionalDensityEstimator: input (sample, batch, dim), condition (batch, dim);
    earlier sbi: an nflows Flow with a context)."""
    out = []
    with torch.no_grad():
        for t, c in zip(torch.split(theta, 1000), torch.split(x, 1000)):
            if hasattr(net, "condition_shape"):
                lp = net.log_prob(t.unsqueeze(0), condition=c).squeeze(0)
            else:
                lp = net.log_prob(t, context=c)
            out.append(lp.reshape(-1))
    return torch.cat(out)


def estimator_sample(net, n, x_o, torch):
    with torch.no_grad():
        if hasattr(net, "condition_shape"):
            s = net.sample((n,), condition=x_o.reshape(1, -1))
        else:
            s = net.sample(n, context=x_o.reshape(1, -1))
    return s.reshape(n, -1)


def last(seq):
    if seq is None:
        return None
    seq = list(seq)
    return float(seq[-1]) if seq else None


class NullTracker:
    """A do-nothing experiment tracker: sbi's default one writes TensorBoard logs into
    ./sbi-logs of the working directory."""

    log_dir = None

    def log_metric(self, name, value, step=None):
        pass

    def log_metrics(self, metrics, step=None):
        pass

    def log_params(self, params):
        pass

    def add_figure(self, name, figure, step=None):
        pass

    def flush(self):
        pass


def tracker_kwargs(Trainer, data_dir):
    import inspect
    params = inspect.signature(Trainer.__init__).parameters
    if "tracker" in params:
        return {"tracker": NullTracker()}
    if "summary_writer" in params:  # sbi before trackers: its SummaryWriter, kept out of the repository
        from torch.utils.tensorboard import SummaryWriter
        return {"summary_writer": SummaryWriter(log_dir=str(data_dir / "sbi-logs"))}
    return {}


def sbi_runs_one_extra_epoch(trainer):
    """sbi's loop `while self.epoch <= max_num_epochs` (epoch counted from 0) trains
    max_num_epochs + 1 epochs; read off its source, checked against the epochs run."""
    import inspect
    loop = getattr(trainer, "_run_training_loop", None) or getattr(trainer, "train")
    try:
        return "self.epoch <= " in inspect.getsource(loop)
    except (OSError, TypeError):
        return False


def with_last_epoch_snapshot(Trainer, torch):
    """Trainer subclass that keeps a copy of the weights after each epoch: when the
    epoch budget ends, sbi puts back the weights of the best validation epoch, so the
    last epoch's are kept here to be evaluated too. The copy (a state dict of a few
    tens of thousands of floats) is taken after sbi's validation pass."""
    import copy

    class Snapshotting(Trainer):
        def _summarize_epoch(self, *a, **kw):
            super()._summarize_epoch(*a, **kw)
            self.last_epoch_state = copy.deepcopy(self._neural_net.state_dict())

    Snapshotting.__name__ = Trainer.__name__
    return Snapshotting


def run_task(task, splits, args, torch, data_dir):
    trainer_name, Trainer = npe_class()
    posterior_nn = posterior_nn_fn()

    torch.manual_seed(args.seed)
    prior = make_prior(task, torch)

    model = args.estimator
    if model == "auto":
        model = "zuko_nsf" if has_zuko_nsf() else "nsf"
    hidden_requested = [args.hidden] * args.hidden_layers
    build_kwargs = dict(model=model, num_transforms=args.transforms, num_bins=args.bins)
    hidden_note = ""
    if model == "zuko_nsf" and zuko_hidden_accepts_list():
        # an int would become [int] * num_transforms hidden layers in sbi's zuko builder
        build_kwargs["hidden_features"] = hidden_requested
    else:
        build_kwargs["hidden_features"] = args.hidden
        hidden_note = ("the builder takes one width: "
                       + ("nflows's nsf has residual blocks of this width (num_blocks=2 by default)"
                          if model == "nsf" else "zuko_nsf repeats it"))
    # sbi's defaults of z_score_theta / z_score_x are left alone (recorded below)
    builder = posterior_nn(**build_kwargs)

    Snapshotting = with_last_epoch_snapshot(Trainer, torch)
    trainer = Snapshotting(prior=prior, density_estimator=builder, device="cpu", show_progress_bars=False,
                           **tracker_kwargs(Trainer, data_dir))
    tr_theta, tr_x = splits["train"]
    va_theta, va_x = splits["valid"]
    theta = torch.from_numpy(np.concatenate([tr_theta, va_theta]))
    x = torch.from_numpy(np.concatenate([tr_x, va_x]))
    trainer.append_simulations(theta, x)
    validation_fraction = len(va_theta) / (len(tr_theta) + len(va_theta))

    extra = sbi_runs_one_extra_epoch(trainer)
    max_num_epochs = args.epochs - 1 if extra else args.epochs
    train_kwargs = dict(
        training_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        validation_fraction=validation_fraction,
        stop_after_epochs=10**9,
        max_num_epochs=max_num_epochs,
        show_train_summary=False,
    )
    if args.clip_max_norm is not None:
        train_kwargs["clip_max_norm"] = args.clip_max_norm if args.clip_max_norm > 0 else None
    t0 = time.perf_counter()
    net = trainer.train(**train_kwargs)
    seconds = time.perf_counter() - t0
    summary = getattr(trainer, "summary", None) or getattr(trainer, "_summary", {}) or {}
    train_losses = list(summary.get("training_loss") or [])
    valid_losses = list(summary.get("validation_loss") or [])
    epochs = len(train_losses) if train_losses else int(getattr(trainer, "epoch", 0) or 0)
    if epochs != args.epochs:
        print(f"posterior_peer: warning: sbi ran {epochs} epochs, {args.epochs} were asked for "
              f"(max_num_epochs={max_num_epochs})", file=sys.stderr)
    net.eval()
    best_epoch = int(np.argmin(valid_losses)) + 1 if valid_losses else None

    # the same flow with the last epoch's weights (sbi returns the best validation epoch's)
    last_net = None
    if getattr(trainer, "last_epoch_state", None) is not None:
        import copy
        last_net = copy.deepcopy(net)
        last_net.load_state_dict(trainer.last_epoch_state)
        last_net.eval()

    posterior = trainer.build_posterior(net)

    te_theta, te_x = (torch.from_numpy(a) for a in splits["test"])
    lp = estimator_log_prob(net, te_theta, te_x, torch)
    result = {
        "trainer": f"sbi.inference.{trainer_name}",
        "density_estimator_model": model,
        "requested": {"num_transforms": args.transforms, "num_bins": args.bins,
                      "hidden_features": hidden_requested, "embedding_net": "none (identity)",
                      "z_score": sbi_z_score_defaults(posterior_nn), "builder_kwargs": build_kwargs,
                      "note": hidden_note},
        "built": describe_module(net, torch),
        "train": {
            "optimizer": "Adam (sbi's train())", "learning_rate": args.learning_rate,
            "batch_size": args.batch_size, "epochs_requested": args.epochs,
            "max_num_epochs_passed": max_num_epochs, "sbi_loop_runs_max_num_epochs_plus_one": extra,
            "stop_after_epochs": 10**9,
            "clip_max_norm": train_kwargs.get("clip_max_norm", "sbi's default"),
            "n_train_plus_valid": int(theta.shape[0]), "validation_fraction": validation_fraction,
            "epochs_run": epochs, "seconds": seconds, "seconds_per_epoch": seconds / max(epochs, 1),
            "sbi_epoch_durations_sec": [float(v) for v in summary.get("epoch_durations_sec", [])],
            "sbi_epoch_durations_sum": float(sum(summary.get("epoch_durations_sec", []))),
            "final_training_loss": last(train_losses), "final_validation_loss": last(valid_losses),
            "best_validation_loss": last(summary.get("best_validation_loss")),
            "best_validation_epoch": best_epoch,
            "returned_weights": ("last epoch's" if best_epoch in (None, epochs)
                                 else f"epoch {best_epoch}'s (sbi keeps the best validation epoch)"),
            "training_loss_per_epoch": [float(v) for v in train_losses],
            "validation_loss_per_epoch": [float(v) for v in valid_losses],
            "summary_keys": sorted(summary.keys()),
        },
        "test_nll": {
            "value": float(-lp.double().mean()),
            "stderr": float(lp.double().std() / math.sqrt(lp.numel())),
            "n": int(lp.numel()),
            "finite": bool(torch.isfinite(lp).all()),
            "what": "mean of -log q(theta | x) over the test pairs from the density estimator's log_prob "
                    "(z-scoring included, normalized over R^dim, no prior-support truncation), with the "
                    "weights sbi returned",
        },
    }
    if task == "gaussian_linear":
        # the exact posterior's NLL on the same test pairs: the floor of any estimator's
        t64, x64 = splits["test"][0].astype(np.float64), splits["test"][1].astype(np.float64)
        exact = 0.5 * (((t64 - x64 / 2.0) ** 2).sum(axis=1) / GL_POST_VAR + GL_DIM * math.log(2 * math.pi * GL_POST_VAR))
        result["test_nll_exact_posterior"] = float(exact.mean())
    if last_net is not None:
        lp_last = estimator_log_prob(last_net, te_theta, te_x, torch)
        result["test_nll_last_epoch_weights"] = {
            "value": float(-lp_last.double().mean()),
            "stderr": float(lp_last.double().std() / math.sqrt(lp_last.numel())),
            "what": "the same with the weights after the last epoch",
        }

    obs_theta, obs_x = splits["observations"]
    n_draws = args.posterior_samples
    if task == "gaussian_linear":
        kls, kls_ref, kls_last = [], [], []
        ref_rng = np.random.default_rng(np.random.SeedSequence([args.seed, 99]))
        last_posterior = trainer.build_posterior(last_net) if last_net is not None else None
        for i in range(obs_x.shape[0]):
            x_o = torch.from_numpy(obs_x[i])
            draws = posterior.sample((n_draws,), x=x_o, show_progress_bars=False).numpy()
            kls.append(kl_fit_vs_exact(draws, obs_x[i]))
            if last_posterior is not None:
                draws = last_posterior.sample((n_draws,), x=x_o, show_progress_bars=False).numpy()
                kls_last.append(kl_fit_vs_exact(draws, obs_x[i]))
            exact = obs_x[i].astype(np.float64) / 2.0 + math.sqrt(GL_POST_VAR) * ref_rng.standard_normal((n_draws, GL_DIM))
            kls_ref.append(kl_fit_vs_exact(exact, obs_x[i]))
        result["kl_gaussian_fit_vs_exact"] = {
            "per_observation": kls, "mean": float(np.mean(kls)),
            "exact_draws_reference_per_observation": kls_ref, "exact_draws_reference_mean": float(np.mean(kls_ref)),
            "last_epoch_weights_per_observation": kls_last,
            "last_epoch_weights_mean": float(np.mean(kls_last)) if kls_last else None,
            "draws": n_draws,
            "what": "KL(N(sample mean, sample cov) || N(x_o/2, 0.05 I)) of posterior.sample draws; the reference: "
                    "the same for as many exact draws (finite-sample floor)",
        }
    else:
        x_o = torch.from_numpy(obs_x[0])
        draws = posterior.sample((n_draws,), x=x_o, show_progress_bars=False).numpy()
        flow_draws = estimator_sample(net, n_draws, x_o, torch).numpy()
        write_f32(data_dir / "two_moons_sbi_draws.f32", draws)
        write_f32(data_dir / "two_moons_sbi_flow_draws.f32", flow_draws)
        inside = float(np.mean(np.all(np.abs(flow_draws) <= 1.0, axis=1)))
        support = {"flow_draws_inside_prior_support": inside}
        if hasattr(posterior, "leakage_correction"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                acc = posterior.leakage_correction(x_o.reshape(1, -1))
            support["sbi_leakage_correction_acceptance"] = float(acc)
        # the posterior's log_prob at a few test-like points against the estimator's:
        # their difference is sbi's leakage correction (log of the mass inside the support)
        probe = torch.tensor([[0.2, 0.2], [-0.2, -0.2], [0.0, 0.5]])
        post_lp = posterior.log_prob(probe, x=x_o).detach()
        est_lp = estimator_log_prob(net, probe, x_o.reshape(1, -1).expand(3, -1).contiguous(), torch)
        support["posterior_minus_estimator_log_prob_at_probes"] = [float(v) for v in (post_lp - est_lp)]
        # the estimator's density at x_o integrated on a grid over [-3, 3]^2 (should be
        # near 1: a normalized density whose mass is almost all in there)
        g = torch.linspace(-3.0, 3.0, 601)
        gx, gy = torch.meshgrid(g, g, indexing="ij")
        pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
        glp = estimator_log_prob(net, pts, x_o.reshape(1, -1).expand(pts.shape[0], -1).contiguous(), torch)
        cell = float((g[1] - g[0]) ** 2)
        support["estimator_density_integral_on_grid"] = float(glp.double().exp().sum() * cell)
        result["observation_x_o_0_0"] = {
            "draws_file": "two_moons_sbi_draws.f32", "flow_draws_file": "two_moons_sbi_flow_draws.f32",
            "draws": n_draws,
            "what": "two_moons_sbi_draws: sbi's posterior.sample (rejects draws outside the prior support); "
                    "two_moons_sbi_flow_draws: the density estimator's own samples",
            **support,
        }
    return result


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def print_table(results):
    print()
    print(f"sbi NPE ({results['environment']['sbi']}), {results['environment']['torch_num_threads']} torch thread(s), "
          f"seed {results['seed']}{'  [--quick]' if results['quick'] else ''}")
    print(f"  {'task':<16} {'estimator':<9} {'test NLL':>10} {'NLL last':>10} {'epochs':>6} {'best':>4} "
          f"{'train s':>8} {'s/epoch':>8} {'last train':>10} {'last valid':>10}")

    def fmt(v):
        return f"{v:10.4f}" if isinstance(v, float) else f"{'-':>10}"

    for task, r in results["tasks"].items():
        t = r["train"]
        nll_last = r.get("test_nll_last_epoch_weights", {}).get("value")
        best = t["best_validation_epoch"]
        print(f"  {task:<16} {r['density_estimator_model']:<9} {r['test_nll']['value']:10.4f} {fmt(nll_last)} "
              f"{t['epochs_run']:6d} {best if best is not None else '-':>4} {t['seconds']:8.1f} "
              f"{t['seconds_per_epoch']:8.3f} {fmt(t['final_training_loss'])} {fmt(t['final_validation_loss'])}")
    gl = results["tasks"].get("gaussian_linear")
    if gl:
        k = gl["kl_gaussian_fit_vs_exact"]
        per = ", ".join(f"{v:.4f}" for v in k["per_observation"])
        ref = ", ".join(f"{v:.4f}" for v in k["exact_draws_reference_per_observation"])
        print(f"  gaussian_linear KL(N_fit || N_exact), {k['draws']} draws: {per}  mean {k['mean']:.4f}")
        if k.get("last_epoch_weights_per_observation"):
            lst = ", ".join(f"{v:.4f}" for v in k["last_epoch_weights_per_observation"])
            print(f"    with the last epoch's weights: {lst}  mean {k['last_epoch_weights_mean']:.4f}")
        print(f"    (the same for exact draws, the floor: {ref}  mean {k['exact_draws_reference_mean']:.4f}; "
              f"exact posterior's test NLL {gl['test_nll_exact_posterior']:.4f})")
    tm = results["tasks"].get("two_moons")
    if tm:
        o = tm["observation_x_o_0_0"]
        acc = o.get("sbi_leakage_correction_acceptance")
        print(f"  two_moons x_o=(0,0): flow draws inside [-1,1]^2 {o['flow_draws_inside_prior_support']:.4f}"
              + (f", sbi leakage acceptance {acc:.4f}" if acc is not None else "")
              + f", density integral on [-3,3]^2 {o['estimator_density_integral_on_grid']:.4f}")
    print("  (test NLL: the density estimator's own log_prob in nats, original theta units, with the weights sbi "
          "returns,\n   those of its best validation epoch 'best'; NLL last: with the last epoch's weights; "
          "last train / valid: sbi's\n   summary of the last epoch, mean -log q per pair)")


def parse_args():
    p = argparse.ArgumentParser(
        description="Simulate the gaussian_linear and two_moons NPE tasks, write them for flowtmpl's C++ side, "
                    "train sbi's neural posterior estimation on them and report held-out NLL, Gaussian KL "
                    "(gaussian_linear) and training time.")
    p.add_argument("--seed", type=int, default=1, help="seed of the simulations (numpy) and of torch (default 1)")
    p.add_argument("--data-dir", type=Path, default=ROOT / "build" / "posterior-data",
                   help="where the .f32 data, manifest.json and the two_moons draws go, created if missing "
                        "(default: build/posterior-data under the repository root)")
    p.add_argument("--out", type=Path, default=None,
                   help="the JSON results file (default: DATA_DIR/sbi_results.json)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1000 training pairs and 3 epochs (unless --num-train / --epochs say otherwise)")
    p.add_argument("--tasks", default=",".join(TASKS),
                   help=f"comma-separated tasks to train (default {','.join(TASKS)}); the data of both is always written")
    p.add_argument("--data-only", action="store_true", help="write the data and manifest, train nothing (needs only numpy)")
    p.add_argument("--num-train", type=int, default=None, help="training pairs per task (default 10000; 1000 with --quick)")
    p.add_argument("--num-valid", type=int, default=1000, help="validation pairs per task (default 1000)")
    p.add_argument("--num-test", type=int, default=5000, help="held-out test pairs per task (default 5000)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs, exactly (default 50; 3 with --quick)")
    p.add_argument("--batch-size", type=int, default=256, help="training batch size (default 256)")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--clip-max-norm", type=float, default=None,
                   help="gradient-norm clipping passed to sbi's train(); 0 turns it off (default: sbi's own default)")
    p.add_argument("--estimator", choices=["auto", "zuko_nsf", "nsf"], default="auto",
                   help="sbi density estimator: zuko_nsf (zuko), nsf (nflows), or auto: zuko_nsf where the installed "
                        "sbi has it (default auto)")
    p.add_argument("--transforms", type=int, default=5, help="flow transforms (default 5)")
    p.add_argument("--bins", type=int, default=8, help="spline bins (default 8)")
    p.add_argument("--hidden", type=int, default=64, help="hidden width of the conditioner networks (default 64)")
    p.add_argument("--hidden-layers", type=int, default=2,
                   help="hidden layers of that width, where the builder takes a list of widths (default 2)")
    p.add_argument("--posterior-samples", type=int, default=10000,
                   help="posterior draws per observation for the KL and the two_moons draws file (default 10000)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--print-modules", action="store_true", help="print each built density estimator (also in the JSON)")
    args = p.parse_args()
    if args.num_train is None:
        args.num_train = 1000 if args.quick else 10000
    if args.epochs is None:
        args.epochs = 3 if args.quick else 50
    if args.out is None:
        args.out = args.data_dir / "sbi_results.json"
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for t in args.tasks:
        if t not in TASKS:
            p.error(f"unknown task '{t}' (known: {', '.join(TASKS)})")
    for name in ("num_train", "num_valid", "num_test", "epochs", "batch_size", "transforms", "bins", "hidden",
                 "hidden_layers", "posterior_samples", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive")
    return args


def main():
    args = parse_args()
    sizes = {"train": args.num_train, "valid": args.num_valid, "test": args.num_test}
    streams = np.random.SeedSequence(args.seed).spawn(len(TASKS))
    data = {t: simulate_task(t, np.random.default_rng(s), sizes) for t, s in zip(TASKS, streams)}
    write_data(args.data_dir, args.seed, data, sizes, args.quick)
    print(f"posterior_peer: data and manifest.json written to {args.data_dir}", file=sys.stderr)
    if args.data_only:
        return

    torch, sbi = import_sbi()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning, module="sbi")
    # sbi warns when the epoch budget ends before its early stopping would: here by design
    warnings.filterwarnings("ignore", message="Maximum number of epochs")

    results = {
        "seed": args.seed,
        "quick": args.quick,
        "data_dir": str(args.data_dir),
        "sizes": sizes,
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "sbi": version_of("sbi"),
            "zuko": version_of("zuko"),
            "nflows": version_of("nflows"),
            "pyknos": version_of("pyknos"),
            "numpy": np.__version__,
            "torch_num_threads": torch.get_num_threads(),
            "cpu": cpu_model(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
        "tasks": {},
    }
    for task in args.tasks:
        print(f"posterior_peer: training sbi NPE on {task} ({args.num_train} + {args.num_valid} pairs, "
              f"{args.epochs} epochs)", file=sys.stderr)
        results["tasks"][task] = run_task(task, data[task], args, torch, args.data_dir)
        if args.print_modules:
            built = results["tasks"][task]["built"]
            print(f"{task}: {built['class']}, {built['parameters']} parameters\n{built['printout']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print_table(results)
    print(f"  results: {args.out}")


if __name__ == "__main__":
    main()
