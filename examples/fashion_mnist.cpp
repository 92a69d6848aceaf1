// A multi-scale Glow-style flow trained on Fashion-MNIST within a wall-clock budget:
// test bits per dimension, and a picture of samples at temperatures 0.5, 0.7 and 1.0
// under a row of real test images.
//
//   fashion_mnist DATA_DIR OUT_DIR [--budget SECONDS] [--quick] [--batch N] [--seed S]
//
// DATA_DIR holds the decompressed IDX files train-images-idx3-ubyte and
// t10k-images-idx3-ubyte (tools/run-fashion-mnist.sh installs Debian's
// dataset-fashion-mnist and decompresses them). --budget: the training time (default
// 1800 s); --quick: 20 s and the first 1000 test images (what the test suite runs);
// --test-images N: the first N test images only.
//
// The model (docs/images.md), written from the data side:
//   v = (x + u) / 256 (uniform dequantization), y = logit(0.05 + 0.9 v),
//   squeeze to 4 x 14 x 14, 4 steps of [ActNorm, 1x1 convolution, affine coupling],
//   split: 2 channels to the base, squeeze to 8 x 7 x 7, 4 steps, all to the base.
// Each coupling's network: 3x3 convolution to 32 channels, ReLU, 1x1, ReLU, 3x3 started
// at zero; the scale sigmoid(raw + 2) + 1e-3.
#include <flowtmpl/dequantization.hpp>
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/idx.hpp>
#include <flowtmpl/training.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <numeric>
#include <string>
#include <vector>

#include "image_grid.hpp"

namespace ft = flowtmpl;

