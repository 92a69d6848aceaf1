// Conditional flows through the host backend (flowtmpl/host/conditional_entry_points.hpp,
// initialize.hpp): a context batch of C x N (one context per sample) or C x 1 (one for
// all), against the per-sample members; the shape errors, naming the function called;
// checked mode with a context; sampling at a temperature; initialize with a context; and
// the density p(x | c) integrating to one.
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/conditional.hpp>
#include <flowtmpl/distributions/diagonal_normal.hpp>
#include <flowtmpl/distributions/standard_normal.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace conditional_entry_points_test {

namespace {

using flowtmpl::Affine;
using flowtmpl::compose;
using flowtmpl::Conditional;
using flowtmpl::Coupling;
using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::MLP;
using flowtmpl::Permute;
using flowtmpl::Reverse;

using Dist = flowtmpl::bind_t<
    Conditional<4, flowtmpl::Flow<flowtmpl::StandardNormal,
                                  compose<Coupling<Affine, MLP<8>>, Permute<Reverse>,
                                          MaskedAutoregressive<flowtmpl::Spline<8>, MADE<8, 8>>, Permute<Reverse>,
                                          InverseAutoregressive<flowtmpl::SoftplusAffine, MADE<8, 8>>>>>,
    3, double>;

bool close(double a, double b, double tol = 1e-12) { return std::abs(a - b) <= tol * std::max(1.0, std::abs(b)); }

Eigen::MatrixXd random_matrix(Eigen::Index r, Eigen::Index c, std::uint64_t seed, double scale) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  Eigen::MatrixXd m(r, c);
  for (Eigen::Index j = 0; j < c; ++j)
    for (Eigen::Index i = 0; i < r; ++i) m(i, j) = u(gen);
  return m;
}

Dist drawn_flow() {
  Dist d;
  flowtmpl::reset_parameters(d, 21, flowtmpl::init::uniform);
  return d;
}

template <class F>
std::string shape_error_of(F&& f) {
  try {
    f();
  } catch (const flowtmpl::shape_error& e) {
    return e.what();
  }
  return "(no shape_error)";
}

}  // namespace

TEST_CASE("log_prob(d, X, Ctx) with a context per sample or one for all", "[conditional][host]") {
  const Dist d = drawn_flow();
  const Eigen::Index n = 300;  // two blocks of the host backend
  const Eigen::Matrix<double, 3, Eigen::Dynamic> X = random_matrix(3, n, 1, 3.0);
  const Eigen::Matrix<double, 4, Eigen::Dynamic> Ctx = random_matrix(4, n, 2, 2.0);
  const auto lp = flowtmpl::log_prob(d, X, Ctx);
  REQUIRE(lp.cols() == n);
  int bad = 0;
  for (Eigen::Index j = 0; j < n; ++j) bad += !close(lp[j], d.log_prob(X.col(j), Ctx.col(j)));
  CHECK(bad == 0);
  // one context for all
  const Eigen::Vector4d c(0.5, -1.0, 0.25, 2.0);
  const auto lp1 = flowtmpl::log_prob(d, X, Eigen::Matrix<double, 4, 1>(c));
  bad = 0;
  for (Eigen::Index j = 0; j < n; ++j) bad += !close(lp1[j], d.log_prob(X.col(j), c));
  CHECK(bad == 0);
  // a dynamic-size context matrix and a block expression work as well
  const Eigen::MatrixXd CtxDyn = Ctx;
  CHECK(flowtmpl::log_prob(d, X, CtxDyn) == lp);
  const auto lp10 = flowtmpl::log_prob(d, X.leftCols(10), Ctx.leftCols(10));
  for (Eigen::Index j = 0; j < 10; ++j) CHECK(close(lp10[j], lp[j]));
  // the contexts matter
  CHECK((lp - lp1).cwiseAbs().maxCoeff() > 1e-3);
}

