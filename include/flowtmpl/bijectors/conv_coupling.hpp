// flowtmpl/bijectors/conv_coupling.hpp: ConvCoupling<Transformer, ConvNet<Hidden>,
// Mask>, the coupling layer on images of RealNVP and Glow (Dinh et al. 2017, Kingma &
// Dhariwal 2018), bound to an image<C, H, W> by the shape pipeline (shapes.hpp).
//
//   forward:  y_a = x_a,  y_b,i = tau(x_b,i; theta_i),  theta = net(x_a)
//   inverse:  x_a = y_a,  x_b,i = tau^-1(y_b,i; theta_i), theta = net(y_a)
// log-det = sum_i log tau'. Written from the data side (Inverse<compose<...>>), the
// forward is the normalizing direction, as in Glow.
//
// Masks (image_mask::), what conditions what:
//   channels<half::first>    the first C/2 channels condition the other C - C/2 (Glow);
//                            the network reads C/2 channels and gives P (C - C/2)
//   channels<half::second>   the last C/2 condition the first C - C/2
//   checkerboard<parity::even>  the pixels with h + w even condition the others, in
//                            every channel (RealNVP); the network reads the image with
//                            the transformed pixels set to 0 and gives P C channels
//   checkerboard<parity::odd>   the other way round
// Parameter k of the transformer at a transformed value (channel c, pixel p) is output
// channel t P + k of the network at p, t the index of c among the transformed channels
// (checkerboard: t = c). Feature i of the transformer is the value's rank among the
// transformed values in storage order.
//
// Domain: the transformer's, for every value (checked mode checks the whole input
// against it, as Coupling's). Structure: dense (the partition is not contiguous in
// general). Log-det: input-dependent (zero for a volume-preserving transformer).
// Parameters: "net.conv1.weight", ... (conditioners/conv_net.hpp) and the
// transformer's own ("transformer.<name>"). Default-constructed the network is 0 and
// its last bias the transformer's identity parameters: the identity map;
// reset_parameters draws a start whose last layer is zero (identity_start), as Glow.
// Cost per image: the network (2 3x3 and one 1x1 convolution: Hidden (Cin 9 + Hidden +
// Cout 9) H W multiply-adds), then one transformer call per transformed value. The
// per-sample path keeps its activations on the stack (conv_net's buffers for one
// image); forward_block / inverse_block / vjp_block run n images through the network
// as one set of matrix products.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "../detail/eigen.hpp"

#include "../conditioners/conditioner.hpp"
#include "../conditioners/conv_net.hpp"
#include "../core.hpp"
#include "../detail/interval.hpp"
#include "../detail/members.hpp"
#include "../direction.hpp"
#include "../shapes.hpp"
#include "../transformers/transformer.hpp"

namespace flowtmpl {

namespace image_mask {
enum class half { first, second };
enum class parity { even, odd };
template <half Conditioning = half::first>
struct channels {
  template <int C>
  static constexpr int net_in = C / 2;  // conditioning channels
  template <int C>
  static constexpr int transformed_channels = C - C / 2;
  // the conditioning channel k, the transformed channel t
  template <int C>
  static constexpr int conditioning_channel(int k) {
    return Conditioning == half::first ? k : C - C / 2 + k;
  }
  template <int C>
  static constexpr int transformed_channel(int t) {
    return Conditioning == half::first ? C / 2 + t : t;
  }
};
template <parity Conditioning = parity::even>
struct checkerboard {
  static constexpr bool checkerboard_mask = true;
  template <int C>
  static constexpr int net_in = C;  // every channel, the transformed pixels set to 0
  template <int C>
  static constexpr int transformed_channels = C;
  static constexpr bool conditions(int h, int w) { return ((h + w) % 2 == 0) == (Conditioning == parity::even); }
};
}  // namespace image_mask

namespace detail {
template <class M>
concept checkerboard_mask = requires { M::checkerboard_mask; };
}  // namespace detail

template <int C, int H, int W, class S, class TSpec, class NetSpec, class Mask>
struct ConvCouplingBijector : detail::parameter_walkers<ConvCouplingBijector<C, H, W, S, TSpec, NetSpec, Mask>> {
  static constexpr bool is_checkerboard = detail::checkerboard_mask<Mask>;
  static constexpr int pixels = H * W;
  static constexpr int dim = C * H * W;
  static constexpr int conditioning_pixels = [] {
    int n = 0;
    if constexpr (is_checkerboard)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w) n += Mask::conditions(h, w) ? 1 : 0;
    return n;
  }();
  static constexpr int transformed_count = is_checkerboard ? C * (pixels - conditioning_pixels)
                                                           : Mask::template transformed_channels<C> * pixels;
  using transformer_type = typename TSpec::template transformer<transformed_count, S>;
  static constexpr int P = transformer_type::params_per_feature;
  static constexpr int net_in = is_checkerboard ? C : Mask::template net_in<C>;
  static constexpr int net_out = is_checkerboard ? P * C : P * Mask::template transformed_channels<C>;
  using net_type = typename NetSpec::template network<net_in, net_out, H, W, S>;
  using layout = conv_layout<H, W>;

