// flowtmpl's Spline<K, B> transformer against nflows 0.14's
// unconstrained_rational_quadratic_spline(tails = "linear"), float64 golden values in
// tests/data/rqs_unconstrained.json (tests/data/README.md says where they come from).
//
// Per case: the raw parameters of one feature are widths[K], heights[K] and the K - 1
// interior derivatives, in that order (spline.hpp); the knots derived from them
// (detail::rq_make_knots through the transformer's static knots()), the forward value and
// element-wise log|dy/dx| of every point, the inverse of the forward outputs and of
// random points with log|dx/dy|, all within 1e-12 absolute. Where nflows records the bin
// it chose, detail::rq_bin must choose the same one; the only exception allowed is the
// one nflows's CONVENTIONS describe (a point on a knot, knots a few ulps apart, so the
// point falls in the neighbouring bin), and only for a point within 4 ulps of that knot.
// It is reported with WARN; the value tolerances are the same for it.
//
// One documented exception to "within 1e-12 of nflows": nflows's own inverse is less
// accurate than that at the top of a flat bin. In case K8_B3.0_std3 the last bin has a
// mean slope 0.0185 against end derivatives near 1, and nflows's root 2c / (-b - sqrt(.))
// cancels there: at y = B it returns x = 3.0000000000000018 (outside [-B, B]) with a
// log-det of -2.5e-12 (exact: x = B, log-det 0), at y = B - 1 ulp a log-det of -9.4e-13
// (exact: +6.27e-13). flowtmpl solves from the nearer end of the bin (rq_spline.hpp). So
// where an inverse value or log-det differs from nflows's by more than 1e-12, the test
// computes the exact answer independently, by bisection in long double on the forward
// map with nflows's own stored knots and derivatives, and requires flowtmpl within
// 1e-13 of it, nflows further from it than 1e-12 (so the reference is the one that is
// off), and at most 4 such points in the file. Each is reported with WARN.
//
// The spline's settings are template arguments; the cases are dispatched to the
// instantiations listed in `configs` below, and a case that matches none fails.
#include <flowtmpl/detail/rq_spline.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace spline_nflows_test {