TEST_CASE("the conditional bijector batch entry points equal the per-sample members", "[conditional][host]") {
  const Dist d = drawn_flow();
  const auto& b = d.transform;
  const Eigen::Index n = 270;
  const Eigen::Matrix<double, 3, Eigen::Dynamic> X = random_matrix(3, n, 3, 2.5);
  const Eigen::Matrix<double, 4, Eigen::Dynamic> Ctx = random_matrix(4, n, 4, 2.0);
  const auto f = flowtmpl::forward_and_log_det(b, X, Ctx);
  const auto fv = flowtmpl::forward(b, X, Ctx);
  const auto g = flowtmpl::inverse_and_log_det(b, f.values, Ctx);
  const auto gv = flowtmpl::inverse(b, f.values, Ctx);
  int bad = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    const Eigen::Vector3d x = X.col(j);
    const Eigen::Vector4d c = Ctx.col(j);
    const auto r = flowtmpl::forward_and_log_det(b, x, c);
    const auto s = flowtmpl::inverse_and_log_det(b, Eigen::Vector3d(f.values.col(j)), c);
    bool ok = close(f.log_det[j], r.log_det) && close(g.log_det[j], s.log_det) && close(g.log_det[j], -r.log_det, 1e-9);
    for (int i = 0; i < 3; ++i)
      ok = ok && close(f.values(i, j), r.value[i]) && fv(i, j) == f.values(i, j) && close(g.values(i, j), s.value[i]) &&
           gv(i, j) == g.values(i, j) && close(g.values(i, j), x[i], 1e-9);
    bad += !ok;
  }
  CHECK(bad == 0);
}

TEST_CASE("sample_and_log_prob(d, n, seed, Ctx): values and their log-density", "[conditional][host]") {
  const Dist d = drawn_flow();
  const Eigen::Index n = 280;
  const Eigen::Matrix<double, 4, Eigen::Dynamic> Ctx = random_matrix(4, n, 5, 2.0);
  const auto s = flowtmpl::sample_and_log_prob(d, n, 77, Ctx);
  REQUIRE(s.values.cols() == n);
  REQUIRE(s.log_det.cols() == n);
  const auto lp = flowtmpl::log_prob(d, s.values, Ctx);
  int bad = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    // sample j: the base draw from philox_stream(seed, j), context column j
    flowtmpl::philox_stream rng(77, std::uint64_t(j));
    const Eigen::Vector3d x = d.sample(rng, Eigen::Vector4d(Ctx.col(j)));
    bad += !(close(s.log_det[j], lp[j], 1e-10) && (s.values.col(j) - x).cwiseAbs().maxCoeff() < 1e-12);
  }
  CHECK(bad == 0);
  CHECK(flowtmpl::sample(d, n, 77, Ctx) == s.values);
  // one context for all
  const Eigen::Vector4d c(1.0, 0.0, -1.0, 0.5);
  const auto s1 = flowtmpl::sample_and_log_prob(d, 40, 78, Eigen::Matrix<double, 4, 1>(c));
  for (Eigen::Index j = 0; j < 40; ++j) CHECK(close(s1.log_det[j], d.log_prob(s1.values.col(j), c), 1e-10));
  // sample j does not depend on the batch size (up to rounding: the network's
  // matrix-matrix products may sum in another order for another number of columns)
  const auto s_small = flowtmpl::sample_and_log_prob(d, 3, 77, Ctx.leftCols(3));
  CHECK((s_small.values - s.values.leftCols(3)).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("a context batch of the wrong shape throws shape_error naming the context", "[conditional][host]") {
  const Dist d = drawn_flow();
  const Eigen::Matrix<double, 3, Eigen::Dynamic> X = random_matrix(3, 10, 6, 1.0);
  const Eigen::MatrixXd wrong_rows = random_matrix(3, 10, 7, 1.0);
  const Eigen::MatrixXd wrong_cols = random_matrix(4, 9, 8, 1.0);
  const Eigen::MatrixXd empty_ctx(4, 0);
  for (const std::string& msg : {
           shape_error_of([&] { (void)flowtmpl::log_prob(d, X, wrong_rows); }),
           shape_error_of([&] { (void)flowtmpl::forward(d.transform, X, wrong_rows); }),
           shape_error_of([&] { (void)flowtmpl::inverse_and_log_det(d.transform, X, wrong_rows); }),
           shape_error_of([&] { (void)flowtmpl::sample_and_log_prob(d, 10, 1, wrong_rows); }),
       }) {
    INFO(msg);
    CHECK_THAT(msg, Catch::Contains("context") && Catch::Contains("3 rows") && Catch::Contains("4"));
  }
  for (const std::string& msg : {
           shape_error_of([&] { (void)flowtmpl::log_prob(d, X, wrong_cols); }),
           shape_error_of([&] { (void)flowtmpl::forward_and_log_det(d.transform, X, wrong_cols); }),
           shape_error_of([&] { (void)flowtmpl::sample(d, 10, 1, wrong_cols); }),
           shape_error_of([&] { (void)flowtmpl::log_prob(d, X, empty_ctx); }),
       }) {
    INFO(msg);
    CHECK_THAT(msg, Catch::Contains("context") && Catch::Contains("columns"));
  }
  // a batch with the wrong number of rows is still reported as before
  const Eigen::MatrixXd X2 = random_matrix(2, 10, 9, 1.0);
  const Eigen::MatrixXd Ctx = random_matrix(4, 10, 10, 1.0);
  CHECK_THAT(shape_error_of([&] { (void)flowtmpl::log_prob(d, X2, Ctx); }), Catch::Contains("2 rows"));
  // the right shapes do not throw; 0 samples with a shared context are fine
  CHECK_NOTHROW(flowtmpl::log_prob(d, X, Ctx));
  CHECK(flowtmpl::sample(d, 0, 1, Eigen::Matrix<double, 4, 1>::Zero()).cols() == 0);
}

TEST_CASE("a shape error names the function the user called", "[conditional][host]") {
  const Dist d = drawn_flow();
  const Eigen::Matrix<double, 3, Eigen::Dynamic> X = random_matrix(3, 10, 6, 1.0);
  const Eigen::MatrixXd wrong_rows = random_matrix(2, 10, 7, 1.0);
  const auto starts = [](const std::string& msg, const std::string& fn) { return msg.rfind(fn + ": ", 0) == 0; };
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::log_prob(d, X, wrong_rows); }), "log_prob"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::sample(d, 10, 1, wrong_rows); }), "sample"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::sample_and_log_prob(d, 10, 1, wrong_rows); }),
               "sample_and_log_prob"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::forward(d.transform, X, wrong_rows); }), "forward"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::inverse(d.transform, X, wrong_rows); }), "inverse"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::log_det(d.transform, X, wrong_rows); }), "log_det"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::forward_and_log_det(d.transform, X, wrong_rows); }),
               "forward_and_log_det"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::inverse_and_log_det(d.transform, X, wrong_rows); }),
               "inverse_and_log_det"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::log_prob(d, X, wrong_rows, flowtmpl::checked); }), "log_prob"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::sample(d, 10, 1, wrong_rows, 0.5); }), "sample"));
  CHECK(starts(shape_error_of([&] { (void)flowtmpl::sample(d, -1, 1, Eigen::Vector4d::Zero()); }), "sample"));
}

