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
// margin of W + 3 zeros at both ends, so that a tap of a 3x3 convolution is the row
// shifted by the tap's offset, over all n images at once (the values computed on the
// border are discarded). conv1 is one product with the nine shifted copies of its
// input; conv3 one product of its nine stacked taps with a2, added at the nine shifts.
// One image (the per-sample path) and a block of images (the host's block path) are
// the same code; the buffers are the caller's (on the stack for one image).
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

// The offset of tap k = 3 kh + kw of a 3x3 kernel in the padded layout's rows.
template <int H, int W>
constexpr long tap_shift(int k) {
  return (k / 3 - 1) * conv_layout<H, W>::row + (k % 3 - 1);
}

// The bound network: Cin -> Cout channels on H x W images.
//   conv1 as one product with the nine shifted copies of the input (cols, 9 Cin rows,
//   kept for the weight gradient); conv3 as one product of the nine stacked taps
//   (9 Cout x Hidden) with a2, whose rows are then added at the nine shifts; the
//   reverse sweep the same way round. Every product has an inner dimension of at least
//   9 Cin, Hidden or 9 Cout, where the nine separate per-tap products had Cin or Cout.
template <int Cin, int Cout, int Hidden, int H, int W, class S>
struct conv_net : parameter_walkers<conv_net<Cin, Cout, Hidden, H, W, S>> {
  using layout = conv_layout<H, W>;
  static constexpr int in_channels = Cin, out_channels = Cout, hidden = Hidden;
  static constexpr int taps = 9;
  BOOST_HANA_DEFINE_STRUCT(conv_net, (std::array<S, Hidden * Cin * 9>, conv1_weight), (std::array<S, Hidden>, conv1_bias),
                           (std::array<S, Hidden * Hidden>, conv2_weight), (std::array<S, Hidden>, conv2_bias),
                           (std::array<S, Cout * Hidden * 9>, conv3_weight), (std::array<S, Cout>, conv3_bias));
  conv_net() : conv1_weight{}, conv1_bias{}, conv2_weight{}, conv2_bias{}, conv3_weight{}, conv3_bias{} {}

  // The buffers of one evaluation over n images (rows of the padded layout, or of its
  // span of n (H + 2)(W + 2) columns): the input, the activations and the output, the
  // shifted input (kept from evaluate for backward), and scratch.
  static constexpr long span(long n) { return n * layout::plane; }
  static constexpr long input_size(long n) { return Cin * layout::length(n); }
  static constexpr long hidden_size(long n) { return Hidden * layout::length(n); }
  static constexpr long output_size(long n) { return Cout * layout::length(n); }
  static constexpr long shifted_size(long n) { return 9 * Cin * span(n); }
  static constexpr long scratch_size(long n) { return 9 * (Cout > Cin ? Cout : Cin) * layout::length(n); }

  // a1, a2 (kept for backward), out and the shifted input cols from x (its border zero);
  // scratch of scratch_size(n).
  void evaluate(const S* x, S* a1, S* a2, S* out, S* cols, S* scratch, long n) const {
    const long len = layout::length(n), sp = span(n), m = layout::margin;
    // conv1: a1 = W1 (Hidden x 9 Cin, torch's layout) cols + b1
    for (int i = 0; i < Cin; ++i)
      for (int k = 0; k < 9; ++k) {
        const S* src = x + i * len + m + tap_shift<H, W>(k);
        S* dst = cols + (i * 9 + k) * sp;
        for (long q = 0; q < sp; ++q) dst[q] = src[q];
      }
    const Eigen::Map<const Eigen::Matrix<S, Hidden, Cin * 9, Eigen::RowMajor>> w1(conv1_weight.data());
    bias_rows(a1, conv1_bias.data(), Hidden, len);
    row_map<S>(a1 + m, Hidden, sp, Eigen::OuterStride<>(len)).noalias() +=
        w1 * const_row_map<S>(cols, Cin * 9, sp, Eigen::OuterStride<>(sp));
    relu(a1, Hidden * len);
    layout::zero_border(a1, Hidden, n);
    // conv2 (1x1)
    const Eigen::Map<const Eigen::Matrix<S, Hidden, Hidden, Eigen::RowMajor>> w2(conv2_weight.data());
    bias_rows(a2, conv2_bias.data(), Hidden, len);
    row_map<S>(a2 + m, Hidden, sp, Eigen::OuterStride<>(len)).noalias() +=
        w2 * const_row_map<S>(a1 + m, Hidden, sp, Eigen::OuterStride<>(len));
    relu(a2, Hidden * len);
    layout::zero_border(a2, Hidden, n);
    // conv3: T (tap-major 9 Cout x len) = stacked taps a2, out[o] = b3 + sum_k T[k Cout + o] shifted
    const auto w3 = stacked_conv3();
    row_map<S>(scratch, 9 * Cout, len, Eigen::OuterStride<>(len)).noalias() =
        w3 * const_row_map<S>(a2, Hidden, len, Eigen::OuterStride<>(len));
    bias_rows(out, conv3_bias.data(), Cout, len);
    for (int k = 0; k < 9; ++k)
      for (int o = 0; o < Cout; ++o) {
        const S* t = scratch + (k * Cout + o) * len + m + tap_shift<H, W>(k);
        S* dst = out + o * len + m;
        for (long q = 0; q < sp; ++q) dst[q] += t[q];
      }
  }

