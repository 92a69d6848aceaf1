// Device backend throughput: log_prob and sample of the D = 8 RealNVP, NSF (K = 8) and
// Glow-style chains (benchmarks/standard_flows.hpp, float), at the batch sizes given,
// with the samples as columns (D x N) and as rows (N x D), and the host backend on the
// same flow for reference.
//
// One source for every thrust system: device_throughput_omp (g++, the OMP system: the
// CPU's threads) and device_throughput_cuda (nvcc, from device_throughput.cu). It needs
// no benchmark library, so that it runs on a GPU machine that has only the CUDA toolkit.
// Each figure is the median of --reps timed calls after one warm-up call; a device call
// is timed to its completion (results back in device memory, synchronised).
//
// Usage: device_throughput [--batches 1024,1000000] [--reps 11] [--flows realnvp,nsf,glow]
// Output: one line per (flow, call, batch, layout): samples per second.
#include <flowtmpl/device.hpp>
#include <flowtmpl/flowtmpl.hpp>

#include <standard_flows.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace ft = flowtmpl;

namespace {

struct options {
  std::vector<long> batches{1024, 1000000};
  int reps = 11;
  std::string flows = "realnvp,nsf,glow";
};

void synchronize() {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
  cudaDeviceSynchronize();
#endif
}

template <class F>
double median_seconds(int reps, F&& call) {
  call();  // warm-up: allocations, first launch
  synchronize();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    call();
    synchronize();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

const char* system_name() {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
  return "cuda";
#elif THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_OMP
  return "omp";
#else
  return "cpp";
#endif
}

template <class Spec>
void run(const char* name, const options& opt) {
  using F = standard_flows::flow<Spec>;
  F f;
  ft::reset_parameters(f, 1, ft::init::uniform);
  const ft::device_flow<F> df(f);
  for (const long n : opt.batches) {
    for (const ft::layout order : {ft::layout::columns, ft::layout::rows}) {
      const char* lname = order == ft::layout::columns ? "columns" : "rows";
      const ft::device_batch<float> x = ft::sample(ft::exec::device, df, n, 7, order);
      const double lp = median_seconds(opt.reps, [&] { (void)ft::log_prob(ft::exec::device, df, x); });
      const double sp = median_seconds(opt.reps, [&] { (void)ft::sample(ft::exec::device, df, n, 9, order); });
      std::printf("%-8s %-5s %-10s %-8ld %-8s %12.4g samples/s\n", name, system_name(), "log_prob", n, lname, n / lp);
      std::printf("%-8s %-5s %-10s %-8ld %-8s %12.4g samples/s\n", name, system_name(), "sample", n, lname, n / sp);
    }
    if (n <= 1000000) {  // the host backend on the same flow, for reference
      const auto X = ft::sample(f, n, 7);
      const double lp = median_seconds(opt.reps, [&] { (void)ft::log_prob(f, X); });
      const double sp = median_seconds(opt.reps, [&] { (void)ft::sample(f, n, 9); });
      std::printf("%-8s %-5s %-10s %-8ld %-8s %12.4g samples/s\n", name, "host", "log_prob", n, "columns", n / lp);
      std::printf("%-8s %-5s %-10s %-8ld %-8s %12.4g samples/s\n", name, "host", "sample", n, "columns", n / sp);
    }
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--batches" && i + 1 < argc) {
      opt.batches.clear();
      for (char* p = argv[++i]; *p;) {
        opt.batches.push_back(std::strtol(p, &p, 10));
        if (*p == ',') ++p;
      }
    } else if (a == "--reps" && i + 1 < argc) {
      opt.reps = std::atoi(argv[++i]);
    } else if (a == "--flows" && i + 1 < argc) {
      opt.flows = argv[++i];
    } else {
      std::fprintf(stderr, "usage: device_throughput [--batches 1024,1000000] [--reps 11] [--flows realnvp,nsf,glow]\n");
      return 2;
    }
  }
  if (opt.reps < 1 || opt.batches.empty() ||
      std::any_of(opt.batches.begin(), opt.batches.end(), [](long n) { return n < 1; })) {
    std::fprintf(stderr, "device_throughput: --reps and every batch must be positive\n");
    return 2;
  }
  std::printf("%-8s %-5s %-10s %-8s %-8s %12s\n", "flow", "where", "call", "batch", "layout", "throughput");
  if (opt.flows.find("realnvp") != std::string::npos) run<standard_flows::RealNVP>("realnvp", opt);
  if (opt.flows.find("nsf") != std::string::npos) run<standard_flows::NSF>("nsf", opt);
  if (opt.flows.find("glow") != std::string::npos) run<standard_flows::Glow>("glow", opt);
}
