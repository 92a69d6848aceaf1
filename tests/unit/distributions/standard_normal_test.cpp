#include <flowtmpl/distributions/standard_normal.hpp>

#include <catch2/catch.hpp>

#include <cmath>

TEMPLATE_TEST_CASE("StandardNormal's log_prob is the normal density", "[distributions]", float, double) {
  using S = TestType;
  flowtmpl::bind_t<flowtmpl::StandardNormal, 2, S> d;
  const Eigen::Matrix<S, 2, 1> x(S(0.5), S(-1.25));
  // log N(x; 0, I) = -(0.25 + 1.5625)/2 - log(2 pi)
  CHECK(d.log_prob(x) == Approx(-0.90625 - std::log(2 * M_PI)).epsilon(1e-6));
  // at temperature 2: N(0, 4 I)
  CHECK(d.log_prob(x, S(2)) == Approx(-(0.25 + 1.5625) / 8 - std::log(2 * M_PI) - 2 * std::log(2.0)).epsilon(1e-6));
}

#include <flowtmpl/host.hpp>

namespace standard_normal_test {

// n = 200000 draws: the sample mean of a component has standard error 1 / sqrt(n) (T / sqrt(n)
// at temperature T) and the sample std T / sqrt(2 (n - 1)); the checks allow 5 of them.
TEMPLATE_TEST_CASE("StandardNormal's samples have mean 0 and std T", "[distributions]", float, double) {
  using S = TestType;
  const flowtmpl::bind_t<flowtmpl::StandardNormal, 3, S> d;
  const Eigen::Index n = 200000;
  for (const double t : {1.0, 0.3, 2.0}) {
    const auto x = t == 1.0 ? flowtmpl::sample(d, n, 5) : flowtmpl::sample(d, n, 5, S(t));
    const Eigen::MatrixXd m = x.template cast<double>();
    for (int i = 0; i < 3; ++i) {
      const double mean = m.row(i).mean();
      const double sd = std::sqrt((m.row(i).array() - mean).square().sum() / double(n - 1));
      INFO("T = " << t << ", component " << i << ": mean " << mean << ", sd " << sd);
      CHECK(std::abs(mean) < 5 * t / std::sqrt(double(n)));
      CHECK(std::abs(sd - t) < 5 * t / std::sqrt(2.0 * double(n - 1)));
    }
  }
}

TEMPLATE_TEST_CASE("StandardNormal's sample_and_log_prob gives the density of its samples", "[distributions]", float,
                   double) {
  using S = TestType;
  const flowtmpl::bind_t<flowtmpl::StandardNormal, 2, S> d;
  const auto r = flowtmpl::sample_and_log_prob(d, 100, 3, S(1.5));
  for (Eigen::Index j = 0; j < 100; ++j) {
    // N(0, 1.5^2 I) by hand
    const double r2 = double(r.values.col(j).squaredNorm()) / 2.25;
    CHECK(double(r.log_det[j]) == Approx(-0.5 * r2 - std::log(2 * M_PI) - 2 * std::log(1.5)).epsilon(1e-5));
  }
}

}  // namespace standard_normal_test