TEST_CASE("checked mode with a context: the same values, and the layer, sample and component of a problem",
          "[conditional][host]") {
  const Dist d = drawn_flow();
  const Eigen::Index n = 40;
  const Eigen::Matrix<double, 3, Eigen::Dynamic> X = random_matrix(3, n, 11, 2.0);
  Eigen::Matrix<double, 4, Eigen::Dynamic> Ctx = random_matrix(4, n, 12, 2.0);
  const auto lp = flowtmpl::log_prob(d, X, Ctx);
  const auto lpc = flowtmpl::log_prob(d, X, Ctx, flowtmpl::checked);
  int bad = 0;
  for (Eigen::Index j = 0; j < n; ++j) bad += !close(lpc[j], lp[j], 1e-12);
  CHECK(bad == 0);
  const auto f = flowtmpl::forward_and_log_det(d.transform, X, Ctx);
  const auto fc = flowtmpl::forward_and_log_det(d.transform, X, Ctx, flowtmpl::checked);
  CHECK((fc.values - f.values).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((fc.log_det - f.log_det).cwiseAbs().maxCoeff() < 1e-12);
  // a shared context in checked mode
  const Eigen::Matrix<double, 4, 1> c1 = Ctx.col(3);
  CHECK(close(flowtmpl::log_prob(d, X, c1, flowtmpl::checked)[7], d.log_prob(X.col(7), c1), 1e-12));
  // a non-finite context component: named, with its sample and component
  Ctx(2, 17) = std::numeric_limits<double>::quiet_NaN();
  try {
    (void)flowtmpl::log_prob(d, X, Ctx, flowtmpl::checked);
    FAIL("no domain_error");
  } catch (const flowtmpl::domain_error& e) {
    INFO(e.what());
    CHECK_THAT(std::string(e.what()), Catch::StartsWith("context, sample 17, component 2"));
    CHECK(e.sample == 17);
    CHECK(e.component == 2);
    CHECK(e.layer == "context");
  }
  // a non-finite input in checked mode, as for a flow without context
  Eigen::Matrix<double, 3, Eigen::Dynamic> Xbad = X;
  Xbad(1, 5) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(flowtmpl::inverse(d.transform, Xbad, Ctx.leftCols(1).eval(), flowtmpl::checked),
                  flowtmpl::domain_error);
}

TEST_CASE("sample at a temperature with a context: the tempered base, the same seeds", "[conditional][host]") {
  using Tempered = flowtmpl::bind_t<
      Conditional<2, flowtmpl::Flow<flowtmpl::DiagonalNormal, compose<Coupling<Affine, MLP<8>>, Permute<Reverse>,
                                                                      Coupling<Affine, MLP<8>>>>>,
      3, double>;
  Tempered d;
  flowtmpl::reset_parameters(d, 5, flowtmpl::init::uniform);
  d.base.log_scale = {0.2, -0.3, 0.1};
  const Eigen::Index n = 300;
  const Eigen::Matrix<double, 2, Eigen::Dynamic> Ctx = random_matrix(2, n, 13, 1.5);
  const double t = 0.6;
  const auto s = flowtmpl::sample_and_log_prob(d, n, 9, Ctx, t);
  const auto plain = flowtmpl::sample(d, n, 9, Ctx);
  CHECK(flowtmpl::sample(d, n, 9, Ctx, t) == s.values);
  int bad = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    // sample j: the base's draw at temperature t from philox_stream(seed, j), then the
    // transform with context column j; log p is the tempered base's plus the log-det
    flowtmpl::philox_stream rng(9, std::uint64_t(j));
    const Eigen::Vector2d c = Ctx.col(j);
    const Eigen::Vector3d x = d.sample(rng, c, t);
    const auto inv = flowtmpl::inverse_and_log_det(d.transform, x, c);
    const double lp = d.base.log_prob(inv.value, t) + inv.log_det;
    bad += !((s.values.col(j) - x).cwiseAbs().maxCoeff() < 1e-12 && close(s.log_det[j], lp, 1e-10));
  }
  CHECK(bad == 0);
  // a temperature below one draws closer to the base's mean: the spread shrinks
  const double spread_t = (s.values.colwise() - s.values.rowwise().mean()).squaredNorm();
  const double spread_1 = (plain.colwise() - plain.rowwise().mean()).squaredNorm();
  CHECK(spread_t < spread_1);
}

