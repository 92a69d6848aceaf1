// The conformance kit itself (flowtmpl/testing.hpp): each property of the kit shown by a
// layer broken on purpose that the kit must fail, next to the same layer unbroken.
//   - a report counts the checks it ran; with none run it is not ok; a check that
//     cannot run (jacobian without a jacobian member, prepared without prepare(), the
//     parameter gradients of a layer without parameters) is skipped, with its reason
//   - the default finiteness sweep runs for every layer, inside its declared domain (a
//     chain's: that of the layer its input enters first), and a narrowing needs a reason
//   - the prepared check compares the layer with its real prepared form
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/chain.hpp>
#include <flowtmpl/core.hpp>
#include <flowtmpl/direction.hpp>
#include <flowtmpl/structure.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace kit_test {

namespace {

namespace ft = flowtmpl;
using ft::direction;

// What a test layer gets wrong.
enum class fault {
  none,
  overflow_at_large_x,  // forward gives +inf where |x| > 1e6 (inside its domain, the real line)
  prepared_differs,     // prepare() returns a form whose forward is shifted by 1e-3
};

// y = 2 x + 1 per component (D = 3): finite and exact for every representable x up to
// max / 2, a constant log-det 3 log 2. No jacobian member; a prepare() only where Prepare.
enum class with_prepare { no, yes };

template <class S, fault F = fault::none, with_prepare P = with_prepare::no>
struct doubling {
  using scalar_type = S;
  using structure = ft::structure::diagonal;
  static constexpr int dim = 3;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::constant;
  static constexpr const char* name = "doubling";
  using vec = Eigen::Matrix<S, 3, 1>;
  S offset = S(0);  // added to the output: what a wrong prepared form gets wrong

  vec forward(const vec& x) const {
    vec y = (S(2) * x).array() + S(1) + offset;
    if constexpr (F == fault::overflow_at_large_x) {
      for (int i = 0; i < 3; ++i)
        if (std::abs(x[i]) > S(1e6)) y[i] = std::numeric_limits<S>::infinity();
    }
    return y;
  }
  vec inverse(const vec& y) const { return (y.array() - S(1) - offset) / S(2); }
  S log_det(const vec&) const { return constant_log_det(); }
  S constant_log_det() const { return S(3) * std::log(S(2)); }
  // the gradient of a parameter-free layer: only the input's cotangent
  vec forward_vjp(const vec&, const vec& gy, S, doubling&) const { return S(2) * gy; }
  vec inverse_vjp(const vec&, const vec& gx, S, doubling&) const { return gx / S(2); }

  doubling prepare() const
    requires(P == with_prepare::yes)
  {
    doubling p = *this;
    if constexpr (F == fault::prepared_differs) p.offset += S(1e-3);
    return p;
  }
};

// The logit map on the open unit interval per component (D = 2): NaN outside it, so a
// sweep that left the declared domain would fail.
template <class S>
struct unit_logit {
  using scalar_type = S;
  using structure = ft::structure::diagonal;
  static constexpr int dim = 2;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::input_dependent;
  static constexpr const char* name = "unit_logit";
  using vec = Eigen::Matrix<S, 2, 1>;
  static constexpr ft::interval<S> forward_domain() { return ft::interval<S>::open(S(0), S(1)); }
  static constexpr ft::interval<S> inverse_domain() { return ft::interval<S>::real_line(); }

  vec forward(const vec& x) const {
    vec y;
    for (int i = 0; i < 2; ++i) y[i] = std::log(x[i]) - std::log1p(-x[i]);
    return y;
  }
  vec inverse(const vec& y) const {
    vec x;
    for (int i = 0; i < 2; ++i) x[i] = y[i] >= 0 ? S(1) / (S(1) + std::exp(-y[i])) : std::exp(y[i]) / (S(1) + std::exp(y[i]));
    return x;
  }
  S log_det(const vec& x) const {
    S ld = 0;
    for (int i = 0; i < 2; ++i) ld -= std::log(x[i]) + std::log1p(-x[i]);
    return ld;
  }
  ft::value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const {
    S ld = 0;  // log sigma'(y) = -|y| - 2 log(1 + exp(-|y|)), finite for every y
    for (int i = 0; i < 2; ++i) ld += -std::abs(y[i]) - S(2) * std::log1p(std::exp(-std::abs(y[i])));
    return {inverse(y), ld};
  }
};

}  // namespace

