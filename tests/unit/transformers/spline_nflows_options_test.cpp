// The nflows splines that flowtmpl's defaults do not give, reproduced from nflows's own
// numbers (tests/data, written by tools/reference/transformer_references.py):
//   - Spline<K, B, {.identity_init = true, .end_slopes = as_nflows}>: nflows's
//     enable_identity_init, whose end derivatives are 1.2949913110606213, not 1
//     (nflows_identity_init.json: uniform points across [-B - 0.5, B + 0.5], the knots,
//     +-B and their neighbours, +-1e3; inverse points across the same range);
//   - IntervalSpline<K, Left, Right, Bottom, Top>: rational_quadratic_spline with
//     distinct intervals (nflows_interval_spline.json), its knots to the bit with
//     as_torch_cpu, values and log-dets to 1e-12 forward; nflows cannot evaluate its own
//     inverse there (it checks y against [left, right]), so the inverse is checked on
//     nflows's forward read backwards.
// Where flowtmpl and nflows differ by more than 1e-12, a long-double evaluation from the
// same knots decides: flowtmpl must be within 1e-12 of it and nearer than nflows.
#include <flowtmpl/transformers/spline.hpp>

#include "support/reference_data.hpp"
#include "support/rq_exact.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <iomanip>
#include <string>
#include <vector>

namespace spline_nflows_options_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::close;
using flowtmpl_test::doubles;

constexpr double tol = 1e-12;
constexpr ft::spline_options nflows_identity_init{.identity_init = true,
                                                  .knots = ft::spline_knots::as_torch_cpu,
                                                  .end_slopes = ft::spline_end_slopes::as_nflows};

std::vector<double> raw_parameters(const nlohmann::json& c) {
  std::vector<double> p = doubles(c.at("unnormalized_widths"));
  for (double v : doubles(c.at("unnormalized_heights"))) p.push_back(v);
  for (double v : doubles(c.at("unnormalized_derivatives"))) p.push_back(v);
  return p;
}

struct tally {
  int points = 0;
  int nflows_inaccurate = 0;  // values where nflows is further from the exact value than 1e-12
};

// forward (and, with inverse_points, the inverse) of T against a case's references,
// judged by the long-double value from the knots where they differ by more than 1e-12
template <class T>
void check_directions(const nlohmann::json& c, const std::vector<double>& p, bool inverse_points, tally& st) {
  constexpr int K = T::bins;
  const std::string id = c.at("id").get<std::string>();
  ft::detail::rq_knots<double, K> kn;
  T::knots(p.data(), kn);
  const T t{};
  for (const char* dir : {"forward", "inverse"}) {
    const bool forward = dir[0] == 'f';
    if (!forward && !inverse_points) break;
    const auto& f = c.at(dir);
    const std::vector<double> in = doubles(f.at("inputs")), out = doubles(f.at("outputs")),
                              ld = doubles(f.at("logabsdet"));
    const double* from = forward ? kn.x : kn.y;
    for (std::size_t j = 0; j < in.size(); ++j) {
      double l;
      const double r = forward ? t.forward(0, in[j], p.data(), l) : t.inverse(0, in[j], p.data(), l);
      flowtmpl_test::rq_exact_value e{in[j], 0};  // the tails: the identity
      if (in[j] >= from[0] && in[j] <= from[K]) {
        const int k = flowtmpl_test::rq_exact_bin<K>(from, in[j]);
        const auto& x = kn.x;
        const auto& y = kn.y;
        const auto& d = kn.d;
        e = forward ? flowtmpl_test::rq_exact_forward(x[k], x[k + 1], y[k], y[k + 1], d[k], d[k + 1], in[j])
                    : flowtmpl_test::rq_exact_inverse(x[k], x[k + 1], y[k], y[k + 1], d[k], d[k + 1], in[j]);
      }
      INFO("diff " << (r - out[j]) << " " << (l - ld[j]) << " | " << std::setprecision(17) << id << " " << dir
                   << " at " << in[j] << ": " << r << " (nflows " << out[j] << ", exact " << double(e.value)
                   << "), log-det " << l << " (nflows " << ld[j] << ", exact " << double(e.log_det) << ")");
      for (const auto v : {flowtmpl_test::judge(r, out[j], e.value, tol), flowtmpl_test::judge(l, ld[j], e.log_det, tol)}) {
        CHECK(v != flowtmpl_test::verdict::flowtmpl_wrong);
        st.nflows_inaccurate += v == flowtmpl_test::verdict::reference_inaccurate;
      }
      ++st.points;
    }
  }
}

template <int K, double B>
void check_identity_init(const nlohmann::json& c, tally& st) {
  using T = ft::Spline<K, B, nflows_identity_init>::template transformer<1, double>;
  check_directions<T>(c, raw_parameters(c), true, st);
}