TEST_CASE("initialize(flow, X, Ctx): ActNorm inside a conditional flow, from what reaches it", "[conditional][host]") {
  using WithActNorm = flowtmpl::bind_t<
      Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal,
                                    compose<flowtmpl::ActNorm, Coupling<Affine, MLP<8>>, flowtmpl::ActNorm>>>,
      3, double>;
  WithActNorm d;
  flowtmpl::reset_parameters(d, 7, flowtmpl::init::uniform);
  const Eigen::Index n = 500;
  Eigen::Matrix<double, 3, Eigen::Dynamic> X = random_matrix(3, n, 14, 1.0);
  X.row(0).array() = 3.0 * X.row(0).array() + 5.0;
  X.row(2).array() = 0.2 * X.row(2).array() - 1.0;
  const Eigen::Matrix<double, 2, Eigen::Dynamic> Ctx = random_matrix(2, n, 15, 1.0);
  flowtmpl::initialize(d, X, Ctx);
  // the last ActNorm (the first on the data side) standardises X; the first one
  // standardises what the coupling makes of it with each sample's context
  const auto r = flowtmpl::inverse_and_log_det(d.transform, X, Ctx);
  const Eigen::VectorXd mean = r.values.rowwise().mean();
  // (ActNorm standardises with the unbiased variance, as nflows does)
  const Eigen::VectorXd var =
      (r.values.colwise() - r.values.rowwise().mean()).array().square().rowwise().sum() / double(n - 1);
  INFO("means " << mean.transpose() << ", variances " << var.transpose());
  CHECK(mean.cwiseAbs().maxCoeff() < 1e-9);
  CHECK((var.array() - 1.0).abs().maxCoeff() < 1e-6);
  // and the shapes are checked, naming initialize
  CHECK_THAT(shape_error_of([&] { flowtmpl::initialize(d, X, Eigen::MatrixXd(3, n)); }),
             Catch::StartsWith("initialize: the context has 3 rows"));
}