TEST_CASE("the kit: a report in which nothing ran is not ok", "[testing][kit]") {
  const ft::testing::report empty;
  CHECK(empty.checks() == 0);
  CHECK_FALSE(empty.ok());
  CHECK_THAT(empty.text(), Catch::Contains("nothing ran"));
  // check_gradients without points runs nothing: not ok, and every check is listed as skipped
  ft::testing::gradient_options<double> opt;
  opt.points = 0;
  const auto r = ft::testing::check_gradients(doubling<double>{}, opt);
  INFO(r.text());
  CHECK(r.checks() == 0);
  CHECK_FALSE(r.ok());
  CHECK(r.was_skipped("forward_vjp.input"));
  CHECK(r.was_skipped("inverse_vjp.input"));
}

TEST_CASE("the kit: counts per check, and the checks that cannot run are skipped", "[testing][kit]") {
  const auto r = ft::testing::check_bijector(doubling<double>{});
  INFO(r.text());
  CHECK(r.ok());
  CHECK(r.count("round_trip") == 64);
  CHECK(r.count("log_det") == 64);
  CHECK(r.count("kind") == 64);
  CHECK(r.count("structure") > 0);
  CHECK(r.count("finite.forward") > 40);  // the default sweep, both directions
  CHECK(r.count("finite.inverse") > 40);
  // no jacobian member and no prepare(): skipped, with the reason, not counted
  STATIC_REQUIRE_FALSE(ft::has_jacobian_v<doubling<double>>);
  CHECK(r.count("jacobian") == 0);
  CHECK(r.count("prepared") == 0);
  CHECK(r.was_skipped("jacobian"));
  CHECK(r.was_skipped("prepared"));
  CHECK_THAT(r.text(), Catch::Contains("jacobian: skipped, the layer has no jacobian(x) member"));
  CHECK_THAT(r.text(), Catch::Contains("prepared: skipped, the layer has no prepare()"));
  bool listed = false;
  for (const auto& s : r.skipped()) listed = listed || (s.check == "jacobian" && !s.reason.empty());
  CHECK(listed);

  // a parameter-free layer's gradients: the input's checked, the parameters' skipped
  const auto g = ft::testing::check_gradients(doubling<double>{});
  INFO(g.text());
  CHECK(g.ok());
  CHECK(g.count("forward_vjp.input") > 0);
  CHECK(g.count("inverse_vjp.input") > 0);
  CHECK(g.count("forward_vjp.parameters") == 0);
  CHECK(g.was_skipped("forward_vjp.parameters"));
  CHECK(g.was_skipped("inverse_vjp.parameters"));
  CHECK_THAT(g.text(), Catch::Contains("forward_vjp.parameters: skipped, the layer has no parameters"));
}

