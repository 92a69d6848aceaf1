// Arguments outside the domain their function documents, refused before anything runs,
// in one sentence that starts with the function's name: the temperature and the count
// of host sampling (plain, conditional, with exec::host first), the conformance kit's
// options, Residual's power iterations, bits_per_dim; and checked log_prob, which
// throws domain_error naming the base distribution where its log density is not
// finite (a float flow's output at 1e30).
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/bijectors/residual.hpp>
#include <flowtmpl/bijectors/shift.hpp>
#include <flowtmpl/conditional.hpp>
#include <flowtmpl/dequantization.hpp>
#include <flowtmpl/distributions/diagonal_normal.hpp>
#include <flowtmpl/distributions/standard_normal.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace argument_validation_test {

namespace ft = flowtmpl;
using Catch::Contains;
using Catch::StartsWith;

namespace {

// The type and message of what f throws: "none" when it returns.
struct thrown {
  std::string type, what;
};
template <class F>
thrown thrown_by(F&& f) {
  try {
    f();
  } catch (const ft::shape_error& e) {
    return {"shape_error", e.what()};
  } catch (const ft::argument_error& e) {
    return {"argument_error", e.what()};
  } catch (const ft::domain_error& e) {
    return {"domain_error", e.what()};
  } catch (const std::exception& e) {
    return {"other", e.what()};
  }
  return {"none", ""};
}

// The temperatures outside the domain, each with how the message prints it (printf's
// %.9g: the shortest round trip of a float, nine digits of a double).
template <class S>
struct bad_temperature {
  S value;
  const char* text;
};
template <class S>
std::vector<bad_temperature<S>> bad_temperatures() {
  using L = std::numeric_limits<S>;
  return {{S(0), "0"},
          {-S(0), "-0"},
          {S(-1), "-1"},
          {-L::max(), sizeof(S) == 4 ? "-3.40282347e+38" : "-1.79769313e+308"},
          {L::quiet_NaN(), "nan"},
          {L::infinity(), "inf"},
          {-L::infinity(), "-inf"},
          // subnormal: the draws would keep only a few bits
          {L::denorm_min(), sizeof(S) == 4 ? "1.40129846e-45" : "4.94065646e-324"},
          {L::min() / S(2), sizeof(S) == 4 ? "5.87747175e-39" : "1.11253693e-308"}};
}

template <class S>
using Flow3 = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Permute<ft::Reverse>>>, 3, S>;
template <class S>
using DiagonalFlow3 = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::Affine>>, 3, S>;
template <class S>
using Normal3 = ft::StandardNormalDistribution<3, S>;
template <class S>
using CondFlow = ft::bind_t<ft::Conditional<2, ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, ft::MLP<8>>,
                                                                                        ft::Permute<ft::Reverse>>>>,
                            3, S>;

}  // namespace

TEMPLATE_TEST_CASE("sample and sample_and_log_prob refuse a temperature that is not finite and positive",
                   "[host][arguments]", float, double) {
  using S = TestType;
  const Flow3<S> flow;
  const DiagonalFlow3<S> diagonal;
  const Normal3<S> base;
  for (const auto& t : bad_temperatures<S>()) {
    INFO("T = " << t.text);
    const std::string sample_msg = std::string("sample: the temperature is ") + t.text + "; it must be finite and positive";
    const std::string both_msg =
        std::string("sample_and_log_prob: the temperature is ") + t.text + "; it must be finite and positive";
    REQUIRE_THROWS_WITH(ft::sample(flow, 4, 1, t.value), StartsWith(sample_msg));
    REQUIRE_THROWS_WITH(ft::sample_and_log_prob(flow, 4, 1, t.value), StartsWith(both_msg));
    REQUIRE_THROWS_WITH(ft::sample(diagonal, 4, 1, t.value), StartsWith(sample_msg));
    REQUIRE_THROWS_WITH(ft::sample_and_log_prob(base, 4, 1, t.value), StartsWith(both_msg));
    // the policy-first spelling forwards to the same check
    REQUIRE_THROWS_WITH(ft::sample(ft::exec::host, flow, 4, 1, t.value), StartsWith(sample_msg));
    // an argument_error, not a shape_error (the temperature is no size)
    CHECK(thrown_by([&] { (void)ft::sample(flow, 4, 1, t.value); }).type == "argument_error");
    // refused before anything is drawn, even for no samples
    CHECK(thrown_by([&] { (void)ft::sample(flow, 0, 1, t.value); }).type == "argument_error");
  }
  // the message states the smallest accepted temperature
  REQUIRE_THROWS_WITH(ft::sample(flow, 4, 1, S(0)),
                      Contains(sizeof(S) == 4 ? "at least 1.17549435e-38 (the smallest normal float)"
                                              : "at least 2.22507386e-308 (the smallest normal double)"));
}

