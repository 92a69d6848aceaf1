// A program that uses flowtmpl the way a user would, through its CMake package
// (find_package) or add_subdirectory: it evaluates a small flow, per sample and in a
// batch, and compares with values computed here by hand. Exit status 0 on success.
#include <flowtmpl/flowtmpl.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>

namespace ft = flowtmpl;

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
  }
}
bool close(double a, double b, double tol = 1e-12) { return std::abs(a - b) <= tol * (1.0 + std::abs(b)); }
}  // namespace

int main() {
  // x = reverse(exp(log_scale) * z + shift), z ~ N(0, I), D = 3.
  using flow_t = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Permute<ft::Reverse>>>, 3, double>;
  static_assert(ft::Distribution<flow_t> && ft::TemperedDistribution<flow_t>);
  static_assert(flow_t::transform_type::log_det_kind == ft::log_det_kind::constant);
  flow_t flow;
  const double log_scale[3] = {0.1, -0.2, 0.3}, shift[3] = {1.0, 2.0, 3.0};
  auto& affine = flow.transform.get<0>();
  for (int i = 0; i < 3; ++i) {
    affine.log_scale[i] = log_scale[i];
    affine.shift[i] = shift[i];
  }

  // By hand: z_i = (x_{2-i} - shift_i) / exp(log_scale_i);
  // log p(x) = -|z|^2 / 2 - 3/2 log(2 pi) - sum(log_scale).
  const Eigen::Vector3d x(0.5, -1.0, 2.5);
  double zz = 0.0;
  for (int i = 0; i < 3; ++i) {
    const double z = (x[2 - i] - shift[i]) / std::exp(log_scale[i]);
    zz += z * z;
  }
  const double expected = -0.5 * zz - 1.5 * std::log(2.0 * 3.14159265358979323846) - (0.1 - 0.2 + 0.3);

  const double per_sample = flow.log_prob(x);
  std::printf("log p(x) = %.15g per sample, %.15g by hand\n", per_sample, expected);
  check(close(per_sample, expected), "log_prob per sample");

  // The batch path (host backend, OpenMP if the package brought it) on 1000 copies.
  Eigen::Matrix<double, 3, Eigen::Dynamic> batch(3, 1000);
  batch.colwise() = x;
  const auto lp = ft::log_prob(flow, batch);
  check(lp.size() == 1000, "log_prob batch size");
  bool all_close = true;
  for (Eigen::Index j = 0; j < lp.size(); ++j) all_close = all_close && close(lp[j], expected);
  check(all_close, "log_prob batch values");

  // Sampling: the mean of x_i is shift_{2-i}, its spread exp(log_scale_{2-i}).
  const auto xs = ft::sample(flow, 20000, 42);
  for (int i = 0; i < 3; ++i) {
    const double mean = xs.row(i).mean();
    const double sd = std::sqrt((xs.row(i).array() - mean).square().sum() / double(xs.cols() - 1));
    std::printf("component %d: mean %.4f (expected %.4f), sd %.4f (expected %.4f)\n", i, mean, shift[2 - i], sd,
                std::exp(log_scale[2 - i]));
    check(std::abs(mean - shift[2 - i]) < 0.05, "sample mean");
    check(std::abs(sd / std::exp(log_scale[2 - i]) - 1.0) < 0.03, "sample spread");
  }
  // Same seed, same samples.
  check(ft::sample(flow, 100, 42) == xs.leftCols(100), "sampling is reproducible");

  // The round trip through the bijector, batch and per sample.
  const auto z = ft::inverse(flow.transform, xs);
  const auto back = ft::forward(flow.transform, z);
  check(((back - xs).cwiseAbs().maxCoeff()) < 1e-12, "forward(inverse(x)) == x");

  // OpenMP: the installed package links it exactly when the consumer's build has it.
#if defined(CONSUMER_EXPECTS_OPENMP) && !defined(_OPENMP)
  check(false, "the package did not bring OpenMP to a consumer that has it");
#elif defined(CONSUMER_EXPECTS_NO_OPENMP) && defined(_OPENMP)
  check(false, "the package brought OpenMP to a consumer built without it");
#endif
#ifdef _OPENMP
  std::puts("the host backend runs with OpenMP");
#else
  std::puts("the host backend runs without OpenMP");
#endif

#ifdef CONSUMER_EXPECTED_VERSION
  char version[32];
  std::snprintf(version, sizeof version, "%d.%d.%d", FLOWTMPL_VERSION_MAJOR, FLOWTMPL_VERSION_MINOR, FLOWTMPL_VERSION_PATCH);
  std::printf("flowtmpl %s (package version %s)\n", version, CONSUMER_EXPECTED_VERSION);
  check(std::strcmp(version, CONSUMER_EXPECTED_VERSION) == 0, "the headers' version is the package's");
#endif

  if (failures != 0) {
    std::fprintf(stderr, "consumer: %d check(s) failed\n", failures);
    return 1;
  }
  std::puts("consumer: passed");
  return 0;
}