  using scalar_type = S;
  using structure = flowtmpl::structure::dense;
  static constexpr flowtmpl::log_det_kind log_det_kind =
      transformer_type::volume_preserving ? flowtmpl::log_det_kind::zero : flowtmpl::log_det_kind::input_dependent;
  static constexpr const char* name = "ConvCoupling";
  static constexpr std::size_t parameter_count = detail::member_count<net_type>() + detail::member_count<transformer_type>();
  using vec = Eigen::Matrix<S, dim, 1>;

  net_type net;
  transformer_type transformer;

  ConvCouplingBijector() { net.conv3_bias = identity_bias(); }

  static std::array<S, net_out> identity_bias() {
    std::array<S, net_out> b{};
    S q[P];
    transformer_type::identity_parameters(q);
    for (int t = 0; t < net_out / P; ++t)
      for (int k = 0; k < P; ++k) b[t * P + k] = q[k];
    return b;
  }

  // ---- one image -------------------------------------------------------------------
  struct workspace {
    std::array<S, net_type::input_size(1)> in;
    std::array<S, net_type::hidden_size(1)> a1, a2;
    std::array<S, net_type::output_size(1)> out;
    std::array<S, net_type::shifted_size(1)> cols;
    std::array<S, net_type::scratch_size(1)> scratch;
  };

  vec forward(const vec& x) const { return pass<direction::forward>(x).value; }
  vec inverse(const vec& y) const { return pass<direction::inverse>(y).value; }
  S log_det(const vec& x) const { return pass<direction::forward>(x).log_det; }
  value_and_log_det<vec, S> forward_and_log_det(const vec& x) const { return pass<direction::forward>(x); }
  value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const { return pass<direction::inverse>(y); }

  vec forward_vjp(const vec& x, const vec& gy, S gld, ConvCouplingBijector& grad) const {
    return vjp<direction::forward>(x, gy, gld, grad);
  }
  vec inverse_vjp(const vec& y, const vec& gx, S gld, ConvCouplingBijector& grad) const {
    return vjp<direction::inverse>(y, gx, gld, grad);
  }

  // ---- a block of images (D x n, in place), for the host's block path ---------------
  template <class Block, class LogDets>
  void forward_block(Block& v, LogDets& ld) const {
    block_pass<direction::forward>(v, ld);
  }
  template <class Block, class LogDets>
  void inverse_block(Block& v, LogDets& ld) const {
    block_pass<direction::inverse>(v, ld);
  }
  // V: the input of direction Dir; G: the output's cotangents on entry, the input's on
  // return; the parameters' cotangents summed over the columns into grad.
  template <direction Dir>
  void vjp_block(const Eigen::Matrix<S, dim, Eigen::Dynamic>& V, Eigen::Matrix<S, dim, Eigen::Dynamic>& G, S gld,
                 ConvCouplingBijector& grad) const {
    const long n = V.cols();
    block_buffers& b = buffers(n);
    for (long j = 0; j < n; ++j) gather_input(V.col(j).data(), b.in.data(), j, n);
    layout::zero_border(b.in.data(), net_in, n);
    net.evaluate(b.in.data(), b.a1.data(), b.a2.data(), b.out.data(), b.cols.data(), b.scratch.data(), n);
    std::fill(b.gout.begin(), b.gout.end(), S(0));
    std::fill(b.gin.begin(), b.gin.end(), S(0));
    for (long j = 0; j < n; ++j)
      transform_vjp<Dir>(V.col(j).data(), G.col(j).data(), gld, b.out.data(), b.gout.data(), j, n, grad);
    net.backward(b.a1.data(), b.a2.data(), b.cols.data(), b.gout.data(), grad.net, b.gin.data(), b.ga1.data(),
                 b.ga2.data(), b.scratch.data(), n);
    for (long j = 0; j < n; ++j) scatter_input_cotangent(b.gin.data(), G.col(j).data(), j, n);
  }

  void reset_parameters(std::uint64_t seed, init scheme) { net.reset(seed, scheme, identity_bias()); }