TEMPLATE_TEST_CASE("the smallest normal temperature is accepted: finite draws and log densities", "[host][arguments]",
                   float, double) {
  using S = TestType;
  const S T = std::numeric_limits<S>::min();
  const Normal3<S> base;
  const auto r = ft::sample_and_log_prob(base, 200, 3, T);
  REQUIRE(r.values.cols() == 200);
  // T times standard normal draws (|z| < 10 for 200 of them), each log density at least
  // -D log T - D/2 log(2 pi) - |z|^2 / 2 > 0 for so small a T
  CHECK(r.values.allFinite());
  CHECK((r.values.array().abs() <= S(10) * T).all());
  CHECK(r.log_det.allFinite());
  CHECK((r.log_det.array() > S(0)).all());
}

TEMPLATE_TEST_CASE("sample and sample_and_log_prob refuse a negative or unindexable number of samples",
                   "[host][arguments]", float, double) {
  using S = TestType;
  const Flow3<S> flow;
  REQUIRE_THROWS_WITH(ft::sample(flow, -1, 1), StartsWith("sample: the number of samples is -1; it must be at least 0"));
  REQUIRE_THROWS_WITH(ft::sample_and_log_prob(flow, -5, 1, S(0.5)),
                      StartsWith("sample_and_log_prob: the number of samples is -5; it must be at least 0"));
  CHECK(thrown_by([&] { (void)ft::sample(flow, -1, 1); }).type == "shape_error");
  // 2^62 samples of 3 values: more than an Eigen::Index counts in bytes; refused, not
  // attempted
  const Eigen::Index huge = Eigen::Index(1) << 62;
  REQUIRE_THROWS_WITH(ft::sample(flow, huge, 1),
                      StartsWith("sample: 4611686018427387904 samples of dimension 3 are more values than one batch can "
                                 "index"));
  CHECK(thrown_by([&] { (void)ft::sample_and_log_prob(flow, huge, 1); }).type == "shape_error");
  // no samples is in the domain
  CHECK(ft::sample(flow, 0, 1).cols() == 0);
}

TEMPLATE_TEST_CASE("conditional sampling refuses a bad temperature and a negative count, naming the function",
                   "[host][arguments][conditional]", float, double) {
  using S = TestType;
  const CondFlow<S> d;
  const Eigen::Matrix<S, 2, 1> ctx(S(0.5), S(-1));
  for (const auto& t : bad_temperatures<S>()) {
    INFO("T = " << t.text);
    REQUIRE_THROWS_WITH(ft::sample(d, 4, 1, ctx, t.value),
                        StartsWith(std::string("sample: the temperature is ") + t.text + "; it must be finite and positive"));
    REQUIRE_THROWS_WITH(ft::sample_and_log_prob(d, 4, 1, ctx, t.value),
                        StartsWith(std::string("sample_and_log_prob: the temperature is ") + t.text));
    CHECK(thrown_by([&] { (void)ft::sample(d, 4, 1, ctx, t.value); }).type == "argument_error");
  }
  REQUIRE_THROWS_WITH(ft::sample(d, -1, 1, ctx), StartsWith("sample: the number of samples is -1; it must be at least 0"));
  REQUIRE_THROWS_WITH(ft::sample_and_log_prob(d, -2, 1, ctx, S(0.7)),
                      StartsWith("sample_and_log_prob: the number of samples is -2"));
}