TEMPLATE_TEST_CASE("the kit: the default sweep fails a layer that overflows inside its domain", "[testing][kit]",
                   float, double) {
  using S = TestType;
  // the points of the per-point checks lie in [-3, 3], where the broken layer is right
  const auto r = ft::testing::check_bijector(doubling<S, fault::overflow_at_large_x>{});
  INFO(r.text());
  CHECK_FALSE(r.ok());
  CHECK(r.failed("finite.forward") > 0);
  CHECK(r.failed() == r.failed("finite.forward"));
  CHECK_THAT(r.text(), Catch::Contains("finite.forward: doubling forward at") && Catch::Contains("inf"));

  // narrowed with a reason, it passes, and the report says why
  ft::testing::options<S> narrow;
  narrow.narrow_sweep(direction::forward, S(-1e6), S(1e6), "this layer gives +inf above 1e6");
  const auto n = ft::testing::check_bijector(doubling<S, fault::overflow_at_large_x>{}, narrow);
  INFO(n.text());
  CHECK(n.ok());
  CHECK_THAT(n.text(), Catch::Contains("narrowed: this layer gives +inf above 1e6"));

  // narrowed without a reason, it fails the check "sweep"
  ft::testing::options<S> silent;
  silent.forward_sweep_range.lo = S(-1e6);
  silent.forward_sweep_range.hi = S(1e6);
  const auto s = ft::testing::check_bijector(doubling<S, fault::overflow_at_large_x>{}, silent);
  INFO(s.text());
  CHECK_FALSE(s.ok());
  CHECK(s.failed("sweep") == 1);
  CHECK(s.failed("finite.forward") == 0);

  // dropped in one direction with a reason, that direction's sweep is skipped, with it
  ft::testing::options<S> dropped;
  dropped.drop_sweep(direction::forward, "this layer gives +inf above 1e6");
  const auto d = ft::testing::check_bijector(doubling<S, fault::overflow_at_large_x>{}, dropped);
  INFO(d.text());
  CHECK(d.ok());
  CHECK(d.count("finite.forward") == 0);
  CHECK(d.was_skipped("finite.forward"));
  CHECK(d.count("finite.inverse") > 0);
  CHECK_THAT(d.text(), Catch::Contains("forward sweep: dropped (this layer gives +inf above 1e6)"));
  dropped.drop_sweep(direction::forward, "");
  CHECK(ft::testing::check_bijector(doubling<S, fault::overflow_at_large_x>{}, dropped).failed("sweep") == 1);

  // and the unbroken layer passes the default sweep
  const auto ok = ft::testing::check_bijector(doubling<S>{});
  INFO(ok.text());
  CHECK(ok.ok());
}

TEMPLATE_TEST_CASE("the kit: the default sweep stays inside the declared domain, up to its ends", "[testing][kit]",
                   float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  const auto r = ft::testing::check_bijector(unit_logit<S>{});
  INFO(r.text());
  CHECK(r.ok());
  CHECK(r.count("finite.forward") > 20);
  CHECK(r.count("finite.inverse") > 20);
  // the forward values: inside (0, 1), the ends one step inside included
  const auto values = ft::testing::detail::sweep_values(unit_logit<S>::forward_domain());
  bool near_lo = false, near_hi = false;
  for (S v : values) {
    CHECK(v > S(0));
    CHECK(v < S(1));
    near_lo = near_lo || v == lim::denorm_min();
    near_hi = near_hi || v == std::nextafter(S(1), S(0));
  }
  CHECK(near_lo);
  CHECK(near_hi);
  // a chain declares no domain: the kit sweeps that of the layer its input enters
  // first, through inverses
  using chain = ft::Chain<unit_logit<S>, ft::InverseBijector<unit_logit<S>>>;
  constexpr auto chain_forward = ft::testing::detail::domain_of<direction::forward, chain>();
  constexpr auto chain_inverse = ft::testing::detail::domain_of<direction::inverse, chain>();
  STATIC_REQUIRE((chain_forward.lo == S(0) && chain_forward.hi == S(1) && !chain_forward.lo_closed));
  STATIC_REQUIRE((chain_inverse.lo == S(0) && chain_inverse.hi == S(1) && !chain_inverse.hi_closed));
  // on the real line: 0, tiny, 1 and large values of both signs
  const auto real = ft::testing::detail::sweep_values(ft::interval<S>::real_line());
  for (S v : {S(0), lim::denorm_min(), -lim::denorm_min(), S(1), S(-1), ft::testing::detail::sweep_large<S>(),
              -ft::testing::detail::sweep_large<S>()})
    CHECK(std::find(real.begin(), real.end(), v) != real.end());
}

TEMPLATE_TEST_CASE("the kit: the prepared check compares the layer with its real prepared form", "[testing][kit]",
                   float, double) {
  using S = TestType;
  const auto good = ft::testing::check_bijector(doubling<S, fault::none, with_prepare::yes>{});
  INFO(good.text());
  CHECK(good.ok());
  CHECK(good.count("prepared") == 2 * 64);
  CHECK_FALSE(good.was_skipped("prepared"));

  const auto bad = ft::testing::check_bijector(doubling<S, fault::prepared_differs, with_prepare::yes>{});
  INFO(bad.text());
  CHECK_FALSE(bad.ok());
  CHECK(bad.failed("prepared") == 2 * 64);
  CHECK(bad.failed() == bad.failed("prepared"));
  CHECK_THAT(bad.text(), Catch::Contains("prepare(b) computes another forward or log-det"));
}

}  // namespace kit_test
