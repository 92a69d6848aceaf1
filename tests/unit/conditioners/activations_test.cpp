// Tests of flowtmpl/conditioners/activations.hpp: relu, tanh, silu, elu, each as a
// scalar function and elementwise on an Eigen array, against the formulas written out
// here with <cmath>; NaN stays NaN; the limits at +-inf.
#include <flowtmpl/conditioners/activations.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace activations_test {

namespace {

// The definitions, from the literature, with the standard library only.
double ref_relu(double v) { return v > 0 ? v : (std::isnan(v) ? v : 0.0); }
double ref_tanh(double v) { return std::tanh(v); }
double ref_silu(double v) { return v * (1.0 / (1.0 + std::exp(-v))); }  // v sigmoid(v)
double ref_elu(double v) { return v > 0 ? v : std::exp(v) - 1.0; }      // alpha = 1

template <class S>
std::vector<S> ordinary_points() {
  std::vector<S> v;
  for (int i = -40; i <= 40; ++i) v.push_back(S(i) * S(0.173));  // -6.9 .. 6.9, not on 0 except i = 0
  for (S e : {S(1e-6), S(-1e-6), S(1e-3), S(-1e-3), S(15), S(-15), S(30), S(-30)}) v.push_back(e);
  return v;
}

template <class Act, class S, class Ref>
void check_against(Ref ref, S tol) {
  const std::vector<S> pts = ordinary_points<S>();
  Eigen::Array<S, Eigen::Dynamic, 1> a(Eigen::Index(pts.size()));
  for (std::size_t i = 0; i < pts.size(); ++i) a[Eigen::Index(i)] = pts[i];
  const Eigen::Array<S, Eigen::Dynamic, 1> applied = Act::apply(a);
  REQUIRE(applied.size() == a.size());
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const double expect = ref(double(pts[i]));
    INFO(Act::name << " at " << pts[i]);
    CHECK(double(Act::scalar(pts[i])) == Approx(expect).epsilon(tol).margin(tol));
    CHECK(double(applied[Eigen::Index(i)]) == Approx(expect).epsilon(tol).margin(tol));
  }
  // A fixed-size array goes through the same code.
  Eigen::Array<S, 4, 1> f;
  f << S(-2), S(-0.5), S(0.25), S(3);
  const Eigen::Array<S, 4, 1> fa = Act::apply(f);
  for (int i = 0; i < 4; ++i) CHECK(double(fa[i]) == Approx(ref(double(f[i]))).epsilon(tol).margin(tol));
}

}  // namespace

TEMPLATE_TEST_CASE("activations agree with their formulas, scalar and elementwise", "[conditioners][activations]",
                   float, double) {
  using S = TestType;
  const S tol = sizeof(S) == 4 ? S(2e-6) : S(1e-14);
  check_against<flowtmpl::act::relu, S>(ref_relu, tol);
  check_against<flowtmpl::act::tanh, S>(ref_tanh, tol);
  check_against<flowtmpl::act::silu, S>(ref_silu, tol);
  check_against<flowtmpl::act::elu, S>(ref_elu, tol);
  // relu is exact: no rounding anywhere
  for (S v : ordinary_points<S>()) CHECK(flowtmpl::act::relu::scalar(v) == (v > 0 ? v : S(0)));
  // elu is continuous with slope 1 at 0 from both sides; exact 0 at 0
  CHECK(flowtmpl::act::elu::scalar(S(0)) == S(0));
  CHECK(flowtmpl::act::silu::scalar(S(0)) == S(0));
  CHECK(flowtmpl::act::tanh::scalar(S(0)) == S(0));
}

TEMPLATE_TEST_CASE("activations keep a NaN, scalar and elementwise", "[conditioners][activations]", float, double) {
  using S = TestType;
  const S nan = std::numeric_limits<S>::quiet_NaN();
  CHECK(std::isnan(flowtmpl::act::relu::scalar(nan)));
  CHECK(std::isnan(flowtmpl::act::tanh::scalar(nan)));
  CHECK(std::isnan(flowtmpl::act::silu::scalar(nan)));
  CHECK(std::isnan(flowtmpl::act::elu::scalar(nan)));
  // elementwise, a NaN among ordinary values (several packets long, so the vectorized
  // path and the scalar tail both see one)
  Eigen::Array<S, Eigen::Dynamic, 1> a = Eigen::Array<S, Eigen::Dynamic, 1>::Constant(19, S(-0.5));
  a[0] = nan;
  a[9] = nan;
  a[18] = nan;
  a[5] = S(2);
  auto check = [&](const Eigen::Array<S, Eigen::Dynamic, 1>& r, const char* name) {
    INFO(name);
    CHECK(std::isnan(r[0]));
    CHECK(std::isnan(r[9]));
    CHECK(std::isnan(r[18]));
    CHECK(!std::isnan(r[1]));
    CHECK(!std::isnan(r[5]));
  };
  check(flowtmpl::act::relu::apply(a), "relu");
  check(flowtmpl::act::tanh::apply(a), "tanh");
  check(flowtmpl::act::silu::apply(a), "silu");
  check(flowtmpl::act::elu::apply(a), "elu");
  CHECK(flowtmpl::act::relu::apply(a)[1] == S(0));
  CHECK(flowtmpl::act::relu::apply(a)[5] == S(2));
}

