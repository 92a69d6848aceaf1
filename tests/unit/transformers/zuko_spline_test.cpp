// ZukoSpline<K, B> (transformers/zuko_spline.hpp) is zuko's MonotonicRQSTransform with the
// same raw parameters: its knots, its values and log-dets in both directions, to 1e-12
// (tests/data/zuko_spline.json, computed by zuko: uniform points across [-B - 1, B + 1],
// every knot, +-B and their neighbours, zuko's own last knot, and far tails up to
// +-1e300). Where flowtmpl and zuko differ by more than 1e-12, a long-double evaluation
// from zuko's knots decides: flowtmpl must be within 1e-12 of it and nearer than zuko.
#include <flowtmpl/transformers/zuko_spline.hpp>

#include "support/reference_data.hpp"
#include "support/rq_exact.hpp"

#include <catch2/catch.hpp>

#include <iomanip>
#include <string>
#include <vector>

namespace zuko_spline_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::close;
using flowtmpl_test::doubles;

constexpr double tol = 1e-12;

struct tally {
  int zuko_inaccurate = 0;  // values where zuko is further from the exact value than 1e-12
};

template <int K, double B>
int check_case(const nlohmann::json& c, tally& stats) {
  using T = ft::ZukoSpline<K, B>::template transformer<1, double>;
  std::vector<double> p = doubles(c.at("widths"));
  for (double v : doubles(c.at("heights"))) p.push_back(v);
  for (double v : doubles(c.at("derivatives"))) p.push_back(v);
  REQUIRE(p.size() == std::size_t(T::params_per_feature));
  const std::string id = c.at("id").get<std::string>();
  ft::detail::rq_knots<double, K> kn;
  T::knots(p.data(), kn);
  const std::vector<double> kx = doubles(c.at("knots_x")), ky = doubles(c.at("knots_y")),
                            kd = doubles(c.at("knot_derivatives"));
  for (int k = 0; k <= K; ++k) {
    INFO(id << " knot " << k);
    CHECK(close(kn.x[k], kx[k], 1e-14));
    CHECK(close(kn.y[k], ky[k], 1e-14));
    CHECK(close(kn.d[k], kd[k], 1e-14));
  }
  int points = 0;
  const T t{};
  for (const char* dir : {"forward", "inverse"}) {
    const bool forward = dir[0] == 'f';
    const auto& f = c.at(dir);
    const std::vector<double> in = doubles(f.at("inputs")), out = doubles(f.at("outputs")),
                              ld = doubles(f.at("logabsdet"));
    REQUIRE(in.size() == out.size());
    const std::vector<double>& from = forward ? kx : ky;
    for (std::size_t j = 0; j < in.size(); ++j) {
      double l;
      const double r = forward ? t.forward(0, in[j], p.data(), l) : t.inverse(0, in[j], p.data(), l);
      // the exact value from zuko's knots: identity outside (x_0, x_K]
      flowtmpl_test::rq_exact_value e{in[j], 0};
      if (in[j] > from[0] && in[j] <= from[K]) {
        const int k = flowtmpl_test::rq_exact_bin<K>(from.data(), in[j]);
        e = forward ? flowtmpl_test::rq_exact_forward(kx[k], kx[k + 1], ky[k], ky[k + 1], kd[k], kd[k + 1], in[j])
                    : flowtmpl_test::rq_exact_inverse(kx[k], kx[k + 1], ky[k], ky[k + 1], kd[k], kd[k + 1], in[j]);
      }
      INFO("diff " << (r - out[j]) << " " << (l - ld[j]) << " | " << std::setprecision(17) << id << " " << dir
                   << " at " << in[j] << ": " << r << " (zuko " << out[j] << ", exact " << double(e.value)
                   << "), log-det " << l << " (zuko " << ld[j] << ", exact " << double(e.log_det) << ")");
      for (const auto v : {flowtmpl_test::judge(r, out[j], e.value, tol), flowtmpl_test::judge(l, ld[j], e.log_det, tol)}) {
        CHECK(v != flowtmpl_test::verdict::flowtmpl_wrong);
        stats.zuko_inaccurate += v == flowtmpl_test::verdict::reference_inaccurate;
      }
      ++points;
    }
  }
  return points;
}

}  // namespace

TEST_CASE("ZukoSpline<K, B> is zuko's MonotonicRQSTransform", "[spline][zuko][reference]") {
  const nlohmann::json data = flowtmpl_test::load_reference("zuko_spline.json");
  int points = 0, cases = 0;
  tally stats;
  for (const auto& c : data.at("cases")) {
    const int K = c.at("K").get<int>();
    const double B = c.at("bound").get<double>();
    REQUIRE(c.at("slope").get<double>() == 1e-3);
    if (K == 8 && B == 5.0)
      points += check_case<8, 5.0>(c, stats);
    else if (K == 4 && B == 3.0)
      points += check_case<4, 3.0>(c, stats);
    else if (K == 16 && B == 5.0)
      points += check_case<16, 5.0>(c, stats);
    else if (K == 8 && B == 1.0)
      points += check_case<8, 1.0>(c, stats);
    else
      FAIL("a case the test does not instantiate: K = " << K << ", B = " << B);
    ++cases;
  }
  CHECK(cases == 4);
  CHECK(points > 4 * 100);
  // zuko's inverse solves the quadratic in one form, which cancels in part of a bin, and
  // its log-det's denominator s + (d0 + d1 - 2s) z (1 - z) cancels where the slopes
  // differ: there flowtmpl is the one within 1e-12 of the exact value (judged above)
  INFO(stats.zuko_inaccurate << " of " << 2 * points << " values: zuko off the exact value by more than 1e-12");
  CHECK(stats.zuko_inaccurate < points / 20);
}

TEST_CASE("ZukoSpline: zero parameters are the identity; a tail input is copied", "[spline][zuko]") {
  using T = ft::ZukoSpline<6, 2.0>::transformer<1, double>;
  double p[T::params_per_feature] = {};
  T::identity_parameters(p);
  const T t{};
  for (double x : {-3.0, -2.0, -1.3, 0.0, 0.7, 2.0, 2.5}) {
    double ld;
    CHECK(std::abs(t.forward(0, x, p, ld) - x) <= 1e-15 * std::max(1.0, std::abs(x)));
    CHECK(std::abs(ld) <= 1e-15);
  }
  for (double& v : p) v = 3.0;
  double ld = 1;
  CHECK(t.forward(0, 7.5, p, ld) == 7.5);
  CHECK(ld == 0.0);
  CHECK(std::isnan(t.forward(0, std::nan(""), p, ld)));
}

}  // namespace zuko_spline_test
