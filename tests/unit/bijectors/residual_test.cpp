// Tests of flowtmpl/bijectors/residual.hpp (Residual<LipschitzMLP<...>>) and of
// conditioners/lipschitz_mlp.hpp:
//   log-det     the exact log det(I + J_g) against a brute-force one: the network written
//               again here from its documented formula in long double (its own sigma
//               from W and u), its Jacobian by central differences with Richardson
//               extrapolation, its determinant by a long double LU; D = 2, 4, 8, 16;
//               |difference| / max(1, |log-det|) <= 1e-12 (random networks give
//               log-dets of about 0.01 to 1: their Jacobians have both signs)
//   round trip  inverse(forward(z)) and forward(inverse(x)) at the default tolerance
//   spectral    after reset_parameters every layer's W~ has its largest singular value
//               (Eigen's SVD) at most c; update_spectral_norm moves a stale u back
//   kit         the conformance kit, float and double, with and without a context
//   checked     a solve cut short by max_iterations is reported by checked mode
#include <flowtmpl/bijectors/residual.hpp>
#include <flowtmpl/conditional.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include "support/residual.hpp"

#include <Eigen/LU>
#include <Eigen/SVD>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace residual_test {

namespace {
namespace ft = flowtmpl;
using LD = long double;

template <class B>
B drawn(std::uint64_t seed) {
  return flowtmpl_test::drawn_residual<B>(seed);
}

// g(x) of the bound layer b from its documented formula, in long double
template <class B>
Eigen::Matrix<LD, B::dim, 1> reference_g(const B& b, const Eigen::Matrix<LD, B::dim, 1>& x) {
  using N = typename B::network_type;
  Eigen::Matrix<LD, Eigen::Dynamic, 1> h = x;
  for (int l = 0; l < N::layers; ++l) {
    const int in = N::widths[std::size_t(l)], out = N::widths[std::size_t(l) + 1];
    Eigen::Matrix<LD, Eigen::Dynamic, Eigen::Dynamic> W(out, in);
    Eigen::Matrix<LD, Eigen::Dynamic, 1> bias(out), u(out);
    for (int o = 0; o < out; ++o) {
      for (int i = 0; i < in; ++i) W(o, i) = LD(b.net.values[N::offsets[std::size_t(l)] + std::size_t(o * in + i)]);
      bias[o] = LD(b.net.values[N::offsets[std::size_t(l)] + std::size_t(out * in + o)]);
      u[o] = LD(b.net.spectral[N::u_offsets[std::size_t(l)] + std::size_t(o)]);
    }
    const LD sigma = (W.transpose() * u).norm() / u.norm();
    const LD r = sigma / LD(N::coefficient);
    if (r > 1) W /= r;
    Eigen::Matrix<LD, Eigen::Dynamic, 1> a = W * h + bias;
    if (l + 1 < N::layers)
      for (int o = 0; o < out; ++o) a[o] = a[o] / (1 + std::exp(-a[o])) / LD(1.1);  // lipswish
    h = a;
  }
  return h;
}

// log det(I + J_g(x)) and the Frobenius norm of J_g(x)
template <class B>
std::pair<LD, LD> brute_force_log_det(const B& b, const Eigen::Matrix<double, B::dim, 1>& xd) {
  constexpr int D = B::dim;
  const Eigen::Matrix<LD, D, 1> x = xd.template cast<LD>();
  Eigen::Matrix<LD, D, D> J;
  for (int j = 0; j < D; ++j) {
    auto diff = [&](LD h) {
      Eigen::Matrix<LD, D, 1> up = x, down = x;
      up[j] += h;
      down[j] -= h;
      return Eigen::Matrix<LD, D, 1>((reference_g(b, up) - reference_g(b, down)) / (2 * h));
    };
    const LD h = 1e-4L * std::max(LD(1), std::abs(x[j]));
    J.col(j) = (4 * diff(h / 2) - diff(h)) / 3;
  }
  const Eigen::Matrix<LD, D, D> A = Eigen::Matrix<LD, D, D>::Identity() + J;
  return {std::log(std::abs(A.determinant())), J.norm()};
}

template <int D>
void check_log_det(std::uint64_t seed) {
  using B = ft::bind_t<ft::Residual<ft::LipschitzMLP<16, 16>>, D, double>;
  const B b = drawn<B>(seed);
  ft::philox_stream rng(seed, 1);
  double worst = 0, largest = 0, largest_j = 0;
  for (int p = 0; p < 20; ++p) {
    Eigen::Matrix<double, D, 1> x;
    for (int i = 0; i < D; ++i) x[i] = 2.0 * rng.normal<double>();
    const double got = b.inverse_and_log_det(x).log_det;
    const auto [want, jnorm] = brute_force_log_det(b, x);
    worst = std::max(worst, double(std::abs(LD(got) - want) / std::max(LD(1), std::abs(want))));
    largest = std::max(largest, std::abs(double(want)));
    largest_j = std::max(largest_j, double(jnorm));
    // the forward's log-det is minus the inverse's at the solved point
    const auto f = b.forward_and_log_det(b.inverse(x));
    CHECK(std::abs(f.log_det + got) <= 1e-12 * std::max(1.0, std::abs(got)));
  }
  INFO("D = " << D << ": largest difference from the brute-force log-det (relative above 1) " << worst
              << "; largest |log-det| " << largest << ", largest |J_g|_F " << largest_j);
  CHECK(worst <= 1e-12);
  CHECK(largest_j > 0.05);  // the drawn layers are not the identity (|J_g|_F 0.1 to 0.2 here)
}

}  // namespace

