// Chain / compose: a chain computes exactly the composition of its layers (forward in
// the order written, inverse in reverse order, log-det the sum of the layers' log-dets
// at the intermediate points), for specs, bound layers, nested chains and inverses; and
// chains pass the conformance kit.
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

namespace chain_test {

namespace {

using flowtmpl_test::set_actnorm;
using flowtmpl_test::set_affine;
using flowtmpl_test::set_luconv;

namespace ft = flowtmpl;

template <class S>
using vec4 = Eigen::Matrix<S, 4, 1>;

// Non-trivial parameters, written out once per layer type.

// Deterministic points with components in [lo, hi].
template <class S>
std::vector<vec4<S>> points(int n, S lo, S hi, std::uint64_t seed) {
  std::vector<vec4<S>> pts;
  ft::philox_stream rng(seed, 0);
  for (int p = 0; p < n; ++p) {
    vec4<S> x;
    for (int i = 0; i < 4; ++i) x[i] = lo + (hi - lo) * rng.uniform<S>();
    pts.push_back(x);
  }
  return pts;
}

// Values from the same calls in the same order: equal to within a few rounding errors.
template <class S>
S tight() {
  return S(16) * std::numeric_limits<S>::epsilon();
}
template <class S>
S loose() {
  return sizeof(S) == 4 ? S(2e-5) : S(1e-12);
}

template <class A, class B>
bool vec_close(const A& a, const B& b, double tol) {
  for (int i = 0; i < int(a.size()); ++i) {
    const double x = double(a[i]), y = double(b[i]);
    if (!(std::abs(x - y) <= tol * std::max(1.0, std::max(std::abs(x), std::abs(y))))) return false;
  }
  return true;
}

template <class S>
bool num_close(S a, S b, double tol) {
  return std::abs(double(a) - double(b)) <= tol * std::max(1.0, std::max(std::abs(double(a)), std::abs(double(b))));
}

using Flow1 = ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh>;
using Flow2 = ft::compose<ft::Affine, ft::LeakyReLU, ft::LUConv, ft::Softplus>;

template <class S>
ft::bind_t<Flow1, 4, S> make_flow1() {
  ft::bind_t<Flow1, 4, S> f;
  set_actnorm(f.template get<0>());
  set_luconv(f.template get<1>());
  return f;
}
template <class S>
ft::bind_t<Flow2, 4, S> make_flow2() {
  ft::bind_t<Flow2, 4, S> f;
  set_affine(f.template get<0>());
  f.template get<1>().negative_slope = S(0.2);
  set_luconv(f.template get<2>());
  return f;
}

}  // namespace

TEMPLATE_TEST_CASE("compose<...> binds to a Chain of the bound layers in the order written", "[chain]", float, double) {
  using S = TestType;
  using F = ft::bind_t<Flow1, 4, S>;
  STATIC_REQUIRE(std::is_same_v<F, ft::Chain<ft::ActNormBijector<4, S>, ft::LUConvBijector<ft::lu_diag::exp, 4, S>,
                                             ft::PermuteBijector<ft::Reverse, 4, S>, ft::TanhBijector<4, S>>>);
  STATIC_REQUIRE(F::size == 4);
  STATIC_REQUIRE(F::dim == 4);
  STATIC_REQUIRE(std::is_same_v<typename F::scalar_type, S>);
  STATIC_REQUIRE(ft::Bijector<F>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<F>);
}

TEMPLATE_TEST_CASE("a chain's forward, inverse and log-dets are the layers' applied by hand", "[chain]", float, double) {
  using S = TestType;
  const auto f = make_flow1<S>();
  // copies of the layers, applied one after the other
  const auto an = f.template get<0>();
  const auto lu = f.template get<1>();
  const auto pm = f.template get<2>();
  const auto th = f.template get<3>();
  for (const auto& x : points<S>(40, S(-2.5), S(2.5), 1)) {
    const vec4<S> a = an.forward(x);
    const vec4<S> b = lu.forward(a);
    const vec4<S> c = pm.forward(b);
    const vec4<S> y = th.forward(c);
    const S ld = an.log_det(x) + lu.log_det(a) + pm.log_det(b) + th.log_det(c);

    CHECK(vec_close(f.forward(x), y, tight<S>()));
    CHECK(num_close(f.log_det(x), ld, loose<S>()));
    const auto fl = ft::forward_and_log_det(f, x);
    CHECK(vec_close(fl.value, y, tight<S>()));
    CHECK(num_close(fl.log_det, ld, loose<S>()));

    // the inverse runs the layers in reverse order
    const vec4<S> ci = th.inverse(y);
    const vec4<S> bi = pm.inverse(ci);
    const vec4<S> ai = lu.inverse(bi);
    const vec4<S> xi = an.inverse(ai);
    const S ild = ft::inverse_log_det(th, y) + ft::inverse_log_det(pm, ci) + ft::inverse_log_det(lu, bi) +
                  ft::inverse_log_det(an, ai);
    CHECK(vec_close(f.inverse(y), xi, tight<S>()));
    const auto il = ft::inverse_and_log_det(f, y);
    CHECK(vec_close(il.value, xi, tight<S>()));
    CHECK(num_close(il.log_det, ild, loose<S>()));
    CHECK(num_close(ft::inverse_log_det(f, y), -ld, sizeof(S) == 4 ? 2e-4 : 1e-9));
  }
}

TEST_CASE("a chain's log-det equals the closed form of its layers", "[chain]") {
  // compose<ActNorm, LUConv, Permute<Reverse>, Tanh>, double: the log-det is
  // sum(log_scale) + sum(diag) (LUConv: |s_i| = exp(diag_i)) + sum log(1 - y_i^2).
  const auto f = make_flow1<double>();
  const double consts = (0.3 - 0.2 + 0.1 + 0.4) + (0.1 - 0.2 + 0.3 + 0.05);
  for (const auto& x : points<double>(20, -2.0, 2.0, 2)) {
    const vec4<double> y = f.forward(x);
    double ld = consts;
    for (int i = 0; i < 4; ++i) ld += std::log(1 - y[i] * y[i]);
    CHECK(f.log_det(x) == Approx(ld).epsilon(1e-9).margin(1e-9));
  }
}

TEMPLATE_TEST_CASE("chain(a, b, ...) of bound layers equals compose of the same layers", "[chain]", float, double) {
  using S = TestType;
  ft::bind_t<ft::Affine, 4, S> af;
  set_affine(af);
  ft::bind_t<ft::LeakyReLU, 4, S> lr(S(0.2));
  ft::bind_t<ft::LUConv, 4, S> lu;
  set_luconv(lu);
  ft::bind_t<ft::Softplus, 4, S> sp;

  const auto c = ft::chain(af, lr, lu, sp);
  STATIC_REQUIRE(std::is_same_v<std::remove_cv_t<decltype(c)>, ft::bind_t<Flow2, 4, S>>);
  const auto f = make_flow2<S>();
  for (const auto& x : points<S>(30, S(-3), S(3), 3)) {
    const vec4<S> h = sp.forward(lu.forward(lr.forward(af.forward(x))));
    const S ld = af.log_det(x) + lr.log_det(af.forward(x)) + lu.log_det(lr.forward(af.forward(x))) +
                 sp.log_det(lu.forward(lr.forward(af.forward(x))));
    CHECK(vec_close(c.forward(x), h, tight<S>()));
    CHECK(vec_close(c.forward(x), f.forward(x), tight<S>()));
    CHECK(num_close(c.log_det(x), ld, loose<S>()));
    const vec4<S> y = c.forward(x);
    CHECK(vec_close(c.inverse(y), af.inverse(lr.inverse(lu.inverse(sp.inverse(y)))), tight<S>()));
    CHECK(vec_close(c.inverse(y), x, sizeof(S) == 4 ? 1e-4 : 1e-10));
  }
  // a chain of one layer is that layer
  const auto one = ft::chain(lu);
  for (const auto& x : points<S>(5, S(-3), S(3), 4)) {
    CHECK(vec_close(one.forward(x), lu.forward(x), tight<S>()));
    CHECK(one.log_det(x) == lu.log_det(x));
  }
}

TEMPLATE_TEST_CASE("compose mixes specs and bound layers", "[chain]", float, double) {
  using S = TestType;
  using LU = ft::LUConvBijector<ft::lu_diag::exp, 4, S>;
  using F = ft::bind_t<ft::compose<ft::ActNorm, LU, ft::Tanh>, 4, S>;
  STATIC_REQUIRE(std::is_same_v<F, ft::Chain<ft::ActNormBijector<4, S>, LU, ft::TanhBijector<4, S>>>);
  F f;
  set_actnorm(f.template get<0>());
  set_luconv(f.template get<1>());
  for (const auto& x : points<S>(10, S(-2), S(2), 5)) {
    const vec4<S> a = f.template get<0>().forward(x);
    const vec4<S> b = f.template get<1>().forward(a);
    CHECK(vec_close(f.forward(x), f.template get<2>().forward(b), tight<S>()));
  }
}

TEMPLATE_TEST_CASE("nested chains compute the flat composition", "[chain]", float, double) {
  using S = TestType;
  const auto flat = make_flow1<S>();
  const auto& an = flat.template get<0>();
  const auto& lu = flat.template get<1>();
  const auto& pm = flat.template get<2>();
  const auto& th = flat.template get<3>();

  const auto nested = ft::chain(ft::chain(an, lu), ft::chain(pm, th));
  const auto deep = ft::chain(an, ft::chain(lu, ft::chain(pm, ft::chain(th))));
  using Spec = ft::compose<ft::compose<ft::ActNorm, ft::LUConv>, ft::compose<ft::Permute<ft::Reverse>, ft::Tanh>>;
  ft::bind_t<Spec, 4, S> from_spec;
  set_actnorm(from_spec.template get<0>().template get<0>());
  set_luconv(from_spec.template get<0>().template get<1>());
  STATIC_REQUIRE(std::is_same_v<std::remove_cv_t<decltype(nested)>, ft::bind_t<Spec, 4, S>>);

  for (const auto& x : points<S>(25, S(-2), S(2), 6)) {
    const vec4<S> y = flat.forward(x);
    const S ld = flat.log_det(x);
    for (const auto& [v, l] : {std::pair{nested.forward(x), nested.log_det(x)},
                               std::pair{deep.forward(x), deep.log_det(x)},
                               std::pair{from_spec.forward(x), from_spec.log_det(x)}}) {
      CHECK(vec_close(v, y, tight<S>()));
      CHECK(num_close(l, ld, loose<S>()));
    }
    const auto inl = ft::inverse_and_log_det(nested, y);
    const auto inf = ft::inverse_and_log_det(flat, y);
    CHECK(vec_close(inl.value, inf.value, tight<S>()));
    CHECK(num_close(inl.log_det, inf.log_det, loose<S>()));
    CHECK(vec_close(deep.inverse(y), flat.inverse(y), tight<S>()));
  }
}

TEST_CASE("structure and log-det kind of chains follow their layers", "[chain]") {
  using S = double;
  using ft::structure::dense;
  using ft::structure::diagonal;
  using ft::structure::identity;
  using ft::structure::permutation;
  // identity layers are neutral
  using A = ft::bind_t<ft::compose<ft::Identity, ft::Shift>, 4, S>;
  STATIC_REQUIRE(std::is_same_v<A::structure, identity>);
  STATIC_REQUIRE(A::log_det_kind == ft::log_det_kind::zero);
  using B = ft::bind_t<ft::compose<ft::Shift, ft::Permute<ft::Reverse>, ft::Identity>, 4, S>;
  STATIC_REQUIRE(std::is_same_v<B::structure, permutation>);
  STATIC_REQUIRE(B::log_det_kind == ft::log_det_kind::zero);
  // diagonal layers stay diagonal; a constant one and an input-dependent one
  using C = ft::bind_t<ft::compose<ft::ActNorm, ft::Affine>, 4, S>;
  STATIC_REQUIRE(std::is_same_v<C::structure, diagonal>);
  STATIC_REQUIRE(C::log_det_kind == ft::log_det_kind::constant);
  using E = ft::bind_t<ft::compose<ft::ActNorm, ft::Tanh, ft::Shift>, 4, S>;
  STATIC_REQUIRE(std::is_same_v<E::structure, diagonal>);
  STATIC_REQUIRE(E::log_det_kind == ft::log_det_kind::input_dependent);
  using G = ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>>, 4, S>;
  STATIC_REQUIRE(std::is_same_v<G::structure, dense>);
  STATIC_REQUIRE(G::log_det_kind == ft::log_det_kind::constant);
  // nesting changes nothing
  using H = ft::bind_t<ft::compose<ft::compose<ft::Shift>, ft::compose<ft::Permute<ft::Reverse>, ft::Permute<ft::Reverse>>>,
                       4, S>;
  STATIC_REQUIRE(std::is_same_v<H::structure, permutation>);
  using K = ft::bind_t<ft::Inverse<ft::compose<ft::Affine, ft::Sigmoid>>, 4, S>;
  STATIC_REQUIRE(std::is_same_v<K::structure, diagonal>);
  STATIC_REQUIRE(K::log_det_kind == ft::log_det_kind::input_dependent);
}

TEMPLATE_TEST_CASE("a constant chain's constant_log_det is the sum of its layers'", "[chain]", float, double) {
  using S = TestType;
  ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Inverse<ft::Affine>>, 4, S> f;
  set_actnorm(f.template get<0>());
  set_luconv(f.template get<1>());
  set_affine(f.template get<3>().base);
  // by hand: sum(ActNorm log_scale) + sum(LUConv diag) - sum(Affine log_scale)
  const double expected = (0.3 - 0.2 + 0.1 + 0.4) + (0.1 - 0.2 + 0.3 + 0.05) - (-0.1 + 0.2 + 0.3 - 0.25);
  CHECK(double(f.constant_log_det()) == Approx(expected).epsilon(1e-5));
  for (const auto& x : points<S>(8, S(-3), S(3), 7)) {
    CHECK(f.log_det(x) == f.constant_log_det());
    CHECK(ft::inverse_log_det(f, f.forward(x)) == -f.constant_log_det());
  }
}

TEMPLATE_TEST_CASE("the inverse of a chain swaps its directions", "[chain][inverse]", float, double) {
  using S = TestType;
  using Spec = ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh>;
  ft::bind_t<ft::Inverse<Spec>, 4, S> inv;
  set_actnorm(inv.base.template get<0>());
  set_luconv(inv.base.template get<1>());
  const auto f = make_flow1<S>();
  const auto inv2 = ft::invert(f);
  STATIC_REQUIRE(std::is_same_v<std::remove_cv_t<decltype(inv2)>, decltype(inv)>);

  // inputs of the inverse are on the data side of f: inside (-1, 1)
  for (const auto& y : points<S>(25, S(-0.95), S(0.95), 8)) {
    const vec4<S> x = f.inverse(y);
    CHECK(vec_close(inv.forward(y), x, tight<S>()));
    CHECK(vec_close(inv2.forward(y), x, tight<S>()));
    CHECK(vec_close(inv.inverse(x), f.forward(x), tight<S>()));
    // log|det d f^-1/dy| = -log|det df/dx| at x = f^-1(y)
    CHECK(num_close(inv.log_det(y), -f.log_det(x), sizeof(S) == 4 ? 2e-4 : 1e-9));
    const auto fl = ft::forward_and_log_det(inv, y);
    CHECK(vec_close(fl.value, x, tight<S>()));
    CHECK(num_close(fl.log_det, -f.log_det(x), sizeof(S) == 4 ? 2e-4 : 1e-9));
    const auto il = ft::inverse_and_log_det(inv, x);
    CHECK(num_close(il.log_det, f.log_det(x), sizeof(S) == 4 ? 2e-4 : 1e-9));
  }
  // the inverse of the inverse is the chain
  const auto back = ft::invert(inv);
  for (const auto& x : points<S>(5, S(-2), S(2), 9)) {
    CHECK(vec_close(back.forward(x), f.forward(x), tight<S>()));
    CHECK(num_close(back.log_det(x), f.log_det(x), loose<S>()));
  }
}

TEMPLATE_TEST_CASE("an inverse inside a chain is applied in its place", "[chain][inverse]", float, double) {
  using S = TestType;
  // x -> sigmoid(x) in (0, 1) -> Inverse<compose<Affine, Sigmoid>>: logit, then the affine inverse
  using Spec = ft::compose<ft::Sigmoid, ft::Inverse<ft::compose<ft::Affine, ft::Sigmoid>>, ft::Shift>;
  ft::bind_t<Spec, 4, S> f;
  set_affine(f.template get<1>().base.template get<0>());
  f.template get<2>().shift = {S(1), S(2), S(3), S(4)};
  const double ls[4] = {-0.1, 0.2, 0.3, -0.25}, sh[4] = {0.3, 0.1, -0.2, 0.4};
  for (const auto& x : points<S>(20, S(-3), S(3), 10)) {
    // by hand: sigmoid then logit is the identity; then (v - shift) exp(-log_scale), then + (1, 2, 3, 4)
    double ld = 0;
    vec4<S> expected;
    for (int i = 0; i < 4; ++i) {
      const double xi = double(x[i]);
      expected[i] = S((xi - sh[i]) * std::exp(-ls[i]) + (i + 1));
      ld += -ls[i];  // sigmoid's and logit's log-dets cancel
    }
    const auto r = ft::forward_and_log_det(f, x);
    CHECK(vec_close(r.value, expected, sizeof(S) == 4 ? 1e-5 : 1e-12));
    CHECK(double(r.log_det) == Approx(ld).epsilon(sizeof(S) == 4 ? 1e-4 : 1e-10).margin(sizeof(S) == 4 ? 1e-4 : 1e-10));
    CHECK(vec_close(f.inverse(r.value), x, sizeof(S) == 4 ? 1e-4 : 1e-10));
  }
}

TEMPLATE_TEST_CASE("chains pass the conformance kit", "[chain][conformance]", float, double) {
  using S = TestType;
  SECTION("compose<ActNorm, LUConv, Permute<Reverse>, Tanh>") {
    const auto f = make_flow1<S>();
    ft::testing::options<S> opt;
    // in float, keep Tanh's inputs moderate: near saturation atanh amplifies the rounding
    // of y = tanh(c) beyond the kit's round-trip tolerance
    opt.lo = sizeof(S) == 4 ? S(-1) : S(-2.5);
    opt.hi = sizeof(S) == 4 ? S(1) : S(2.5);
    opt.sweep = {{S(0), S(0), S(0), S(0)}, {S(-4), S(4), S(-4), S(4)}};
    opt.inverse_sweep = {{S(-0.99), S(0.99), S(0), S(0.5)}};
    const auto r = ft::testing::check_bijector(f, opt);
    INFO(r.text());
    CHECK(r.ok());
    CHECK(r.checks() > 64 * 5);
  }
  SECTION("compose<Affine, LeakyReLU, LUConv, Softplus>") {
    const auto f = make_flow2<S>();
    ft::testing::options<S> opt;
    // LeakyReLU has a kink at 0: finite differences across it are meaningless, so the
    // points are drawn here, keeping every LeakyReLU input at least 0.1 from 0.
    opt.points = 0;
    for (const auto& x : points<S>(400, S(-3), S(3), 11)) {
      const vec4<S> a = f.template get<0>().forward(x);
      if (a.cwiseAbs().minCoeff() < S(0.1)) continue;
      opt.extra_points.push_back({x[0], x[1], x[2], x[3]});
      if (opt.extra_points.size() == 64) break;
    }
    REQUIRE(opt.extra_points.size() == 64);
    opt.sweep = {{S(0), S(0), S(0), S(0)}, {S(-10), S(10), S(5), S(-5)}};
    opt.inverse_sweep = {{S(0.01), S(1), S(10), S(3)}};
    const auto r = ft::testing::check_bijector(f, opt);
    INFO(r.text());
    CHECK(r.ok());
    CHECK(r.checks() > 64 * 5);
  }
  SECTION("a nested chain with an inverse") {
    ft::bind_t<ft::compose<ft::compose<ft::Affine, ft::Tanh>, ft::Inverse<ft::compose<ft::ActNorm, ft::LUConv>>,
                           ft::Softplus>,
               4, S>
        f;
    set_affine(f.template get<0>().template get<0>());
    set_actnorm(f.template get<1>().base.template get<0>());
    auto& lu = f.template get<1>().base.template get<1>();
    set_luconv(lu);
    lu.set_permutation({1, 3, 0, 2});
    ft::testing::options<S> opt;
    opt.lo = S(-2);
    opt.hi = S(2);
    // The inverse takes Softplus's inverse (the kit sweeps its domain y > 0), then ActNorm
    // and LUConv forward, into Tanh's inverse on (-1, 1): the chain's image is no box of
    // intervals, which the default sweep could cover. The images of some points are
    // swept instead.
    opt.drop_sweep(ft::direction::inverse, "the chain's image is not a product of intervals");
    for (const auto& x : points<S>(32, S(-3), S(3), 12)) {
      const vec4<S> y = f.forward(x);
      opt.inverse_sweep.push_back({y[0], y[1], y[2], y[3]});
    }
    const auto r = ft::testing::check_bijector(f, opt);
    INFO(r.text());
    CHECK(r.ok());
  }
}

namespace {
// A deliberately broken bijector: forward is Affine then Tanh, inverse undoes them in
// the wrong order.
struct wrong_order {
  using scalar_type = double;
  using structure = ft::structure::diagonal;
  static constexpr int dim = 4;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::input_dependent;
  static constexpr const char* name = "WrongOrder";
  using vec = vec4<double>;
  ft::bind_t<ft::compose<ft::Affine, ft::Tanh>, 4, double> c;
  vec forward(const vec& x) const { return c.forward(x); }
  vec inverse(const vec& y) const { return c.get<1>().inverse(c.get<0>().inverse(y)); }
  double log_det(const vec& x) const { return c.log_det(x); }
  Eigen::Matrix4d jacobian(const vec& x) const { return ft::jacobian(c, x); }
};
}  // namespace

TEST_CASE("the conformance kit notices a chain whose layers are undone in the wrong order", "[chain][conformance]") {
  // shows that the conformance checks above can fail
  wrong_order w;
  set_affine(w.c.get<0>());
  const auto r = ft::testing::check_bijector(w);
  CHECK_FALSE(r.ok());
}

// =====================================================================================
// THE CONSTANT-LOG-DET TEST. A chain evaluates the constant part of its log-det once per
// batch call: a constant layer's constant_log_det() is called exactly once, and a zero
// layer is never asked for its log-det, whatever the number of samples.
// =====================================================================================
namespace {

std::atomic<long> constant_log_det_calls{0};
std::atomic<long> zero_log_det_calls{0};

void reset_counters() {
  constant_log_det_calls = 0;
  zero_log_det_calls = 0;
}

// y = a x with a = 0.5: log|det| = D log 0.5, a constant; every call of
// constant_log_det() (also through log_det) is counted.
template <int D, class S>
struct CountingScale {
  using scalar_type = S;
  using structure = ft::structure::diagonal;
  static constexpr int dim = D;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::constant;
  static constexpr const char* name = "CountingScale";
  using vec = Eigen::Matrix<S, D, 1>;
  S a = S(0.5);
  vec forward(const vec& x) const { return a * x; }
  vec inverse(const vec& y) const { return y / a; }
  S log_det(const vec&) const { return constant_log_det(); }
  S constant_log_det() const {
    ++constant_log_det_calls;
    return S(D) * std::log(a);
  }
};

// y = x + c with c_i = 0.1 (i + 1): log|det| = 0; every call of log_det() is counted.
template <int D, class S>
struct CountingShift {
  using scalar_type = S;
  using structure = ft::structure::identity;
  static constexpr int dim = D;
  static constexpr ft::log_det_kind log_det_kind = ft::log_det_kind::zero;
  static constexpr const char* name = "CountingShift";
  using vec = Eigen::Matrix<S, D, 1>;
  static vec c() {
    vec v;
    for (int i = 0; i < D; ++i) v[i] = S(0.1) * S(i + 1);
    return v;
  }
  vec forward(const vec& x) const { return x + c(); }
  vec inverse(const vec& y) const { return y - c(); }
  S log_det(const vec&) const {
    ++zero_log_det_calls;
    return S(0);
  }
};

// By hand, for x -> 0.5 x -> tanh -> + c: the output and log|det|.
template <class S>
std::pair<vec4<S>, double> counting_chain_by_hand(const vec4<S>& x) {
  vec4<S> y;
  double ld = 4 * std::log(0.5);
  for (int i = 0; i < 4; ++i) {
    const double t = std::tanh(0.5 * double(x[i]));
    y[i] = S(t + 0.1 * (i + 1));
    ld += std::log(1 - t * t);
  }
  return {y, ld};
}

template <class S>
Eigen::Matrix<S, 4, Eigen::Dynamic> uniform_batch(Eigen::Index n, S lo, S hi, std::uint64_t seed) {
  Eigen::Matrix<S, 4, Eigen::Dynamic> x(4, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j));
    for (int i = 0; i < 4; ++i) x(i, j) = lo + (hi - lo) * rng.uniform<S>();
  }
  return x;
}

}  // namespace

