// A multi-scale image flow end to end (shapes.hpp with the image layers): the host's
// block path (which runs the couplings as matrix products and recurses into the Split)
// against the per-sample path for log_prob and for the NLL gradient; ActNorm's data
// initialisation inside the Split; sampling at a temperature and the round trip.
#include <catch2/catch.hpp>

#include <flowtmpl/dequantization.hpp>
#include <flowtmpl/differentiable.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace shapes_test {

namespace ft = flowtmpl;

namespace {

template <class S>
using Step = ft::compose<ft::ActNorm, ft::LUConv, ft::ConvCoupling<ft::SigmoidAffine, ft::ConvNet<4>>>;
template <class S>
using Model = ft::bind_shape_t<
    ft::Flow<ft::StandardNormal, ft::Inverse<ft::compose<ft::LogitPreprocessing<>, ft::Squeeze, Step<S>, Step<S>, ft::Split,
                                                         ft::Squeeze, Step<S>>>>,
    ft::image<1, 8, 8>, S>;

// 600 "images" of 8 x 8 bytes with some structure (a bright blob whose place varies)
std::vector<std::uint8_t> blobs(int n) {
  std::vector<std::uint8_t> px(std::size_t(n) * 64);
  ft::philox_stream rng(99, 0);
  for (int j = 0; j < n; ++j) {
    const double ch = 2 + 4 * rng.uniform<double>(), cw = 2 + 4 * rng.uniform<double>();
    for (int h = 0; h < 8; ++h)
      for (int w = 0; w < 8; ++w) {
        const double r2 = (h - ch) * (h - ch) + (w - cw) * (w - cw);
        px[std::size_t(j) * 64 + h * 8 + w] = std::uint8_t(std::lround(230 * std::exp(-r2 / 4) + 10 * rng.uniform<double>()));
      }
  }
  return px;
}

template <class S>
Model<S> trained_a_little(const Eigen::Matrix<S, 64, Eigen::Dynamic>& v) {
  Model<S> m;
  ft::reset_parameters(m, 3);
  ft::initialize(m, v);
  // a few random perturbations so that nothing is at its start
  ft::philox_stream rng(5, 0);
  ft::for_each_parameter(m, [&](const std::string&, S* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) p[i] += S(0.05) * (S(2) * rng.uniform<S>() - S(1));
  });
  return m;
}

}  // namespace

TEMPLATE_TEST_CASE("a multi-scale image flow: block path against per-sample path", "[image]", float, double) {
  using S = TestType;
  const auto px = blobs(300);
  const Eigen::Matrix<S, 64, Eigen::Dynamic> v = ft::uniform_dequantize<64, S>(px, 1);
  const Model<S> m = trained_a_little<S>(v);
  static_assert(ft::detail::uses_blocks<typename Model<S>::transform_type>());

  const auto lp = ft::log_prob(m, v);  // blocks of 128 through forward_block / the Split
  const S tol = sizeof(S) == 4 ? S(2e-3) : S(1e-9);
  for (Eigen::Index j = 0; j < v.cols(); ++j) {
    const S one = m.log_prob(Eigen::Matrix<S, 64, 1>(v.col(j)));
    REQUIRE(std::isfinite(double(one)));
    REQUIRE(std::abs(lp[j] - one) <= tol * std::max(S(1), std::abs(one)));
  }

  // the NLL gradient by blocks (the Split's inner chain recorded again, in its own tape)
  // against log_prob_vjp per sample
  Model<S> g = ft::make_gradient(m), h = ft::make_gradient(m);
  const S nll = ft::nll_and_gradient(m, v, g);
  double sum = 0;
  for (Eigen::Index j = 0; j < v.cols(); ++j)
    sum -= double(ft::log_prob_vjp(m, Eigen::Matrix<S, 64, 1>(v.col(j)), S(-1) / S(v.cols()), h));
  REQUIRE(std::abs(double(nll) - sum / double(v.cols())) <= double(tol) * std::abs(sum / double(v.cols())));
  std::vector<S> ga(ft::parameter_count_v<Model<S>>), gb(ga.size());
  ft::copy_parameters(g, ga.data());
  ft::copy_parameters(h, gb.data());
  double norm = 0, diff = 0;
  for (std::size_t i = 0; i < ga.size(); ++i) {
    norm += double(gb[i]) * double(gb[i]);
    diff += (double(ga[i]) - double(gb[i])) * (double(ga[i]) - double(gb[i]));
  }
  REQUIRE(norm > 0);
  REQUIRE(std::sqrt(diff) <= (sizeof(S) == 4 ? 1e-3 : 1e-10) * std::sqrt(norm));
}