namespace {

using S = float;
constexpr int side = 28;
constexpr int D = side * side;

using Step = ft::compose<ft::ActNorm, ft::LUConv, ft::ConvCoupling<ft::SigmoidAffine, ft::ConvNet<32>>>;
using Spec = ft::Flow<ft::StandardNormal,
                      ft::Inverse<ft::compose<ft::LogitPreprocessing<0.05>, ft::Squeeze, Step, Step, Step, Step, ft::Split,
                                              ft::Squeeze, Step, Step, Step, Step>>>;
using Model = ft::bind_shape_t<Spec, ft::image<1, side, side>, S>;

struct options {
  std::string data, out;
  double budget = 1800;
  bool quick = false;
  long batch = 64;
  long test_images = 0;  // 0: all (1000 with --quick)
  std::uint64_t seed = 1;
};

options parse(int argc, char** argv) {
  options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument("fashion_mnist: " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--budget") o.budget = std::stod(value());
    else if (a == "--quick") o.quick = true;
    else if (a == "--batch") o.batch = std::stol(value());
    else if (a == "--seed") o.seed = std::stoull(value());
    else if (a == "--test-images") o.test_images = std::stol(value());
    else if (a.rfind("--", 0) == 0) throw std::invalid_argument("fashion_mnist: unknown option " + a);
    else positional.push_back(a);
  }
  if (positional.size() != 2)
    throw std::invalid_argument(
        "usage: fashion_mnist DATA_DIR OUT_DIR [--budget SECONDS] [--quick] [--batch N] [--seed S] [--test-images N]");
  o.data = positional[0];
  o.out = positional[1];
  if (o.quick) o.budget = std::min(o.budget, 20.0);
  if (!(o.budget > 0)) throw std::invalid_argument("fashion_mnist: --budget must be positive");
  if (o.batch < 2) throw std::invalid_argument("fashion_mnist: --batch must be at least 2");
  if (o.test_images < 0) throw std::invalid_argument("fashion_mnist: --test-images must be at least 1 (0: all)");
  if (o.quick && o.test_images == 0) o.test_images = 1000;
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) try {
  const options o = parse(argc, argv);
  const auto train = ft::io::read_idx_images(o.data + "/train-images-idx3-ubyte");
  const auto test = ft::io::read_idx_images(o.data + "/t10k-images-idx3-ubyte");
  for (const auto* set : {&train, &test})
    if (set->rows != side || set->cols != side)
      throw std::runtime_error("fashion_mnist: the images are " + std::to_string(set->rows) + " x " +
                               std::to_string(set->cols) + ", expected 28 x 28");
  const long n_train = long(train.count);
  const long n_test = o.test_images > 0 ? std::min<long>(o.test_images, long(test.count)) : long(test.count);
  std::printf("Fashion-MNIST: %ld training images, %ld test images; %zu parameters; budget %.0f s\n", n_train, n_test,
              ft::parameter_count_v<Model>, o.budget);

  Model flow;
  ft::reset_parameters(flow, o.seed);
  ft::adam<S> opt;
  std::vector<S> params(ft::parameter_count_v<Model>), grads(params.size());
  ft::copy_parameters(flow, params.data());

  // a batch: images order[at, at + batch), dequantized with noise keyed on the step
  std::vector<long> order(static_cast<std::size_t>(n_train));
  std::iota(order.begin(), order.end(), 0L);
  std::vector<std::uint8_t> bytes(std::size_t(o.batch) * D);
  long at = n_train, epoch = 0, step = 0, seen = 0;
  auto next_batch = [&]() {
    if (at + o.batch > n_train) {  // a new epoch: shuffle (Fisher-Yates on the seed's stream)
      ft::philox_stream rng(o.seed + 1000, std::uint64_t(epoch++));
      for (long k = n_train - 1; k > 0; --k) std::swap(order[std::size_t(k)], order[std::size_t(rng.next_u32() % std::uint32_t(k + 1))]);
      at = 0;
    }
    for (long j = 0; j < o.batch; ++j)
      std::memcpy(bytes.data() + std::size_t(j) * D, train.pixels.data() + std::size_t(order[std::size_t(at + j)]) * D, D);
    at += o.batch;
    return ft::uniform_dequantize<D, S>(bytes, o.seed + 2000, std::uint64_t(step) * std::uint64_t(o.batch));
  };

  const auto t0 = std::chrono::steady_clock::now();
  ft::initialize(flow, next_batch());  // ActNorm from the first batch, as Glow
  ft::copy_parameters(flow, params.data());
  double running = 0, last_report = 0;
  Model grad = ft::make_gradient(flow);
  while (seconds_since(t0) < o.budget) {
    const auto v = next_batch();
    const S nll = ft::nll_and_gradient(flow, v, grad);
    if (!std::isfinite(double(nll))) throw std::runtime_error("fashion_mnist: the training loss is not finite at step " + std::to_string(step));
    ft::copy_parameters(grad, grads.data());
    opt.step(params.data(), grads.data(), params.size(), 1e-3);
    ft::assign_parameters(flow, params.data());
    const double bpd = ft::bits_per_dim(-double(nll), D);
    running = step == 0 ? bpd : 0.98 * running + 0.02 * bpd;
    ++step;
    seen += o.batch;
    const double t = seconds_since(t0);
    if (t - last_report >= (o.quick ? 5.0 : 30.0)) {
      std::printf("  %6.0f s  step %6ld  epoch %ld  %8ld images  %.1f images/s  train bits/dim %.3f\n", t, step, epoch,
                  seen, double(seen) / t, running);
      std::fflush(stdout);
      last_report = t;
    }
  }
  const double train_seconds = seconds_since(t0);

  // test bits/dim: one dequantization draw per test image, fixed noise
  const std::span<const std::uint8_t> test_bytes(test.pixels.data(), std::size_t(n_test) * D);
  const auto v_test = ft::uniform_dequantize<D, S>(test_bytes, 20240613);
  const double test_bpd = ft::bits_per_dim(flow, v_test);
  std::printf("trained %.0f s: %ld steps of %ld images, %.1f images/s; test bits/dim %.4f (%ld images)\n", train_seconds,
              step, o.batch, double(seen) / train_seconds, test_bpd, n_test);

  // the picture: a row of test images, then samples at T = 0.5, 0.7, 1.0
  constexpr int cols = 10;
  const double temps[] = {0.5, 0.7, 1.0};
  plot::image_grid grid(4, cols, side, side, 4, 2);
  for (int c = 0; c < cols; ++c) {
    std::vector<float> img(D);
    for (int k = 0; k < D; ++k) img[std::size_t(k)] = float(test.pixels[std::size_t(c) * D + k]) / 255.0f;
    grid.set(0, c, img.data());
  }
  for (int r = 0; r < 3; ++r) {
    const auto x = ft::sample(flow, cols, 77 + std::uint64_t(r), S(temps[r]));
    for (int c = 0; c < cols; ++c) grid.set(r + 1, c, x.col(c).data());
  }
  const std::string png = o.out + "/fashion_mnist.png";
  grid.write_png(png);
  std::printf("{\"flow\": \"flowtmpl\", \"train_seconds\": %.1f, \"train_images\": %ld, \"images_per_second\": %.1f, "
              "\"steps\": %ld, \"batch\": %ld, \"test_bpd\": %.4f, \"test_images\": %ld, \"params\": %zu}\n",
              train_seconds, seen, double(seen) / train_seconds, step, o.batch, test_bpd, n_test,
              ft::parameter_count_v<Model>);
  std::printf("the picture is %s (rows: test images; samples at temperature 0.5, 0.7, 1.0)\n", png.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
