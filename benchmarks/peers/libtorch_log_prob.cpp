// benchmarks/peers/libtorch_log_prob.cpp: the LibTorch peer of flow_peers.py --deploy.
//
// What a C++ program that deploys a PyTorch-trained flow with LibTorch runs: the
// TorchScript module deploy_peers.py saved (a module whose forward(x) is the flow's
// log_prob(x) at a fixed batch, with the inputs as its buffer x), loaded with
// torch::jit::load and called from C++ with autograd off (torch::InferenceMode), on T
// intra-op threads. deploy_peers.py builds it against the headers and libraries of the
// torch wheel in the peers' environment.
//
//   libtorch_log_prob MODULE.pt BATCH DIM DTYPE THREADS MIN_SECONDS REPETITIONS
//
// DTYPE is f32 or f64. Prints one line: {"seconds": S, "calls": K}, S the median over
// REPETITIONS of the mean time of one call, each repetition running calls for at least
// MIN_SECONDS after two warm-up calls (flow_peers.py's time_call, in C++).
#include <torch/script.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s MODULE.pt BATCH DIM DTYPE THREADS MIN_SECONDS REPETITIONS\n", argv[0]);
    return 2;
  }
  try {
    const std::string path = argv[1];
    const long batch = std::stol(argv[2]);
    const long dim = std::stol(argv[3]);
    const std::string dtype = argv[4];
    const int threads = std::stoi(argv[5]);
    const double min_seconds = std::stod(argv[6]);
    const int repetitions = std::stoi(argv[7]);
    if (dtype != "f32" && dtype != "f64") {
      std::fprintf(stderr, "libtorch_log_prob: DTYPE must be f32 or f64, not %s\n", dtype.c_str());
      return 2;
    }
    at::set_num_threads(threads);
    torch::InferenceMode no_autograd;
    torch::jit::script::Module module = torch::jit::load(path);
    module.eval();
    // the inputs: the module's buffer x, the draws of the flow that the Python rows time
    const torch::Tensor x = module.attr("x").toTensor();
    const auto want = dtype == "f32" ? torch::kFloat32 : torch::kFloat64;
    if (x.dim() != 2 || x.size(0) != batch || x.size(1) != dim || x.scalar_type() != want) {
      std::fprintf(stderr, "libtorch_log_prob: %s holds inputs of another shape or type than BATCH %ld, DIM %ld, %s\n",
                   path.c_str(), batch, dim, dtype.c_str());
      return 2;
    }
    const std::vector<torch::jit::IValue> inputs{x};
    for (int i = 0; i < 2; ++i) module.forward(inputs);
    std::vector<double> per_call;
    long total_calls = 0;
    for (int r = 0; r < repetitions; ++r) {
      long k = 0;
      const auto t0 = std::chrono::steady_clock::now();
      double t = 0;
      do {
        const torch::Tensor lp = module.forward(inputs).toTensor();
        if (lp.numel() != batch) {
          std::fprintf(stderr, "libtorch_log_prob: the module returned %ld values for a batch of %ld\n",
                       long(lp.numel()), batch);
          return 1;
        }
        ++k;
        t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      } while (t < min_seconds);
      per_call.push_back(t / double(k));
      total_calls += k;
    }
    std::sort(per_call.begin(), per_call.end());
    const std::size_t m = per_call.size();
    const double median = m % 2 ? per_call[m / 2] : 0.5 * (per_call[m / 2 - 1] + per_call[m / 2]);
    std::printf("{\"seconds\": %.9g, \"calls\": %ld}\n", median, total_calls);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "libtorch_log_prob: %s\n", e.what());
    return 1;
  }
}