  // the transformer's domain, for every value (checked mode checks the whole input)
  static constexpr interval<S> forward_domain()
    requires requires { transformer_type::domain(); }
  {
    return transformer_type::domain();
  }
  static constexpr interval<S> inverse_domain()
    requires requires { transformer_type::domain(); }
  {
    if constexpr (requires { transformer_type::image(); })
      return transformer_type::image();
    else
      return transformer_type::domain();
  }

  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    detail::for_each_member_tensor(self.net, std::string("net."), f);
    detail::for_each_member_tensor(self.transformer, std::string("transformer."), f);
  }

 private:
  // The buffers of a block of n images, one set per thread, grown when a larger block
  // comes (so that training allocates them once, not per block).
  struct block_buffers {
    std::vector<S> in, a1, a2, out, cols, scratch, gout, gin, ga1, ga2;
  };
  static block_buffers& buffers(long n) {
    thread_local block_buffers b;
    auto fit = [](std::vector<S>& v, long size) {
      if (long(v.size()) < size) v.resize(std::size_t(size));
    };
    fit(b.in, net_type::input_size(n));
    fit(b.gin, net_type::input_size(n));
    fit(b.a1, net_type::hidden_size(n));
    fit(b.a2, net_type::hidden_size(n));
    fit(b.ga1, net_type::hidden_size(n));
    fit(b.ga2, net_type::hidden_size(n));
    fit(b.out, net_type::output_size(n));
    fit(b.gout, net_type::output_size(n));
    fit(b.cols, net_type::shifted_size(n));
    fit(b.scratch, net_type::scratch_size(n));
    return b;
  }

  // the network's input (padded layout, image j of n) from the values v of one image
  static void gather_input(const S* v, S* in, long j, long n) {
    const long len = layout::length(n);
    for (int k = 0; k < net_in; ++k)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w) {
          S value;
          if constexpr (is_checkerboard)
            value = Mask::conditions(h, w) ? v[(k * H + h) * W + w] : S(0);
          else
            value = v[(Mask::template conditioning_channel<C>(k) * H + h) * W + w];
          in[k * len + layout::at(j, h, w)] = value;
        }
  }
  // adds the cotangent of the network's input (image j) into the image's cotangent g
  static void scatter_input_cotangent(const S* gin, S* g, long j, long n) {
    const long len = layout::length(n);
    for (int k = 0; k < net_in; ++k)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w) {
          const S gv = gin[k * len + layout::at(j, h, w)];
          if constexpr (is_checkerboard) {
            if (Mask::conditions(h, w)) g[(k * H + h) * W + w] += gv;
          } else {
            g[(Mask::template conditioning_channel<C>(k) * H + h) * W + w] += gv;
          }
        }
  }
  // calls f(i, index in the image, t, h, w) for every transformed value, i its rank
  template <class F>
  static void each_transformed(F&& f) {
    int i = 0;
    if constexpr (is_checkerboard) {
      for (int c = 0; c < C; ++c)
        for (int h = 0; h < H; ++h)
          for (int w = 0; w < W; ++w)
            if (!Mask::conditions(h, w)) f(i++, (c * H + h) * W + w, c, h, w);
    } else {
      for (int t = 0; t < Mask::template transformed_channels<C>; ++t) {
        const int c = Mask::template transformed_channel<C>(t);
        for (int h = 0; h < H; ++h)
          for (int w = 0; w < W; ++w) f(i++, (c * H + h) * W + w, t, h, w);
      }
    }
  }
  // the transformer over image j's values v (in place), its log-det returned
  template <direction Dir>
  S transform(S* v, const S* out, long j, long n) const {
    const long len = layout::length(n);
    S ld(0);
    each_transformed([&](int i, int idx, int t, int h, int w) {
      S q[P];
      for (int k = 0; k < P; ++k) q[k] = out[(t * P + k) * len + layout::at(j, h, w)];
      S l;
      v[idx] = Dir == direction::forward ? transformer.forward(i, v[idx], q, l) : transformer.inverse(i, v[idx], q, l);
      ld += l;
    });
    return ld;
  }
  // the transformer's vector-Jacobian product for image j: v its input (direction Dir),
  // g the output's cotangent on entry and the input's (transformed part) on return; the
  // parameters' cotangents into gout, the transformer's own into grad
  template <direction Dir>
  void transform_vjp(const S* v, S* g, S gld, const S* out, S* gout, long j, long n, ConvCouplingBijector& grad) const {
    const long len = layout::length(n);
    each_transformed([&](int i, int idx, int t, int h, int w) {
      S q[P], gq[P] = {};
      for (int k = 0; k < P; ++k) q[k] = out[(t * P + k) * len + layout::at(j, h, w)];
      g[idx] = Dir == direction::forward
                   ? detail::transformer_forward_vjp(transformer, i, v[idx], q, g[idx], gld, gq, &grad.transformer)
                   : detail::transformer_inverse_vjp(transformer, i, v[idx], q, g[idx], gld, gq, &grad.transformer);
      for (int k = 0; k < P; ++k) gout[(t * P + k) * len + layout::at(j, h, w)] += gq[k];
    });
  }

  template <direction Dir>
  value_and_log_det<vec, S> pass(const vec& v) const {
    workspace ws;
    ws.in.fill(S(0));
    gather_input(v.data(), ws.in.data(), 0, 1);
    net.evaluate(ws.in.data(), ws.a1.data(), ws.a2.data(), ws.out.data(), ws.cols.data(), ws.scratch.data(), 1);
    value_and_log_det<vec, S> r{v, S(0)};
    r.log_det = transform<Dir>(r.value.data(), ws.out.data(), 0, 1);
    return r;
  }

  template <direction Dir>
  vec vjp(const vec& v, const vec& g, S gld, ConvCouplingBijector& grad) const {
    struct backward_workspace {
      std::array<S, net_type::output_size(1)> gout;
      std::array<S, net_type::input_size(1)> gin;
      std::array<S, net_type::hidden_size(1)> ga1, ga2;
    };
    workspace ws;
    backward_workspace bw;
    ws.in.fill(S(0));
    gather_input(v.data(), ws.in.data(), 0, 1);
    net.evaluate(ws.in.data(), ws.a1.data(), ws.a2.data(), ws.out.data(), ws.cols.data(), ws.scratch.data(), 1);
    bw.gout.fill(S(0));
    bw.gin.fill(S(0));
    vec gv = g;
    transform_vjp<Dir>(v.data(), gv.data(), gld, ws.out.data(), bw.gout.data(), 0, 1, grad);
    net.backward(ws.a1.data(), ws.a2.data(), ws.cols.data(), bw.gout.data(), grad.net, bw.gin.data(), bw.ga1.data(),
                 bw.ga2.data(), ws.scratch.data(), 1);
    scatter_input_cotangent(bw.gin.data(), gv.data(), 0, 1);
    return gv;
  }

  template <direction Dir, class Block, class LogDets>
  void block_pass(Block& v, LogDets& ld) const {
    const long n = v.cols();
    block_buffers& b = buffers(n);
    for (long j = 0; j < n; ++j) gather_input(v.col(j).data(), b.in.data(), j, n);
    layout::zero_border(b.in.data(), net_in, n);
    net.evaluate(b.in.data(), b.a1.data(), b.a2.data(), b.out.data(), b.cols.data(), b.scratch.data(), n);
    for (long j = 0; j < n; ++j) ld(j) += transform<Dir>(v.col(j).data(), b.out.data(), j, n);
  }
};

