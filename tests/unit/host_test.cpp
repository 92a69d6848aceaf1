// The host backend (flowtmpl/host.hpp): batch results equal per-sample results; a user's
// row-major buffer is read without a copy; general expressions are accepted; shapes are
// checked; N = 0; checked mode names the layer, sample, component and value; a NaN stays
// in its column; results do not depend on the number of threads; initialize().
#include <flowtmpl/flowtmpl.hpp>

#include "support/common.hpp"
#include "support/gradients.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>

namespace host_test {

#endif

namespace {

using flowtmpl_test::set_actnorm;
using flowtmpl_test::set_luconv;

namespace ft = flowtmpl;

template <class S>
using vec4 = Eigen::Matrix<S, 4, 1>;
template <class S>
using batch4 = Eigen::Matrix<S, 4, Eigen::Dynamic>;


using Flow1 = ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh>;

template <class S>
ft::bind_t<Flow1, 4, S> make_flow1() {
  ft::bind_t<Flow1, 4, S> f;
  set_actnorm(f.template get<0>());
  set_luconv(f.template get<1>());
  return f;
}

template <class S>
ft::bind_t<ft::Flow<ft::StandardNormal, Flow1>, 4, S> make_dist1() {
  ft::bind_t<ft::Flow<ft::StandardNormal, Flow1>, 4, S> d;
  d.transform = make_flow1<S>();
  return d;
}

template <class S, int D = 4>
Eigen::Matrix<S, D, Eigen::Dynamic> uniform_batch(Eigen::Index n, S lo, S hi, std::uint64_t seed) {
  Eigen::Matrix<S, D, Eigen::Dynamic> x(D, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j));
    for (int i = 0; i < D; ++i) x(i, j) = lo + (hi - lo) * rng.uniform<S>();
  }
  return x;
}

template <class A, class B>
bool bitwise_equal(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b) {
  using S = typename A::Scalar;
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      const S x = a(i, j), y = b(i, j);
      if (std::memcmp(&x, &y, sizeof(S)) != 0) return false;
    }
  return true;
}

template <class A, class B>
bool vec_close(const A& a, const B& b, double tol) {
  if (a.size() != b.size()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    const double x = double(a[i]), y = double(b[i]);
    if (!(std::abs(x - y) <= tol * std::max(1.0, std::max(std::abs(x), std::abs(y))))) return false;
  }
  return true;
}

bool num_close(double a, double b, double tol) {
  return std::abs(a - b) <= tol * std::max(1.0, std::max(std::abs(a), std::abs(b)));
}

template <class S>
double tol() {
  return sizeof(S) == 4 ? 2e-5 : 1e-12;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Runs f, which must throw flowtmpl::shape_error, and returns its message.
template <class F>
std::string shape_error_message(F&& f) {
  try {
    f();
  } catch (const ft::shape_error& e) {
    return e.what();
  }
  return "(no flowtmpl::shape_error thrown)";
}

// Per-row mean and unbiased standard deviation, in double.
template <class M>
std::pair<Eigen::VectorXd, Eigen::VectorXd> moments(const M& x) {
  const Eigen::MatrixXd d = x.template cast<double>();
  const Eigen::VectorXd mean = d.rowwise().mean();
  Eigen::VectorXd sd(d.rows());
  for (Eigen::Index i = 0; i < d.rows(); ++i)
    sd[i] = std::sqrt((d.row(i).array() - mean[i]).square().sum() / double(d.cols() - 1));
  return {mean, sd};
}

}  // namespace

// ---- batch == per sample ---------------------------------------------------------------