TEST_CASE("Residual's exact log-det equals a brute-force long double one", "[residual]") {
  check_log_det<2>(1);
  check_log_det<4>(2);
  check_log_det<8>(3);
  check_log_det<16>(4);
}

TEST_CASE("Residual's round trips at the default tolerance", "[residual]") {
  using B = ft::bind_t<ft::Residual<ft::LipschitzMLP<32, 32>>, 5, double>;
  const B b = drawn<B>(5);
  ft::philox_stream rng(5, 2);
  double worst = 0, moved = 0;
  for (int p = 0; p < 200; ++p) {
    Eigen::Matrix<double, 5, 1> z;
    for (int i = 0; i < 5; ++i) z[i] = (p < 180 ? 2.0 : 100.0) * rng.normal<double>();
    ft::residual_solve st;
    const auto x = b.solve(z, nullptr, &st);
    CHECK(st.converged);
    const double scale = std::max(1.0, z.cwiseAbs().maxCoeff());
    worst = std::max(worst, (b.inverse(x) - z).cwiseAbs().maxCoeff() / scale);
    worst = std::max(worst, (b.forward(b.inverse(z)) - z).cwiseAbs().maxCoeff() / scale);
    moved = std::max(moved, (x - z).cwiseAbs().maxCoeff());
  }
  INFO("largest round-trip error " << worst << ", largest move " << moved);
  CHECK(worst <= 1e-10);
  CHECK(moved > 0.1);
}

TEST_CASE("Residual's Newton finish reaches the fixed point in fewer iterations' error", "[residual]") {
  using Fixed = ft::bind_t<ft::Residual<ft::LipschitzMLP<16>, ft::residual_options{.tolerance = 1e-4}>, 3, double>;
  using Newton =
      ft::bind_t<ft::Residual<ft::LipschitzMLP<16>, ft::residual_options{.tolerance = 1e-4, .newton_steps = 3}>, 3, double>;
  Fixed f = drawn<Fixed>(6);
  Newton n;
  n.net = f.net;
  const Eigen::Vector3d z(1.5, -2.0, 0.3);
  const double ef = (f.inverse(f.forward(z)) - z).cwiseAbs().maxCoeff();
  const double en = (n.inverse(n.forward(z)) - z).cwiseAbs().maxCoeff();
  INFO("fixed point to 1e-4: residual " << ef << "; with 3 Newton steps: " << en);
  CHECK(en <= 1e-13);
  CHECK(en < ef);
}

TEST_CASE("LipschitzMLP's weights are c-Lipschitz after reset and after update_spectral_norm", "[residual]") {
  using B = ft::bind_t<ft::Residual<ft::LipschitzMLP<24, 12>, ft::residual_options{.coefficient = 0.9}>, 6, double>;
  B b = drawn<B>(7);
  using N = typename B::network_type;
  auto largest_singular = [&](int l) {
    const int in = N::widths[std::size_t(l)], out = N::widths[std::size_t(l) + 1];
    Eigen::MatrixXd W(out, in);
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) W(o, i) = b.net.values[N::offsets[std::size_t(l)] + std::size_t(o * in + i)];
    return Eigen::JacobiSVD<Eigen::MatrixXd>(W).singularValues()[0];
  };
  const double scales[] = {b.net.scale<0>(), b.net.scale<1>(), b.net.scale<2>()};
  for (int l = 0; l < N::layers; ++l) {
    INFO("layer " << l);
    const double s = largest_singular(l) * scales[l];
    CHECK(s <= 0.9 * (1 + 1e-9));
    CHECK(s >= 0.9 * (1 - 1e-6));  // sigma > c after drawn()'s stretch: the scale is active
  }
  // a stale state (u = 1) underestimates sigma; the iteration brings it back
  for (auto& v : b.net.spectral) v = 1.0;
  const double stale = largest_singular(0) * b.net.scale<0>();
  for (int k = 0; k < 200; ++k) b.update_spectral_norm(1);
  const double fresh = largest_singular(0) * b.net.scale<0>();
  INFO("layer 0 after u = 1: " << stale << "; after 200 iterations: " << fresh);
  CHECK(fresh <= 0.9 * (1 + 1e-9));
  CHECK(fresh >= 0.9 * (1 - 1e-6));
}