namespace {
// Trapezoid rule of exp(log_prob) over [-30, 30], step 2.5e-4, for a D = 1 conditional
// flow at a fixed context (evaluated as one batch with a C x 1 context). Outside the
// spline's [-3, 3] the density is the base's; the mass beyond +-30 is nil.
template <class D1>
double integral(const D1& d, const Eigen::Matrix<double, D1::context_dim, 1>& c) {
  const double lo = -30, hi = 30, h = 2.5e-4;
  const Eigen::Index n = Eigen::Index(std::llround((hi - lo) / h)) + 1;
  Eigen::Matrix<double, 1, Eigen::Dynamic> grid(1, n);
  for (Eigen::Index i = 0; i < n; ++i) grid[i] = lo + h * double(i);
  const auto lp = flowtmpl::log_prob(d, grid, c);
  double sum = 0;
  for (Eigen::Index i = 0; i < n; ++i) sum += (i == 0 || i == n - 1 ? 0.5 : 1.0) * std::exp(lp[i]);
  return sum * h;
}
}  // namespace

TEST_CASE("p(x | c) integrates to one (D = 1, the context read through MADE's context layer)",
          "[conditional][host][density]") {
  // D = 1: MADE's only feature reads no input (its hidden units have degree 0), only the
  // context, so the spline's parameters are a function of c alone.
  using D1 = flowtmpl::bind_t<
      Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, MaskedAutoregressive<flowtmpl::Spline<8>, MADE<8>>>>, 1,
      double>;
  D1 d;
  flowtmpl::reset_parameters(d, 31, flowtmpl::init::uniform);
  // sharpen the spline: the final layer's weights doubled, so that the density is far
  // from the base's (peaks up to 1.2, against the base's 0.4). Much sharper bins (times
  // 4: peaks of 23 on bins narrower than 0.01) would need a finer grid than 2.5e-4.
  flowtmpl::for_each_parameter(d.transform, [](const std::string& name, double* p, std::size_t k) {
    if (name == "made.final_layer.weight")
      for (std::size_t i = 0; i < k; ++i) p[i] *= 2;
  });
  const Eigen::Vector2d contexts[] = {{0.0, 0.0}, {1.5, -2.0}, {-3.0, 0.7}, {2.5, 2.5}};
  double previous_at_zero = std::nan("");
  for (const auto& c : contexts) {
    INFO("c = (" << c.transpose() << ")");
    CHECK(std::abs(integral(d, c) - 1.0) < 1e-3);
    // the density is not the base's and depends on c
    const double at_zero = d.log_prob(Eigen::Matrix<double, 1, 1>(0.3), c);
    CHECK(std::abs(at_zero - (-0.5 * 0.09 - 0.5 * std::log(2 * std::acos(-1.0)))) > 1e-3);
    CHECK(at_zero != previous_at_zero);
    previous_at_zero = at_zero;
  }
  // and with an affine layer on top (scale and shift functions of c too)
  using D2 = flowtmpl::bind_t<Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal,
                                                            compose<MaskedAutoregressive<flowtmpl::Spline<8>, MADE<8>>,
                                                                    MaskedAutoregressive<Affine, MADE<8>>>>>,
                              1, double>;
  D2 d2;
  flowtmpl::reset_parameters(d2, 32, flowtmpl::init::uniform);
  for (const auto& c : contexts) {
    INFO("spline and affine, c = (" << c.transpose() << ")");
    CHECK(std::abs(integral(d2, c) - 1.0) < 1e-3);
  }
}

}  // namespace conditional_entry_points_test
