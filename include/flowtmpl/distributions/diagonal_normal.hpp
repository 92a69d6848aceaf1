// flowtmpl/distributions/diagonal_normal.hpp: DiagonalNormal, N(mean, diag(exp(log_scale))^2).
// Parameters: mean[D], log_scale[D], initially 0 (the standard normal).
//   log_prob(x) = sum_i [ -((x_i - mean_i) / sigma_i)^2 / 2 - log_scale_i ] - D/2 log(2 pi)
//   sample(rng) = mean + sigma * eps, eps ~ N(0, I)
//   At temperature T > 0 the scale is T sigma: sample(rng, T) = mean + T sigma eps,
//   log_prob(x, T) the density of N(mean, (T sigma)^2).
#pragma once

#include <array>
#include <cmath>

#include <boost/hana/define_struct.hpp>
#include "../detail/eigen.hpp"

#include "../detail/math.hpp"
#include "standard_normal.hpp"

namespace flowtmpl {

template <int D, class S>
struct DiagonalNormalDistribution {
  using scalar_type = S;
  static constexpr int dim = D;
  static constexpr const char* name = "DiagonalNormal";
  using vec = Eigen::Matrix<S, D, 1>;
  using arr = Eigen::Array<S, D, 1>;

  BOOST_HANA_DEFINE_STRUCT(DiagonalNormalDistribution, (std::array<S, D>, mean), (std::array<S, D>, log_scale));
  DiagonalNormalDistribution() : mean{}, log_scale{} {}

  FLOWTMPL_HOST_DEVICE S log_prob(const vec& x) const { return log_prob(x, S(1)); }
  FLOWTMPL_HOST_DEVICE S log_prob(const vec& x, S temperature) const {
    using std::log;
    const arr z = (x.array() - mu()) * detail::exp(-ls()) / temperature;
    return S(-0.5) * z.square().sum() - ls().sum() - S(D) * log(temperature) - S(D) * detail::half_log_two_pi<S>;
  }
  FLOWTMPL_HOST_DEVICE vec sample(philox_stream& rng) const { return sample(rng, S(1)); }
  FLOWTMPL_HOST_DEVICE vec sample(philox_stream& rng, S temperature) const {
    arr eps;
    for (int i = 0; i < D; ++i) eps[i] = rng.normal<S>();
    return (mu() + temperature * detail::exp(ls()) * eps).matrix();
  }

  // gradients (flowtmpl/differentiable.hpp). With u = (x - mean) / sigma:
  // d log_prob/dx = -u / sigma, d/dmean = u / sigma, d/dlog_scale = u^2 - 1.
  // The draw for standard normal noise eps at temperature t: mean + t sigma eps.
  FLOWTMPL_HOST_DEVICE vec log_prob_vjp(const vec& x, S w, DiagonalNormalDistribution& grad) const {
    const arr inv_sigma = detail::exp(arr(-ls()));
    const arr u = (x.array() - mu()) * inv_sigma;
    const arr g = w * u * inv_sigma;
    Eigen::Map<arr>(grad.mean.data()) += g;
    Eigen::Map<arr>(grad.log_scale.data()) += w * (u.square() - S(1));
    return (-g).matrix();
  }
  FLOWTMPL_HOST_DEVICE vec from_noise(const vec& eps, S temperature) const {
    return (mu() + temperature * detail::exp(ls()) * eps.array()).matrix();
  }
  FLOWTMPL_HOST_DEVICE void from_noise_vjp(const vec& eps, S temperature, const vec& gz,
                                           DiagonalNormalDistribution& grad) const {
    Eigen::Map<arr>(grad.mean.data()) += gz.array();
    Eigen::Map<arr>(grad.log_scale.data()) += gz.array() * temperature * detail::exp(ls()) * eps.array();
  }

 private:
  FLOWTMPL_HOST_DEVICE Eigen::Map<const arr> mu() const { return Eigen::Map<const arr>(mean.data()); }
  FLOWTMPL_HOST_DEVICE Eigen::Map<const arr> ls() const { return Eigen::Map<const arr>(log_scale.data()); }
};

struct DiagonalNormal : distribution_spec {
  template <int D, class S>
  using bind = DiagonalNormalDistribution<D, S>;
};

}  // namespace flowtmpl