TEMPLATE_TEST_CASE("batch results equal per-sample results", "[host]", float, double) {
  using S = TestType;
  const auto f = make_flow1<S>();
  const auto d = make_dist1<S>();
  const Eigen::Index n = 1000;  // seven full blocks of 128 and a partial one
  const auto X = uniform_batch<S>(n, S(-2), S(2), 1);
  const auto Y = uniform_batch<S>(n, S(-0.95), S(0.95), 2);

  const batch4<S> fx = ft::forward(f, X);
  const auto ldx = ft::log_det(f, X);
  const auto fl = ft::forward_and_log_det(f, X);
  const batch4<S> iy = ft::inverse(f, Y);
  const auto il = ft::inverse_and_log_det(f, Y);
  const auto lp = ft::log_prob(d, Y);
  REQUIRE(fx.cols() == n);
  REQUIRE(ldx.cols() == n);
  REQUIRE(lp.cols() == n);
  for (Eigen::Index j = 0; j < n; ++j) {
    const vec4<S> x = X.col(j), y = Y.col(j);
    const auto one = ft::forward_and_log_det(f, x);
    CHECK(vec_close(fx.col(j), one.value, tol<S>()));
    CHECK(vec_close(fl.values.col(j), one.value, tol<S>()));
    CHECK(num_close(ldx[j], one.log_det, tol<S>()));
    CHECK(num_close(fl.log_det[j], one.log_det, tol<S>()));
    const auto inv = ft::inverse_and_log_det(f, y);
    CHECK(vec_close(iy.col(j), inv.value, sizeof(S) == 4 ? 1e-4 : 1e-11));
    CHECK(vec_close(il.values.col(j), inv.value, sizeof(S) == 4 ? 1e-4 : 1e-11));
    CHECK(num_close(il.log_det[j], inv.log_det, sizeof(S) == 4 ? 1e-4 : 1e-11));
    CHECK(num_close(lp[j], d.log_prob(y), sizeof(S) == 4 ? 1e-4 : 1e-11));
  }
  // the same in checked mode (nothing is out of domain here)
  const auto flc = ft::forward_and_log_det(f, X, ft::checked);
  const auto ilc = ft::inverse_and_log_det(f, Y, ft::checked);
  const auto lpc = ft::log_prob(d, Y, ft::checked);
  for (Eigen::Index j = 0; j < n; j += 7) {
    CHECK(vec_close(flc.values.col(j), fl.values.col(j), tol<S>()));
    CHECK(num_close(flc.log_det[j], fl.log_det[j], tol<S>()));
    CHECK(vec_close(ilc.values.col(j), il.values.col(j), sizeof(S) == 4 ? 1e-4 : 1e-11));
    CHECK(num_close(ilc.log_det[j], il.log_det[j], sizeof(S) == 4 ? 1e-4 : 1e-11));
    CHECK(num_close(lpc[j], lp[j], sizeof(S) == 4 ? 1e-4 : 1e-11));
  }
}

// ---- memory layouts ---------------------------------------------------------------------

TEMPLATE_TEST_CASE("a user's N x D row-major buffer is read without a copy", "[host][layout]", float, double) {
  using S = TestType;
  using B = ft::bind_t<Flow1, 4, S>;
  const auto f = make_flow1<S>();
  const Eigen::Index n = 300;
  // buffer[k * 4 + i]: component i of sample k
  std::vector<S> buf(std::size_t(n) * 4);
  ft::philox_stream rng(3, 0);
  for (auto& v : buf) v = S(-2) + S(4) * rng.uniform<S>();

  const Eigen::Map<const batch4<S>> m(buf.data(), 4, n);
  CHECK(ft::detail::batch_view<B>(m, "x").data() == buf.data());
  const Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 4, Eigen::RowMajor>> rm(buf.data(), n, 4);
  CHECK(ft::detail::batch_view<B>(rm.transpose(), "x").data() == buf.data());
  Eigen::Map<batch4<S>> mutable_map(buf.data(), 4, n);
  CHECK(ft::detail::batch_view<B>(mutable_map, "x").data() == buf.data());

  // the view reads sample k from buffer[4k .. 4k + 3]
  const auto view = ft::detail::batch_view<B>(rm.transpose(), "x");
  CHECK(view.cols() == n);
  CHECK(view(2, 17) == buf[17 * 4 + 2]);

  // and the results are those of the samples in the buffer
  const batch4<S> ym = ft::forward(f, m);
  const batch4<S> yr = ft::forward(f, rm.transpose());
  CHECK(bitwise_equal(ym, yr));
  for (Eigen::Index k = 0; k < n; k += 13) {
    const vec4<S> x(buf[std::size_t(k) * 4], buf[std::size_t(k) * 4 + 1], buf[std::size_t(k) * 4 + 2],
                    buf[std::size_t(k) * 4 + 3]);
    CHECK(vec_close(ym.col(k), f.forward(x), tol<S>()));
  }
}

TEMPLATE_TEST_CASE("blocks of a batch are read in place", "[host][layout]", float, double) {
  using S = TestType;
  using B = ft::bind_t<Flow1, 4, S>;
  const batch4<S> X = uniform_batch<S>(100, S(-2), S(2), 4);
  CHECK(ft::detail::batch_view<B>(X, "x").data() == X.data());
  CHECK(ft::detail::batch_view<B>(X.leftCols(40), "x").data() == X.data());
  CHECK(ft::detail::batch_view<B>(X.middleCols(10, 40), "x").data() == X.data() + 40);
  // rows 0..3 of a 6-row matrix: outer stride 6
  const Eigen::Matrix<S, 6, Eigen::Dynamic> big = uniform_batch<S, 6>(50, S(-2), S(2), 5);
  const auto v = ft::detail::batch_view<B>(big.topRows(4), "x");
  CHECK(v.data() == big.data());
  CHECK(v.outerStride() == 6);
  CHECK(v(3, 7) == big(3, 7));
}