// The spec.
template <class Transformer, class Net = ConvNet<32>, class Mask = image_mask::channels<>>
struct ConvCoupling : shape_spec<ConvCoupling<Transformer, Net, Mask>> {
  static constexpr bool arguments_are_valid = TransformerSpec<Transformer> &&
                                              requires { typename Net::template network<1, 1, 2, 2, double>; } &&
                                              requires { Mask::template net_in<2>; };
  static_assert(TransformerSpec<Transformer>,
                "flowtmpl: ConvCoupling<Transformer, Net, Mask>: Transformer must be a transformer spec (Affine, "
                "SigmoidAffine, Spline<K>, ...)");
  static_assert(requires { typename Net::template network<1, 1, 2, 2, double>; },
                "flowtmpl: ConvCoupling<Transformer, Net, Mask>: Net must be a convolutional conditioner, ConvNet<Hidden>");
  static_assert(requires { Mask::template net_in<2>; },
                "flowtmpl: ConvCoupling<Transformer, Net, Mask>: Mask must be image_mask::channels<...> or "
                "image_mask::checkerboard<...>");
  template <class Shape, class S, int Position>
  static consteval auto bind_shape() {
    if constexpr (!detail::image_or_diagnose<ConvCoupling, Shape, Position>() || !arguments_are_valid) {
      return std::type_identity<detail::invalid_layer<Shape::size, S>>{};  // said above in words
    } else {
      static_assert(detail::checkerboard_mask<Mask> || Shape::channels >= 2,
                    "flowtmpl: ConvCoupling with image_mask::channels needs at least 2 channels (squeeze first, or use "
                    "image_mask::checkerboard)");
      static_assert(!detail::checkerboard_mask<Mask> || Shape::pixels >= 2,
                    "flowtmpl: ConvCoupling with image_mask::checkerboard needs at least 2 pixels");
      return std::type_identity<
          ConvCouplingBijector<Shape::channels, Shape::height, Shape::width, S, Transformer, Net, Mask>>{};
    }
  }
  template <class Shape>
  using output_shape = Shape;
};

}  // namespace flowtmpl
