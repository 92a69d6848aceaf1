"""benchmarks/report.py: the tables and the plot of docs/performance.md, from one run of
benchmarks/run-performance.sh.

    report.py DIR      reads DIR/suite.json (flow_suite, Google Benchmark JSON with
                       repetitions), DIR/peers.json (peers/flow_peers.py) and
                       DIR/compile.json (compile_time.sh); writes DIR/tables.md and
                       DIR/throughput.png

Every figure is a median: flowtmpl's over the benchmark's repetitions (real time), the
peers' over their repetitions. "best peer" is the fastest of every library and
configuration measured for that row (eager, torch.compile, and where flow_peers.py ran
with --deploy, ONNX Runtime and LibTorch from C++). speedup = best peer time /
flowtmpl time (how many times more samples per second flowtmpl computes).

The flows added since the first suite (NEW_FLOWS, issue 23: float, batches 1, 256 and
4096, training at 256) have their own section, which lists every row the suite
registers for them ("not measured" where suite.json has no flowtmpl row), and their own
targets (NEW_TARGETS); GFLOP/s and % peak read "n/a" where the suite does not model a
flow's FLOPs (flop_per_sample 0: Residual, CNF). The plot shows the five flows of the
first suite.
"""

import json
import os
import sys

TARGETS = {
    # issue 23's targets, each a ratio or a fraction of a peak measured in the same run
    "train_vs_peer": 3.0,  # training step at 256 and 4096, 1 thread: x best peer
    "train_peak": 40.0,  # % of FMA peak (3x forward FLOPs), training step at 256 and 4096, 1 thread
    "batch1_l2": 1.3,  # log_prob at batch 1: at most this many times the L2 read of the weights
    "peak65536": 75.0,  # % of FMA peak, log_prob 65536, 1 thread (RealNVP, Glow, MAF)
    "peak65536_nsf": 50.0,  # the same for NSF
    "vs_peer65536": 3.0,  # log_prob 65536, 1 thread: x best peer
    "threads": 1.8,  # 2 threads / 1 thread from batch 256 up (log_prob, sample, train)
    "compile_seconds": 15.0,  # the 16-layer NSF with gradients, g++ -O2: CPU seconds
    "compile_mb": 1024.0,  # and peak memory
}
FLOWS = ("RealNVP", "Glow", "NSF", "MAF", "TwoMoons")
# The flows added since (issue 23; float; suite.hpp's register_added_flow, flow_peers.py's
# NEW_FLOWS): their own section of the tables and their own targets.
NEW_FLOWS = ("CondNSF", "ZukoNSF", "Residual", "CNF")
NEW_TARGETS = {
    "vs_peer": 3.0,  # log_prob at 256 and 4096 and the training step at 256, 1 thread: x best peer
    "threads": 1.8,  # 2 threads / 1 thread, log_prob 4096 and the training step at 256
}
NEW_ROWS = (("log_prob", (1, 256, 4096)), ("sample", (1, 256, 4096)), ("train", (256,)))  # their rows


def load_suite(path):
    with open(path) as f:
        j = json.load(f)
    ctx = j["context"]
    rows = {}
    for b in j["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"].replace("/real_time", "")
        flow, dt, op, batch, threads = name.split("/")
        key = (flow, dt, op, int(batch.split(":")[1]), int(threads.split(":")[1]))
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        rows[key] = dict(seconds=b["real_time"] * scale, pct_peak=b.get("pct_peak"), gflops=b.get("GFLOPS"),
                         flop=b.get("flop_per_sample"), weight_bytes=b.get("weight_bytes"))
    return ctx, rows


def load_peers(path):
    with open(path) as f:
        j = json.load(f)
    rows = {}
    for r in j["rows"]:
        key = (r["flow"], r["dtype"], r["op"], r["batch"], r["threads"])
        rows.setdefault(key, []).append(r)
    return j, rows


def fmt_time(s):
    if s < 1e-3:
        return "%.2f us" % (s * 1e6) if s < 1e-5 else "%.1f us" % (s * 1e6)
    return "%.2f ms" % (s * 1e3) if s < 1 else "%.2f s" % s