TEMPLATE_TEST_CASE("batch calls evaluate a constant layer's log-det once and a zero layer's never",
                   "[chain][host][constant_log_det]", float, double) {
  using S = TestType;
  using Spec = ft::compose<CountingScale<4, S>, ft::Tanh, CountingShift<4, S>>;
  using C = ft::bind_t<Spec, 4, S>;
  STATIC_REQUIRE(C::log_det_kind == ft::log_det_kind::input_dependent);
  const C c;
  const Eigen::Index n = 1000;
  const auto X = uniform_batch<S>(n, S(-3), S(3), 21);
  const double tol = sizeof(S) == 4 ? 2e-5 : 1e-12;

  SECTION("forward_and_log_det") {
    reset_counters();
    const auto r = ft::forward_and_log_det(c, X);
    CHECK(constant_log_det_calls == 1);
    CHECK(zero_log_det_calls == 0);
    REQUIRE(r.values.cols() == n);
    REQUIRE(r.log_det.cols() == n);
    for (Eigen::Index j = 0; j < n; ++j) {
      const vec4<S> x = X.col(j);
      const auto [y, ld] = counting_chain_by_hand(x);
      CHECK(vec_close(r.values.col(j), y, tol));
      CHECK(num_close(double(r.log_det[j]), ld, tol));
      const auto one = ft::forward_and_log_det(c, x);  // the per-sample path
      CHECK(num_close(r.log_det[j], one.log_det, tol));
    }
  }
  SECTION("log_det") {
    reset_counters();
    const auto ld = ft::log_det(c, X);
    CHECK(constant_log_det_calls == 1);
    CHECK(zero_log_det_calls == 0);
    for (Eigen::Index j = 0; j < n; j += 37) CHECK(num_close(double(ld[j]), counting_chain_by_hand<S>(X.col(j)).second, tol));
  }
  SECTION("inverse_and_log_det") {
    const auto Y = ft::forward(c, X);
    reset_counters();
    const auto r = ft::inverse_and_log_det(c, Y);
    CHECK(constant_log_det_calls == 1);
    CHECK(zero_log_det_calls == 0);
    for (Eigen::Index j = 0; j < n; ++j) {
      const vec4<S> x = X.col(j);
      CHECK(vec_close(r.values.col(j), x, sizeof(S) == 4 ? 1e-4 : 1e-10));
      CHECK(num_close(double(r.log_det[j]), -counting_chain_by_hand(x).second, sizeof(S) == 4 ? 1e-4 : 1e-10));
      const auto one = ft::inverse_and_log_det(c, vec4<S>(Y.col(j)));
      CHECK(num_close(r.log_det[j], one.log_det, tol));
    }
  }
  SECTION("nested chains and inverses") {
    const auto nested = ft::chain(ft::chain(CountingScale<4, S>{}, ft::bind_t<ft::Tanh, 4, S>{}),
                                  ft::invert(CountingScale<4, S>{}), ft::chain(CountingShift<4, S>{}));
    reset_counters();
    const auto r = ft::forward_and_log_det(nested, X);
    // one call per constant layer in the chain: two CountingScale layers
    CHECK(constant_log_det_calls == 2);
    CHECK(zero_log_det_calls == 0);
    for (Eigen::Index j = 0; j < n; j += 13) {
      // 0.5 x -> tanh -> / 0.5 -> + c: the two constants cancel
      double ld = 0;
      for (int i = 0; i < 4; ++i) {
        const double t = std::tanh(0.5 * double(X(i, j)));
        ld += std::log(1 - t * t);
        CHECK(num_close(double(r.values(i, j)), t / 0.5 + 0.1 * (i + 1), tol));
      }
      CHECK(num_close(double(r.log_det[j]), ld, tol));
    }
  }
  SECTION("a chain of constant and zero layers only") {
    const auto cz = ft::chain(CountingShift<4, S>{}, CountingScale<4, S>{}, CountingShift<4, S>{});
    STATIC_REQUIRE(decltype(cz)::log_det_kind == ft::log_det_kind::constant);
    reset_counters();
    const auto r = ft::forward_and_log_det(cz, X);
    CHECK(constant_log_det_calls == 1);
    CHECK(zero_log_det_calls == 0);
    for (Eigen::Index j = 0; j < n; j += 7) CHECK(num_close(double(r.log_det[j]), 4 * std::log(0.5), tol));
  }
}

