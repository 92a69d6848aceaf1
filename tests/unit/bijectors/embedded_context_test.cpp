// Conditional<C, Spec, Embedding<RawC, Net>> (bijectors/embedded_context.hpp): the
// raw context through the embedding network, then the layers; and the context's
// cotangent (differentiable.hpp's gc) with and without an embedding, against central
// differences in both directions.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/safetensors.hpp>
#include <flowtmpl/testing.hpp>

#include "support/gradients.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <vector>
#include <set>
#include <string>

namespace embedded_context_test {

namespace ft = flowtmpl;

namespace {

// smooth networks (tanh): central differences across a ReLU's kink would be wrong
using Smooth = ft::MLP<8, 8>::with<ft::act::tanh>;
using SmoothMADE = ft::MADE<8>::with<ft::act::tanh>;
using Layers = ft::compose<ft::Coupling<ft::Spline<4>, Smooth>, ft::Permute<ft::Reverse>,
                           ft::MaskedAutoregressive<ft::Affine, SmoothMADE>,
                           ft::Inverse<ft::InverseAutoregressive<ft::SoftplusAffine, SmoothMADE>>>;
using Plain = ft::bind_t<ft::Conditional<3, Layers>, 4, double>;
using Embedded = ft::bind_t<ft::Conditional<3, Layers, ft::Embedding<5, ft::MLP<8>::with<ft::act::tanh>>>, 4, double>;
using EmbeddedFlow =
    ft::bind_t<ft::Conditional<3, ft::Flow<ft::StandardNormal, Layers>, ft::Embedding<5, ft::MLP<8>>>, 4, double>;

template <class B>
B drawn(std::uint64_t seed) {
  B b;
  ft::reset_parameters(b, seed, ft::init::uniform);
  return b;
}

template <int N>
Eigen::Matrix<double, N, 1> point(std::uint64_t seed, std::uint64_t index, double scale = 0.8) {
  ft::philox_stream rng(seed, index);
  Eigen::Matrix<double, N, 1> v;
  for (int i = 0; i < N; ++i) v[i] = scale * (2.0 * rng.uniform<double>() - 1.0);
  return v;
}

// d/dc of L(c) by the five-point stencil, component by component.
template <int C, class L>
Eigen::Matrix<double, C, 1> numeric_gradient(const Eigen::Matrix<double, C, 1>& c, L loss) {
  constexpr double h = 1e-3;
  Eigen::Matrix<double, C, 1> g;
  for (int i = 0; i < C; ++i) {
    auto at = [&](double t) {
      Eigen::Matrix<double, C, 1> ci = c;
      ci[i] += t;
      return loss(ci);
    };
    g[i] = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
  }
  return g;
}

// The context's cotangent of gy . f(x, c) + gld ld(x, c), forward and inverse, against
// the stencil; the input's cotangent and the parameters' must not depend on asking for
// the context's.
template <class B>
void require_context_gradients(const B& b, std::uint64_t seed) {
  constexpr int C = B::context_dim;
  for (std::uint64_t k = 0; k < 4; ++k) {
    const auto x = point<B::dim>(seed, 4 * k);
    const auto c = point<C>(seed, 4 * k + 1, 1.5);
    const auto gy = point<B::dim>(seed, 4 * k + 2);
    const double gld = 0.7;
    for (const bool forward : {true, false}) {
      INFO("sample " << k << (forward ? ", forward" : ", inverse"));
      auto loss = [&](const Eigen::Matrix<double, C, 1>& ci) {
        const auto r = forward ? ft::forward_and_log_det(b, x, ci) : ft::inverse_and_log_det(b, x, ci);
        return gy.dot(r.value) + gld * r.log_det;
      };
      B grad = ft::make_gradient(b), grad_without = ft::make_gradient(b);
      Eigen::Matrix<double, C, 1> gc = Eigen::Matrix<double, C, 1>::Constant(0.25);  // added to, not overwritten
      const auto gx = forward ? ft::forward_vjp(b, x, c, gy, gld, grad, &gc) : ft::inverse_vjp(b, x, c, gy, gld, grad, &gc);
      const auto gx_without = forward ? ft::forward_vjp(b, x, c, gy, gld, grad_without)
                                      : ft::inverse_vjp(b, x, c, gy, gld, grad_without);
      const auto numeric = numeric_gradient<C>(c, loss);
      gc.array() -= 0.25;
      INFO("analytic " << gc.transpose() << "\nnumeric  " << numeric.transpose());
      REQUIRE(numeric.norm() > 1e-3);  // the context matters at this point
      REQUIRE((gc - numeric).norm() <= 1e-6 * (1.0 + numeric.norm()));
      REQUIRE(gx == gx_without);
      bool same = true;
      std::size_t i = 0;
      std::vector<double> a(ft::parameter_count_v<B>), w(ft::parameter_count_v<B>);
      ft::copy_parameters(grad, a.data());
      ft::copy_parameters(grad_without, w.data());
      for (; i < a.size(); ++i) same = same && a[i] == w[i];
      REQUIRE(same);
    }
  }
}

}  // namespace

TEST_CASE("Conditional<C, Spec, Embedding>: the flow takes the raw context and its layers read the embedding",
          "[conditional][embedding]") {
  static_assert(Embedded::context_dim == 5 && Embedded::embedded_dim == 3);
  static_assert(ft::ConditionalBijector<Embedded> && ft::DifferentiableBijector<Embedded>);
  static_assert(EmbeddedFlow::context_dim == 5 && ft::ConditionalDistribution<EmbeddedFlow>);
  static_assert(ft::Conditional<3, Layers, ft::Embedding<5>>::context_dim == 5);
  const auto b = drawn<Embedded>(11);
  const auto x = point<4>(1, 0);
  const auto raw = point<5>(1, 1, 2.0);
  const Eigen::Vector3d e = b.embed(raw);
  // by hand: h = tanh(W0 raw + b0), e = W1 h + b1 (weights [out][in] row-major)
  const auto& v = b.embedding.values;
  Eigen::Matrix<double, 8, 1> h;
  for (int o = 0; o < 8; ++o) {
    double s = v[std::size_t(8 * 5 + o)];
    for (int i = 0; i < 5; ++i) s += v[std::size_t(o * 5 + i)] * raw[i];
    h[o] = std::tanh(s);
  }
  constexpr std::size_t second = 8 * 5 + 8;
  for (int o = 0; o < 3; ++o) {
    double s = v[second + 3 * 8 + std::size_t(o)];
    for (int i = 0; i < 8; ++i) s += v[second + std::size_t(o * 8 + i)] * h[i];
    REQUIRE(e[o] == Approx(s).epsilon(1e-14));
  }
  const auto r = ft::forward_and_log_det(b, x, raw);
  const auto ri = ft::forward_and_log_det(b.inner, x, e);
  REQUIRE(r.value == ri.value);
  REQUIRE(r.log_det == ri.log_det);
  REQUIRE((b.inverse(r.value, raw) - x).norm() < 1e-12);
  REQUIRE(b.log_det(x, raw) == r.log_det);
  // the embedding is not the identity-start zero map: two raw contexts give two maps
  REQUIRE((b.forward(x, raw) - b.forward(x, point<5>(1, 2, 2.0))).norm() > 1e-3);
}

TEST_CASE("an embedded flow's parameters: named, drawn apart from the layers, saved and loaded", "[conditional][embedding]") {
  EmbeddedFlow d;
  ft::reset_parameters(d, 5);
  std::set<std::string> names;
  ft::for_each_parameter(d, [&](const std::string& n, const double*, std::size_t) { names.insert(n); });
  REQUIRE(names.count("transform.embedding.0.weight") == 1);
  REQUIRE(names.count("transform.embedding.1.bias") == 1);
  REQUIRE(names.count("transform.0.conditioner.0.weight") == 1);
  REQUIRE(ft::parameter_count_v<EmbeddedFlow> ==
          ft::parameter_count_v<typename EmbeddedFlow::transform_type::inner_type> + (8 * 5 + 8) + (3 * 8 + 3));
  // identity start: every coupling and autoregressive layer is the identity whatever the
  // context (the flow is the reversal), the embedding is not 0
  const auto x = point<4>(2, 0);
  REQUIRE((d.transform.forward(x, point<5>(2, 1)) - Eigen::Vector4d(x.reverse())).norm() < 1e-14);
  REQUIRE(d.transform.embed(point<5>(2, 1)).norm() > 1e-3);

  auto trained = drawn<EmbeddedFlow>(9);
  const auto path = std::filesystem::temp_directory_path() / "flowtmpl_embedded_context_test.safetensors";
  ft::save(trained, path.string());
  EmbeddedFlow loaded;
  ft::load(loaded, path.string());
  const auto raw = point<5>(2, 3);
  REQUIRE(loaded.log_prob(x, raw) == trained.log_prob(x, raw));
  // the same file into the flow without the embedding is refused
  ft::bind_t<ft::Conditional<3, ft::Flow<ft::StandardNormal, Layers>>, 4, double> plain;
  REQUIRE_THROWS_AS(ft::load(plain, path.string()), ft::io_error);
  std::filesystem::remove(path);
}

TEST_CASE("an embedded flow on the host: blocks, per sample, checked mode, initialize", "[conditional][embedding]") {
  auto d = drawn<EmbeddedFlow>(13);
  constexpr int n = 37;
  Eigen::Matrix<double, 4, n> X;
  Eigen::Matrix<double, 5, n> R;
  for (int j = 0; j < n; ++j) {
    X.col(j) = point<4>(3, std::uint64_t(2 * j));
    R.col(j) = point<5>(3, std::uint64_t(2 * j + 1), 2.0);
  }
  const auto lp = ft::log_prob(d, X, R);
  const auto lpc = ft::log_prob(d, X, R, ft::checked);
  for (int j = 0; j < n; ++j) {
    REQUIRE(lp[j] == Approx(d.log_prob(Eigen::Vector4d(X.col(j)), Eigen::Matrix<double, 5, 1>(R.col(j)))).epsilon(1e-12));
    REQUIRE(lpc[j] == Approx(lp[j]).epsilon(1e-12));
  }
  // a wrong raw context: the function the user called, the sizes
  const Eigen::VectorXd short_raw = Eigen::VectorXd::Zero(3);
  REQUIRE_THROWS_WITH(d.log_prob(Eigen::Vector4d(X.col(0)), short_raw),
                      Catch::Contains("log_prob") && Catch::Contains("3 components") && Catch::Contains("reads 5"));
  REQUIRE_THROWS_WITH(ft::log_prob(d, X, Eigen::MatrixXd::Zero(3, n)), Catch::Contains("log_prob") && Catch::Contains("3 rows"));
  // an embedding that overflows: checked mode names it
  auto broken = d;
  broken.transform.embedding.values[0] = std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_WITH(ft::log_prob(broken, X, R, ft::checked),
                      Catch::Contains("EmbeddedContext") && Catch::Contains("embedding network"));

  // ActNorm behind an embedded context: initialised from the data with its context
  using WithActNorm =
      ft::bind_t<ft::Conditional<2, ft::compose<ft::ActNorm, ft::Coupling<ft::Affine, ft::MLP<8>>>, ft::Embedding<5, ft::MLP<8>>>,
                 4, double>;
  WithActNorm a;
  Eigen::Matrix<double, 4, n> Y = 3.0 * X;
  Y.array() += 2.0;
  ft::initialize(a, Y, R);
  const auto z = ft::inverse(a.inner.template get<0>(), Y);
  REQUIRE(z.rowwise().mean().norm() < 1e-12);
}

TEST_CASE("context gradients: conditional chains without and with an embedding, both directions",
          "[conditional][embedding][gradients]") {
  require_context_gradients(drawn<Plain>(21), 1);
  require_context_gradients(drawn<Embedded>(22), 2);
}

TEST_CASE("parameter and input gradients of an embedded chain at a fixed raw context (the kit), both directions",
          "[conditional][embedding][gradients]") {
  const auto b = drawn<Embedded>(23);
  const auto raw = point<5>(4, 0, 1.5);
  flowtmpl_test::require_gradients(ft::with_context(b, raw));
}

TEST_CASE("log_prob_vjp of an embedded flow: the raw context's cotangent and the parameters'", "[conditional][embedding][gradients]") {
  auto d = drawn<EmbeddedFlow>(31);
  const auto x = point<4>(5, 0);
  const auto raw = point<5>(5, 1, 1.5);
  EmbeddedFlow grad = ft::make_gradient(d);
  Eigen::Matrix<double, 5, 1> gc = Eigen::Matrix<double, 5, 1>::Zero();
  const double w = -0.5;
  const double lp = ft::log_prob_vjp(d, x, raw, w, grad, nullptr, &gc);
  REQUIRE(lp == Approx(d.log_prob(x, raw)).epsilon(1e-13));
  const auto numeric = numeric_gradient<5>(raw, [&](const Eigen::Matrix<double, 5, 1>& c) { return w * d.log_prob(x, c); });
  INFO("analytic " << gc.transpose() << "\nnumeric  " << numeric.transpose());
  REQUIRE((gc - numeric).norm() <= 1e-6 * (1.0 + numeric.norm()));
  // the embedding's first output bias, by the stencil
  double& p = d.transform.embedding.values[(8 * 5 + 8) + 3 * 8];
  const double p0 = p;
  auto at = [&](double t) {
    p = p0 + t;
    const double v = w * d.log_prob(x, raw);
    p = p0;
    return v;
  };
  constexpr double h = 1e-4;
  const double num = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
  REQUIRE(grad.transform.embedding.values[(8 * 5 + 8) + 3 * 8] == Approx(num).epsilon(1e-6).margin(1e-9));
  REQUIRE(std::abs(num) > 1e-4);
}

}  // namespace embedded_context_test