def fmt_rate(r):
    """GFLOP/s and % of peak of a flowtmpl row: n/a where its FLOPs are not modelled
    (flop_per_sample 0: the residual and continuous flows)."""
    if r.get("flop") == 0:
        return "n/a", "n/a"
    return "%.1f" % (r["gflops"] or 0), "%.1f" % (r["pct_peak"] or 0)


def main():
    d = sys.argv[1]
    ctx, suite = load_suite(os.path.join(d, "suite.json"))
    pj, peers = load_peers(os.path.join(d, "peers.json"))
    out = []
    w = out.append
    w("Machine: %s, %d CPUs at %s MHz (host name %s); flowtmpl built with %s; %s." % (
        ctx.get("simd", "?"), ctx["num_cpus"], ctx["mhz_per_cpu"], ctx.get("host_name", "?"), ctx.get("simd"),
        "torch " + pj["torch"] + (", BLAS " + pj["blas"] if "blas" in pj else "")))
    if any(r["lib"] == "torch" for rs in peers.values() for r in rs):
        w("")
        w("Peers: plain PyTorch (benchmarks/peers/plain_flows.py), not nflows and zuko: the fallback of "
          "run-performance.sh where PyPI could not be reached, on the distribution's torch (BLAS %s: a "
          "distribution's build may link the reference BLAS, far slower than PyPI's MKL)." % pj.get("blas", "?"))
    fp32, fp64 = float(ctx["fma_peak_f32_gflops"]), float(ctx["fma_peak_f64_gflops"])
    g32, g64 = float(ctx["gemm_peak_f32_gflops"]), float(ctx["gemm_peak_f64_gflops"])
    w("")
    w("Single-core peak measured in the same run: FMA %.1f GFLOP/s (float), %.1f (double); "
      "Eigen GEMM 512x512 %.1f (float, %.0f%% of FMA), %.1f (double, %.0f%%)." % (
          fp32, fp64, g32, 100 * g32 / fp32, g64, 100 * g64 / fp64))
    w("")
    for dt in ("f32", "f64"):
        w("### %s: flowtmpl against the best peer\n" % ("float" if dt == "f32" else "double"))
        w("| flow | op | batch | threads | flowtmpl | GFLOP/s | % peak | best peer | its time | speedup |")
        w("|---|---|--:|--:|--:|--:|--:|---|--:|--:|")
        for key in sorted(suite, key=lambda k: (k[0], k[2], k[3], k[4])):
            flow, kdt, op, n, t = key
            if kdt != dt or flow in NEW_FLOWS:
                continue
            r = suite[key]
            cands = peers.get(key, [])
            best = min(cands, key=lambda c: c["seconds"]) if cands else None
            w("| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s |" % (
                (flow, op, n, t, fmt_time(r["seconds"])) + fmt_rate(r) + (
                    "%s %s" % (best["lib"], best["config"]) if best else "-",
                    fmt_time(best["seconds"]) if best else "-",
                    "%.1fx" % (best["seconds"] / r["seconds"]) if best else "-")))
        w("")

    # the flows added since: every row the suite registers for them, measured or not
    w("### float: the flows added since (issue 23)\n")
    w("| flow | op | batch | threads | flowtmpl | GFLOP/s | % peak | best peer | its time | speedup |")
    w("|---|---|--:|--:|--:|--:|--:|---|--:|--:|")
    new_keys = {(f, "f32", op, n, t) for f in NEW_FLOWS for op, ns in NEW_ROWS for n in ns for t in (1, 2)
                if not (n == 1 and t == 2)}
    new_keys |= {k for k in list(suite) + list(peers) if k[0] in NEW_FLOWS and k[1] == "f32"}
    for key in sorted(new_keys, key=lambda k: (NEW_FLOWS.index(k[0]), k[2], k[3], k[4])):
        flow, _, op, n, t = key
        r = suite.get(key)
        cands = peers.get(key, [])
        best = min(cands, key=lambda c: c["seconds"]) if cands else None
        w("| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s |" % (
            (flow, op, n, t, fmt_time(r["seconds"]) if r else "not measured") + (fmt_rate(r) if r else ("-", "-")) + (
                "%s %s" % (best["lib"], best["config"]) if best else "-",
                fmt_time(best["seconds"]) if best else "-",
                "%.1fx" % (best["seconds"] / r["seconds"]) if best and r else "-")))
    w("")

    # targets
    w("### Targets\n")
    w("| target | row | measured | goal | met |")
    w("|---|---|--:|--:|---|")

    def best_peer(key):
        c = peers.get(key, [])
        return min(c, key=lambda x: x["seconds"]) if c else None

    def row(target, label, value, goal, unit, lower_is_better=False):
        met = value <= goal if lower_is_better else value >= goal
        w("| %s | %s | %.1f%s | %s%.1f%s | %s |" % (target, label, value, unit, "<= " if lower_is_better else "",
                                                     goal, unit, "yes" if met else "**no**"))

    def missing(target, label, why):
        w("| %s | %s | not measured (%s) | | **no** |" % (target, label, why))

    def versus_best(target, key, label, goal):
        if key not in suite:
            missing(target, label, "no flowtmpl row")
        elif not best_peer(key):
            missing(target, label, "no peer row")
        else:
            b = best_peer(key)
            row(target, "%s (against %s %s)" % (label, b["lib"], b["config"]), b["seconds"] / suite[key]["seconds"],
                goal, "x")

    l2 = float(ctx.get("l2_read_gbytes_per_s", 0)) * 1e9
    for flow in FLOWS:
        for n in (256, 4096):
            k = (flow, "f32", "train", n, 1)
            versus_best("training step, 1 thread, vs best peer", k, "%s f32 %d" % (flow, n), TARGETS["train_vs_peer"])
            if k in suite:
                row("training step, 1 thread, % of FMA peak (3x forward FLOPs)", "%s f32 %d" % (flow, n),
                    suite[k]["pct_peak"], TARGETS["train_peak"], "%")
    for flow in FLOWS:
        k = (flow, "f32", "log_prob", 1, 1)
        if k not in suite:
            continue
        wb = suite[k].get("weight_bytes")
        if l2 > 0 and wb:
            limit = wb / l2
            row("log_prob batch 1: time / L2 read of the weights (%.0f KB at %.0f GB/s: %s)" % (
                wb / 1e3, l2 * 1e-9, fmt_time(limit)), flow + " f32", suite[k]["seconds"] / limit, TARGETS["batch1_l2"],
                "x", lower_is_better=True)
        else:
            missing("log_prob batch 1: time / L2 read of the weights", flow + " f32", "no L2 read rate in the suite")
    for flow in FLOWS:
        k = (flow, "f32", "log_prob", 65536, 1)
        if k in suite and flow != "TwoMoons":
            goal = TARGETS["peak65536_nsf"] if flow == "NSF" else TARGETS["peak65536"]
            row("log_prob 65536, 1 thread, % of FMA peak", flow + " f32", suite[k]["pct_peak"], goal, "%")
        versus_best("log_prob 65536, 1 thread, vs best peer", k, flow + " f32", TARGETS["vs_peer65536"])
    for flow in FLOWS:
        for op, ns in (("log_prob", (256, 4096, 65536)), ("sample", (256, 4096, 65536)), ("train", (256, 4096))):
            for n in ns:
                k1, k2 = (flow, "f32", op, n, 1), (flow, "f32", op, n, 2)
                if k1 in suite and k2 in suite:
                    row("2 threads / 1 thread", "%s %s f32 %d" % (flow, op, n),
                        suite[k1]["seconds"] / suite[k2]["seconds"], TARGETS["threads"], "x")
    # the flows added since (NEW_TARGETS)
    for flow in NEW_FLOWS:
        for op, n in (("log_prob", 256), ("log_prob", 4096), ("train", 256)):
            versus_best("%s, 1 thread, vs best peer (flows added since)" % ("training step" if op == "train" else op),
                        (flow, "f32", op, n, 1), "%s f32 %d" % (flow, n), NEW_TARGETS["vs_peer"])
    for flow in NEW_FLOWS:
        for op, n in (("log_prob", 4096), ("train", 256)):
            k1, k2 = (flow, "f32", op, n, 1), (flow, "f32", op, n, 2)
            label = "%s %s f32 %d" % (flow, op, n)
            if k1 in suite and k2 in suite:
                row("2 threads / 1 thread (flows added since)", label, suite[k1]["seconds"] / suite[k2]["seconds"],
                    NEW_TARGETS["threads"], "x")
            else:
                missing("2 threads / 1 thread (flows added since)", label, "no flowtmpl row")
    w("")
    # batch 1 against what a C++ program deploying the PyTorch flow would run
    deployed = [(flow, r) for flow in FLOWS if (flow, "f32", "log_prob", 1, 1) in suite
                for r in peers.get((flow, "f32", "log_prob", 1, 1), []) if r["config"] in ("onnxruntime", "libtorch")]
    if deployed:
        w("log_prob at batch 1 (float) against the deployment peers (benchmarks/peers/deploy_peers.py):\n")
        w("| flow | flowtmpl | peer | its time | ratio |")
        w("|---|--:|---|--:|--:|")
        for flow, r in deployed:
            t = suite[(flow, "f32", "log_prob", 1, 1)]["seconds"]
            w("| %s | %s | %s %s | %s | %.1fx |" % (flow, fmt_time(t), r["lib"], r["config"], fmt_time(r["seconds"]),
                                                  r["seconds"] / t))
        w("")

    cpath = os.path.join(d, "compile.json")
    if os.path.exists(cpath):
        with open(cpath) as f:
            cj = json.load(f)
        w("### Compile time (%s, %s)\n" % (cj["compiler"], cj["flags"]))
        w("| layers | layer types | compiler CPU time | wall | peak memory |")
        w("|--:|---|--:|--:|--:|")
        for r in cj["rows"]:
            w("| %d | %s | %.1f s | %.1f s | %d MB |" % (r["layers"], r["types"], r["cpu_seconds"], r["wall_seconds"],
                                                       r["peak_mb"]))
        w("")
        for r in cj["rows"]:
            if r["layers"] == 16:
                met = r["cpu_seconds"] < TARGETS["compile_seconds"] and r["peak_mb"] < TARGETS["compile_mb"]
                w("Target: the 16-layer NSF with gradients (%s types) under %.0f s and %.0f MB: %.1f s, %d MB: %s." % (
                    r["types"], TARGETS["compile_seconds"], TARGETS["compile_mb"], r["cpu_seconds"], r["peak_mb"],
                    "met" if met else "**missed**"))
        w("")
    with open(os.path.join(d, "tables.md"), "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))
    plot(d, suite, peers)


def plot(d, suite, peers):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    flows = ["RealNVP", "Glow", "NSF", "MAF", "TwoMoons"]
    fig, axes = plt.subplots(1, len(flows), figsize=(4 * len(flows), 4), sharey=True)
    for ax, flow in zip(axes, flows):
        for t, style in ((1, "-"), (2, "--")):
            ns = sorted(k[3] for k in suite if k[:3] == (flow, "f32", "log_prob") and k[4] == t)
            ns = [n for n in ns if (flow, "f32", "log_prob", n, t) in suite]
            if ns:
                ax.plot(ns, [n / suite[(flow, "f32", "log_prob", n, t)]["seconds"] for n in ns], "o" + style,
                        color="C0", label="flowtmpl, %d thr" % t, fillstyle="full" if t == 1 else "none")
            for i, (lib, cfg) in enumerate((("nflows", "eager"), ("zuko", "eager"), ("nflows", "compile"),
                                            ("zuko", "compile"), ("torch", "eager"), ("torch", "compile"),
                                            ("nflows", "onnxruntime"), ("nflows", "libtorch"))):
                pts = []
                for n in (1, 64, 256, 4096, 65536):
                    for r in peers.get((flow, "f32", "log_prob", n, t), []):
                        if r["lib"] == lib and r["config"] == cfg:
                            pts.append((n, n / r["seconds"]))
                if pts:  # compile: measured at two sizes only, markers without a line
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], ("s" + style) if cfg == "eager" else "^v<>"[i % 4],
                            color="C%d" % (i + 1), label="%s %s, %d thr" % (lib, cfg, t),
                            fillstyle="full" if t == 1 else "none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title("%s (float, D = %d)" % (flow, 2 if flow == "TwoMoons" else 8))
        ax.set_xlabel("batch size")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("log_prob samples per second")
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "throughput.png"), dpi=110)


if __name__ == "__main__":
    main()
