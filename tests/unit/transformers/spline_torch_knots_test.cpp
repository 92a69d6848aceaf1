// Spline with spline_knots::as_torch_cpu (detail/torch_softmax.hpp): its knots are
// nflows's to the bit, for K in {4, 8, 16}, tail bound B in {1, 3, 5} and raw parameters
// of scale 1 and 4 (tests/data/nflows_knots.json: the knots nflows's
// rational_quadratic_spline computed, recorded where it hands them to its bin search).
// The default knots (libm's exp, a quotient) are within a few ulp of them.
#include <flowtmpl/transformers/spline.hpp>

#include "support/reference_data.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

namespace spline_torch_knots_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::doubles;

constexpr ft::spline_options torch_knots{.knots = ft::spline_knots::as_torch_cpu};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct tally {
  int sets = 0, exact_sets = 0, fast_exact_sets = 0;
  double fast_worst = 0;  // largest |fast - nflows| relative to B
};

template <int K, double B>
void check_case(const nlohmann::json& c, tally& t) {
  using exact = ft::Spline<K, B, torch_knots>::template transformer<1, double>;
  using fast = ft::Spline<K, B>::template transformer<1, double>;
  for (const auto& set : c.at("sets")) {
    std::vector<double> p = doubles(set.at("unnormalized_widths"));
    for (double v : doubles(set.at("unnormalized_heights"))) p.push_back(v);
    for (double v : doubles(set.at("unnormalized_derivatives"))) p.push_back(v);
    REQUIRE(p.size() == std::size_t(3 * K - 1));
    const std::vector<double> kx = doubles(set.at("knots_x")), ky = doubles(set.at("knots_y"));
    REQUIRE(kx.size() == std::size_t(K + 1));
    ft::detail::rq_knots<double, K> e, f;
    exact::knots(p.data(), e);
    fast::knots(p.data(), f);
    bool all = true, fast_all = true;
    for (int k = 0; k <= K; ++k) {
      INFO(c.at("id").get<std::string>() << " set " << t.sets << " knot " << k);
      CHECK(same_bits(e.x[k], kx[k]));
      CHECK(same_bits(e.y[k], ky[k]));
      all = all && same_bits(e.x[k], kx[k]) && same_bits(e.y[k], ky[k]);
      fast_all = fast_all && same_bits(f.x[k], kx[k]) && same_bits(f.y[k], ky[k]);
      t.fast_worst = std::max({t.fast_worst, std::abs(f.x[k] - kx[k]) / B, std::abs(f.y[k] - ky[k]) / B});
    }
    ++t.sets;
    t.exact_sets += all;
    t.fast_exact_sets += fast_all;
  }
}

template <int K>
void dispatch_bound(const nlohmann::json& c, tally& t) {
  const double B = c.at("tail_bound").get<double>();
  if (B == 1.0)
    check_case<K, 1.0>(c, t);
  else if (B == 3.0)
    check_case<K, 3.0>(c, t);
  else if (B == 5.0)
    check_case<K, 5.0>(c, t);
  else
    FAIL("a tail bound the test does not instantiate: " << B);
}

}  // namespace

TEST_CASE("Spline<K, B, {.knots = as_torch_cpu}> has nflows's knots to the bit", "[spline][nflows][reference]") {
  const nlohmann::json data = flowtmpl_test::load_reference("nflows_knots.json");
  tally t;
  int cases = 0;
  for (const auto& c : data.at("cases")) {
    const int K = c.at("K").get<int>();
    if (K == 4)
      dispatch_bound<4>(c, t);
    else if (K == 8)
      dispatch_bound<8>(c, t);
    else if (K == 16)
      dispatch_bound<16>(c, t);
    else
      FAIL("a bin count the test does not instantiate: " << K);
    ++cases;
  }
  CHECK(cases == 3 * 3 * 2);  // K x B x scale
  CHECK(t.sets == cases * 16);
  CHECK(t.exact_sets == t.sets);
  // the default knots: a few ulp of B at most, and not the same bits everywhere (else
  // this file would not tell the two apart)
  INFO("default knots: " << t.fast_exact_sets << " of " << t.sets << " sets to the bit, worst |error| / B "
                         << t.fast_worst);
  CHECK(t.fast_worst < 2e-15);  // about 8 ulp of B
  CHECK(t.fast_exact_sets < t.sets);
}

TEST_CASE("torch_cpu_exp: exact at the ends of its range, NaN and the overflow threshold", "[spline][reference]") {
  using ft::detail::torch_cpu_exp;
  CHECK(torch_cpu_exp(0.0) == 1.0);
  CHECK(torch_cpu_exp(-1001.0) == 0.0);
  CHECK(std::isinf(torch_cpu_exp(710.0)));
  CHECK(std::isnan(torch_cpu_exp(std::nan(""))));
  // within an ulp or so of libm's over the normal range
  for (double d = -708.0; d < 709.0; d += 0.37) {
    const double a = torch_cpu_exp(d), b = std::exp(d);
    INFO("d = " << d);
    CHECK(std::abs(a - b) <= 2.3e-16 * b);
  }
}

}  // namespace spline_torch_knots_test