template <int K, double L, double R, double Bo, double To>
void check_interval(const nlohmann::json& c, tally& st) {
  using T = ft::IntervalSpline<K, L, R, Bo, To,
                               ft::spline_options{.knots = ft::spline_knots::as_torch_cpu}>::template transformer<1,
                                                                                                                  double>;
  const std::vector<double> p = raw_parameters(c);
  REQUIRE(p.size() == std::size_t(3 * K + 1));
  const std::string id = c.at("id").get<std::string>();
  ft::detail::rq_knots<double, K> kn;
  T::knots(p.data(), kn);
  const std::vector<double> kx = doubles(c.at("knots_x")), ky = doubles(c.at("knots_y"));
  for (int k = 0; k <= K; ++k) {
    INFO(id << " knot " << k << ": " << kn.x[k] << " / " << kx[k] << ", " << kn.y[k] << " / " << ky[k]);
    CHECK(std::memcmp(&kn.x[k], &kx[k], sizeof(double)) == 0);
    CHECK(std::memcmp(&kn.y[k], &ky[k], sizeof(double)) == 0);
  }
  check_directions<T>(c, p, false, st);
  // the inverse at nflows's outputs: within 1e-12 of the exact inverse, and of nflows's
  // inputs up to what the rounding of y moves x by (4 ulp of y times dx/dy)
  const auto& f = c.at("forward");
  const std::vector<double> x = doubles(f.at("inputs")), y = doubles(f.at("outputs")), ld = doubles(f.at("logabsdet"));
  for (std::size_t j = 0; j < x.size(); ++j) {
    double l;
    const double back = T{}.inverse(0, y[j], p.data(), l);
    const int k = flowtmpl_test::rq_exact_bin<K>(kn.y, y[j]);
    const auto e = flowtmpl_test::rq_exact_inverse(kn.x[k], kn.x[k + 1], kn.y[k], kn.y[k + 1], kn.d[k], kn.d[k + 1],
                                                   y[j]);
    const double moved = 4 * std::numeric_limits<double>::epsilon() * std::abs(y[j]) * std::exp(-ld[j]);
    INFO("diff " << (back - x[j]) << " " << (l + ld[j]) << " | " << std::setprecision(17) << id << " inverse at "
                 << y[j] << ": " << back << " (nflows's x " << x[j] << ", exact " << double(e.value) << "), log-det "
                 << l << " (exact " << double(e.log_det) << ")");
    CHECK(close(back, double(e.value), tol));
    CHECK(close(l, double(e.log_det), tol));
    CHECK(std::abs(back - x[j]) <= tol + moved);
    ++st.points;
  }
}

}  // namespace

TEST_CASE("Spline with nflows's identity init and end slopes is nflows's enable_identity_init spline",
          "[spline][nflows][reference]") {
  const nlohmann::json data = flowtmpl_test::load_reference("nflows_identity_init.json");
  // the end derivative nflows gives (the recorded value; 1.2949913110606213 to an ulp)
  const double end = data.at("meta").at("end_derivative").get<double>();
  CHECK(std::abs(ft::detail::rq_end_derivative<double>(nflows_identity_init) - end) <= 4e-16);
  CHECK(ft::detail::rq_end_derivative<double>(ft::spline_options{.identity_init = true}) == 1.0);
  tally st;
  for (const auto& c : data.at("cases")) {
    const int K = c.at("K").get<int>();
    const double B = c.at("tail_bound").get<double>();
    if (K == 8 && B == 3.0)
      check_identity_init<8, 3.0>(c, st);
    else if (K == 4 && B == 5.0)
      check_identity_init<4, 5.0>(c, st);
    else if (K == 16 && B == 1.0)
      check_identity_init<16, 1.0>(c, st);
    else
      FAIL("a case the test does not instantiate: K = " << K << ", B = " << B);
  }
  CHECK(st.points > 3 * 100);
  INFO(st.nflows_inaccurate << " of " << 2 * st.points << " values: nflows off the exact value by more than 1e-12");
  CHECK(st.nflows_inaccurate < st.points / 20);
}

TEST_CASE("IntervalSpline<K, Left, Right, Bottom, Top> is nflows's rational_quadratic_spline on two intervals",
          "[spline][nflows][reference]") {
  const nlohmann::json data = flowtmpl_test::load_reference("nflows_interval_spline.json");
  int cases = 0;
  tally st;
  for (const auto& c : data.at("cases")) {
    const int K = c.at("K").get<int>();
    const double l = c.at("left"), r = c.at("right"), b = c.at("bottom"), t = c.at("top");
    if (K == 5 && l == -1.0 && r == 2.0 && b == 0.5 && t == 4.0)
      check_interval<5, -1.0, 2.0, 0.5, 4.0>(c, st);
    else if (K == 8 && l == 0.0 && r == 1.0 && b == -3.0 && t == -2.5)
      check_interval<8, 0.0, 1.0, -3.0, -2.5>(c, st);
    else if (K == 3 && l == -10.0 && r == 10.0 && b == -0.25 && t == 0.75)
      check_interval<3, -10.0, 10.0, -0.25, 0.75>(c, st);
    else
      FAIL("a case the test does not instantiate: " << c.at("id").get<std::string>());
    ++cases;
  }
  CHECK(cases == 3);
  CHECK(st.points > 3 * 2 * 40);
  INFO(st.nflows_inaccurate << " of " << 2 * st.points << " values: nflows off the exact value by more than 1e-12");
  CHECK(st.nflows_inaccurate < st.points / 20);
}