TEMPLATE_TEST_CASE("a flow that needs no preparation is read in place, one that does is prepared once",
                   "[host][layout]", float, double) {
  using S = TestType;
  // affine couplings, a permutation and Tanh precompute nothing: the batch entry points
  // read the flow itself (no copy per call); ActNorm and LUConv prepare (a copy of
  // another type)
  using Plain = ft::bind_t<ft::compose<ft::Coupling<ft::Affine, ft::MLP<8>>, ft::Permute<ft::Reverse>, ft::Tanh>, 4, S>;
  Plain plain;
  flowtmpl_test::randomize(plain, 3);
  const auto view = ft::detail::prepared_for_call(plain);
  CHECK(&*view == &plain);
  const auto f1 = make_flow1<S>();
  const auto owned = ft::detail::prepared_for_call(f1);
  STATIC_REQUIRE(!std::is_same_v<std::remove_cvref_t<decltype(*owned)>, ft::bind_t<Flow1, 4, S>>);
  // both give the per-sample results
  const batch4<S> X = uniform_batch<S>(300, S(-2), S(2), 9);
  const batch4<S> y = ft::forward(plain, X);
  for (Eigen::Index j = 0; j < X.cols(); j += 37) {
    const auto one = ft::forward_and_log_det(plain, vec4<S>(X.col(j)));
    CHECK((y.col(j) - one.value).cwiseAbs().maxCoeff() <= 8 * std::numeric_limits<S>::epsilon());
  }
}

TEMPLATE_TEST_CASE("general expressions are accepted and give the same results", "[host][layout]", float, double) {
  using S = TestType;
  const auto f = make_flow1<S>();
  const auto d = make_dist1<S>();
  const Eigen::Index n = 700;
  const batch4<S> X = uniform_batch<S>(n, S(-1), S(1), 6);
  const batch4<S> Y = uniform_batch<S>(n, S(-0.45), S(0.45), 7);

  SECTION("2 * X") {
    const batch4<S> X2 = S(2) * X;
    CHECK(bitwise_equal(ft::forward(f, S(2) * X), ft::forward(f, X2)));
    CHECK(bitwise_equal(ft::log_det(f, S(2) * X), ft::log_det(f, X2)));
    const batch4<S> Y2 = S(2) * Y;
    CHECK(bitwise_equal(ft::inverse(f, S(2) * Y), ft::inverse(f, Y2)));
    CHECK(bitwise_equal(ft::log_prob(d, S(2) * Y), ft::log_prob(d, Y2)));
    const auto r = ft::forward_and_log_det(f, X + X);
    CHECK(bitwise_equal(r.values, ft::forward(f, X2)));
  }
  SECTION("X.leftCols(k) and X.middleCols(a, k)") {
    const batch4<S> all = ft::forward(f, X);
    CHECK(bitwise_equal(ft::forward(f, X.leftCols(300)), all.leftCols(300)));
    CHECK(bitwise_equal(ft::forward(f, X.middleCols(123, 400)), all.middleCols(123, 400)));
    CHECK(bitwise_equal(ft::log_det(f, X.middleCols(123, 400)), ft::log_det(f, X).middleCols(123, 400)));
    CHECK(bitwise_equal(ft::log_prob(d, Y.rightCols(5)), ft::log_prob(d, Y).rightCols(5)));
  }
  SECTION("a row-major D x N matrix") {
    const Eigen::Matrix<S, 4, Eigen::Dynamic, Eigen::RowMajor> XR = X;
    CHECK(bitwise_equal(ft::forward(f, XR), ft::forward(f, X)));
    const auto a = ft::inverse_and_log_det(f, Eigen::Matrix<S, 4, Eigen::Dynamic, Eigen::RowMajor>(Y));
    const auto b = ft::inverse_and_log_det(f, Y);
    CHECK(bitwise_equal(a.values, b.values));
    CHECK(bitwise_equal(a.log_det, b.log_det));
  }
  SECTION("a dynamic-size matrix with the right number of rows, and a fixed-size one") {
    const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> XD = X;
    CHECK(bitwise_equal(ft::forward(f, XD), ft::forward(f, X)));
    const Eigen::Matrix<S, 4, 3> X3 = X.leftCols(3);
    CHECK(bitwise_equal(ft::forward(f, X3), ft::forward(f, X).leftCols(3)));
    const vec4<S> x1 = X.col(5);
    CHECK(bitwise_equal(ft::forward(f, x1), ft::forward(f, X).col(5)));
  }
}

// ---- shapes -----------------------------------------------------------------------------

