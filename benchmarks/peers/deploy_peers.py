"""benchmarks/peers/deploy_peers.py: the deployment peers of flow_peers.py (--deploy).

A C++ program that needs the density of a PyTorch-trained flow would not call Python:
it would export the flow and run it with ONNX Runtime or LibTorch. These are the two
configurations, timed on the same flows, inputs and thread counts as the other rows:

  onnxruntime  log_prob exported with torch.onnx.export at a fixed batch (the graph of
               one call: no dynamic axes), run by onnxruntime.InferenceSession on the CPU
               execution provider with intra_op_num_threads = the row's threads,
               inter_op_num_threads = 1 and every graph optimisation; timed through its
               Python API (one sess.run per call: the binding's overhead is a few
               microseconds, included);
  libtorch     the same log_prob as TorchScript (torch.jit.trace at a fixed batch, the
               inputs as the module's buffer x), loaded and called from C++
               (libtorch_log_prob.cpp, built here against the wheel's own headers and
               libraries), timed per call in C++.

A flow that a path cannot export (an operation the exporter lacks) gives no row for
that configuration and one line on stderr saying why.
"""

import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class LogProb(torch.nn.Module):
    """forward(x) = the flow's log_prob(x); x (the inputs) kept as a buffer."""

    def __init__(self, lib, flow, x):
        super().__init__()
        self.lib = lib
        self.flow = flow
        self.register_buffer("x", x)

    def forward(self, x):
        return self.flow().log_prob(x) if self.lib == "zuko" else self.flow.log_prob(x)


def export_onnx(module, x, path):
    """torch.onnx.export at the batch of x; the TorchScript-based exporter first (it needs
    no onnxscript), then the dynamo one where this torch has only that."""
    try:
        torch.onnx.export(module, (x,), path, input_names=["x"], output_names=["log_prob"], dynamo=False)
    except TypeError:  # a torch whose export has no dynamo argument
        torch.onnx.export(module, (x,), path, input_names=["x"], output_names=["log_prob"])
    return path


def onnxruntime_call(path, x, threads):
    """A closure running the exported graph once on x."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    feed = {name: x.detach().cpu().numpy()}
    out = sess.run(None, feed)[0]
    if out.size != x.shape[0]:
        raise RuntimeError("the exported graph returned %d values for a batch of %d" % (out.size, x.shape[0]))
    return lambda: sess.run(None, feed)


def save_torchscript(module, x, path):
    with torch.no_grad():
        traced = torch.jit.trace(module, (x,), check_trace=False)
    traced.save(path)
    return path


_build_failed = []


def build_libtorch(work):
    """libtorch_log_prob built against this torch (cached in work/); its path. A failed
    build is tried once per run."""
    if _build_failed:
        raise RuntimeError("the LibTorch timer did not build (above)")
    exe = os.path.join(work, "libtorch_log_prob")
    src = os.path.join(HERE, "libtorch_log_prob.cpp")
    if os.path.exists(exe) and os.path.getmtime(exe) > os.path.getmtime(src):
        return exe
    tdir = os.path.dirname(torch.__file__)
    abi = int(torch.compiled_with_cxx11_abi())
    cmd = ["g++", "-std=c++20", "-O2", "-D_GLIBCXX_USE_CXX11_ABI=%d" % abi, src, "-o", exe,
           "-isystem", os.path.join(tdir, "include"),
           "-isystem", os.path.join(tdir, "include", "torch", "csrc", "api", "include"),
           "-L", os.path.join(tdir, "lib"), "-Wl,-rpath," + os.path.join(tdir, "lib"),
           "-Wl,--no-as-needed", "-ltorch", "-ltorch_cpu", "-lc10", "-Wl,--as-needed", "-lpthread"]
    print("deploy_peers: building %s (LibTorch %s)" % (exe, torch.__version__), file=sys.stderr, flush=True)
    try:
        subprocess.run(cmd, check=True)
    except subprocess.CalledProcessError:
        _build_failed.append(True)
        raise
    return exe


def libtorch_seconds(exe, path, n, dim, dtype, threads, min_time, repetitions):
    """The median time of one call of the TorchScript module from C++."""
    out = subprocess.run([exe, path, str(n), str(dim), dtype, str(threads), str(min_time), str(repetitions)],
                         capture_output=True, text=True)
    if out.returncode != 0:  # the timer's own sentence (libtorch_log_prob: ...)
        raise RuntimeError((out.stderr.strip().splitlines() or ["exit status %d" % out.returncode])[-1])
    return json.loads(out.stdout)["seconds"]


def deploy_rows(lib, name, dt, n, dim, threads, flow, x, work, min_time, repetitions, time_call):
    """The onnxruntime and libtorch rows of one (flow, batch, threads): a list of
    (config, seconds); a configuration that fails is left out with a line on stderr."""
    os.makedirs(work, exist_ok=True)
    flow.eval()
    module = LogProb(lib, flow, x).eval()
    stem = os.path.join(work, "%s_%s_%s_%d" % (lib, name, dt, n))
    rows = []
    try:
        path = export_onnx(module, x, stem + ".onnx")
        rows.append(("onnxruntime", time_call(onnxruntime_call(path, x, threads), min_time, repetitions, False)))
    except Exception as e:  # an operation the exporter or the runtime lacks
        print("%s %s: onnxruntime: %s" % (lib, name, (str(e).splitlines() or [type(e).__name__])[0]), file=sys.stderr)
    try:
        path = save_torchscript(module, x, stem + ".pt")
        exe = build_libtorch(work)
        rows.append(("libtorch", libtorch_seconds(exe, path, n, dim, dt, threads, min_time, repetitions)))
    except Exception as e:
        print("%s %s: libtorch: %s" % (lib, name, (str(e).splitlines() or [type(e).__name__])[0]), file=sys.stderr)
    return rows
