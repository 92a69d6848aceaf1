// flowtmpl/bijectors/act_norm.hpp: ActNorm (Kingma & Dhariwal 2018, Glow), an
// elementwise affine map whose parameters are set from a batch of data before training.
//
//   y = exp(log_scale) * x + shift        (forward, elementwise)
//
// Domain: R^D both ways. Structure: diagonal. Log-det: sum(log_scale), constant.
// Cost: D fused multiply-adds after prepare(). Parameters: log_scale[D], shift[D],
// initially 0 (the identity).
//
// Data-dependent initialisation, from a D x N batch (N >= 2):
//   initialize_inverse(Y)   sets the parameters so that inverse(Y) has zero mean and
//                           unit (unbiased, N - 1) standard deviation per component:
//                           shift = mean(Y), log_scale = log(std(Y)). This is the one a
//                           flow uses: data enters a flowtmpl flow through inverse().
//   initialize_forward(X)   sets them so that forward(X) is standardized, exactly as
//                           nflows's ActNorm does on its first training call:
//                           log_scale = -log(std(X)), shift = -mean(X / std(X)).
//                           nflows's ActNorm is the inverse of this layer
//                           (Inverse<ActNorm>), and its init is this one.
// A component with zero spread gets std = 1 (its scale is left at 1). Fewer than two
// samples throw flowtmpl::shape_error; a non-finite value throws flowtmpl::domain_error
// naming the sample and component.
#pragma once

#include <cmath>
#include <string>

#include <boost/hana/define_struct.hpp>

#include "../errors.hpp"
#include "affine_family.hpp"
#include "per_pixel.hpp"

namespace flowtmpl {

template <int D, class S>
struct ActNormBijector : detail::affine_ops<ActNormBijector<D, S>, D, S> {
  static constexpr const char* name = "ActNorm";
  BOOST_HANA_DEFINE_STRUCT(ActNormBijector, (std::array<S, D>, log_scale), (std::array<S, D>, shift));
  ActNormBijector() : log_scale{}, shift{} {}

  template <class Derived>
  void initialize_inverse(const Eigen::MatrixBase<Derived>& y) {
    Eigen::Array<S, D, 1> mean, sd;
    moments(y, mean, sd);
    for (int i = 0; i < D; ++i) {
      shift[i] = mean[i];
      log_scale[i] = std::log(sd[i]);
    }
  }

  template <class Derived>
  void initialize_forward(const Eigen::MatrixBase<Derived>& x) {
    Eigen::Array<S, D, 1> mean, sd;
    moments(x, mean, sd);
    const long n = long(x.cols());
    for (int i = 0; i < D; ++i) {
      // mean(x / std), as nflows computes it
      S acc(0);
      for (long j = 0; j < n; ++j) acc += S(x(i, j)) / sd[i];
      log_scale[i] = -std::log(sd[i]);
      shift[i] = -(acc / S(n));
    }
  }

 private:
  template <class Derived>
  static void moments(const Eigen::MatrixBase<Derived>& x, Eigen::Array<S, D, 1>& mean, Eigen::Array<S, D, 1>& sd) {
    static_assert(std::is_same_v<typename Derived::Scalar, S>, "flowtmpl: ActNorm: the batch's scalar type must be the layer's");
    if (x.rows() != D)
      detail::fail_shape(detail::message("ActNorm initialisation: the batch has ", x.rows(), " rows, the layer has dimension ", D));
    const long n = long(x.cols());
    if (n < 2) detail::fail_shape(detail::message("ActNorm initialisation needs at least 2 samples, got ", n));
    for (long j = 0; j < n; ++j)
      for (int i = 0; i < D; ++i)
        if (!std::isfinite(double(x(i, j))))
          detail::fail_domain(detail::message("ActNorm initialisation: sample ", j, ", component ", i, " is not finite (",
                                              double(x(i, j)), ")"),
                              "ActNorm", j, i, double(x(i, j)));
    for (int i = 0; i < D; ++i) {
      S m(0);
      for (long j = 0; j < n; ++j) m += S(x(i, j));
      m /= S(n);
      S ss(0);
      for (long j = 0; j < n; ++j) ss += (S(x(i, j)) - m) * (S(x(i, j)) - m);
      const S v = std::sqrt(ss / S(n - 1));
      mean[i] = m;
      sd[i] = (v > S(0) && std::isfinite(v)) ? v : S(1);
    }
  }
};

// On an image<C, H, W> (shapes.hpp), ActNorm is per channel: PerPixelBijector<
// ActNormBijector<C, S>, H W> (bijectors/per_pixel.hpp), as Glow's.
struct ActNorm : bijector_spec {
  template <int D, class S>
  using bind = ActNormBijector<D, S>;
  static constexpr bool shape_aware = true;
  static constexpr bool needs_shape = false;
  template <class Shape, class S, int Position>
  static consteval auto bind_shape() {
    return detail::bind_per_channel<ActNorm, Shape, S, Position>();
  }
  template <class Shape>
  using output_shape = Shape;
};

}  // namespace flowtmpl