TEMPLATE_TEST_CASE("Residual passes the conformance kit", "[residual][kit]", float, double) {
  using S = TestType;
  const auto b = drawn<ft::bind_t<ft::Residual<ft::LipschitzMLP<16, 16>>, 3, S>>(8);
  ft::testing::options<S> opt;
  opt.points = 32;
  const auto r = ft::testing::check_bijector(b, opt);
  INFO(r.text());
  CHECK(r.ok());
  CHECK(r.checks() >= 32 * 8);
}

TEST_CASE("Residual with elu passes the conformance kit", "[residual][kit]") {
  const auto e = drawn<ft::bind_t<ft::Residual<ft::LipschitzMLP<8>::with<ft::act::elu>>, 2, double>>(9);
  ft::testing::options<double> opt;
  opt.points = 32;
  const auto re = ft::testing::check_bijector(e, opt);
  INFO(re.text());
  CHECK(re.ok());
}

TEST_CASE("Residual with a context passes the conformance kit at fixed contexts", "[residual][kit]") {
  using S = double;
  using B = ft::bind_t<ft::Conditional<2, ft::Residual<ft::LipschitzMLP<16>::with<ft::act::tanh>>>, 3, S>;
  static_assert(ft::ConditionalBijector<B>);
  const auto b = drawn<B>(10);
  ft::testing::options<S> opt;
  opt.points = 32;
  for (const auto& c : {Eigen::Matrix<S, 2, 1>(S(0), S(0)), Eigen::Matrix<S, 2, 1>(S(1.5), S(-2))}) {
    const auto r = ft::testing::check_bijector(ft::with_context(b, c), opt);
    INFO(r.text());
    CHECK(r.ok());
  }
}

TEST_CASE("checked mode reports a forward solve cut short", "[residual][checked]") {
  using B = ft::bind_t<ft::Residual<ft::LipschitzMLP<16>, ft::residual_options{.max_iterations = 2}>, 3, double>;
  const B b = drawn<B>(11);
  Eigen::Matrix<double, 3, Eigen::Dynamic> Z(3, 4);
  Z << 1, 2, 3, 4, -1, 0.5, 2, 1, 0.3, -3, 1, 2;
  CHECK_NOTHROW(ft::inverse(b, Z, ft::checked));
  CHECK_THROWS_WITH(ft::forward(b, Z, ft::checked),
                    Catch::Contains("(Residual)") && Catch::Contains("sample 0") &&
                        Catch::Contains("did not converge") && Catch::Contains("2 iterations"));
}

TEST_CASE("Residual's block path (log_prob over a batch) matches the per-sample path", "[residual]") {
  using B = ft::bind_t<ft::Residual<ft::LipschitzMLP<16, 16>>, 3, double>;
  static_assert(ft::detail::uses_blocks<B>(), "the exact mode's batch calls take the block path");
  const B b = drawn<B>(10);
  Eigen::Matrix<double, 3, Eigen::Dynamic> X(3, 300);  // more than one host block
  ft::philox_stream rng(11, 0);
  for (Eigen::Index j = 0; j < X.cols(); ++j)
    for (int i = 0; i < 3; ++i) X(i, j) = 1.5 * rng.normal<double>();
  const auto batch = ft::inverse_and_log_det(b, X);
  for (Eigen::Index j = 0; j < X.cols(); ++j) {
    const auto r = b.inverse_and_log_det(Eigen::Vector3d(X.col(j)));
    INFO("column " << j);
    CHECK((batch.values.col(j) - r.value).cwiseAbs().maxCoeff() <= 1e-13 * std::max(1.0, r.value.cwiseAbs().maxCoeff()));
    CHECK(std::abs(batch.log_det[j] - r.log_det) <= 1e-13 * std::max(1.0, std::abs(r.log_det)));
  }
  // with a context block: every column its own context
  using BC = ft::bind_t<ft::Conditional<2, ft::Residual<ft::LipschitzMLP<16>>>, 3, double>;
  const BC bc = drawn<BC>(12);
  Eigen::Matrix<double, 2, Eigen::Dynamic> Ctx(2, X.cols());
  for (Eigen::Index j = 0; j < X.cols(); ++j) Ctx.col(j) = Eigen::Vector2d(rng.normal<double>(), rng.normal<double>());
  const auto batch_c = ft::inverse_and_log_det(bc, X, Ctx);
  for (Eigen::Index j = 0; j < X.cols(); j += 7) {
    const auto r = bc.inverse_and_log_det(Eigen::Vector3d(X.col(j)), Eigen::Vector2d(Ctx.col(j)));
    INFO("column " << j << " with its context");
    CHECK((batch_c.values.col(j) - r.value).cwiseAbs().maxCoeff() <= 1e-13 * std::max(1.0, r.value.cwiseAbs().maxCoeff()));
    CHECK(std::abs(batch_c.log_det[j] - r.log_det) <= 1e-13 * std::max(1.0, std::abs(r.log_det)));
  }
}

}  // namespace residual_test
