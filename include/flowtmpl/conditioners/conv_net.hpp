// flowtmpl/conditioners/conv_net.hpp: ConvNet<Hidden>, the convolutional conditioner of
// the image couplings (Glow's NN(): Kingma & Dhariwal 2018), with static shapes:
//
//   a1 = relu(conv3x3(x; conv1))       Cin -> Hidden channels, zero padding ("same")
//   a2 = relu(conv1x1(a1; conv2))      Hidden -> Hidden
//   out = conv3x3(a2; conv3)           Hidden -> Cout, started at zero weights and the
//                                      transformer's identity parameters as bias, so
//                                      that the coupling starts as the identity
//
// Parameters (torch's Conv2d layout, weight [out][in][kh][kw] row-major, as
// "conv1.weight" of shape Hidden x (Cin 9), ...): conv1.weight, conv1.bias,
// conv2.weight, conv2.bias, conv3.weight, conv3.bias. reset_parameters draws conv1 and
// conv2 as torch does (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = Cin 9 or Hidden);
// conv3 as well with init::uniform, zero with init::identity_start.
//
// Evaluation works on a padded layout (conv_layout<H, W>): each channel of n images is
// one row of n (H + 2)(W + 2) values with a zero border around every image and a
// margin of W + 3 zeros at both ends, so that a 3x3 convolution is nine products of a
// Cout x Cin tap of the weights with the input row shifted by the tap's offset, over
// all n images at once (the values computed on the border are discarded). One image
// (the per-sample path) and a block of images (the host's block path) are the same
// code; the buffers are the caller's (on the stack for one image).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <boost/hana/define_struct.hpp>

#include "../detail/eigen.hpp"

#include "../detail/members.hpp"
#include "../random.hpp"
#include "conditioner.hpp"

namespace flowtmpl {

template <int H, int W>
struct conv_layout {
  static constexpr int row = W + 2;
  static constexpr int plane = (H + 2) * (W + 2);
  static constexpr int margin = W + 3;
  // the length of a channel's row for n images
  static constexpr long length(long n) { return n * plane + 2 * margin; }
  // the index of pixel (h, w) of image j in a row
  static constexpr long at(long j, int h, int w) { return margin + j * plane + (h + 1) * row + (w + 1); }
  // zeroes everything but the pixels in `channels` rows of n images
  template <class S>
  static void zero_border(S* rows, int channels, long n) {
    const long len = length(n);
    for (int c = 0; c < channels; ++c) {
      S* r = rows + c * len;
      for (long k = 0; k < margin; ++k) r[k] = r[len - 1 - k] = S(0);
      for (long j = 0; j < n; ++j) {
        S* p = r + margin + j * plane;
        for (int k = 0; k < row; ++k) p[k] = p[plane - row + k] = S(0);
        for (int h = 1; h <= H; ++h) p[h * row] = p[h * row + W + 1] = S(0);
      }
    }
  }
};

namespace detail {

template <class S>
using row_map = Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;
template <class S>
using const_row_map =
    Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;
template <class S>
using tap_map = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                           Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
template <class S>
using grad_tap_map =
    Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;

// out (Cout rows) += conv3x3(in (Cin rows)) over the padded layout's span of n images;
// w: [Cout][Cin][3][3]
template <int H, int W, class S>
void conv3x3_accumulate(const S* w, int cout, int cin, const S* in, S* out, long n) {
  using L = conv_layout<H, W>;
  const long len = L::length(n), span = n * L::plane;
  row_map<S> o(out + L::margin, cout, span, Eigen::OuterStride<>(len));
  for (int kh = 0; kh < 3; ++kh)
    for (int kw = 0; kw < 3; ++kw) {
      const long shift = (kh - 1) * L::row + (kw - 1);
      const tap_map<S> tap(w + kh * 3 + kw, cout, cin, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(cin * 9, 9));
      const const_row_map<S> x(in + L::margin + shift, cin, span, Eigen::OuterStride<>(len));
      o.noalias() += tap * x;
    }
}

// The reverse of conv3x3_accumulate for the cotangent g of out (zero outside the
// pixels): adds into gw ([Cout][Cin][3][3]) and, when gin is not null, into gin's rows
// (values on the border are meaningless).
template <int H, int W, class S>
void conv3x3_backward(const S* w, int cout, int cin, const S* in, const S* g, S* gw, S* gin, long n) {
  using L = conv_layout<H, W>;
  const long len = L::length(n), span = n * L::plane;
  const const_row_map<S> go(g + L::margin, cout, span, Eigen::OuterStride<>(len));
  for (int kh = 0; kh < 3; ++kh)
    for (int kw = 0; kw < 3; ++kw) {
      const long shift = (kh - 1) * L::row + (kw - 1);
      const const_row_map<S> x(in + L::margin + shift, cin, span, Eigen::OuterStride<>(len));
      grad_tap_map<S> gtap(gw + kh * 3 + kw, cout, cin, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(cin * 9, 9));
      gtap.noalias() += go * x.transpose();
      if (gin) {
        const tap_map<S> tap(w + kh * 3 + kw, cout, cin, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(cin * 9, 9));
        row_map<S> gi(gin + L::margin + shift, cin, span, Eigen::OuterStride<>(len));
        gi.noalias() += tap.transpose() * go;
      }
    }
}

// The bound network: Cin -> Cout channels on H x W images.
template <int Cin, int Cout, int Hidden, int H, int W, class S>
struct conv_net : parameter_walkers<conv_net<Cin, Cout, Hidden, H, W, S>> {
  using layout = conv_layout<H, W>;
  static constexpr int in_channels = Cin, out_channels = Cout, hidden = Hidden;
  BOOST_HANA_DEFINE_STRUCT(conv_net, (std::array<S, Hidden * Cin * 9>, conv1_weight), (std::array<S, Hidden>, conv1_bias),
                           (std::array<S, Hidden * Hidden>, conv2_weight), (std::array<S, Hidden>, conv2_bias),
                           (std::array<S, Cout * Hidden * 9>, conv3_weight), (std::array<S, Cout>, conv3_bias));
  conv_net() : conv1_weight{}, conv1_bias{}, conv2_weight{}, conv2_bias{}, conv3_weight{}, conv3_bias{} {}

