// flowtmpl/bijectors/per_pixel.hpp: PerPixelBijector<Inner, Pixels>, a layer of C
// channels applied at every pixel of an image<C, H, W> (Pixels = H W) with the same
// parameters: what ActNorm and LUConv bind to on an image (shapes.hpp).
//
//   ActNorm on image<C, H, W>   Glow's per-channel ActNorm: log_scale[C], shift[C];
//                               the data-dependent initialisation over every pixel of
//                               every sample (C statistics over N H W values)
//   LUConv on image<C, H, W>    Glow's invertible 1x1 convolution: W = P L (U + diag(s))
//                               over the channels, applied at every pixel; starts at a
//                               random rotation (reset_parameters, as Glow), or the
//                               identity when default-constructed
//
// y[:, p] = inner(x[:, p]) for every pixel p, x[:, p] the C values x[c H W + p].
// Log-det: the sum over the pixels (Pixels times Inner's, for a constant one).
// Structure: Inner's when diagonal, else dense. Parameters: Inner's, with Inner's names
// ("3.log_scale"). Gradients: Inner's vector-Jacobian products summed over the pixels
// (each pixel's log-det has the whole log-det's cotangent); over a block, Inner's
// vjp_block on every pixel of every sample at once, where Inner has one.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../direction.hpp"
#include "../detail/members.hpp"
#include "../random.hpp"
#include "../shapes.hpp"

namespace flowtmpl {

template <class Inner, int Pixels>
struct PerPixelBijector : detail::parameter_walkers<PerPixelBijector<Inner, Pixels>> {
  using inner_type = Inner;
  using scalar_type = typename Inner::scalar_type;
  using S = scalar_type;
  static constexpr int channels = Inner::dim;
  static constexpr int pixels = Pixels;
  static constexpr int dim = channels * Pixels;
  using structure = std::conditional_t<std::is_same_v<typename Inner::structure, flowtmpl::structure::diagonal> ||
                                           std::is_same_v<typename Inner::structure, flowtmpl::structure::identity>,
                                       typename Inner::structure, flowtmpl::structure::dense>;
  static constexpr flowtmpl::log_det_kind log_det_kind = Inner::log_det_kind;
  static constexpr const char* name = Inner::name;
  static constexpr std::size_t parameter_count = detail::member_count<Inner>();
  using vec = Eigen::Matrix<S, dim, 1>;
  using pixel_vec = Eigen::Matrix<S, channels, 1>;

  Inner inner;

  // pixel p of x (channel c at c Pixels + p)
  FLOWTMPL_HOST_DEVICE static pixel_vec at(const vec& x, int p) {
    pixel_vec v;
    for (int c = 0; c < channels; ++c) v[c] = x[c * Pixels + p];
    return v;
  }
  FLOWTMPL_HOST_DEVICE static void put(vec& x, int p, const pixel_vec& v) {
    for (int c = 0; c < channels; ++c) x[c * Pixels + p] = v[c];
  }

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const {
    vec y;
    for (int p = 0; p < Pixels; ++p) put(y, p, inner.forward(at(x, p)));
    return y;
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const {
    vec x;
    for (int p = 0; p < Pixels; ++p) put(x, p, inner.inverse(at(y, p)));
    return x;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& x) const {
    if constexpr (log_det_kind == flowtmpl::log_det_kind::constant) {
      (void)x;
      return constant_log_det();
    } else {
      S s(0);
      for (int p = 0; p < Pixels; ++p) s += inner.log_det(at(x, p));
      return s;
    }
  }
  FLOWTMPL_HOST_DEVICE S constant_log_det() const
    requires(log_det_kind == flowtmpl::log_det_kind::constant)
  {
    return S(Pixels) * inner.constant_log_det();
  }
  Eigen::Matrix<S, dim, dim> jacobian(const vec& x) const
    requires requires(const Inner& b, const pixel_vec& v) { b.jacobian(v); }
  {
    Eigen::Matrix<S, dim, dim> j = Eigen::Matrix<S, dim, dim>::Zero();
    for (int p = 0; p < Pixels; ++p) {
      const Eigen::Matrix<S, channels, channels> jp = inner.jacobian(at(x, p));
      for (int a = 0; a < channels; ++a)
        for (int b = 0; b < channels; ++b) j(a * Pixels + p, b * Pixels + p) = jp(a, b);
    }
    return j;
  }

  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& x, const vec& gy, S gld, PerPixelBijector& grad) const
    requires requires(const Inner& b, const pixel_vec& v, Inner& g) { b.forward_vjp(v, v, gld, g); }
  {
    vec gx;
    for (int p = 0; p < Pixels; ++p) put(gx, p, inner.forward_vjp(at(x, p), at(gy, p), gld, grad.inner));
    return gx;
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& y, const vec& gx, S gld, PerPixelBijector& grad) const
    requires requires(const Inner& b, const pixel_vec& v, Inner& g) { b.inverse_vjp(v, v, gld, g); }
  {
    vec gy;
    for (int p = 0; p < Pixels; ++p) put(gy, p, inner.inverse_vjp(at(y, p), at(gx, p), gld, grad.inner));
    return gy;
  }

