// flowtmpl/core.hpp: binding (a bound bijector binds to itself), the default
// forward_and_log_det / inverse_and_log_det / inverse_log_det of a minimal user bijector
// and their laws, fused members used when present, and prepare().
#include <flowtmpl/flowtmpl.hpp>

#include <flowtmpl/testing.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <type_traits>
#include <vector>

namespace core_test {

namespace {

namespace ft = flowtmpl;

// A minimal user bijector: only the required members. D = 2, lower triangular:
//   y0 = x0,  y1 = x1 exp(x0) + x0;   log|det df/dx| = x0.
template <class S>
struct Minimal {
  using scalar_type = S;
  using structure = ft::structure::lower_triangular;
  static constexpr int dim = 2;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::input_dependent;
  static constexpr const char* name = "Minimal";
  using vec = Eigen::Matrix<S, 2, 1>;

  vec forward(const vec& x) const {
    using std::exp;
    return vec(x[0], x[1] * exp(x[0]) + x[0]);
  }
  vec inverse(const vec& y) const {
    using std::exp;
    return vec(y[0], (y[1] - y[0]) * exp(-y[0]));
  }
  S log_det(const vec& x) const { return x[0]; }
};

std::atomic<int> fused_forward_calls{0};
std::atomic<int> fused_inverse_calls{0};

// The same map, with fused members that count their calls.
template <class S>
struct WithFused : Minimal<S> {
  static constexpr const char* name = "WithFused";
  using vec = typename Minimal<S>::vec;
  ft::value_and_log_det<vec, S> forward_and_log_det(const vec& x) const {
    ++fused_forward_calls;
    return {this->forward(x), this->log_det(x)};
  }
  ft::value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const {
    ++fused_inverse_calls;
    const vec x = this->inverse(y);
    return {x, -this->log_det(x)};
  }
};

// A user layer with a parameter and no prepare().
template <int D, class S>
struct Scaled {
  using scalar_type = S;
  using structure = ft::structure::diagonal;
  static constexpr int dim = D;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::constant;
  static constexpr const char* name = "Scaled";
  using vec = Eigen::Matrix<S, D, 1>;
  S a = S(2);
  vec forward(const vec& x) const { return a * x; }
  vec inverse(const vec& y) const { return y / a; }
  S log_det(const vec&) const { return constant_log_det(); }
  S constant_log_det() const { return S(D) * std::log(std::abs(a)); }
};

template <class S>
std::vector<Eigen::Matrix<S, 2, 1>> points2(int n, std::uint64_t seed) {
  std::vector<Eigen::Matrix<S, 2, 1>> pts;
  ft::philox_stream rng(seed, 0);
  for (int p = 0; p < n; ++p) pts.emplace_back(S(-2) + S(4) * rng.uniform<S>(), S(-2) + S(4) * rng.uniform<S>());
  return pts;
}

}  // namespace

TEST_CASE("bind_t of a bound bijector of the right dimension and scalar is itself", "[core][bind]") {
  using AN = ft::ActNormBijector<4, double>;
  STATIC_REQUIRE(std::is_same_v<ft::bind_t<AN, 4, double>, AN>);
  STATIC_REQUIRE(std::is_same_v<ft::bind_t<ft::ActNorm, 4, double>, AN>);
  STATIC_REQUIRE(std::is_same_v<ft::bind_t<ft::ActNorm, 4>, AN>);  // double by default
  using F = ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>, 3, float>;
  STATIC_REQUIRE(std::is_same_v<ft::bind_t<F, 3, float>, F>);
  using I = ft::bind_t<ft::Inverse<ft::Tanh>, 2, float>;
  STATIC_REQUIRE(std::is_same_v<I, ft::InverseBijector<ft::TanhBijector<2, float>>>);
  STATIC_REQUIRE(std::is_same_v<ft::bind_t<I, 2, float>, I>);
  STATIC_REQUIRE(std::is_same_v<ft::bind_t<Minimal<float>, 2, float>, Minimal<float>>);
  // a bound bijector inside compose and Inverse is used as it is
  STATIC_REQUIRE(std::is_same_v<ft::bind_t<ft::compose<F, ft::Tanh>, 3, float>,
                                ft::Chain<F, ft::TanhBijector<3, float>>>);
  STATIC_REQUIRE(std::is_same_v<ft::bind_t<ft::Inverse<Minimal<double>>, 2, double>, ft::InverseBijector<Minimal<double>>>);
  // distributions bind too
  STATIC_REQUIRE(std::is_same_v<ft::bind_t<ft::StandardNormal, 3, float>, ft::StandardNormalDistribution<3, float>>);
}

TEST_CASE("the concepts accept the models and reject the rest", "[core][concepts]") {
  STATIC_REQUIRE(ft::Bijector<Minimal<double>>);
  STATIC_REQUIRE(ft::Bijector<Scaled<3, float>>);
  STATIC_REQUIRE(ft::Bijector<ft::bind_t<ft::compose<ft::Affine, ft::Tanh>, 3, float>>);
  STATIC_REQUIRE_FALSE(ft::Bijector<ft::ActNorm>);  // a spec, not a bound bijector
  STATIC_REQUIRE(ft::BijectorSpec<ft::ActNorm>);
  STATIC_REQUIRE(ft::BijectorSpec<ft::compose<ft::ActNorm, ft::Tanh>>);
  STATIC_REQUIRE_FALSE(ft::BijectorSpec<Minimal<double>>);
  STATIC_REQUIRE(ft::ConstantLogDet<Scaled<3, float>>);
  STATIC_REQUIRE_FALSE(ft::ConstantLogDet<Minimal<double>>);
  STATIC_REQUIRE(ft::Distribution<ft::bind_t<ft::Uniform, 2, double>>);
  STATIC_REQUIRE(ft::TemperedDistribution<ft::bind_t<ft::StandardNormal, 2, double>>);
  STATIC_REQUIRE(ft::TemperedDistribution<ft::bind_t<ft::DiagonalNormal, 2, float>>);
  STATIC_REQUIRE_FALSE(ft::TemperedDistribution<ft::bind_t<ft::Uniform, 2, double>>);
  STATIC_REQUIRE(ft::DistributionSpec<ft::Flow<ft::StandardNormal, ft::Affine>>);
}

TEMPLATE_TEST_CASE("the defaults for a minimal user bijector satisfy the laws", "[core]", float, double) {
  using S = TestType;
  using V = Eigen::Matrix<S, 2, 1>;
  const Minimal<S> b;
  const double tol = sizeof(S) == 4 ? 1e-5 : 1e-13;
  for (const V& x : points2<S>(30, 1)) {
    const V y = b.forward(x);
    // forward_and_log_det = {forward, log_det}
    const auto fl = ft::forward_and_log_det(b, x);
    CHECK(fl.value == y);
    CHECK(fl.log_det == b.log_det(x));
    // inverse_and_log_det = {inverse(y), -log_det(inverse(y))}
    const auto il = ft::inverse_and_log_det(b, y);
    CHECK(il.value == b.inverse(y));
    CHECK(il.log_det == -b.log_det(b.inverse(y)));
    CHECK(ft::inverse_log_det(b, y) == il.log_det);
    // the laws: round trip, inverse log-det = -log-det; by hand, log|det| = x0
    CHECK((il.value - x).cwiseAbs().maxCoeff() <= tol * std::max(S(1), x.cwiseAbs().maxCoeff()) * 10);
    CHECK(double(il.log_det) == Approx(-double(x[0])).epsilon(tol * 10).margin(tol * 10));
    // log|det J| by central differences of the forward map, in double
    const Minimal<double> bd;
    const Eigen::Vector2d xd = x.template cast<double>();
    Eigen::Matrix2d j;
    for (int c = 0; c < 2; ++c) {
      Eigen::Vector2d xp = xd, xm = xd;
      xp[c] += 1e-6;
      xm[c] -= 1e-6;
      j.col(c) = (bd.forward(xp) - bd.forward(xm)) / 2e-6;
    }
    CHECK(std::log(std::abs(j.determinant())) == Approx(bd.log_det(xd)).epsilon(1e-7).margin(1e-7));
    CHECK(j(0, 1) == 0);  // lower triangular, as declared
  }
}

TEST_CASE("fused members are used when a bijector has them", "[core]") {
  const WithFused<double> b;
  const Eigen::Vector2d x(0.3, -0.7);
  fused_forward_calls = 0;
  fused_inverse_calls = 0;
  const auto fl = ft::forward_and_log_det(b, x);
  CHECK(fused_forward_calls == 1);
  const auto il = ft::inverse_and_log_det(b, fl.value);
  CHECK(fused_inverse_calls == 1);
  CHECK(ft::inverse_log_det(b, fl.value) == Approx(-0.3));
  CHECK(fused_inverse_calls == 2);
  CHECK(il.value[1] == Approx(-0.7));
  // and a minimal bijector still works in a chain and through the host backend
  const auto c = ft::chain(Minimal<double>{}, ft::bind_t<ft::Tanh, 2, double>{}, Minimal<double>{});
  Eigen::Matrix<double, 2, Eigen::Dynamic> X(2, 3);
  X << 0.1, -0.5, 0.9, 0.2, 0.3, -1.1;
  const auto r = ft::forward_and_log_det(c, X);
  for (int j = 0; j < 3; ++j) {
    const Eigen::Vector2d xj = X.col(j);
    const Eigen::Vector2d a = Minimal<double>{}.forward(xj);
    const Eigen::Vector2d t(std::tanh(a[0]), std::tanh(a[1]));
    // log-dets: a0 = x0, then log(1 - t^2) per component, then t0
    const double ld = xj[0] + std::log(1 - t[0] * t[0]) + std::log(1 - t[1] * t[1]) + t[0];
    CHECK(r.log_det[j] == Approx(ld).epsilon(1e-12));
    CHECK(r.values(1, j) == Approx(t[1] * std::exp(t[0]) + t[0]).epsilon(1e-12));
  }
}

TEMPLATE_TEST_CASE("prepare() of a layer without prepare() is a copy", "[core][prepare]", float, double) {
  using S = TestType;
  STATIC_REQUIRE(std::is_same_v<decltype(ft::prepare(std::declval<const ft::TanhBijector<3, S>&>())), ft::TanhBijector<3, S>>);
  STATIC_REQUIRE(std::is_same_v<decltype(ft::prepare(std::declval<const Scaled<3, S>&>())), Scaled<3, S>>);
  STATIC_REQUIRE(std::is_same_v<decltype(ft::prepare(std::declval<const Minimal<S>&>())), Minimal<S>>);
  Scaled<3, S> s;
  s.a = S(-0.75);
  const auto p = ft::prepare(s);
  CHECK(p.a == S(-0.75));
  // LeakyReLU's prepared form keeps its slope
  const ft::bind_t<ft::LeakyReLU, 4, S> l(S(0.3));
  CHECK(ft::prepare(l).negative_slope == S(0.3));
  // a layer with prepare() may return another type, computing the same function
  ft::bind_t<ft::ActNorm, 3, S> an;
  an.log_scale = {S(0.1), S(-0.4), S(0.2)};
  an.shift = {S(1), S(2), S(3)};
  const auto pa = ft::prepare(an);
  const Eigen::Matrix<S, 3, 1> x(S(0.5), S(-1), S(2));
  for (int i = 0; i < 3; ++i) {
    CHECK(pa.forward(x)[i] == Approx(an.forward(x)[i]).epsilon(1e-6));
    CHECK(pa.inverse(x)[i] == Approx(an.inverse(x)[i]).epsilon(1e-6));
  }
  CHECK(pa.log_det(x) == Approx(an.log_det(x)).epsilon(1e-6));
  // a chain prepares every layer: the Tanh and user layers stay as they are
  const auto c = ft::chain(an, ft::bind_t<ft::Tanh, 3, S>{}, s);
  using P = decltype(ft::prepare(c));
  STATIC_REQUIRE(std::is_same_v<std::remove_cvref_t<decltype(std::declval<P>().template get<1>())>, ft::TanhBijector<3, S>>);
  STATIC_REQUIRE(std::is_same_v<std::remove_cvref_t<decltype(std::declval<P>().template get<2>())>, Scaled<3, S>>);
  CHECK(ft::prepare(c).template get<2>().a == S(-0.75));
}

// A bijector with only forward, inverse and log_det goes through the conformance kit:
// the kit skips the jacobian check for it (has_jacobian_v is false) and the prepared
// check (no prepare()), and runs the rest.
TEMPLATE_TEST_CASE("a minimal user bijector passes the conformance kit", "[core][conformance]", float, double) {
  using S = TestType;
  STATIC_REQUIRE(!ft::has_jacobian_v<Minimal<S>>);
  ft::testing::options<S> opt;
  const S r = std::log(std::numeric_limits<S>::max()) / S(2);
  for (const ft::direction dir : {ft::direction::forward, ft::direction::inverse})
    opt.narrow_sweep(dir, -r, r, "x1 exp(x0) and (y1 - y0) exp(-y0) pass max where |x0| or |y0| nears log(max)");
  const auto rep = ft::testing::check_bijector(Minimal<S>{}, opt);
  INFO(rep.text());
  CHECK(rep.ok());
  CHECK(rep.was_skipped("jacobian"));
  CHECK(rep.was_skipped("prepared"));
  CHECK(rep.count("finite.forward") > 0);
  CHECK(rep.count("finite.inverse") > 0);
}

}  // namespace core_test
