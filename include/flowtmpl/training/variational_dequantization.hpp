// flowtmpl/training/variational_dequantization.hpp: variational dequantization (Ho et
// al. 2019, Flow++): the noise u of v = (x + u) / 256 drawn from a learned q(u | x)
// instead of U[0, 1)^D, trained jointly with the flow on the bound
//
//   log P(x) >= E_q [log p_v((x + u) / 256) - D log 256 - log q(u | x)]
//
// and the data's likelihood estimated by importance sampling with q as the proposal.
//
//   pixel_dequantizer<S>   q(u | x) per value, conditioned on the value's own 8-bit
//       level: u_i = sigmoid(mu[x_i] + exp(log_scale[x_i]) eps_i), eps_i standard
//       logistic; parameters mu[256], log_scale[256]. At mu = log_scale = 0 (the start)
//       u = sigmoid(eps) is exactly uniform, so q starts as uniform dequantization and
//       the bound as the uniform one's. (Flow++'s q is a conditional coupling flow that
//       reads the whole image; this one sees each value's level only: the smallest
//       dequantizer that is a learned conditional flow, and a place to add that one.)
//       log q(u | x) = sum_i log sigmoid'(eps_i) - log_scale[x_i] - log(u_i (1 - u_i)).
//   dequantization_draw<D>(q, pixels, seed, first)
//       {v, u, eps (D x n), log q (1 x n)}: sample j's eps from philox_stream(seed,
//       first + j)
//   negative_elbo_and_gradient(flow, q, pixels, seed, first, grad, grad_q)
//       the mean over the n samples of -log p_v(v) + log q(u | x) (nats; bits_per_dim
//       of minus it, dequantization.hpp, is the bound in bits per dimension), with the
//       gradients of both written into grad (a flow) and grad_q (a pixel_dequantizer): the flow's
//       through its parameters, q's through u (the reparameterised draw: the flow's
//       d log p / dv, by blocks where the flow's layers have them) and through log q
//   importance_bits_per_dim(flow, q, pixels, draws, seed)
//       -log2 of the mean over samples of (1/K) sum_k p_v(v_k) 256^-D / q(u_k | x), K =
//       draws, in bits per dimension: an estimate of the data's -log2 P(x) / D that is
//       below the bound (the bound's value at K = 1) and approaches -log2 P(x) / D as K
//       grows
// Sample j's draws depend on (seed, first + j) alone, not on the batch or the threads.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <vector>

#include <boost/hana/define_struct.hpp>

#include "../detail/eigen.hpp"

#include "../dequantization.hpp"
#include "../differentiable.hpp"
#include "../errors.hpp"
#include "../host/parallel_loops.hpp"
#include "../parameters.hpp"
#include "../random.hpp"
#include "block_gradient.hpp"
#include "losses.hpp"

