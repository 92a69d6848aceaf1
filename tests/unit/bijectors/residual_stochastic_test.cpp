// The stochastic log-det of flowtmpl/bijectors/residual.hpp (the Russian-roulette
// power series with Hutchinson probes, and its Neumann-series gradients):
//   unbiased    over 4000 probe seeds, the means of the estimate, of the input's
//               cotangent and of every first-layer parameter's match the exact log-det
//               and exact gradients within 4.5 standard errors, both directions,
//               geometric and Poisson numbers of terms; and they do vary with the seed
//   keyed       a sample's estimate depends only on (probe_seed, x): the batch call and
//               one-by-one calls in another order agree to the bit; another seed differs
#include <flowtmpl/bijectors/residual.hpp>
#include <flowtmpl/differentiable.hpp>
#include <flowtmpl/flowtmpl.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <utility>
#include <vector>

#include "support/residual.hpp"

namespace residual_stochastic_test {

namespace {
namespace ft = flowtmpl;
template <class B>
B drawn(std::uint64_t seed, double factor) {
  return flowtmpl_test::drawn_residual<B>(seed, factor);
}
template <class B>
std::vector<double> flat(const B& b) {
  std::vector<double> t(ft::parameter_count_v<B>);
  ft::copy_parameters(b, t.data());
  return t;
}
using Small = ft::LipschitzMLP<8, 8>;
}  // namespace

namespace {
// mean and standard error of the columns of samples (one row per draw)
std::pair<Eigen::VectorXd, Eigen::VectorXd> mean_and_error(const Eigen::MatrixXd& samples) {
  const Eigen::VectorXd mean = samples.colwise().mean();
  const Eigen::MatrixXd centred = samples.rowwise() - mean.transpose();
  const double n = double(samples.rows());
  const Eigen::VectorXd sd = (centred.array().square().colwise().sum() / (n - 1)).sqrt();
  return {mean, sd / std::sqrt(n)};
}

template <ft::residual_series Series, double Parameter>
void check_unbiased(ft::direction dir) {
  constexpr int D = 4;
  constexpr ft::residual_options exact_opt{.log_det = ft::residual_log_det::exact};
  constexpr ft::residual_options stoch_opt{.log_det = ft::residual_log_det::stochastic, .exact_terms = 2,
                                           .series = Series, .series_parameter = Parameter};
  using E = ft::bind_t<ft::Residual<ft::LipschitzMLP<16, 16>, exact_opt>, D, double>;
  using St = ft::bind_t<ft::Residual<ft::LipschitzMLP<16, 16>, stoch_opt>, D, double>;
  const E e = drawn<E>(21, 4.0);
  St s;
  const std::vector<double> theta = flat(e);
  ft::assign_parameters(s, theta.data());
  const bool fwd = dir == ft::direction::forward;
  const Eigen::Vector4d x(0.3, -0.8, 1.1, 0.2);
  const Eigen::Vector4d v = fwd ? Eigen::Vector4d(e.inverse(x)) : x;  // the input of the pass
  const Eigen::Vector4d g(0.5, -0.2, 0.1, 0.7);
  const double gld = 1.0;
  // exact values
  E ge = ft::make_gradient(e);
  const double ld_exact = fwd ? e.forward_and_log_det(v).log_det : e.inverse_and_log_det(v).log_det;
  const Eigen::Vector4d gin_exact = fwd ? e.forward_vjp(v, g, gld, ge) : e.inverse_vjp(v, g, gld, ge);
  const std::vector<double> gtheta_exact = flat(ge);
  // the columns compared: the log-det, the input's cotangent, every weight and bias of the first layer
  const int first_layer = E::network_type::widths[1] * (E::network_type::widths[0] + 1);
  const int cols = 1 + D + first_layer;
  constexpr int draws = 4000;
  Eigen::MatrixXd samples(draws, cols);
  for (int k = 0; k < draws; ++k) {
    St sk = s;
    sk.probe_seed = std::uint64_t(1000 + k);
    St gs = ft::make_gradient(sk);
    samples(k, 0) = fwd ? sk.forward_and_log_det(v).log_det : sk.inverse_and_log_det(v).log_det;
    const Eigen::Vector4d gin = fwd ? sk.forward_vjp(v, g, gld, gs) : sk.inverse_vjp(v, g, gld, gs);
    const std::vector<double> gt = flat(gs);
    for (int i = 0; i < D; ++i) samples(k, 1 + i) = gin[i];
    for (int i = 0; i < first_layer; ++i) samples(k, 1 + D + i) = gt[std::size_t(i)];
  }
  const auto [mean, se] = mean_and_error(samples);
  Eigen::VectorXd exact(cols);
  exact[0] = ld_exact;
  for (int i = 0; i < D; ++i) exact[1 + i] = gin_exact[i];
  for (int i = 0; i < first_layer; ++i) exact[1 + D + i] = gtheta_exact[std::size_t(i)];
  INFO((fwd ? "forward" : "inverse") << ", log-det exact " << ld_exact << ", mean " << mean[0] << " +- " << se[0]);
  CHECK(se[0] > 1e-4);  // the estimate is random
  int outside = 0, random = 0;
  for (int j = 0; j < cols; ++j) {
    if (se[j] > 1e-12) ++random;
    if (std::abs(mean[j] - exact[j]) > 4.5 * se[j] + 1e-12) {
      ++outside;
      UNSCOPED_INFO("column " << j << ": exact " << exact[j] << ", mean " << mean[j] << " +- " << se[j]);
    }
  }
  CHECK(random > cols / 2);
  CHECK(outside == 0);
}
}  // namespace

TEST_CASE("Residual, stochastic log-det: the estimate and its gradients are unbiased", "[residual][stochastic]") {
  check_unbiased<ft::residual_series::geometric, 0.5>(ft::direction::inverse);
  check_unbiased<ft::residual_series::geometric, 0.5>(ft::direction::forward);
  check_unbiased<ft::residual_series::poisson, 2.0>(ft::direction::inverse);
}

TEST_CASE("Residual, stochastic log-det: a sample's estimate depends only on the seed and the sample",
          "[residual][stochastic]") {
  constexpr ft::residual_options opt{.log_det = ft::residual_log_det::stochastic};
  using St = ft::bind_t<ft::Residual<Small, opt>, 5, double>;
  const St s = drawn<St>(31, 4.0);
  Eigen::Matrix<double, 5, Eigen::Dynamic> X(5, 64);
  ft::philox_stream rng(32, 0);
  for (Eigen::Index j = 0; j < X.cols(); ++j)
    for (int i = 0; i < 5; ++i) X(i, j) = rng.normal<double>();
  const auto whole = ft::inverse_and_log_det(s, X);
  // the same columns one by one, in reverse order
  for (Eigen::Index j = X.cols() - 1; j >= 0; --j)
    CHECK(s.inverse_and_log_det(Eigen::Matrix<double, 5, 1>(X.col(j))).log_det == whole.log_det[j]);
  St other = s;
  other.probe_seed = 99;
  CHECK(other.inverse_and_log_det(Eigen::Matrix<double, 5, 1>(X.col(0))).log_det != whole.log_det[0]);
}

}  // namespace residual_stochastic_test