TEST_CASE("IntervalSpline: NaN outside each direction's interval; identity parameters give the affine map",
          "[spline]") {
  using T = ft::IntervalSpline<4, -1.0, 3.0, 10.0, 12.0>::transformer<1, double>;
  double p[T::params_per_feature];
  T::identity_parameters(p);
  double ld;
  CHECK(std::isnan(T{}.forward(0, 3.5, p, ld)));
  CHECK(std::isnan(ld));
  CHECK(std::isnan(T{}.inverse(0, 9.0, p, ld)));
  for (double x : {-1.0, 0.0, 0.3, 2.9, 3.0}) {
    const double y = T{}.forward(0, x, p, ld);
    CHECK(std::abs(y - (10.0 + (x + 1.0) * 0.5)) <= 1e-12);
    CHECK(std::abs(ld - std::log(0.5)) <= 1e-12);
  }
  static_assert(T::domain().lo == -1.0 && T::image().lo == 10.0 && T::image().hi == 12.0);
}

TEST_CASE("Spline with width and height divisors is nflows's spline coupling whose net has hidden_features",
          "[spline][nflows][reference]") {
  // nflows divides the raw widths and heights by sqrt(hidden_features) = 8
  using T = ft::Spline<8, 3.0,
                       ft::spline_options{.knots = ft::spline_knots::as_torch_cpu,
                                          .width_divisor = 8.0,
                                          .height_divisor = 8.0}>::transformer<1, double>;
  const nlohmann::json data = flowtmpl_test::load_reference("nflows_scaled_spline_coupling.json");
  REQUIRE(data.at("meta").at("hidden_features").get<int>() == 64);
  const auto& raw = data.at("raw_parameters");
  int points = 0, nflows_inaccurate = 0;
  for (const char* dir : {"forward", "inverse"}) {
    const bool forward = dir[0] == 'f';
    const auto& f = data.at(dir);
    const std::vector<double> in = doubles(f.at("inputs")), out = doubles(f.at("outputs")),
                              ld = doubles(f.at("logabsdet"));
    REQUIRE(in.size() == raw.size());
    for (std::size_t j = 0; j < in.size(); ++j) {
      const std::vector<double> p = doubles(raw[j]);
      REQUIRE(p.size() == std::size_t(T::params_per_feature));
      double l;
      const double r = forward ? T{}.forward(0, in[j], p.data(), l) : T{}.inverse(0, in[j], p.data(), l);
      ft::detail::rq_knots<double, 8> kn;
      T::knots(p.data(), kn);
      const double* from = forward ? kn.x : kn.y;
      flowtmpl_test::rq_exact_value e{in[j], 0};
      if (in[j] >= from[0] && in[j] <= from[8]) {
        const int k = flowtmpl_test::rq_exact_bin<8>(from, in[j]);
        e = forward ? flowtmpl_test::rq_exact_forward(kn.x[k], kn.x[k + 1], kn.y[k], kn.y[k + 1], kn.d[k], kn.d[k + 1], in[j])
                    : flowtmpl_test::rq_exact_inverse(kn.x[k], kn.x[k + 1], kn.y[k], kn.y[k + 1], kn.d[k], kn.d[k + 1], in[j]);
      }
      INFO(std::setprecision(17) << dir << " " << j << " at " << in[j] << ": " << r << " (nflows " << out[j]
                                 << ", exact " << double(e.value) << "), log-det " << l << " (nflows " << ld[j] << ")");
      for (const auto v : {flowtmpl_test::judge(r, out[j], e.value, tol), flowtmpl_test::judge(l, ld[j], e.log_det, tol)}) {
        CHECK(v != flowtmpl_test::verdict::flowtmpl_wrong);
        nflows_inaccurate += v == flowtmpl_test::verdict::reference_inaccurate;
      }
      ++points;
    }
  }
  CHECK(points == 200);
  CHECK(nflows_inaccurate < points / 20);
  // without the divisors the function is another one: the test can tell them apart
  using U = ft::Spline<8, 3.0>::transformer<1, double>;
  const std::vector<double> p0 = doubles(raw[0]);
  double l0, l1;
  const double x0 = doubles(data.at("forward").at("inputs"))[0];
  CHECK(std::abs(U{}.forward(0, x0, p0.data(), l0) - T{}.forward(0, x0, p0.data(), l1)) > 1e-6);
}

}  // namespace spline_nflows_options_test