TEST_CASE("checked log_prob throws where the base distribution's log density is not finite (float, 1e30)",
          "[host][arguments][checked]") {
  using F = Flow3<float>;
  F f;
  ft::reset_parameters(f, 5, ft::init::uniform);
  Eigen::Matrix<float, 3, Eigen::Dynamic> X = Eigen::Matrix<float, 3, Eigen::Dynamic>::Constant(3, 4, 0.5f);
  X.col(2).setConstant(1e30f);  // every layer finite; -x^2 / 2 overflows float
  // unchecked: -inf in that column alone (the documented result)
  const auto lp = ft::log_prob(f, X);
  CHECK(std::isinf(lp[2]));
  CHECK(std::isfinite(lp[0]));
  // checked: the layers pass (finite), the base's log density is refused
  REQUIRE_THROWS_WITH(ft::log_prob(f, X, ft::checked),
                      StartsWith("log_prob, sample 2: the base distribution (StandardNormal)'s log density is -inf at the "
                                 "transform's output"));
  try {
    (void)ft::log_prob(f, X, ft::checked);
    FAIL("no domain_error");
  } catch (const ft::domain_error& e) {
    CHECK(e.layer == "base distribution (StandardNormal)");
    CHECK(e.sample == 2);
    CHECK(std::isinf(e.value));
  }
  // where every density is finite, checked equals unchecked
  const Eigen::Matrix<float, 3, Eigen::Dynamic> Y = X.leftCols(2);
  CHECK(ft::log_prob(f, Y, ft::checked).isApprox(ft::log_prob(f, Y), 1e-6f));
}

TEST_CASE("checked log_prob of a base distribution refuses a non-finite input or log density",
          "[host][arguments][checked]") {
  const Normal3<float> d;
  Eigen::Matrix<float, 3, Eigen::Dynamic> X = Eigen::Matrix<float, 3, Eigen::Dynamic>::Zero(3, 3);
  X(1, 2) = 1e30f;
  REQUIRE_THROWS_WITH(ft::log_prob(d, X, ft::checked),
                      StartsWith("log_prob, sample 2: the base distribution (StandardNormal)'s log density is -inf"));
  X(1, 2) = 0;
  X(0, 1) = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_WITH(ft::log_prob(d, X, ft::checked), StartsWith("input, sample 1, component 0: value nan is not finite"));
  CHECK(thrown_by([&] { (void)ft::log_prob(d, X, ft::checked); }).type == "domain_error");
}

TEST_CASE("checked conditional log_prob throws where the base distribution's log density is not finite",
          "[host][arguments][checked][conditional]") {
  CondFlow<float> d;  // identity-start couplings: finite at 1e30
  ft::reset_parameters(d, 9);
  Eigen::Matrix<float, 3, Eigen::Dynamic> X = Eigen::Matrix<float, 3, Eigen::Dynamic>::Zero(3, 3);
  X.col(1).setConstant(1e30f);
  const Eigen::Matrix<float, 2, 1> ctx(0.25f, 0.5f);
  CHECK(std::isinf(ft::log_prob(d, X, ctx)[1]));
  REQUIRE_THROWS_WITH(ft::log_prob(d, X, ctx, ft::checked),
                      StartsWith("log_prob, sample 1: the base distribution (StandardNormal)'s log density is -inf"));
}

TEST_CASE("check_bijector refuses options outside their domain, naming the option", "[testing][arguments]") {
  using B = ft::bind_t<ft::Shift, 3, double>;
  const B b;
  using O = ft::testing::options<double>;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  auto refused = [&](O o) { return thrown_by([&] { (void)ft::testing::check_bijector(b, o); }); };
  {
    O o;
    o.points = -1;
    const auto t = refused(o);
    CHECK(t.type == "argument_error");
    CHECK_THAT(t.what, StartsWith("check_bijector: options.points is -1; it must be at least 0"));
  }
  {
    O o;
    o.random_sweep_points = -3;
    CHECK_THAT(refused(o).what, StartsWith("check_bijector: options.random_sweep_points is -3; it must be at least 0"));
  }
  for (const double bad : {0.0, -1e-3, nan, inf}) {
    O o;
    o.fd_step = bad;
    const auto t = refused(o);
    CHECK(t.type == "argument_error");
    CHECK_THAT(t.what, StartsWith("check_bijector: options.fd_step is ") && Contains("; it must be finite and positive"));
  }
  for (const double bad : {-1.0, nan, inf}) {
    INFO("tolerance " << bad);
    O a, l, j;
    a.round_trip_tol = bad;
    l.log_det_tol = bad;
    j.jacobian_tol = bad;
    CHECK_THAT(refused(a).what, StartsWith("check_bijector: options.round_trip_tol is ") &&
                                    Contains("; it must be finite and at least 0"));
    CHECK_THAT(refused(l).what, StartsWith("check_bijector: options.log_det_tol is "));
    CHECK_THAT(refused(j).what, StartsWith("check_bijector: options.jacobian_tol is "));
  }
  for (const auto& [lo, hi] : {std::pair{1.0, 0.0}, std::pair{-inf, 0.0}, std::pair{0.0, inf}}) {
    O o;
    o.lo = lo;
    o.hi = hi;
    CHECK_THAT(refused(o).what, StartsWith("check_bijector: the points' range [lo, hi] is [") &&
                                    Contains("it must be finite with lo <= hi"));
  }
  {
    O o;
    o.extra_points = {{1.0, 2.0, 3.0}, {1.0, 2.0}};
    const auto t = refused(o);
    CHECK(t.type == "shape_error");
    CHECK_THAT(t.what, StartsWith("check_bijector: options.extra_points[1] has 2 values; the layer's dimension is 3"));
    O s;
    s.sweep = {{1.0}};
    CHECK_THAT(refused(s).what, StartsWith("check_bijector: options.sweep[0] has 1 values"));
    O i;
    i.inverse_sweep = {{1.0, 2.0, 3.0, 4.0}};
    CHECK_THAT(refused(i).what, StartsWith("check_bijector: options.inverse_sweep[0] has 4 values"));
  }
  // the defaults, and zero points (the per-point checks skipped, with the reason), run
  CHECK(refused(O{}).type == "none");
  O none;
  none.points = 0;
  CHECK(refused(none).type == "none");
}