namespace {

using json = nlohmann::json;
constexpr double tol = 1e-12;

json load(const std::string& file) {
  const std::string path = std::string(FLOWTMPL_TEST_DATA_DIR) + "/" + file;
  std::ifstream in(path);
  INFO("reading " << path);
  REQUIRE(in.good());
  return json::parse(in);
}

// The distance in units in the last place between two finite doubles (0 when equal,
// 1 for neighbours; +0 and -0 are the same point).
std::uint64_t ulp_distance(double a, double b) {
  auto ordered = [](double v) {  // monotonic in v
    std::uint64_t i;
    std::memcpy(&i, &v, sizeof i);
    constexpr std::uint64_t sign = std::uint64_t(1) << 63;
    return (i & sign) ? sign - (i & ~sign) : sign + i;
  };
  const std::uint64_t ia = ordered(a), ib = ordered(b);
  return ia > ib ? ia - ib : ib - ia;
}

// The largest differences over the whole file, and what was checked.
struct stats {
  double knots = 0, forward_y = 0, forward_ld = 0, inverse_of_forward_x = 0, inverse_of_forward_ld = 0,
         inverse_random_x = 0, inverse_random_ld = 0;
  long points = 0;             // points whose value and log-det were compared
  long bins_checked = 0;       // points with nflows's bin (not -1) compared with rq_bin
  long bins_neighbour = 0;     // of those, the allowed knot case (neighbouring bin)
  long nflows_inaccurate = 0;  // the documented exception (top of the file)
  std::set<std::string> kinds;  // the kinds of point seen (forward and inverse_random)
};

void check_close(double got, double expected, double& worst, const char* what, std::size_t k, double at) {
  const double e = std::abs(got - expected);
  worst = std::max(worst, e);
  INFO(what << "[" << k << "] at " << std::setprecision(17) << at << ": flowtmpl " << got << ", nflows "
            << expected << ", difference " << std::setprecision(3) << e << " (tolerance 1e-12)");
  const bool within_tolerance = e <= tol;
  CHECK(within_tolerance);
}

// flowtmpl's bin against nflows's: the same, or the neighbouring one for a point within
// 4 ulps of the knot between them.
template <int K>
void check_bin(const double* knots, const json& nflows_knots, double v, int nflows_bin, const char* what,
               std::size_t k, stats& st) {
  REQUIRE(nflows_bin >= 0);
  REQUIRE(nflows_bin < K);
  const int ours = flowtmpl::detail::rq_bin<double, K>(knots, v);
  ++st.bins_checked;
  if (ours == nflows_bin) return;
  const int knot = std::max(ours, nflows_bin);  // the knot between the two bins
  const std::uint64_t ulps = ulp_distance(v, knots[knot]);
  const std::uint64_t ulps_nflows = ulp_distance(v, nflows_knots[std::size_t(knot)].get<double>());
  INFO(what << "[" << k << "] at " << std::setprecision(17) << v << ": flowtmpl's bin " << ours << ", nflows's "
            << nflows_bin << "; knot " << knot << " is " << knots[knot] << " in flowtmpl (" << ulps
            << " ulps away), " << nflows_knots[std::size_t(knot)].get<double>() << " in nflows (" << ulps_nflows
            << " ulps away)");
  const bool neighbour_on_knot = std::abs(ours - nflows_bin) == 1 && ulps <= 4;
  CHECK(neighbour_on_knot);
  if (!neighbour_on_knot) return;
  WARN("neighbouring bin accepted for a point on a knot: " << what << "[" << k << "] at " << std::setprecision(17)
                                                           << v << ", flowtmpl's bin " << ours << ", nflows's "
                                                           << nflows_bin << ", " << ulps << " ulps from knot " << knot);
  ++st.bins_neighbour;
}

std::vector<double> doubles(const json& a) {
  std::vector<double> v;
  for (const auto& e : a) v.push_back(e.get<double>());
  return v;
}

template <int K, double B, flowtmpl::spline_options O>
struct config {
  static constexpr int bins = K;
  static constexpr double bound = B;
  static constexpr flowtmpl::spline_options options = O;
  using transformer = typename flowtmpl::Spline<K, B, O>::template transformer<1, double>;
};

// The instantiations the cases are dispatched to: nflows's defaults (min width, height
// and derivative 1e-3, no identity_init). A case with other settings needs its own
// Spline<K, B, spline_options{...}> here, or it fails (see the test case).
using configs = std::tuple<config<8, 3.0, flowtmpl::spline_options{}>>;
static_assert(flowtmpl::spline_options{}.min_bin_width == 1e-3 && flowtmpl::spline_options{}.min_bin_height == 1e-3 &&
                  flowtmpl::spline_options{}.min_derivative == 1e-3 && !flowtmpl::spline_options{}.identity_init,
              "flowtmpl's default spline options are nflows's DEFAULT_MIN_BIN_WIDTH / _HEIGHT / _DERIVATIVE");

template <class Config>
bool matches(const json& c) {
  constexpr flowtmpl::spline_options o = Config::options;
  return c.at("K").get<int>() == Config::bins && c.at("tail_bound").get<double>() == Config::bound &&
         c.at("min_bin_width").get<double>() == o.min_bin_width &&
         c.at("min_bin_height").get<double>() == o.min_bin_height &&
         c.at("min_derivative").get<double>() == o.min_derivative &&
         c.at("enable_identity_init").get<bool>() == o.identity_init;
}

// The exact inverse of the spline given by nflows's stored knots (derived.knots_x,
// knots_y, derivatives): theta by bisection on the forward map in long double, then x
// and log|dx/dy| at theta. Independent of flowtmpl's quadratic.
struct exact_point {
  long double x, log_det;
};
exact_point exact_inverse(const json& derived, double y, double B) {
  if (!(y >= -B && y <= B)) return {y, 0};
  const json& kx = derived.at("knots_x");
  const json& ky = derived.at("knots_y");
  const json& kd = derived.at("derivatives");
  const int K = int(kx.size()) - 1;
  int k = 0;
  for (int j = 1; j < K; ++j)
    if (y >= ky[std::size_t(j)].get<double>()) k = j;
  const long double x0 = kx[std::size_t(k)].get<double>(), x1 = kx[std::size_t(k + 1)].get<double>();
  const long double y0 = ky[std::size_t(k)].get<double>(), y1 = ky[std::size_t(k + 1)].get<double>();
  const long double d0 = kd[std::size_t(k)].get<double>(), d1 = kd[std::size_t(k + 1)].get<double>();
  const long double w = x1 - x0, h = y1 - y0, sl = h / w;
  auto den = [&](long double t) { return sl * ((1 - t) * (1 - t) + t * t) + (d0 + d1) * t * (1 - t); };
  auto value = [&](long double t) { return y0 + h * (sl * t * t + d0 * t * (1 - t)) / den(t); };
  long double lo = 0, hi = 1;
  for (int it = 0; it < 200; ++it) {
    const long double mid = (lo + hi) / 2;
    (value(mid) < (long double)y ? lo : hi) = mid;
  }
  const long double t = (lo + hi) / 2;
  const long double dnum = d1 * t * t + 2 * sl * t * (1 - t) + d0 * (1 - t) * (1 - t);
  return {x0 + t * w, -(2 * std::log(sl) + std::log(dnum) - 2 * std::log(den(t)))};
}

// The documented exception (top of the file). Returns true when it applied: the point
// differs from nflows by more than the tolerance, and was checked against the exact
// answer instead.
bool nflows_inverse_inaccurate(const json& derived, double y, double x_nflows, double ld_nflows, double x,
                               double ld, double B, const char* what, std::size_t k, stats& st) {
  if (std::abs(x - x_nflows) <= tol && std::abs(ld - ld_nflows) <= tol) return false;
  const exact_point e = exact_inverse(derived, y, B);
  INFO(what << "[" << k << "] at y = " << std::setprecision(17) << y << ": nflows x = " << x_nflows
            << ", log-det " << ld_nflows << "; flowtmpl x = " << x << ", log-det " << ld << "; exact x = "
            << double(e.x) << ", log-det " << double(e.log_det));
  CHECK(std::abs((long double)x - e.x) <= 1e-13L);
  CHECK(std::abs((long double)ld - e.log_det) <= 1e-13L);
  const bool nflows_off = std::abs((long double)x_nflows - e.x) > (long double)tol ||
                          std::abs((long double)ld_nflows - e.log_det) > (long double)tol;
  CHECK(nflows_off);
  ++st.nflows_inaccurate;
  WARN("nflows's inverse at y = " << std::setprecision(17) << y << " gives x = " << x_nflows << ", log-det "
                                  << ld_nflows << "; exact x = " << double(e.x) << ", log-det " << double(e.log_det)
                                  << "; flowtmpl x = " << x << ", log-det " << ld);
  return true;
}

template <class Config>
void check_case(const json& c, stats& st) {
  constexpr int K = Config::bins;
  using T = typename Config::transformer;
  static_assert(T::params_per_feature == 3 * K - 1);
  static_assert(T::bound == Config::bound);
  const std::string id = c.at("id").get<std::string>();
  INFO("case " << id);
  REQUIRE(c.at("tails") == "linear");

  // Raw parameters: widths[K], heights[K], derivatives[K - 1].
  const std::vector<double> uw = doubles(c.at("unnormalized_widths"));
  const std::vector<double> uh = doubles(c.at("unnormalized_heights"));
  const std::vector<double> ud = doubles(c.at("unnormalized_derivatives"));
  REQUIRE(uw.size() == std::size_t(K));
  REQUIRE(uh.size() == std::size_t(K));
  REQUIRE(ud.size() == std::size_t(K - 1));
  std::vector<double> p;
  p.insert(p.end(), uw.begin(), uw.end());
  p.insert(p.end(), uh.begin(), uh.end());
  p.insert(p.end(), ud.begin(), ud.end());
  REQUIRE(p.size() == std::size_t(T::params_per_feature));

  // The derived knots.
  flowtmpl::detail::rq_knots<double, K> kn;
  T::knots(p.data(), kn);
  const json& derived = c.at("derived");
  REQUIRE(derived.at("knots_x").size() == std::size_t(K + 1));
  REQUIRE(derived.at("knots_y").size() == std::size_t(K + 1));
  REQUIRE(derived.at("derivatives").size() == std::size_t(K + 1));
  for (std::size_t k = 0; k <= std::size_t(K); ++k) {
    check_close(kn.x[k], derived.at("knots_x")[k].get<double>(), st.knots, "knots_x", k, double(k));
    check_close(kn.y[k], derived.at("knots_y")[k].get<double>(), st.knots, "knots_y", k, double(k));
    check_close(kn.d[k], derived.at("derivatives")[k].get<double>(), st.knots, "derivatives", k, double(k));
  }
  // The raw derivative that makes the end slopes 1 (nflows's tail constant).
  check_close(flowtmpl::detail::identity_derivative_raw<Config::options>(),
              derived.at("tail_derivative_constant").get<double>(), st.knots, "tail_derivative_constant", 0, 0);

  const T t{};
  // Forward: every point, its bin where nflows records one.
  {
    const json& f = c.at("forward");
    const std::size_t n = f.at("x").size();
    REQUIRE(f.at("kind").size() == n);
    REQUIRE(f.at("bin").size() == n);
    REQUIRE(f.at("y").size() == n);
    REQUIRE(f.at("logabsdet").size() == n);
    for (std::size_t k = 0; k < n; ++k) {
      const double x = f.at("x")[k].get<double>();
      const int bin = f.at("bin")[k].get<int>();
      st.kinds.insert(f.at("kind")[k].get<std::string>());
      INFO("forward[" << k << "], kind " << f.at("kind")[k].get<std::string>());
      // nflows's tails (bin -1) are flowtmpl's: -B <= x <= B goes through the spline.
      CHECK(T::inside(x) == (bin != -1));
      if (bin != -1) check_bin<K>(kn.x, derived.at("knots_x"), x, bin, "forward", k, st);
      double ld = std::numeric_limits<double>::quiet_NaN();
      const double y = t.forward(0, x, p.data(), ld);
      check_close(y, f.at("y")[k].get<double>(), st.forward_y, "forward y", k, x);
      check_close(ld, f.at("logabsdet")[k].get<double>(), st.forward_ld, "forward logabsdet", k, x);
      ++st.points;
    }
  }
  // Inverse of nflows's forward outputs.
  {
    const json& f = c.at("inverse_of_forward");
    const std::size_t n = f.at("y").size();
    REQUIRE(f.at("x").size() == n);
    REQUIRE(f.at("logabsdet").size() == n);
    for (std::size_t k = 0; k < n; ++k) {
      const double y = f.at("y")[k].get<double>();
      double ld = std::numeric_limits<double>::quiet_NaN();
      const double x = t.inverse(0, y, p.data(), ld);
      if (nflows_inverse_inaccurate(derived, y, f.at("x")[k].get<double>(), f.at("logabsdet")[k].get<double>(), x,
                                    ld, Config::bound, "inverse_of_forward", k, st)) {
        ++st.points;
        continue;
      }
      check_close(x, f.at("x")[k].get<double>(), st.inverse_of_forward_x, "inverse_of_forward x", k, y);
      check_close(ld, f.at("logabsdet")[k].get<double>(), st.inverse_of_forward_ld, "inverse_of_forward logabsdet",
                  k, y);
      ++st.points;
    }
  }
  // Inverse of random points (and y-knots, the boundary, ...), with nflows's bin.
  {
    const json& f = c.at("inverse_random");
    const std::size_t n = f.at("y").size();
    REQUIRE(f.at("kind").size() == n);
    REQUIRE(f.at("bin").size() == n);
    REQUIRE(f.at("x").size() == n);
    REQUIRE(f.at("logabsdet").size() == n);
    for (std::size_t k = 0; k < n; ++k) {
      const double y = f.at("y")[k].get<double>();
      const int bin = f.at("bin")[k].get<int>();
      st.kinds.insert(f.at("kind")[k].get<std::string>());
      INFO("inverse_random[" << k << "], kind " << f.at("kind")[k].get<std::string>());
      CHECK(T::inside(y) == (bin != -1));
      if (bin != -1) check_bin<K>(kn.y, derived.at("knots_y"), y, bin, "inverse_random", k, st);
      double ld = std::numeric_limits<double>::quiet_NaN();
      const double x = t.inverse(0, y, p.data(), ld);
      if (nflows_inverse_inaccurate(derived, y, f.at("x")[k].get<double>(), f.at("logabsdet")[k].get<double>(), x,
                                    ld, Config::bound, "inverse_random", k, st)) {
        ++st.points;
        continue;
      }
      check_close(x, f.at("x")[k].get<double>(), st.inverse_random_x, "inverse_random x", k, y);
      check_close(ld, f.at("logabsdet")[k].get<double>(), st.inverse_random_ld, "inverse_random logabsdet", k, y);
      ++st.points;
    }
  }
}

// Runs the case on the one instantiation that matches it; returns how many matched.
template <std::size_t... I>
int dispatch(const json& c, stats& st, std::index_sequence<I...>) {
  int matched = 0;
  (
      [&] {
        using Config = std::tuple_element_t<I, configs>;
        if (matches<Config>(c)) {
          ++matched;
          check_case<Config>(c, st);
        }
      }(),
      ...);
  return matched;
}

}  // namespace