TEMPLATE_TEST_CASE("a batch with the wrong number of rows throws shape_error naming both sizes", "[host][shape]", float,
                   double) {
  using S = TestType;
  auto f = make_flow1<S>();
  auto d = make_dist1<S>();
  const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> bad = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>::Zero(7, 5);
  const std::vector<std::string> messages = {
      shape_error_message([&] { (void)ft::forward(f, bad); }),
      shape_error_message([&] { (void)ft::inverse(f, bad); }),
      shape_error_message([&] { (void)ft::log_det(f, bad); }),
      shape_error_message([&] { (void)ft::forward_and_log_det(f, bad); }),
      shape_error_message([&] { (void)ft::inverse_and_log_det(f, bad); }),
      shape_error_message([&] { (void)ft::forward(f, bad, ft::checked); }),
      shape_error_message([&] { (void)ft::inverse_and_log_det(f, bad, ft::checked); }),
      shape_error_message([&] { (void)ft::log_prob(d, bad); }),
      shape_error_message([&] { (void)ft::log_prob(d.base, bad); }),
      shape_error_message([&] { ft::initialize(f, bad); }),
  };
  for (const auto& m : messages) {
    INFO(m);
    CHECK(contains(m, "7"));
    CHECK(contains(m, "4"));
    CHECK_FALSE(contains(m, "no flowtmpl::shape_error"));
  }
  // zero columns with the wrong rows is still wrong
  const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> empty_bad(3, 0);
  CHECK_THROWS_AS(ft::forward(f, empty_bad), ft::shape_error);
  // shape_error is a std::invalid_argument
  CHECK_THROWS_AS(ft::forward(f, bad), std::invalid_argument);
}

TEMPLATE_TEST_CASE("N = 0 works everywhere", "[host][shape]", float, double) {
  using S = TestType;
  const auto f = make_flow1<S>();
  const auto d = make_dist1<S>();
  const batch4<S> X(4, 0);
  CHECK(ft::forward(f, X).cols() == 0);
  CHECK(ft::inverse(f, X).cols() == 0);
  CHECK(ft::log_det(f, X).cols() == 0);
  const auto r = ft::inverse_and_log_det(f, X);
  CHECK(r.values.rows() == 4);
  CHECK(r.values.cols() == 0);
  CHECK(r.log_det.cols() == 0);
  CHECK(ft::forward_and_log_det(f, X, ft::checked).values.cols() == 0);
  CHECK(ft::log_prob(d, X).cols() == 0);
  CHECK(ft::log_prob(d, X, ft::checked).cols() == 0);
  CHECK(ft::sample(d, 0, 1).cols() == 0);
  CHECK(ft::sample(d, 0, 1, S(0.5)).cols() == 0);
  const auto s = ft::sample_and_log_prob(d, 0, 1);
  CHECK(s.values.cols() == 0);
  CHECK(s.log_det.cols() == 0);
  // a negative count is a shape error
  CHECK_THROWS_AS(ft::sample(d, -1, 1), ft::shape_error);
}

// ---- checked mode -------------------------------------------------------------------------

TEMPLATE_TEST_CASE("checked mode names the layer, sample, component and value outside a domain", "[host][checked]",
                   float, double) {
  using S = TestType;
  using F = ft::bind_t<ft::compose<ft::Affine, ft::Sigmoid>, 3, S>;
  F f;
  f.template get<0>().log_scale = {S(0.2), S(-0.1), S(0.3)};
  f.template get<0>().shift = {S(1), S(-1), S(0.5)};
  Eigen::Matrix<S, 3, Eigen::Dynamic> Y = uniform_batch<S, 3>(12, S(0.1), S(0.9), 8);
  Y(1, 7) = S(1.5);
  Y(2, 9) = S(-0.5);  // a later sample: the first problem is the one reported

  SECTION("inverse") {
    try {
      (void)ft::inverse(f, Y, ft::checked);
      FAIL("no domain_error thrown");
    } catch (const ft::domain_error& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(e.layer == "layer 1 (Sigmoid)");
      CHECK(e.sample == 7);
      CHECK(e.component == 1);
      CHECK(e.value == 1.5);
      CHECK(contains(what, "layer 1"));
      CHECK(contains(what, "Sigmoid"));
      CHECK(contains(what, "sample 7"));
      CHECK(contains(what, "1.5"));
    }
    // the same through inverse_and_log_det and a flow's log_prob
    CHECK_THROWS_AS(ft::inverse_and_log_det(f, Y, ft::checked), ft::domain_error);
    ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Sigmoid>>, 3, S> d;
    d.transform = f;
    try {
      (void)ft::log_prob(d, Y, ft::checked);
      FAIL("no domain_error thrown");
    } catch (const ft::domain_error& e) {
      CHECK(e.sample == 7);
      CHECK(e.layer == "layer 1 (Sigmoid)");
    }
  }
  SECTION("unchecked, the same batch gives NaN in sample 7 and 9 only") {
    const auto r = ft::inverse_and_log_det(f, Y);
    for (Eigen::Index j = 0; j < Y.cols(); ++j) {
      const bool bad = r.values.col(j).hasNaN() || std::isnan(r.log_det[j]);
      CHECK(bad == (j == 7 || j == 9));
    }
  }
  SECTION("a domain in the middle of a chain is checked against the intermediate value") {
    // forward of compose<Affine, Logit>: Logit needs (0, 1); the affine maps 0.7 to 1.2
    ft::bind_t<ft::compose<ft::Affine, ft::Logit>, 3, S> g;
    g.template get<0>().shift = {S(0.5), S(0.5), S(0.5)};
    Eigen::Matrix<S, 3, Eigen::Dynamic> X = uniform_batch<S, 3>(6, S(-0.3), S(0.3), 9);
    X(0, 4) = S(0.7);
    try {
      (void)ft::forward_and_log_det(g, X, ft::checked);
      FAIL("no domain_error thrown");
    } catch (const ft::domain_error& e) {
      INFO(e.what());
      CHECK(e.layer == "layer 1 (Logit)");
      CHECK(e.sample == 4);
      CHECK(e.component == 0);
      CHECK(e.value == Approx(1.2).epsilon(1e-6));
      CHECK(contains(e.what(), "sample 4"));
    }
  }
}