TEST_CASE("ActNorm inside the Split is initialised from the data that reaches it", "[image]") {
  const auto px = blobs(300);
  const Eigen::Matrix<double, 64, Eigen::Dynamic> v = ft::uniform_dequantize<64, double>(px, 2);
  Model<double> m;
  ft::reset_parameters(m, 4);
  ft::initialize(m, v);
  // the data side is the inverse's base chain: 0 logit, 1 squeeze, 2-3 steps, 4 split
  const auto& chain = m.transform.base;
  const auto& split = chain.get<4>();
  const auto& act = split.inner.get<1>().get<0>();  // after the Split's squeeze
  double changed = 0;
  for (double s : act.inner.log_scale) changed += std::abs(s);
  REQUIRE(changed > 0);
  // push the data to the ActNorm's output and check its channels are standardized
  std::vector<double> sum(8, 0), sq(8, 0);
  long count = 0;
  for (Eigen::Index j = 0; j < v.cols(); ++j) {
    Eigen::Matrix<double, 64, 1> x = v.col(j);
    x = chain.get<0>().forward(x);
    x = chain.get<1>().forward(x);
    x = chain.get<2>().forward(x);
    x = chain.get<3>().forward(x);
    Eigen::Matrix<double, 32, 1> head = x.head<32>();
    head = split.inner.get<0>().forward(head);
    head = act.forward(head);
    for (int c = 0; c < 8; ++c)
      for (int p = 0; p < 4; ++p) {
        sum[c] += head[c * 4 + p];
        sq[c] += head[c * 4 + p] * head[c * 4 + p];
      }
    ++count;
  }
  for (int c = 0; c < 8; ++c) {
    const double n = double(count * 4), mean = sum[c] / n, var = (sq[c] - n * mean * mean) / (n - 1);
    REQUIRE(std::abs(mean) < 1e-9);
    REQUIRE(std::abs(var - 1) < 1e-9);
  }
}

TEST_CASE("sampling a multi-scale image flow at temperatures, and the round trip", "[image]") {
  const auto px = blobs(300);
  const Eigen::Matrix<double, 64, Eigen::Dynamic> v = ft::uniform_dequantize<64, double>(px, 3);
  const Model<double> m = trained_a_little<double>(v);
  for (double t : {0.5, 0.7, 1.0}) {
    const auto x = ft::sample(m, 50, 11, t);
    REQUIRE(x.allFinite());
    REQUIRE((x.array() > -0.06).all());  // LogitPreprocessing<0.05>'s image
    REQUIRE((x.array() < 1.06).all());
    const auto lp = ft::log_prob(m, x);
    REQUIRE(lp.allFinite());
  }
  for (Eigen::Index j = 0; j < 20; ++j) {
    const Eigen::Matrix<double, 64, 1> x = v.col(j);
    const auto z = m.transform.inverse(x);
    REQUIRE((m.transform.forward(z) - x).cwiseAbs().maxCoeff() < 1e-10);
  }
}

TEST_CASE("checked mode walks into the Split and names the layer and the sample", "[image]") {
  const auto px = blobs(20);
  Eigen::Matrix<double, 64, Eigen::Dynamic> v = ft::uniform_dequantize<64, double>(px, 4);
  const Model<double> m = trained_a_little<double>(v);
  const auto checked = ft::log_prob(m, v, ft::checked);
  const auto unchecked = ft::log_prob(m, v);
  for (Eigen::Index j = 0; j < v.cols(); ++j) REQUIRE(checked[j] == Approx(unchecked[j]).epsilon(1e-12));
  v(5, 3) = 1.2;  // outside LogitPreprocessing<0.05>'s domain: the first layer from the data
  REQUIRE_THROWS_WITH(ft::log_prob(m, v, ft::checked),
                      Catch::Contains("layer 0 (Inverse<LogitPreprocessing>)") && Catch::Contains("sample 3, component 5") &&
                          Catch::Contains("outside the domain"));
  // a layer inside the split: ActNorm (layer 1 of the inner chain, after its squeeze)
  // with a non-finite scale
  Model<double> broken = m;
  broken.transform.base.get<4>().inner.get<1>().get<0>().inner.log_scale[2] = std::numeric_limits<double>::infinity();
  v(5, 3) = 0.5;
  REQUIRE_THROWS_WITH(ft::log_prob(broken, v, ft::checked), Catch::Contains("layer 4.1.0"));
}

}  // namespace shapes_test