  // g: the cotangent of out (Cout rows; zeroed here outside the pixels); adds the
  // parameters' cotangents into grad and, when gx is not null, the input's into gx (on
  // the pixels; its border is meaningless). cols: what evaluate left there; ga1, ga2:
  // hidden_size(n) scratch; scratch: scratch_size(n).
  void backward(const S* a1, const S* a2, const S* cols, S* g, conv_net& grad, S* gx, S* ga1, S* ga2, S* scratch,
                long n) const {
    const long len = layout::length(n), sp = span(n), m = layout::margin;
    layout::zero_border(g, Cout, n);
    add_row_sums(grad.conv3_bias.data(), g, Cout, len);
    // G9[k Cout + o][p] = g[o][p - shift_k] over the span: ga2 = stacked^T G9 and the
    // stacked taps' gradient G9 a2^T
    for (int k = 0; k < 9; ++k)
      for (int o = 0; o < Cout; ++o) {
        const S* src = g + o * len + m - tap_shift<H, W>(k);
        S* dst = scratch + (k * Cout + o) * sp;
        for (long q = 0; q < sp; ++q) dst[q] = src[q];
      }
    const const_row_map<S> g9(scratch, 9 * Cout, sp, Eigen::OuterStride<>(sp));
    {
      const auto w3 = stacked_conv3();
      for (long k = 0; k < Hidden * len; ++k) ga2[k] = S(0);
      row_map<S>(ga2 + m, Hidden, sp, Eigen::OuterStride<>(len)).noalias() = w3.transpose() * g9;
      const Eigen::Matrix<S, 9 * Cout, Hidden> gw3 = g9 * const_row_map<S>(a2 + m, Hidden, sp, Eigen::OuterStride<>(len)).transpose();
      for (int k = 0; k < 9; ++k)
        for (int o = 0; o < Cout; ++o)
          for (int i = 0; i < Hidden; ++i) grad.conv3_weight[(o * Hidden + i) * 9 + k] += gw3(k * Cout + o, i);
    }
    for (long k = 0; k < Hidden * len; ++k) ga2[k] = a2[k] > S(0) ? ga2[k] : S(0);  // relu; border: a2 = 0
    add_row_sums(grad.conv2_bias.data(), ga2, Hidden, len);
    {
      const const_row_map<S> g2(ga2 + m, Hidden, sp, Eigen::OuterStride<>(len));
      Eigen::Map<Eigen::Matrix<S, Hidden, Hidden, Eigen::RowMajor>> gw2(grad.conv2_weight.data());
      gw2.noalias() += g2 * const_row_map<S>(a1 + m, Hidden, sp, Eigen::OuterStride<>(len)).transpose();
      const Eigen::Map<const Eigen::Matrix<S, Hidden, Hidden, Eigen::RowMajor>> w2(conv2_weight.data());
      for (long k = 0; k < Hidden * len; ++k) ga1[k] = S(0);
      row_map<S>(ga1 + m, Hidden, sp, Eigen::OuterStride<>(len)).noalias() = w2.transpose() * g2;
    }
    for (long k = 0; k < Hidden * len; ++k) ga1[k] = a1[k] > S(0) ? ga1[k] : S(0);
    add_row_sums(grad.conv1_bias.data(), ga1, Hidden, len);
    const const_row_map<S> g1(ga1 + m, Hidden, sp, Eigen::OuterStride<>(len));
    Eigen::Map<Eigen::Matrix<S, Hidden, Cin * 9, Eigen::RowMajor>> gw1(grad.conv1_weight.data());
    gw1.noalias() += g1 * const_row_map<S>(cols, Cin * 9, sp, Eigen::OuterStride<>(sp)).transpose();
    if (gx) {
      // U[k Cin + i] = sum_h W1[h][i][k] ga1[h], added into gx[i] at the shift
      const Eigen::Map<const Eigen::Matrix<S, Hidden, Cin * 9, Eigen::RowMajor>> w1(conv1_weight.data());
      row_map<S>(scratch, Cin * 9, sp, Eigen::OuterStride<>(sp)).noalias() = w1.transpose() * g1;
      for (int i = 0; i < Cin; ++i)
        for (int k = 0; k < 9; ++k) {
          const S* u = scratch + (i * 9 + k) * sp;
          S* dst = gx + i * len + m + tap_shift<H, W>(k);
          for (long q = 0; q < sp; ++q) dst[q] += u[q];
        }
    }
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
  // conv3's taps stacked tap-major: row k Cout + o, column i = W3[o][i][k]
  Eigen::Matrix<S, 9 * Cout, Hidden, Eigen::RowMajor> stacked_conv3() const {
    Eigen::Matrix<S, 9 * Cout, Hidden, Eigen::RowMajor> w;
    for (int o = 0; o < Cout; ++o)
      for (int i = 0; i < Hidden; ++i)
        for (int k = 0; k < 9; ++k) w(k * Cout + o, i) = conv3_weight[(o * Hidden + i) * 9 + k];
    return w;
  }
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