  // The buffers of one evaluation over n images: rows of the padded layout.
  static constexpr long input_size(long n) { return Cin * layout::length(n); }
  static constexpr long hidden_size(long n) { return Hidden * layout::length(n); }
  static constexpr long output_size(long n) { return Cout * layout::length(n); }

  // a1, a2 (the activations, kept for backward) and out from x (its border zero).
  void evaluate(const S* x, S* a1, S* a2, S* out, long n) const {
    const long len = layout::length(n);
    bias_rows(a1, conv1_bias.data(), Hidden, len);
    conv3x3_accumulate<H, W>(conv1_weight.data(), Hidden, Cin, x, a1, n);
    relu(a1, Hidden * len);
    layout::zero_border(a1, Hidden, n);
    bias_rows(a2, conv2_bias.data(), Hidden, len);
    {
      row_map<S> o(a2, Hidden, len, Eigen::OuterStride<>(len));
      const Eigen::Map<const Eigen::Matrix<S, Hidden, Hidden, Eigen::RowMajor>> w2(conv2_weight.data());
      o.noalias() += w2 * const_row_map<S>(a1, Hidden, len, Eigen::OuterStride<>(len));
    }
    relu(a2, Hidden * len);
    layout::zero_border(a2, Hidden, n);
    bias_rows(out, conv3_bias.data(), Cout, len);
    conv3x3_accumulate<H, W>(conv3_weight.data(), Cout, Hidden, a2, out, n);
  }