TEST_CASE("check_gradients refuses options outside their domain, naming the option", "[testing][arguments]") {
  using B = ft::bind_t<ft::Affine, 2, double>;
  const B b;
  using O = ft::testing::gradient_options<double>;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  auto refused = [&](O o) { return thrown_by([&] { (void)ft::testing::check_gradients(b, o); }); };
  O p;
  p.points = -2;
  CHECK_THAT(refused(p).what, StartsWith("check_gradients: gradient_options.points is -2; it must be at least 0"));
  for (const double bad : {-1.0, nan, inf}) {
    O r, a;
    r.rel_tol = bad;
    a.abs_tol = bad;
    CHECK_THAT(refused(r).what, StartsWith("check_gradients: gradient_options.rel_tol is "));
    CHECK_THAT(refused(a).what, StartsWith("check_gradients: gradient_options.abs_tol is ") &&
                                    Contains("it must be finite and at least 0"));
  }
  for (const double bad : {0.0, -1.0, nan, inf}) {
    O f;
    f.fd_step = bad;
    const auto t = refused(f);
    CHECK(t.type == "argument_error");
    CHECK_THAT(t.what, StartsWith("check_gradients: gradient_options.fd_step is ") && Contains("finite and positive"));
  }
  O m;
  m.max_parameters = 0;
  CHECK_THAT(refused(m).what, StartsWith("check_gradients: gradient_options.max_parameters is 0; it must be at least 1"));
  O range;
  range.lo = 2;
  range.hi = -2;
  CHECK_THAT(refused(range).what, StartsWith("check_gradients: the points' range [lo, hi] is [2, -2]"));
  CHECK(refused(O{}).type == "none");
}

TEST_CASE("Residual's update_spectral_norm refuses a negative number of iterations", "[bijectors][arguments]") {
  ft::bind_t<ft::Residual<ft::LipschitzMLP<8>>, 2, double> r;
  ft::reset_parameters(r, 3, ft::init::uniform);
  const auto t = thrown_by([&] { (void)r.update_spectral_norm(-1); });
  CHECK(t.type == "argument_error");
  CHECK_THAT(t.what, StartsWith("update_spectral_norm: the number of iterations is -1; it must be at least 0"));
  // zero iterations change nothing
  CHECK(r.update_spectral_norm(0) == 0.0);
}

TEST_CASE("bits_per_dim refuses a non-finite log density and a dimension below 1", "[arguments]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (const auto& [v, text] : {std::pair{nan, "nan"}, std::pair{inf, "inf"}, std::pair{-inf, "-inf"}}) {
    const auto t = thrown_by([&] { (void)ft::bits_per_dim(v, 3); });
    CHECK(t.type == "argument_error");
    CHECK_THAT(t.what, StartsWith(std::string("bits_per_dim: the log density is ") + text + "; it must be finite"));
  }
  for (const int dim : {0, -1}) {
    const auto t = thrown_by([&] { (void)ft::bits_per_dim(0.0, dim); });
    CHECK(t.type == "shape_error");
    CHECK_THAT(t.what, StartsWith("bits_per_dim: the dimension is " + std::to_string(dim) + "; it must be at least 1"));
  }
}

}  // namespace argument_validation_test
