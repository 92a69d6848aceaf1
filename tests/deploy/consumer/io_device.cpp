// The installed package's optional targets, used as a consumer would:
//   built with flowtmpl::io:          save a flow with <flowtmpl/io/safetensors.hpp>, load it
//                                     into another and compare log densities bit for bit
//   built with flowtmpl::device_omp:  log_prob on the thrust device backend (OMP system)
//                                     against the host backend
// Exit status 0 on success.
#include <flowtmpl/flowtmpl.hpp>
#ifdef CONSUMER_WITH_IO
#include <flowtmpl/io/safetensors.hpp>
#endif
#ifdef CONSUMER_WITH_DEVICE
#include <flowtmpl/device.hpp>
#endif

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

namespace ft = flowtmpl;

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
  }
}
using flow_t = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::ActNorm, ft::LUConv, ft::Affine>>, 4, double>;

flow_t trained_flow() {
  flow_t flow;
  Eigen::Matrix<double, 4, Eigen::Dynamic> data = Eigen::Matrix<double, 4, Eigen::Dynamic>::Random(4, 200);
  data.row(1) *= 3.0;
  ft::initialize(flow, data);  // ActNorm's data-dependent initialisation: parameters not at their defaults
  return flow;
}
}  // namespace

int main(int argc, char** argv) {
  const flow_t flow = trained_flow();
  const auto x = ft::sample(flow, 500, 3);
  const Eigen::RowVectorXd expected = ft::log_prob(flow, x);
  int ran = 0;

#ifdef CONSUMER_WITH_IO
  {
    const std::string path = (std::filesystem::path(argc > 1 ? argv[1] : ".") / "consumer_flow.safetensors").string();
    ft::save(flow, path);
    flow_t loaded;
    check(ft::log_prob(loaded, x) != expected, "a default flow differs from the saved one (the check can fail)");
    ft::load(loaded, path);
    check(ft::log_prob(loaded, x) == expected, "the loaded flow has the saved flow's log densities, bit for bit");
    std::printf("flowtmpl::io: saved and loaded %s\n", path.c_str());
    ++ran;
  }
#endif
#ifdef CONSUMER_WITH_DEVICE
  {
    ft::device_flow<flow_t> on_device(flow);
    const thrust::device_vector<double> lp = ft::log_prob(ft::exec::device, on_device, ft::to_device(x));
    double worst = 0.0;
    for (Eigen::Index j = 0; j < x.cols(); ++j)
      worst = std::fmax(worst, std::abs(double(lp[std::size_t(j)]) - expected[j]) / (1.0 + std::abs(expected[j])));
    std::printf("flowtmpl::device_omp: %zu log densities, largest relative difference from the host's %.3g\n",
                std::size_t(lp.size()), worst);
    check(lp.size() == std::size_t(x.cols()), "one log density per sample on the device");
    check(worst <= 1e-12, "the device backend's log densities equal the host's to rounding");
    ++ran;
  }
#endif
  (void)argc;
  (void)argv;
  check(ran > 0, "the consumer was built with neither flowtmpl::io nor flowtmpl::device_omp");
  if (failures != 0) {
    std::fprintf(stderr, "consumer: %d check(s) failed\n", failures);
    return 1;
  }
  std::printf("consumer_optional: passed (%d part(s))\n", ran);
  return 0;
}