TEMPLATE_TEST_CASE("a flow distribution's batch calls evaluate a constant layer's log-det once",
                   "[chain][host][constant_log_det][distributions]", float, double) {
  using S = TestType;
  using Spec = ft::Flow<ft::StandardNormal, ft::compose<CountingScale<4, S>, ft::Tanh, CountingShift<4, S>>>;
  const ft::bind_t<Spec, 4, S> d;
  const Eigen::Index n = 1000;
  const double tol = sizeof(S) == 4 ? 1e-4 : 1e-10;
  const double half_log_2pi = 0.5 * std::log(2 * 3.14159265358979323846);
  // log p(y) by hand: z = atanh(y - c) / 0.5, log N(z) - log|det df/dz|
  auto log_prob_by_hand = [&](const vec4<S>& y) {
    double lp = 0;
    for (int i = 0; i < 4; ++i) {
      const double t = double(y[i]) - 0.1 * (i + 1);
      const double z = std::atanh(t) / 0.5;
      lp += -0.5 * z * z - half_log_2pi - std::log(0.5) - std::log(1 - t * t);
    }
    return lp;
  };

  SECTION("log_prob") {
    const auto Y = ft::forward(d.transform, uniform_batch<S>(n, S(-3), S(3), 22));
    reset_counters();
    const auto lp = ft::log_prob(d, Y);
    CHECK(constant_log_det_calls == 1);
    CHECK(zero_log_det_calls == 0);
    for (Eigen::Index j = 0; j < n; ++j) {
      const vec4<S> y = Y.col(j);
      CHECK(num_close(double(lp[j]), log_prob_by_hand(y), tol));
      CHECK(num_close(lp[j], d.log_prob(y), tol));
    }
  }
  SECTION("sample_and_log_prob") {
    reset_counters();
    const auto r = ft::sample_and_log_prob(d, n, 99);
    CHECK(constant_log_det_calls == 1);
    CHECK(zero_log_det_calls == 0);
    for (Eigen::Index j = 0; j < n; ++j) CHECK(num_close(double(r.log_det[j]), log_prob_by_hand(vec4<S>(r.values.col(j))), tol));
  }
  SECTION("sample_and_log_prob at a temperature") {
    reset_counters();
    const auto r = ft::sample_and_log_prob(d, n, 98, S(0.7));
    CHECK(constant_log_det_calls == 1);
    CHECK(zero_log_det_calls == 0);
    for (Eigen::Index j = 0; j < n; j += 11) {
      const vec4<S> y = r.values.col(j);
      CHECK(num_close(r.log_det[j], d.log_prob(y, S(0.7)), tol));
    }
  }
}

}  // namespace chain_test
