// flowtmpl/distributions/standard_normal.hpp: StandardNormal, N(0, I) on R^D.
//   log_prob(x)     = -|x|^2 / 2 - D/2 log(2 pi); NaN in gives NaN.
//   sample(rng)     D standard normal draws (flowtmpl::philox_stream::normal).
//   At temperature T > 0: the scale is T, i.e. N(0, T^2 I):
//   sample(rng, T) = T * sample(rng), log_prob(x, T) = log_prob(x / T) - D log T.
// No parameters.
#pragma once

#include <cmath>

#include "../detail/eigen.hpp"

#include "../core.hpp"

namespace flowtmpl {

namespace detail {
template <class S>
inline constexpr S half_log_two_pi = S(0.918938533204672741780329736406);
}

template <int D, class S>
struct StandardNormalDistribution {
  using scalar_type = S;
  static constexpr int dim = D;
  static constexpr const char* name = "StandardNormal";
  using vec = Eigen::Matrix<S, D, 1>;

  FLOWTMPL_HOST_DEVICE S log_prob(const vec& x) const {
    return S(-0.5) * x.squaredNorm() - S(D) * detail::half_log_two_pi<S>;
  }
  FLOWTMPL_HOST_DEVICE S log_prob(const vec& x, S temperature) const {
    using std::log;
    return log_prob(vec(x / temperature)) - S(D) * log(temperature);
  }
  FLOWTMPL_HOST_DEVICE vec sample(philox_stream& rng) const {
    vec z;
    for (int i = 0; i < D; ++i) z[i] = rng.normal<S>();
    return z;
  }
  FLOWTMPL_HOST_DEVICE vec sample(philox_stream& rng, S temperature) const { return temperature * sample(rng); }

  // gradients (flowtmpl/differentiable.hpp): w d log_prob/dx = -w x; the draw for
  // standard normal noise eps at temperature t is t eps. No parameters.
  FLOWTMPL_HOST_DEVICE vec log_prob_vjp(const vec& x, S w, StandardNormalDistribution&) const { return -w * x; }
  FLOWTMPL_HOST_DEVICE vec from_noise(const vec& eps, S temperature) const { return temperature * eps; }
  FLOWTMPL_HOST_DEVICE void from_noise_vjp(const vec&, S, const vec&, StandardNormalDistribution&) const {}
};

struct StandardNormal : distribution_spec {
  template <int D, class S>
  using bind = StandardNormalDistribution<D, S>;
};

}  // namespace flowtmpl