TEMPLATE_TEST_CASE("activations at large and infinite inputs", "[conditioners][activations]", float, double) {
  using S = TestType;
  using lim = std::numeric_limits<S>;
  const S inf = lim::infinity();
  const S big = sizeof(S) == 4 ? S(1e30) : S(1e300);
  CHECK(flowtmpl::act::relu::scalar(inf) == inf);
  CHECK(flowtmpl::act::relu::scalar(-inf) == S(0));
  CHECK(flowtmpl::act::tanh::scalar(inf) == S(1));
  CHECK(flowtmpl::act::tanh::scalar(-inf) == S(-1));
  CHECK(flowtmpl::act::elu::scalar(inf) == inf);
  CHECK(flowtmpl::act::elu::scalar(-inf) == S(-1));
  CHECK(flowtmpl::act::elu::scalar(-big) == S(-1));
  CHECK(flowtmpl::act::silu::scalar(inf) == inf);
  CHECK(flowtmpl::act::silu::scalar(big) == big);
  // silu(v) -> 0 for v -> -inf (the header: -0, not NaN, where exp(-v) overflows)
  CHECK(flowtmpl::act::silu::scalar(-big) == S(0));
  CHECK(flowtmpl::act::silu::scalar(S(-1000)) == S(0));
  CHECK(!std::isnan(flowtmpl::act::silu::scalar(lim::lowest())));
  // elementwise, the same values (the vectorized exp must not make them NaN)
  Eigen::Array<S, Eigen::Dynamic, 1> a(10);
  a << -big, S(-1000), lim::lowest(), S(-100), S(-50), big, S(1000), S(50), S(0), S(-0.0);
  const Eigen::Array<S, Eigen::Dynamic, 1> s = flowtmpl::act::silu::apply(a);
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    INFO("silu elementwise at " << a[i] << " gives " << s[i]);
    CHECK(std::isfinite(s[i]));
    CHECK(double(s[i]) == Approx(ref_silu(double(a[i]))).margin(1e-15).epsilon(sizeof(S) == 4 ? 1e-6 : 1e-14));
  }
  const Eigen::Array<S, Eigen::Dynamic, 1> e = flowtmpl::act::elu::apply(a);
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    INFO("elu elementwise at " << a[i] << " gives " << e[i]);
    CHECK(double(e[i]) == Approx(ref_elu(double(a[i]))).margin(1e-15).epsilon(sizeof(S) == 4 ? 1e-6 : 1e-14));
  }
  const Eigen::Array<S, Eigen::Dynamic, 1> t = flowtmpl::act::tanh::apply(a);
  for (Eigen::Index i = 0; i < a.size(); ++i) CHECK(double(t[i]) == Approx(std::tanh(double(a[i]))).margin(1e-7));
}

// silu at v = -inf: the limit is 0 (v sigmoid(v) -> 0), as relu, tanh and elu give their
// limits at -inf (the bare formula v / (1 + exp(-v)) would give -inf / inf = NaN).
TEMPLATE_TEST_CASE("silu(-inf) is its limit 0, not NaN", "[conditioners][activations]", float, double) {
  using S = TestType;
  const S inf = std::numeric_limits<S>::infinity();
  const S v = flowtmpl::act::silu::scalar(-inf);
  INFO("silu(-inf) = " << v);
  CHECK(v == S(0));
  Eigen::Array<S, Eigen::Dynamic, 1> a = Eigen::Array<S, Eigen::Dynamic, 1>::Constant(9, -inf);
  const Eigen::Array<S, Eigen::Dynamic, 1> r = flowtmpl::act::silu::apply(a);
  for (Eigen::Index i = 0; i < a.size(); ++i) CHECK(r[i] == S(0));
}

TEST_CASE("activation names and the Activation concept", "[conditioners][activations]") {
  CHECK(std::string(flowtmpl::act::relu::name) == "relu");
  CHECK(std::string(flowtmpl::act::tanh::name) == "tanh");
  CHECK(std::string(flowtmpl::act::silu::name) == "silu");
  CHECK(std::string(flowtmpl::act::elu::name) == "elu");
  STATIC_REQUIRE(flowtmpl::act::Activation<flowtmpl::act::relu>);
  STATIC_REQUIRE(flowtmpl::act::Activation<flowtmpl::act::silu>);
  STATIC_REQUIRE(!flowtmpl::act::Activation<int>);
}

}  // namespace activations_test
