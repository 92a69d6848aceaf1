// flowtmpl/dequantization.hpp and bijectors/logit_preprocessing.hpp: uniform
// dequantization of 8-bit data, and bits per dimension with every preprocessing
// Jacobian counted, against answers computed here from the definitions.
#include <catch2/catch.hpp>

#include <flowtmpl/dequantization.hpp>
#include <flowtmpl/differentiable.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

namespace dequantization_test {

namespace ft = flowtmpl;
using Catch::Contains;

namespace {
std::vector<std::uint8_t> bytes(int n, int d) {
  std::vector<std::uint8_t> px(std::size_t(n) * d);
  for (std::size_t k = 0; k < px.size(); ++k) px[k] = std::uint8_t((k * 37 + 11) % 256);
  px[0] = 0;
  px[1] = 255;
  return px;
}
}  // namespace

TEST_CASE("uniform_dequantize: (x + u) / 256 with u in [0, 1), keyed on the sample's index", "[dequantization]") {
  const auto px = bytes(40, 6);
  const Eigen::Matrix<double, 6, Eigen::Dynamic> v = ft::uniform_dequantize<6, double>(px, 7);
  REQUIRE(v.cols() == 40);
  double mean_u = 0;
  for (Eigen::Index j = 0; j < v.cols(); ++j)
    for (int i = 0; i < 6; ++i) {
      const double x = px[std::size_t(j) * 6 + i];
      REQUIRE(v(i, j) >= x / 256);
      REQUIRE(v(i, j) < (x + 1) / 256);
      REQUIRE(std::floor(256 * v(i, j)) == x);
      mean_u += 256 * v(i, j) - x;
    }
  mean_u /= 240;
  REQUIRE(std::abs(mean_u - 0.5) < 0.1);  // 240 uniforms: sd of the mean 0.019
  // the second half on its own, starting at index 20, draws the same noise
  const std::span<const std::uint8_t> tail(px.data() + 120, 120);
  const Eigen::Matrix<double, 6, Eigen::Dynamic> w = ft::uniform_dequantize<6, double>(tail, 7, 20);
  REQUIRE(w == v.rightCols(20));
  // another seed, other noise
  REQUIRE(ft::uniform_dequantize<6, double>(px, 8) != v);
  REQUIRE_THROWS_WITH((ft::uniform_dequantize<6, double>(std::span<const std::uint8_t>(px.data(), 13), 7)),
                      Contains("uniform_dequantize: 13 bytes are not a whole number of samples of 6 values"));
}

TEST_CASE("bits per dimension: a density uniform on the unit cube gives exactly 8", "[dequantization]") {
  using F = ft::bind_t<ft::Flow<ft::Uniform, ft::Identity>, 5, double>;
  const F f;
  const auto v = ft::uniform_dequantize<5, double>(bytes(30, 5), 1);
  REQUIRE(ft::bits_per_dim(f, v) == 8.0);
  REQUIRE(ft::bits_per_dim(0.0, 784) == 8.0);
  // a density 2^D on [0, 1/2]^D is one bit better per dimension
  REQUIRE(ft::bits_per_dim(784 * std::numbers::ln2, 784) == Approx(7.0).epsilon(1e-15));
}

TEST_CASE("bits per dimension count LogitPreprocessing's Jacobian", "[dequantization]") {
  // p_v(v) = prod_i N(y_i; 0, 1) |dy_i/dv_i|, y = logit(s), s = a + (1 - 2a) v
  constexpr double a = 0.05;
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::Inverse<ft::LogitPreprocessing<a>>>, 3, double>;
  const F f;
  const auto px = bytes(25, 3);
  const Eigen::Matrix<double, 3, Eigen::Dynamic> v = ft::uniform_dequantize<3, double>(px, 4);
  double total = 0;
  for (Eigen::Index j = 0; j < v.cols(); ++j)
    for (int i = 0; i < 3; ++i) {
      const double s = a + (1 - 2 * a) * v(i, j), y = std::log(s / (1 - s));
      total += -0.5 * y * y - 0.5 * std::log(2 * std::numbers::pi) + std::log((1 - 2 * a) / (s * (1 - s)));
    }
  const double expected = (-total / 25 + 3 * std::log(256.0)) / (3 * std::numbers::ln2);
  REQUIRE(ft::bits_per_dim(f, v) == Approx(expected).epsilon(1e-13));
  // the Jacobian matters: without it the answer differs by its mean / (D log 2)
  double jac = 0;
  for (Eigen::Index j = 0; j < v.cols(); ++j)
    for (int i = 0; i < 3; ++i) {
      const double s = a + (1 - 2 * a) * v(i, j);
      jac += std::log((1 - 2 * a) / (s * (1 - s)));
    }
  REQUIRE(std::abs(jac / 25 / (3 * std::numbers::ln2)) > 0.5);
}

TEST_CASE("bits_per_dim refuses a sample whose density is not finite, naming it", "[dequantization]") {
  using F = ft::bind_t<ft::Flow<ft::Uniform, ft::Identity>, 2, double>;
  const F f;
  Eigen::Matrix<double, 2, Eigen::Dynamic> v(2, 3);
  v << 0.1, 0.2, 0.3, 0.4, 0.5, 1.5;  // row by row: sample 2 is (0.3, 1.5), outside the unit square
  REQUIRE_THROWS_WITH(ft::bits_per_dim(f, v), Contains("bits_per_dim: the flow's log density of sample 2 is not finite"));
  REQUIRE_THROWS_WITH(ft::bits_per_dim(f, Eigen::Matrix<double, 2, Eigen::Dynamic>(2, 0)), Contains("no samples"));
}

TEMPLATE_TEST_CASE("LogitPreprocessing: round trip, log-det and domain", "[dequantization]", float, double) {
  using S = TestType;
  using B = ft::LogitPreprocessingBijector<4, S, 0.05>;
  const B b;
  Eigen::Matrix<S, 4, 1> v;
  v << S(0), S(0.25), S(0.999), S(1);
  const auto r = ft::forward_and_log_det(b, v);
  REQUIRE(r.value.allFinite());
  REQUIRE((b.inverse(r.value) - v).cwiseAbs().maxCoeff() < (sizeof(S) == 4 ? 1e-5 : 1e-12));
  double ld = 0;
  for (int i = 0; i < 4; ++i) {
    const double s = 0.05 + 0.9 * double(v[i]);
    ld += std::log(0.9 / (s * (1 - s)));
  }
  REQUIRE(double(r.log_det) == Approx(ld).epsilon(sizeof(S) == 4 ? 1e-5 : 1e-13));
  REQUIRE(B::forward_domain().contains(S(0)));
  REQUIRE(B::forward_domain().contains(S(1)));
  REQUIRE(!B::forward_domain().contains(S(1.06)));
}

TEMPLATE_TEST_CASE("LogitPreprocessing passes the kit", "[dequantization]", float, double) {
  using S = TestType;
  const ft::LogitPreprocessingBijector<32, S, 0.05> b;
  ft::testing::options<S> opt;
  opt.points = 32;
  const auto rep = ft::testing::check_bijector(b, opt);
  INFO(rep.text());
  REQUIRE(rep.checks() > 0);
  REQUIRE(rep.ok());
}

TEST_CASE("LogitPreprocessing's gradients", "[dequantization][gradients]") {
  const ft::LogitPreprocessingBijector<6, double, 0.05> b;
  ft::testing::gradient_options<double> opt;
  opt.lo = 0.01;  // inside the domain, away from where the logit is steep
  opt.hi = 0.99;
  const auto rep = ft::testing::check_gradients(b, opt);
  INFO(rep.text());
  REQUIRE(rep.checks() > 0);
  REQUIRE(rep.ok());
}

}  // namespace dequantization_test