TEMPLATE_TEST_CASE("checked mode reports non-finite inputs", "[host][checked]", float, double) {
  using S = TestType;
  const auto f = make_flow1<S>();
  batch4<S> X = uniform_batch<S>(10, S(-1), S(1), 10);
  SECTION("NaN") {
    X(2, 3) = std::numeric_limits<S>::quiet_NaN();
    try {
      (void)ft::forward(f, X, ft::checked);
      FAIL("no domain_error thrown");
    } catch (const ft::domain_error& e) {
      INFO(e.what());
      CHECK(e.sample == 3);
      CHECK(e.component == 2);
      CHECK(std::isnan(e.value));
      CHECK(contains(e.what(), "sample 3"));
      CHECK(contains(e.what(), "nan"));
    }
  }
  SECTION("infinity") {
    X(0, 5) = std::numeric_limits<S>::infinity();
    try {
      (void)ft::log_det(f, X, ft::checked);
      FAIL("no domain_error thrown");
    } catch (const ft::domain_error& e) {
      INFO(e.what());
      CHECK(e.sample == 5);
      CHECK(e.component == 0);
      CHECK(e.value == std::numeric_limits<double>::infinity());
      CHECK(contains(e.what(), "sample 5"));
      CHECK(contains(e.what(), "inf"));
    }
  }
}

TEMPLATE_TEST_CASE("checked mode reports an overflow to inf in a nested chain", "[host][checked]", float, double) {
  using S = TestType;
  // x -> Affine (identity parameters) -> [Exp, Shift]: exp(1000) overflows in layer 1.0
  const auto f = ft::chain(ft::bind_t<ft::Affine, 4, S>{}, ft::chain(ft::bind_t<ft::Exp, 4, S>{}, ft::bind_t<ft::Shift, 4, S>{}));
  batch4<S> X = uniform_batch<S>(6, S(-1), S(1), 11);
  X(1, 2) = S(1000);
  try {
    (void)ft::forward(f, X, ft::checked);
    FAIL("no domain_error thrown");
  } catch (const ft::domain_error& e) {
    INFO(e.what());
    CHECK(e.layer == "layer 1.0 (Exp)");
    CHECK(e.sample == 2);
    CHECK(e.component == 1);
    CHECK(e.value == std::numeric_limits<double>::infinity());
    CHECK(contains(e.what(), "layer 1.0"));
    CHECK(contains(e.what(), "Exp"));
    CHECK(contains(e.what(), "sample 2"));
    CHECK(contains(e.what(), "inf"));
  }
  // unchecked: inf in sample 2 only
  const batch4<S> y = ft::forward(f, X);
  for (Eigen::Index j = 0; j < X.cols(); ++j) CHECK(y.col(j).allFinite() == (j != 2));
}

TEMPLATE_TEST_CASE("checked mode reports invalid parameters", "[host][checked]", float, double) {
  using S = TestType;
  ft::bind_t<ft::compose<ft::Tanh, ft::LUConvT<ft::lu_diag::raw>>, 4, S> f;
  f.template get<1>().diag[2] = S(0);  // a singular W
  const batch4<S> X = uniform_batch<S>(3, S(-1), S(1), 12);
  try {
    (void)ft::forward(f, X, ft::checked);
    FAIL("no domain_error thrown");
  } catch (const ft::domain_error& e) {
    INFO(e.what());
    CHECK(e.layer == "layer 1 (LUConv)");
    CHECK(e.sample == 0);
    CHECK(e.component == -1);
    CHECK(contains(e.what(), "invalid parameters"));
  }
}

