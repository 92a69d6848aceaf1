// The device backend end to end: a flow copied to the device once, sampled and
// evaluated there in fused kernels, one maximum-likelihood step with the gradient
// reduced on the device, and the host backend on the same calls for comparison.
//
// One source for every thrust system: built with g++ for THRUST_DEVICE_SYSTEM_OMP
// (example device_flow, CMake target flowtmpl::device_omp) and with nvcc for
// THRUST_DEVICE_SYSTEM_CUDA (example device_flow_cuda, from device_flow.cu, which
// includes this file).
//
// Usage: device_flow [samples]   (default 100000)
#include <flowtmpl/device.hpp>  // first: it includes thrust after the system is chosen
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace flowtmpl;

// A RealNVP on R^4: four affine couplings (MLP 32-32), reversals between them.
using Step = compose<Coupling<Affine, MLP<32, 32>>, Permute<Reverse>>;
using Model = bind_t<Flow<StandardNormal, compose<Step, Step, Step, Step>>, 4, float>;

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000;
  if (n < 1) {
    std::fprintf(stderr, "device_flow: the number of samples must be positive\n");
    return 2;
  }
  Model flow;
  reset_parameters(flow, 1, init::uniform);

  // The flow goes to device memory once; every call below reuses it.
  device_flow<Model> on_device(flow);

  // n samples and their log densities, drawn on the device (samples as rows: N x D).
  const device_result<float> drawn = sample_and_log_prob(exec::device, on_device, n, 42, layout::rows);
  // The density of those points, evaluated on the device.
  const thrust::device_vector<float> lp = log_prob(exec::device, on_device, drawn.values);

  // The same seed on the host draws the same base samples: the flows agree to rounding.
  const auto host_drawn = sample_and_log_prob(exec::host, flow, n, 42);
  const Eigen::MatrixXf device_x = to_host(drawn.values);
  const Eigen::RowVectorXf device_lp = to_host(lp);
  const double max_dx = (device_x - host_drawn.values).cwiseAbs().maxCoeff();
  const double max_dlp = (device_lp - host_drawn.log_det).cwiseAbs().maxCoeff();
  std::printf("%ld samples on the device; largest difference from the host: %.2e (x), %.2e (log p)\n", n, max_dx,
              max_dlp);

  // One maximum-likelihood step: the gradient is reduced on the device in a fixed order,
  // the update runs on the host (any optimizer of flowtmpl/training.hpp would do), and
  // the new parameters go back to the device.
  Model grad = make_gradient(flow);
  const float nll = nll_and_gradient(exec::device, on_device, drawn.values, grad);
  std::vector<float> theta(parameter_count_v<Model>), g(theta.size());
  copy_parameters(flow, theta.data());
  copy_parameters(grad, g.data());
  for (std::size_t i = 0; i < theta.size(); ++i) theta[i] -= 0.05f * g[i];  // a plain gradient step
  assign_parameters(flow, theta.data());
  on_device.assign(flow);
  const float nll_after = nll_and_gradient(exec::device, on_device, drawn.values, grad);
  std::printf("mean negative log-likelihood of its own samples: %.5f, after one gradient step: %.5f\n", nll, nll_after);

  const bool ok = std::isfinite(nll) && nll_after < nll && max_dx < 1e-3 && max_dlp < 1e-3;
  std::printf(ok ? "device and host agree\n" : "device and host DISAGREE\n");
  return ok ? 0 : 1;
}