TEST_CASE("nflows unconstrained_rational_quadratic_spline (linear tails) is Spline<K, B>", "[reference][spline]") {
  const json data = load("rqs_unconstrained.json");
  REQUIRE(data.at("meta").at("dtype") == "float64");
  REQUIRE(data.at("meta").at("tails") == "linear");
  const json& cases = data.at("cases");
  REQUIRE(!cases.empty());

  // Every point in the file, counted from the data, independently of the checks.
  long total = 0;
  for (const auto& c : cases)
    total += long(c.at("forward").at("x").size() + c.at("inverse_of_forward").at("y").size() +
                  c.at("inverse_random").at("y").size());

  stats st;
  for (const auto& c : cases) {
    INFO("case " << c.at("id").get<std::string>() << ": K = " << c.at("K").get<int>() << ", tail_bound = "
                 << c.at("tail_bound").get<double>() << ", min_bin_width = " << c.at("min_bin_width").get<double>()
                 << ", min_bin_height = " << c.at("min_bin_height").get<double>()
                 << ", min_derivative = " << c.at("min_derivative").get<double>()
                 << ", enable_identity_init = " << c.at("enable_identity_init").get<bool>());
    // A case no instantiation matches must not be skipped: add its Spline to `configs`.
    REQUIRE(dispatch(c, st, std::make_index_sequence<std::tuple_size_v<configs>>{}) == 1);
  }

  INFO("points checked " << st.points << " of " << total << "; bins compared " << st.bins_checked
                         << ", of which on a knot in the neighbouring bin " << st.bins_neighbour);
  REQUIRE(st.points == total);
  // The exception applies to y = B and y = B - 1 ulp of K8_B3.0_std3, each stored twice
  // (inverse_of_forward and inverse_random): a change that makes it apply more widely
  // must be looked at.
  CHECK(st.nflows_inaccurate <= 4);
  // Every kind of point was exercised.
  for (const char* kind : {"boundary", "knot", "near_boundary_inside", "near_boundary_outside", "far_tail", "random"}) {
    INFO("kind " << kind);
    CHECK(st.kinds.count(kind) == 1);
  }
  INFO("largest differences: knots " << std::setprecision(3) << st.knots << ", forward y " << st.forward_y
                                     << ", forward logabsdet " << st.forward_ld << ", inverse_of_forward x "
                                     << st.inverse_of_forward_x << ", inverse_of_forward logabsdet "
                                     << st.inverse_of_forward_ld << ", inverse_random x " << st.inverse_random_x
                                     << ", inverse_random logabsdet " << st.inverse_random_ld);
  const bool all_within_tolerance = std::max({st.knots, st.forward_y, st.forward_ld, st.inverse_of_forward_x,
                                               st.inverse_of_forward_ld, st.inverse_random_x,
                                               st.inverse_random_ld}) <= tol;
  CHECK(all_within_tolerance);
}

}  // namespace spline_nflows_test