  // g: the cotangent of out (Cout rows; zeroed here outside the pixels); adds the
  // parameters' cotangents into grad and, when gx is not null, the input's into gx (on
  // the pixels; its border is meaningless). ga1, ga2: scratch of hidden_size(n).
  void backward(const S* x, const S* a1, const S* a2, S* g, conv_net& grad, S* gx, S* ga1, S* ga2, long n) const {
    const long len = layout::length(n);
    layout::zero_border(g, Cout, n);
    add_row_sums(grad.conv3_bias.data(), g, Cout, len);
    for (long k = 0; k < Hidden * len; ++k) ga2[k] = S(0);
    conv3x3_backward<H, W>(conv3_weight.data(), Cout, Hidden, a2, g, grad.conv3_weight.data(), ga2, n);
    for (long k = 0; k < Hidden * len; ++k) ga2[k] = a2[k] > S(0) ? ga2[k] : S(0);  // relu; border: a2 = 0
    add_row_sums(grad.conv2_bias.data(), ga2, Hidden, len);
    {
      const const_row_map<S> g2(ga2, Hidden, len, Eigen::OuterStride<>(len));
      Eigen::Map<Eigen::Matrix<S, Hidden, Hidden, Eigen::RowMajor>> gw2(grad.conv2_weight.data());
      gw2.noalias() += g2 * const_row_map<S>(a1, Hidden, len, Eigen::OuterStride<>(len)).transpose();
      const Eigen::Map<const Eigen::Matrix<S, Hidden, Hidden, Eigen::RowMajor>> w2(conv2_weight.data());
      row_map<S>(ga1, Hidden, len, Eigen::OuterStride<>(len)).noalias() = w2.transpose() * g2;
    }
    for (long k = 0; k < Hidden * len; ++k) ga1[k] = a1[k] > S(0) ? ga1[k] : S(0);
    add_row_sums(grad.conv1_bias.data(), ga1, Hidden, len);
    conv3x3_backward<H, W>(conv1_weight.data(), Hidden, Cin, x, ga1, grad.conv1_weight.data(), gx, n);
  }

  // identity_bias: the Cout biases of the identity start
  void reset(std::uint64_t seed, init scheme, const std::array<S, Cout>& identity_bias) {
    philox_stream rng(seed, 0);
    fill_uniform(conv1_weight.data(), conv1_weight.size(), Cin * 9, rng);
    fill_uniform(conv1_bias.data(), conv1_bias.size(), Cin * 9, rng);
    fill_uniform(conv2_weight.data(), conv2_weight.size(), Hidden, rng);
    fill_uniform(conv2_bias.data(), conv2_bias.size(), Hidden, rng);
    if (scheme == init::uniform) {
      fill_uniform(conv3_weight.data(), conv3_weight.size(), Hidden * 9, rng);
      fill_uniform(conv3_bias.data(), conv3_bias.size(), Hidden * 9, rng);
    } else {
      conv3_weight.fill(S(0));
      conv3_bias = identity_bias;
    }
  }

  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    f("conv1.weight", self.conv1_weight.data(), std::size_t(Hidden), std::size_t(Cin * 9));
    f("conv1.bias", self.conv1_bias.data(), std::size_t(Hidden), std::size_t(0));
    f("conv2.weight", self.conv2_weight.data(), std::size_t(Hidden), std::size_t(Hidden));
    f("conv2.bias", self.conv2_bias.data(), std::size_t(Hidden), std::size_t(0));
    f("conv3.weight", self.conv3_weight.data(), std::size_t(Cout), std::size_t(Hidden * 9));
    f("conv3.bias", self.conv3_bias.data(), std::size_t(Cout), std::size_t(0));
  }

 private:
  static void bias_rows(S* rows, const S* b, int channels, long len) {
    for (int c = 0; c < channels; ++c)
      for (long k = 0; k < len; ++k) rows[c * len + k] = b[c];
  }
  static void relu(S* v, long count) {
    for (long k = 0; k < count; ++k) v[k] = v[k] > S(0) ? v[k] : S(0);
  }
  static void add_row_sums(S* acc, const S* rows, int channels, long len) {
    for (int c = 0; c < channels; ++c) {
      S s(0);
      for (long k = 0; k < len; ++k) s += rows[c * len + k];
      acc[c] += s;
    }
  }
};

}  // namespace detail

// The spec: Hidden channels in both hidden layers.
template <int Hidden = 32>
struct ConvNet {
  static_assert(Hidden >= 1, "flowtmpl: ConvNet<Hidden>: Hidden must be at least 1");
  static constexpr int hidden = Hidden;
  template <int Cin, int Cout, int H, int W, class S>
  using network = detail::conv_net<Cin, Cout, Hidden, H, W, S>;
};

}  // namespace flowtmpl