  // The same over a block of n samples (training's block path), as Inner's over the
  // C x (n Pixels) block of every pixel of every sample: Inner's parameters' cotangents
  // summed over all of them, each pixel's log-det cotangent gld.
  template <direction Dir>
  void vjp_block(const Eigen::Matrix<S, dim, Eigen::Dynamic>& V, Eigen::Matrix<S, dim, Eigen::Dynamic>& G, S gld,
                 PerPixelBijector& grad) const
    requires requires(const Inner& b, const Eigen::Matrix<S, channels, Eigen::Dynamic>& m,
                      Eigen::Matrix<S, channels, Eigen::Dynamic>& g, Inner& gi) { b.template vjp_block<Dir>(m, g, gld, gi); }
  {
    const Eigen::Index n = V.cols();
    Eigen::Matrix<S, channels, Eigen::Dynamic> m(channels, n * Pixels), g(channels, n * Pixels);
    using per_sample = Eigen::Map<const Eigen::Matrix<S, Pixels, channels>>;
    for (Eigen::Index j = 0; j < n; ++j) {
      m.middleCols(j * Pixels, Pixels) = per_sample(V.col(j).data()).transpose();
      g.middleCols(j * Pixels, Pixels) = per_sample(G.col(j).data()).transpose();
    }
    inner.template vjp_block<Dir>(m, g, gld, grad.inner);
    for (Eigen::Index j = 0; j < n; ++j)
      Eigen::Map<Eigen::Matrix<S, Pixels, channels>>(G.col(j).data()) = g.middleCols(j * Pixels, Pixels).transpose();
  }

  // Data-dependent initialisation (host/initialize.hpp): Inner's, over the C x (N Pixels)
  // matrix of every pixel of every sample.
  template <class Derived>
  void initialize_forward(const Eigen::MatrixBase<Derived>& x)
    requires requires(Inner& b, const Eigen::Matrix<S, channels, Eigen::Dynamic>& m) { b.initialize_forward(m); }
  {
    inner.initialize_forward(pixels_of(x));
  }
  template <class Derived>
  void initialize_inverse(const Eigen::MatrixBase<Derived>& y)
    requires requires(Inner& b, const Eigen::Matrix<S, channels, Eigen::Dynamic>& m) { b.initialize_inverse(m); }
  {
    inner.initialize_inverse(pixels_of(y));
  }

  // A random rotation (Glow's start of the 1x1 convolution), for an Inner made from a
  // matrix: the columns of a C x C standard normal draw made orthonormal (modified
  // Gram-Schmidt, in double).
  template <class Scheme>
  void reset_parameters(std::uint64_t seed, Scheme)
    requires requires(const Eigen::Matrix<S, channels, channels>& m) { Inner::from_matrix(m); }
  {
    philox_stream rng(seed, 0);
    Eigen::Matrix<double, channels, channels> q;
    for (int i = 0; i < channels; ++i)
      for (int k = 0; k < channels; ++k) q(i, k) = rng.template normal<double>();
    for (int k = 0; k < channels; ++k) {
      for (int j = 0; j < k; ++j) q.col(k) -= q.col(j).dot(q.col(k)) * q.col(j);
      q.col(k) /= q.col(k).norm();  // a Gaussian draw is singular with probability 0
    }
    inner = Inner::from_matrix(q.template cast<S>());
  }

  auto prepare() const {
    using P = decltype(flowtmpl::prepare(inner));
    return PerPixelBijector<P, Pixels>{{}, flowtmpl::prepare(inner)};
  }

  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    detail::for_each_member_tensor(self.inner, std::string(), f);
  }

 private:
  template <class Derived>
  static Eigen::Matrix<S, channels, Eigen::Dynamic> pixels_of(const Eigen::MatrixBase<Derived>& x) {
    const Eigen::Index n = x.cols();
    Eigen::Matrix<S, channels, Eigen::Dynamic> m(channels, n * Pixels);
    for (Eigen::Index j = 0; j < n; ++j)
      for (int p = 0; p < Pixels; ++p)
        for (int c = 0; c < channels; ++c) m(c, j * Pixels + p) = S(x(c * Pixels + p, j));
    return m;
  }
};

namespace detail {
// Spec bound to Shape: per pixel on an image (Spec bound to the channel count), as
// itself on a vector.
template <class Spec, class Shape, class S, int Position>
consteval auto bind_per_channel() {
  if constexpr (is_image<Shape>::value) {
    using Inner = typename decltype(bind_layer<Spec, Shape::channels, S, Position>())::type;
    return std::type_identity<PerPixelBijector<Inner, Shape::pixels>>{};
  } else {
    return bind_layer<Spec, Shape::size, S, Position>();
  }
}
}  // namespace detail

}  // namespace flowtmpl