TEMPLATE_TEST_CASE("checked mode names an inverse layer", "[host][checked]", float, double) {
  using S = TestType;
  // forward of Inverse<Sigmoid> is a logit: inputs must lie in (0, 1)
  ft::bind_t<ft::compose<ft::Affine, ft::Inverse<ft::Sigmoid>>, 2, S> f;
  Eigen::Matrix<S, 2, Eigen::Dynamic> X = uniform_batch<S, 2>(5, S(0.2), S(0.8), 13);
  X(1, 3) = S(-0.25);
  try {
    (void)ft::forward(f, X, ft::checked);
    FAIL("no domain_error thrown");
  } catch (const ft::domain_error& e) {
    INFO(e.what());
    CHECK(contains(e.layer, "layer 1"));
    CHECK(contains(e.layer, "Sigmoid"));
    CHECK(contains(e.layer, "Inverse"));
    CHECK(e.sample == 3);
    CHECK(e.component == 1);
    CHECK(e.value == -0.25);
  }
}

TEMPLATE_TEST_CASE("checked mode labels a bare layer and layers inside a nested inverse", "[host][checked]", float,
                   double) {
  using S = TestType;
  SECTION("a bare Exp: layer 0") {
    const ft::bind_t<ft::Exp, 2, S> e;
    Eigen::Matrix<S, 2, Eigen::Dynamic> X = uniform_batch<S, 2>(4, S(-1), S(1), 30);
    X(0, 1) = S(1000);
    try {
      (void)ft::forward_and_log_det(e, X, ft::checked);
      FAIL("no domain_error thrown");
    } catch (const ft::domain_error& err) {
      INFO(err.what());
      CHECK(err.layer == "layer 0 (Exp)");
      CHECK(err.sample == 1);
      CHECK(err.component == 0);
      CHECK(err.value == std::numeric_limits<double>::infinity());
    }
  }
  SECTION("compose<Affine, Inverse<compose<Shift, Sigmoid>>>: the Sigmoid is layer 1.1") {
    // forward of the inverse runs the inner chain backwards: Sigmoid's inverse (a logit) first
    ft::bind_t<ft::compose<ft::Affine, ft::Inverse<ft::compose<ft::Shift, ft::Sigmoid>>>, 2, S> f;
    Eigen::Matrix<S, 2, Eigen::Dynamic> X = uniform_batch<S, 2>(6, S(0.2), S(0.8), 31);
    X(1, 5) = S(1.25);
    try {
      (void)ft::forward(f, X, ft::checked);
      FAIL("no domain_error thrown");
    } catch (const ft::domain_error& err) {
      INFO(err.what());
      CHECK(contains(err.layer, "layer 1.1"));
      CHECK(contains(err.layer, "Sigmoid"));
      CHECK(err.sample == 5);
      CHECK(err.component == 1);
      CHECK(err.value == 1.25);
    }
  }
}

TEMPLATE_TEST_CASE("one-dimensional flows work through the host backend", "[host][layout]", float, double) {
  using S = TestType;
  using F = ft::bind_t<ft::compose<ft::Affine, ft::Tanh>, 1, S>;
  F f;
  f.template get<0>().log_scale[0] = S(0.3);
  f.template get<0>().shift[0] = S(0.2);
  using V1 = Eigen::Matrix<S, 1, 1>;
  // a row of a column-major matrix (inner stride 3), a Map, the transpose of a column
  const Eigen::Matrix<S, 3, Eigen::Dynamic> big = uniform_batch<S, 3>(300, S(-2), S(2), 32);
  const auto y = ft::forward_and_log_det(f, big.row(1));
  REQUIRE(y.values.cols() == 300);
  for (Eigen::Index j = 0; j < 300; ++j) {
    const double u = std::exp(0.3) * double(big(1, j)) + 0.2;
    CHECK(double(y.values(0, j)) == Approx(std::tanh(u)).epsilon(tol<S>()).margin(tol<S>()));
    CHECK(double(y.log_det[j]) == Approx(0.3 + std::log(1 - std::tanh(u) * std::tanh(u))).epsilon(1e-4).margin(1e-4));
    CHECK(vec_close(y.values.col(j), f.forward(V1(big(1, j))), tol<S>()));
  }
  std::vector<S> buf = {S(0.1), S(0.2), S(-0.3), S(0.4)};
  const Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>> m(buf.data(), 1, 4);
  CHECK(ft::detail::batch_view<F>(m, "x").data() == buf.data());
  const Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>> col(buf.data(), 4);
  CHECK(ft::detail::batch_view<F>(col.transpose(), "x").data() == buf.data());
  CHECK(bitwise_equal(ft::forward(f, m), ft::forward(f, col.transpose())));
  ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Tanh>>, 1, S> d;
  d.transform = f;
  const auto s = ft::sample_and_log_prob(d, 50, 3);
  const auto lp = ft::log_prob(d, s.values);
  for (Eigen::Index j = 0; j < 50; ++j) CHECK(num_close(s.log_det[j], lp[j], sizeof(S) == 4 ? 1e-3 : 1e-9));
}

// ---- NaN isolation and threads -------------------------------------------------------------

