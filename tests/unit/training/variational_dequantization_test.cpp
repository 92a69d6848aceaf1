// flowtmpl/training/variational_dequantization.hpp: q starts as uniform dequantization
// (log q = 0 exactly, the bound the uniform one's); the gradients of the negative ELBO
// against central differences (q) and against nll_and_gradient on the same draws (the
// flow); trained jointly, the variational bound is below the uniform one on the same
// data, and the importance-sampled estimate below the bound.
#include <catch2/catch.hpp>

#include <flowtmpl/dequantization.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>
#include <flowtmpl/training/variational_dequantization.hpp>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

namespace variational_dequantization_test {

namespace ft = flowtmpl;

namespace {

constexpr int D = 8;
using Model = ft::bind_t<ft::Flow<ft::StandardNormal,
                                  ft::Inverse<ft::compose<ft::LogitPreprocessing<0.05>, ft::ActNorm, ft::Coupling<ft::Affine, ft::MLP<16>>,
                                                          ft::Permute<ft::Reverse>, ft::Coupling<ft::Affine, ft::MLP<16>>>>>,
                         D, double>;

// 8-bit data with many values at 0 and 255 (a background and saturated pixels, where a
// uniform dequantization is worst) and a smooth part
std::vector<std::uint8_t> data(int n) {
  std::vector<std::uint8_t> px(std::size_t(n) * D);
  ft::philox_stream rng(123, 0);
  for (int j = 0; j < n; ++j) {
    const double level = 256 * rng.uniform<double>();
    for (int i = 0; i < D; ++i) {
      const double r = rng.uniform<double>();
      double v = r < 0.4 ? 0 : (r < 0.55 ? 255 : level + 20 * (rng.uniform<double>() - 0.5));
      px[std::size_t(j) * D + i] = std::uint8_t(std::lround(std::min(255.0, std::max(0.0, v))));
    }
  }
  return px;
}

void adam_step(ft::adam<double>& opt, ft::pixel_dequantizer<double>& q, const ft::pixel_dequantizer<double>& g, double lr) {
  std::vector<double> p(512), gg(512);
  for (std::size_t k = 0; k < 256; ++k) {
    p[k] = q.mu[k];
    p[256 + k] = q.log_scale[k];
    gg[k] = g.mu[k];
    gg[256 + k] = g.log_scale[k];
  }
  opt.step(p.data(), gg.data(), p.size(), lr);
  for (std::size_t k = 0; k < 256; ++k) {
    q.mu[k] = p[k];
    q.log_scale[k] = p[256 + k];
  }
}

// the bound in bits/dim, over several draws of the noise
template <class Flow>
double bound(const Flow& m, const ft::pixel_dequantizer<double>& q, const std::vector<std::uint8_t>& px) {
  double s = 0;
  for (std::uint64_t seed = 900; seed < 910; ++seed) {
    Flow g = ft::make_gradient(m);
    ft::pixel_dequantizer<double> gq;
    s += ft::bits_per_dim(-ft::negative_elbo_and_gradient(m, q, px, seed, 0, g, gq), D);
  }
  return s / 10;
}

}  // namespace

TEST_CASE("pixel_dequantizer starts as uniform dequantization", "[dequantization]") {
  const auto px = data(50);
  const ft::pixel_dequantizer<double> q;
  const auto d = ft::dequantization_draw<D>(q, px, 5);
  REQUIRE(d.log_q.cwiseAbs().maxCoeff() < 1e-12);
  double mean = 0;
  for (Eigen::Index j = 0; j < d.v.cols(); ++j)
    for (int i = 0; i < D; ++i) {
      const double x = px[std::size_t(j) * D + i];
      REQUIRE(d.v(i, j) >= x / 256);
      REQUIRE(d.v(i, j) < (x + 1) / 256);
      mean += d.u(i, j);
    }
  REQUIRE(std::abs(mean / 400 - 0.5) < 0.05);
  // the bound at the start is the uniform one's: -mean log p_v of the draws
  Model m;
  ft::reset_parameters(m, 1);
  Model g = ft::make_gradient(m);
  ft::pixel_dequantizer<double> gq;
  const double nelbo = ft::negative_elbo_and_gradient(m, q, px, 5, 0, g, gq);
  REQUIRE(nelbo == Approx(-ft::log_prob(m, d.v).mean()).epsilon(1e-12));
  REQUIRE_THROWS_WITH(ft::dequantization_draw<D>(q, std::span<const std::uint8_t>(px.data(), 5), 1),
                      Catch::Contains("dequantization_draw: 5 bytes are not a positive whole number of samples of 8"));
}

TEST_CASE("the negative ELBO's gradients", "[dequantization][gradients]") {
  const auto px = data(40);
  Model m;
  ft::reset_parameters(m, 2, ft::init::uniform);
  ft::pixel_dequantizer<double> q;
  ft::philox_stream rng(3, 0);
  for (int k = 0; k < 256; ++k) {
    q.mu[std::size_t(k)] = 0.5 * (rng.uniform<double>() - 0.5);
    q.log_scale[std::size_t(k)] = 0.5 * (rng.uniform<double>() - 0.5);
  }
  Model g = ft::make_gradient(m);
  ft::pixel_dequantizer<double> gq;
  const double f0 = ft::negative_elbo_and_gradient(m, q, px, 7, 0, g, gq);
  // q's: central differences with the same eps (the same seed)
  auto at = [&](const ft::pixel_dequantizer<double>& qq) {
    Model g2 = ft::make_gradient(m);
    ft::pixel_dequantizer<double> gq2;
    return ft::negative_elbo_and_gradient(m, qq, px, 7, 0, g2, gq2);
  };
  int checked = 0;
  for (int level : {0, 255, int(px[5]), int(px[13])}) {
    for (int which = 0; which < 2; ++which) {
      const double h = 1e-5;
      ft::pixel_dequantizer<double> a = q, b = q;
      (which ? a.log_scale : a.mu)[std::size_t(level)] += h;
      (which ? b.log_scale : b.mu)[std::size_t(level)] -= h;
      const double fd = (at(a) - at(b)) / (2 * h);
      const double an = (which ? gq.log_scale : gq.mu)[std::size_t(level)];
      INFO("level " << level << (which ? " log_scale" : " mu") << ": analytic " << an << ", differences " << fd);
      REQUIRE(std::abs(an - fd) <= 1e-6 * std::max(1.0, std::abs(fd)));
      ++checked;
    }
  }
  REQUIRE(checked == 8);
  // the flow's: nll_and_gradient on the same draws (log q does not depend on the flow)
  const auto d = ft::dequantization_draw<D>(q, px, 7);
  Model h = ft::make_gradient(m);
  const double nll = ft::nll_and_gradient(m, d.v, h);
  REQUIRE(f0 == Approx(nll + d.log_q.mean()).epsilon(1e-12));
  std::vector<double> ga(ft::parameter_count_v<Model>), gb(ga.size());
  ft::copy_parameters(g, ga.data());
  ft::copy_parameters(h, gb.data());
  for (std::size_t i = 0; i < ga.size(); ++i) REQUIRE(ga[i] == Approx(gb[i]).epsilon(1e-10).margin(1e-14));
}

TEST_CASE("trained jointly, the variational bound is below the uniform one on the same data", "[dequantization]") {
  // Every value at level 100: the data's entropy is 0 bits. With uniform noise the best
  // density in the family (a normal of v) fits a box of width 1/256: its bound is
  // 0.5 log2(2 pi e / 12) = 0.254 bits/dim at best. A learned q(u | x) lets the noise
  // and the density narrow together, below that.
  using Gauss = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::Identity>, D, double>;
  const std::vector<std::uint8_t> px(std::size_t(64) * D, std::uint8_t(100));
  Gauss start;
  start.base.mean.fill(0.4);
  start.base.log_scale.fill(std::log(0.01));
  Gauss uniform_model = start, joint = start;
  const ft::pixel_dequantizer<double> uniform_q;
  ft::pixel_dequantizer<double> q;
  ft::adam<double> opt_u, opt_j, opt_q;
  auto step_flow = [](ft::adam<double>& opt, Gauss& m, const Gauss& g) {
    std::vector<double> p(ft::parameter_count_v<Gauss>), gg(p.size());
    ft::copy_parameters(m, p.data());
    ft::copy_parameters(g, gg.data());
    opt.step(p.data(), gg.data(), p.size(), 2e-2);
    ft::assign_parameters(m, p.data());
  };
  for (int step = 0; step < 600; ++step) {
    const std::uint64_t seed = 5000 + std::uint64_t(step);
    Gauss g = ft::make_gradient(uniform_model);
    ft::pixel_dequantizer<double> gq;
    ft::negative_elbo_and_gradient(uniform_model, uniform_q, px, seed, 0, g, gq);  // log q = 0: the uniform NLL
    step_flow(opt_u, uniform_model, g);
    Gauss gj = ft::make_gradient(joint);
    ft::negative_elbo_and_gradient(joint, q, px, seed, 0, gj, gq);
    step_flow(opt_j, joint, gj);
    adam_step(opt_q, q, gq, 2e-2);
  }
  const double b_uniform = bound(uniform_model, uniform_q, px), b_joint = bound(joint, q, px);
  INFO("uniform dequantization: " << b_uniform << " bits/dim; variational: " << b_joint);
  REQUIRE(b_uniform > 0.5 * std::log2(2 * std::numbers::pi * std::numbers::e / 12) - 0.01);
  REQUIRE(b_joint < b_uniform - 0.1);
  // the importance-sampled estimate: at K = 1 the bound's, with more draws lower
  const double is1 = ft::importance_bits_per_dim(joint, q, px, 1, 77), is32 = ft::importance_bits_per_dim(joint, q, px, 32, 77);
  INFO("importance sampling: K = 1 " << is1 << ", K = 32 " << is32);
  REQUIRE(std::abs(is1 - b_joint) < 0.05);
  REQUIRE(is32 < is1);
  REQUIRE_THROWS_WITH(ft::importance_bits_per_dim(joint, q, px, 0, 1), Catch::Contains("draws must be at least 1, got 0"));
}

TEST_CASE("on a flow of real-valued data the variational bound starts at the uniform one", "[dequantization]") {
  // no gain is claimed here: with q at its start the two bounds agree draw for draw
  const auto px = data(100);
  Model m;
  ft::reset_parameters(m, 4);
  ft::initialize(m, ft::uniform_dequantize<D, double>(px, 1));
  const ft::pixel_dequantizer<double> q;
  const double b = bound(m, q, px);
  double direct = 0;
  for (std::uint64_t seed = 900; seed < 910; ++seed)
    direct += ft::bits_per_dim(ft::log_prob(m, ft::dequantization_draw<D>(q, px, seed).v).mean(), D);
  REQUIRE(b == Approx(direct / 10).epsilon(1e-12));
}

}  // namespace variational_dequantization_test
