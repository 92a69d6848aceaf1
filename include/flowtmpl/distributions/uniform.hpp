// flowtmpl/distributions/uniform.hpp: Uniform on the box [low, high] (default [0, 1]^D).
//   log_prob(x) = -sum_i log(high_i - low_i) inside the closed box, -inf outside,
//                 NaN if any component is NaN.
//   sample(rng) = low + u (high - low), u uniform in [0, 1) (philox_stream::uniform).
// low and high are settings, not trained parameters; low_i < high_i is required
// (validate() says which component breaks it). No temperature: a tempered uniform is
// not a uniform, so sampling a flow with a Uniform base at a temperature does not compile.
#pragma once

#include <array>
#include <cmath>
#include <limits>

#include "../detail/eigen.hpp"

#include "../core.hpp"

namespace flowtmpl {

template <int D, class S>
struct UniformDistribution {
  using scalar_type = S;
  static constexpr int dim = D;
  static constexpr const char* name = "Uniform";
  using vec = Eigen::Matrix<S, D, 1>;

  std::array<S, D> low, high;

  UniformDistribution() {
    low.fill(S(0));
    high.fill(S(1));
  }
  UniformDistribution(const vec& lo, const vec& hi) {
    for (int i = 0; i < D; ++i) {
      low[i] = lo[i];
      high[i] = hi[i];
    }
  }

  FLOWTMPL_HOST_DEVICE S log_prob(const vec& x) const {
    using std::log;
    S lp(0);
    bool inside = true;
    for (int i = 0; i < D; ++i) {
      if (x[i] != x[i]) return x[i];
      inside = inside && x[i] >= low[i] && x[i] <= high[i];
      lp -= log(high[i] - low[i]);
    }
    return inside ? lp : -std::numeric_limits<S>::infinity();
  }
  FLOWTMPL_HOST_DEVICE vec sample(philox_stream& rng) const {
    vec x;
    for (int i = 0; i < D; ++i) x[i] = low[i] + rng.uniform<S>() * (high[i] - low[i]);
    return x;
  }
  // gradients (flowtmpl/differentiable.hpp): the density is flat, so 0 (the box is a
  // fixed setting, not a parameter); no reparameterised draw from normal noise.
  FLOWTMPL_HOST_DEVICE vec log_prob_vjp(const vec&, S, UniformDistribution&) const { return vec::Zero(); }
  const char* validate() const {
    for (int i = 0; i < D; ++i)
      if (!(low[i] < high[i]) || !std::isfinite(low[i]) || !std::isfinite(high[i]))
        return "each low_i must be finite and below the finite high_i";
    return nullptr;
  }
};

struct Uniform : distribution_spec {
  template <int D, class S>
  using bind = UniformDistribution<D, S>;
};

}  // namespace flowtmpl