TEMPLATE_TEST_CASE("a NaN in one column reaches that column only", "[host][nan]", float, double) {
  using S = TestType;
  const auto f = make_flow1<S>();
  const auto d = make_dist1<S>();
  const Eigen::Index n = 600, bad = 300;
  const batch4<S> X = uniform_batch<S>(n, S(-2), S(2), 14);
  const batch4<S> Y = uniform_batch<S>(n, S(-0.9), S(0.9), 15);
  batch4<S> Xn = X, Yn = Y;
  Xn(1, bad) = std::numeric_limits<S>::quiet_NaN();
  Yn(3, bad) = std::numeric_limits<S>::quiet_NaN();

  const auto a = ft::forward_and_log_det(f, X), an = ft::forward_and_log_det(f, Xn);
  const auto b = ft::inverse_and_log_det(f, Y), bn = ft::inverse_and_log_det(f, Yn);
  const auto lp = ft::log_prob(d, Y), lpn = ft::log_prob(d, Yn);
  for (Eigen::Index j = 0; j < n; ++j) {
    if (j == bad) {
      CHECK((an.values.col(j).hasNaN() || std::isnan(an.log_det[j])));
      CHECK((bn.values.col(j).hasNaN() || std::isnan(bn.log_det[j])));
      CHECK(std::isnan(lpn[j]));
    } else {
      CHECK(bitwise_equal(an.values.col(j), a.values.col(j)));
      CHECK(bitwise_equal(an.log_det.col(j), a.log_det.col(j)));
      CHECK(bitwise_equal(bn.values.col(j), b.values.col(j)));
      CHECK(bitwise_equal(bn.log_det.col(j), b.log_det.col(j)));
      CHECK(bitwise_equal(lpn.col(j), lp.col(j)));
    }
  }
}

TEMPLATE_TEST_CASE("results are bitwise the same with 1 and 2 threads", "[host][threads]", float, double) {
  using S = TestType;
  const auto f = make_flow1<S>();
  const auto d = make_dist1<S>();
  const Eigen::Index n = 10000;
  const batch4<S> X = uniform_batch<S>(n, S(-2), S(2), 16);
  const batch4<S> Y = uniform_batch<S>(n, S(-0.9), S(0.9), 17);

  auto run = [&](int threads) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
    CHECK(omp_get_max_threads() == threads);
#else
    (void)threads;
#endif
    struct out {
      ft::batch_result<S, 4> fwd, inv, smp;
      batch4<S> plain;
      ft::row_t<S> lp;
    };
    return out{ft::forward_and_log_det(f, X), ft::inverse_and_log_det(f, Y), ft::sample_and_log_prob(d, n, 5, S(0.8)),
               ft::forward(f, X), ft::log_prob(d, Y)};
  };
#ifdef _OPENMP
  const int before = omp_get_max_threads();
#endif
  const auto one = run(1);
  const auto two = run(2);
#ifdef _OPENMP
  omp_set_num_threads(before);
#endif
  CHECK(bitwise_equal(one.fwd.values, two.fwd.values));
  CHECK(bitwise_equal(one.fwd.log_det, two.fwd.log_det));
  CHECK(bitwise_equal(one.inv.values, two.inv.values));
  CHECK(bitwise_equal(one.inv.log_det, two.inv.log_det));
  CHECK(bitwise_equal(one.smp.values, two.smp.values));
  CHECK(bitwise_equal(one.smp.log_det, two.smp.log_det));
  CHECK(bitwise_equal(one.plain, two.plain));
  CHECK(bitwise_equal(one.lp, two.lp));
  // and the results are real ones, not two identical failures
  CHECK(one.fwd.values.allFinite());
  CHECK(one.smp.log_det.allFinite());
}

// ---- initialize ----------------------------------------------------------------------------

namespace {
// Correlated data with different means and spreads per component.
template <class S>
batch4<S> correlated_data(Eigen::Index n, std::uint64_t seed) {
  batch4<S> x(4, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j));
    double z[4];
    for (double& v : z) v = rng.normal<double>();
    x(0, j) = S(3 + 2 * z[0]);
    x(1, j) = S(-1 + 0.5 * z[1] + 0.3 * z[0]);
    x(2, j) = S(0.2 * z[2]);
    x(3, j) = S(10 + 4 * z[3] - z[1]);
  }
  return x;
}
template <class S>
double init_tol() {
  return sizeof(S) == 4 ? 1e-4 : 1e-10;
}
template <class M>
void check_standardized(const M& z, double t) {
  const auto [mean, sd] = moments(z);
  INFO("mean " << mean.transpose() << ", sd " << sd.transpose());
  CHECK(mean.cwiseAbs().maxCoeff() < t);
  CHECK((sd.array() - 1).abs().maxCoeff() < t);
}
}  // namespace