namespace flowtmpl {

template <class S>
struct pixel_dequantizer {
  using scalar_type = S;
  BOOST_HANA_DEFINE_STRUCT(pixel_dequantizer, (std::array<S, 256>, mu), (std::array<S, 256>, log_scale));
  pixel_dequantizer() : mu{}, log_scale{} {}
};

// v = (x + u) / 256, the noise u and its logistic eps, log q(u | x) per sample
template <int D, class S>
struct dequantization_sample {
  Eigen::Matrix<S, D, Eigen::Dynamic> v, u, eps;
  Eigen::Matrix<S, 1, Eigen::Dynamic> log_q;
};

namespace detail {
// log sigmoid'(e) = -|e| - 2 log(1 + exp(-|e|)), the standard logistic log density
template <class S>
S log_logistic_density(S e) {
  using std::abs, std::exp, std::log1p;
  const S a = abs(e);
  return -a - S(2) * log1p(exp(-a));
}
template <class S>
S stable_sigmoid(S z) {
  using std::exp;
  if (z >= S(0)) return S(1) / (S(1) + exp(-z));
  const S e = exp(z);
  return e / (S(1) + e);
}
template <int D>
Eigen::Index dequantization_count(std::span<const std::uint8_t> pixels, const char* what) {
  if (pixels.empty() || pixels.size() % std::size_t(D) != 0)
    fail_shape(message(what, ": ", pixels.size(), " bytes are not a positive whole number of samples of ", D, " values"));
  return Eigen::Index(pixels.size() / std::size_t(D));
}
}  // namespace detail

template <int D, class S>
dequantization_sample<D, S> dequantization_draw(const pixel_dequantizer<S>& q, std::span<const std::uint8_t> pixels,
                                                std::uint64_t seed, std::uint64_t first = 0) {
  const Eigen::Index n = detail::dequantization_count<D>(pixels, "dequantization_draw");
  dequantization_sample<D, S> r{Eigen::Matrix<S, D, Eigen::Dynamic>(D, n), Eigen::Matrix<S, D, Eigen::Dynamic>(D, n),
                                Eigen::Matrix<S, D, Eigen::Dynamic>(D, n), Eigen::Matrix<S, 1, Eigen::Dynamic>(n)};
  for (Eigen::Index j = 0; j < n; ++j) {
    philox_stream rng(seed, first + std::uint64_t(j));
    S lq(0);
    for (int i = 0; i < D; ++i) {
      const int x = pixels[std::size_t(j) * D + i];
      // eps = logit(w), w uniform in (0, 1): standard logistic
      S w = rng.template uniform<S>();
      if (w <= S(0)) w = std::numeric_limits<S>::min();
      const S e = std::log(w) - std::log1p(-w);
      const S sc = std::exp(q.log_scale[x]);
      S u = detail::stable_sigmoid(q.mu[x] + sc * e);
      // u in (0, 1) but for rounding: keep v inside [x / 256, (x + 1) / 256)
      const S below_one = S(1) - std::numeric_limits<S>::epsilon();
      u = u < S(0) ? S(0) : (u > below_one ? below_one : u);
      const S lu = std::log(u > S(0) ? u : std::numeric_limits<S>::min()) + std::log1p(-u);
      lq += detail::log_logistic_density(e) - q.log_scale[x] - lu;
      r.v(i, j) = (S(x) + u) / S(256);
      r.u(i, j) = u;
      r.eps(i, j) = e;
    }
    r.log_q[j] = lq;
  }
  return r;
}

template <class F, class S = typename F::scalar_type>
  requires(Distribution<F> && DifferentiableDistribution<typename F::base_type>)
S negative_elbo_and_gradient(const F& flow, const pixel_dequantizer<S>& q, std::span<const std::uint8_t> pixels,
                             std::uint64_t seed, std::uint64_t first, F& grad, pixel_dequantizer<S>& grad_q) {
  constexpr int D = F::dim;
  const Eigen::Index n = detail::dequantization_count<D>(pixels, "negative_elbo_and_gradient");
  const auto d = dequantization_draw<D>(q, pixels, seed, first);
  const S w = S(-1) / S(n);  // of log p: the loss is -mean log p_v + mean log q
  constexpr Eigen::Index block = detail::host_block_for(D);
  const Eigen::Index blocks = (n + block - 1) / block;
  detail::gradient_parts<F> parts(std::size_t(blocks), detail::gradient_part<F>{make_gradient(flow)});
  Eigen::Matrix<S, 1, Eigen::Dynamic> lp(n);
  Eigen::Matrix<S, D, Eigen::Dynamic> gv(D, n);  // w d log p / dv
  detail::for_each_numbered_block(
      n,
      [&](Eigen::Index b, Eigen::Index first_col, Eigen::Index count) {
        if constexpr (detail::block_gradient_ok<F>()) {
          detail::sample_block<S, D> g;
          detail::log_prob_vjp_block(flow, d.v.middleCols(first_col, count), w, parts[std::size_t(b)].value,
                                     lp.data() + first_col, static_cast<const detail::context_block_of<F>*>(nullptr), &g);
          gv.middleCols(first_col, count) = g;
        } else {
          for (Eigen::Index j = first_col; j < first_col + count; ++j) {
            typename F::vec g;
            lp[j] = log_prob_vjp(flow, typename F::vec(d.v.col(j)), w, parts[std::size_t(b)].value, &g);
            gv.col(j) = g;
          }
        }
      },
      block);
  detail::sum_gradients(parts, grad);
  // q's parameters: through v (dv/du = 1/256, du/dz = u (1 - u), z = mu + e^ls eps) and
  // through log q (d/dz of -log(u (1 - u)) = -(1 - 2u); d/dls of -ls = -1)
  std::array<double, 256> gmu{}, gls{};
  double loss = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    loss += -double(lp[j]) + double(d.log_q[j]);
    for (int i = 0; i < D; ++i) {
      const int x = pixels[std::size_t(j) * D + i];
      const double u = double(d.u(i, j));
      const double dz = double(gv(i, j)) / 256.0 * u * (1 - u) - (1 - 2 * u) / double(n);
      const double sc = std::exp(double(q.log_scale[x]));
      gmu[std::size_t(x)] += dz;
      gls[std::size_t(x)] += dz * sc * double(d.eps(i, j)) - 1.0 / double(n);
    }
  }
  for (int k = 0; k < 256; ++k) {
    grad_q.mu[std::size_t(k)] = S(gmu[std::size_t(k)]);
    grad_q.log_scale[std::size_t(k)] = S(gls[std::size_t(k)]);
  }
  return S(loss / double(n));
}

template <class F, class S = typename F::scalar_type>
  requires Distribution<F>
double importance_bits_per_dim(const F& flow, const pixel_dequantizer<S>& q, std::span<const std::uint8_t> pixels,
                               int draws, std::uint64_t seed) {
  constexpr int D = F::dim;
  const Eigen::Index n = detail::dequantization_count<D>(pixels, "importance_bits_per_dim");
  if (draws < 1) detail::fail_shape(detail::message("importance_bits_per_dim: draws must be at least 1, got ", draws));
  std::vector<double> log_w(std::size_t(n) * std::size_t(draws));
  for (int k = 0; k < draws; ++k) {
    // draw k of sample j from the stream (seed, k n + j)
    const auto d = dequantization_draw<D>(q, pixels, seed, std::uint64_t(k) * std::uint64_t(n));
    const auto lp = flowtmpl::log_prob(flow, d.v);
    for (Eigen::Index j = 0; j < n; ++j) log_w[std::size_t(j) * std::size_t(draws) + std::size_t(k)] = double(lp[j]) - double(d.log_q[j]);
  }
  double total = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    const double* lw = log_w.data() + std::size_t(j) * std::size_t(draws);
    double m = lw[0];
    for (int k = 1; k < draws; ++k) m = std::max(m, lw[k]);
    if (!std::isfinite(m))
      detail::fail_domain(detail::message("importance_bits_per_dim: sample ", j, " has no draw of finite weight"),
                          "importance_bits_per_dim", long(j), -1, m);
    double s = 0;
    for (int k = 0; k < draws; ++k) s += std::exp(lw[k] - m);
    total += m + std::log(s / draws);
  }
  return bits_per_dim(total / double(n), D);
}

}  // namespace flowtmpl