TEMPLATE_TEST_CASE("initialize standardizes the data after an ActNorm", "[host][initialize]", float, double) {
  using S = TestType;
  const auto X = correlated_data<S>(500, 18);
  const auto [mx, sx] = moments(X);
  // the data is not standardized to begin with
  REQUIRE(mx.cwiseAbs().maxCoeff() > 1);

  SECTION("compose<ActNorm>") {
    ft::bind_t<ft::compose<ft::ActNorm>, 4, S> f;
    ft::initialize(f, X);
    check_standardized(ft::inverse(f, X), init_tol<S>());
    // the parameters by hand: shift = mean, log_scale = log(sd)
    for (int i = 0; i < 4; ++i) {
      CHECK(double(f.template get<0>().shift[i]) == Approx(mx[i]).epsilon(1e-5).margin(1e-5));
      CHECK(double(f.template get<0>().log_scale[i]) == Approx(std::log(sx[i])).epsilon(1e-5).margin(1e-5));
    }
  }
  SECTION("compose<LUConv, ActNorm>: the ActNorm on the data side sees the data") {
    ft::bind_t<ft::compose<ft::LUConv, ft::ActNorm>, 4, S> f;
    set_luconv(f.template get<0>());
    const auto lu_before = f.template get<0>();
    ft::initialize(f, X);
    // the LUConv is untouched
    CHECK(f.template get<0>().lower_entries == lu_before.lower_entries);
    CHECK(f.template get<0>().diag == lu_before.diag);
    CHECK(f.template get<0>().bias == lu_before.bias);
    const batch4<S> Z = ft::inverse(f, X);
    // after the ActNorm (normalizing direction) the data is standardized: LUConv's
    // forward undoes the last step of the inverse
    check_standardized(ft::forward(f.template get<0>(), Z), init_tol<S>());
    // and the moments of inverse(flow, X) are those of W^-1 (standardized - bias):
    // the mean is W^-1 (0 - bias)
    const vec4<S> zero_mean_image = f.template get<0>().inverse(vec4<S>::Zero());
    const auto [mz, sz] = moments(Z);
    CHECK((mz - zero_mean_image.template cast<double>()).cwiseAbs().maxCoeff() < 10 * init_tol<S>());
  }
  SECTION("compose<ActNorm, LUConv>: inverse(flow, X) is standardized") {
    ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv>, 4, S> f;
    set_luconv(f.template get<1>());
    ft::initialize(f, X);
    check_standardized(ft::inverse(f, X), init_tol<S>());
  }
  SECTION("compose<ActNorm, LUConv, ActNorm>: both are initialized in order") {
    ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::ActNorm>, 4, S> f;
    set_luconv(f.template get<1>());
    ft::initialize(f, X);
    check_standardized(ft::inverse(f.template get<2>(), X), init_tol<S>());
    check_standardized(ft::inverse(f, X), init_tol<S>());
  }
  SECTION("nested: compose<compose<LUConv, ActNorm>, Shift>") {
    ft::bind_t<ft::compose<ft::compose<ft::LUConv, ft::ActNorm>, ft::Shift>, 4, S> f;
    set_luconv(f.template get<0>().template get<0>());
    f.template get<1>().shift = {S(1), S(2), S(3), S(4)};
    ft::initialize(f, X);
    // the ActNorm sees X - shift
    const batch4<S> inner = ft::inverse(f.template get<1>(), X);
    check_standardized(ft::inverse(f.template get<0>().template get<1>(), inner), init_tol<S>());
  }
  SECTION("Inverse<ActNorm>: initialized through its forward direction") {
    ft::bind_t<ft::compose<ft::Inverse<ft::ActNorm>>, 4, S> f;
    ft::initialize(f, X);
    check_standardized(ft::inverse(f, X), init_tol<S>());
  }
  SECTION("Inverse<compose<ActNorm, LUConv>>: the inner chain is walked forward") {
    // normalizing through the inverse runs the inner chain forward: ActNorm first
    ft::bind_t<ft::compose<ft::Inverse<ft::compose<ft::ActNorm, ft::LUConv>>>, 4, S> f;
    set_luconv(f.template get<0>().base.template get<1>());
    ft::initialize(f, X);
    check_standardized(ft::forward(f.template get<0>().base.template get<0>(), X), init_tol<S>());
  }
  SECTION("a flow distribution") {
    ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::LUConv, ft::ActNorm>>, 4, S> d;
    set_luconv(d.transform.template get<0>());
    ft::initialize(d, X);
    check_standardized(ft::inverse(d.transform.template get<1>(), X), init_tol<S>());
    CHECK(ft::log_prob(d, X).allFinite());
  }
  SECTION("fewer than two samples is a shape error") {
    ft::bind_t<ft::compose<ft::ActNorm>, 4, S> f;
    CHECK_THROWS_AS(ft::initialize(f, X.leftCols(1)), ft::shape_error);
  }
}

}  // namespace host_test
