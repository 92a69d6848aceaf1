// Tests of flowtmpl/conditioners/mlp.hpp: MLP<hidden...> (and MLPWith<Act, ...>), the
// conditioner of coupling layers. The reference is a forward pass written here from the
// documented layout of the flat parameter array (per layer: weight [out][in] row-major,
// then bias; input [x; c]; activation between layers, none on the output).
#include <flowtmpl/conditioners/mlp.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace mlp_test {

namespace {

double ref_relu(double v) { return v > 0 ? v : 0.0; }
double ref_tanh(double v) { return std::tanh(v); }
double ref_silu(double v) { return v / (1.0 + std::exp(-v)); }
double ref_elu(double v) { return v > 0 ? v : std::expm1(v); }

// The documented forward pass over the flat array `values`.
std::vector<double> reference_mlp(const double* values, const std::vector<int>& widths, const std::vector<double>& x,
                                  const std::vector<double>& c, double (*act)(double)) {
  std::vector<double> h = x;
  h.insert(h.end(), c.begin(), c.end());
  REQUIRE(int(h.size()) == widths[0]);
  std::size_t off = 0;
  const std::size_t layers = widths.size() - 1;
  for (std::size_t l = 0; l < layers; ++l) {
    const int in = widths[l], out = widths[l + 1];
    std::vector<double> next(static_cast<std::size_t>(out));
    for (int o = 0; o < out; ++o) {
      double acc = values[off + std::size_t(out) * std::size_t(in) + std::size_t(o)];  // bias
      for (int i = 0; i < in; ++i)
        acc += values[off + std::size_t(o) * std::size_t(in) + std::size_t(i)] * h[std::size_t(i)];
      next[std::size_t(o)] = l + 1 < layers ? act(acc) : acc;
    }
    off += std::size_t(out) * std::size_t(in) + std::size_t(out);
    h = next;
  }
  return h;
}

template <class Net>
void fill_random(Net& net, std::mt19937_64& gen, double scale) {
  std::uniform_real_distribution<double> u(-scale, scale);
  for (auto& v : net.values) v = u(gen);
}

// widths: In + C, the hidden widths, Out, as the test knows them.
template <class Spec, int In, int Out, int C>
void check_mlp_against_reference(const std::vector<int>& hidden, double (*act)(double)) {
  using Net = typename Spec::template conditioner<In, Out, C, double>;
  std::vector<int> widths{In + C};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(Out);
  std::size_t count = 0;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l)
    count += std::size_t(widths[l + 1]) * std::size_t(widths[l]) + std::size_t(widths[l + 1]);
  STATIC_REQUIRE(Net::inputs == In);
  STATIC_REQUIRE(Net::outputs == Out);
  STATIC_REQUIRE(Net::context == C);
  REQUIRE(Net::parameter_count == count);
  REQUIRE(sizeof(Net) == count * sizeof(double));

  std::mt19937_64 gen(1234 + In * 100 + Out * 10 + C);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  Net net;
  fill_random(net, gen, 1.0);
  const int N = 9;
  Eigen::Matrix<double, In, Eigen::Dynamic> X(In, N);
  Eigen::MatrixXd Ctx(C, N);
  for (int j = 0; j < N; ++j) {
    for (int i = 0; i < In; ++i) X(i, j) = u(gen);
    for (int i = 0; i < C; ++i) Ctx(i, j) = u(gen);
  }
  for (int j = 0; j < N; ++j) {
    const Eigen::Matrix<double, In, 1> x = X.col(j);
    std::vector<double> xv(x.data(), x.data() + In), cv;
    Eigen::VectorXd c = Ctx.col(j);
    for (int i = 0; i < C; ++i) cv.push_back(c[i]);
    const std::vector<double> ref = reference_mlp(net.values.data(), widths, xv, cv, act);
    const Eigen::Matrix<double, Out, 1> y = net.evaluate(x, C > 0 ? c.data() : nullptr);
    for (int o = 0; o < Out; ++o) {
      INFO("sample " << j << ", output " << o);
      CHECK(y[o] == Approx(ref[std::size_t(o)]).epsilon(1e-12).margin(1e-12));
    }
  }
  // the block path: the same per column
  const Eigen::Matrix<double, Out, Eigen::Dynamic> Y = net.evaluate_block(X, C > 0 ? &Ctx : nullptr);
  REQUIRE(Y.cols() == N);
  for (int j = 0; j < N; ++j) {
    const Eigen::Matrix<double, In, 1> x = X.col(j);
    const Eigen::VectorXd c = Ctx.col(j);
    const Eigen::Matrix<double, Out, 1> y = net.evaluate(x, C > 0 ? c.data() : nullptr);
    for (int o = 0; o < Out; ++o) CHECK(std::abs(Y(o, j) - y[o]) <= 1e-12 * std::max(1.0, std::abs(y[o])));
  }
  // the context is read: another context gives another output
  if constexpr (C > 0) {
    const Eigen::Matrix<double, In, 1> x = X.col(0);
    Eigen::VectorXd c = Ctx.col(0);
    const Eigen::Matrix<double, Out, 1> y0 = net.evaluate(x, c.data());
    c[C - 1] += 0.75;
    CHECK(net.evaluate(x, c.data()) != y0);
  }
}

template <class Act>
void check_activation(double (*act)(double)) {
  check_mlp_against_reference<flowtmpl::MLPWith<Act, 5, 3>, 3, 4, 0>({5, 3}, act);
  check_mlp_against_reference<flowtmpl::MLPWith<Act, 5, 3>, 3, 4, 2>({5, 3}, act);
  check_mlp_against_reference<flowtmpl::MLPWith<Act, 6>, 1, 7, 0>({6}, act);
  check_mlp_against_reference<flowtmpl::MLPWith<Act, 4, 6, 3>, 2, 3, 3>({4, 6, 3}, act);
}

}  // namespace

TEST_CASE("MLP evaluates the documented network (relu, the default)", "[conditioners][mlp]") {
  check_activation<flowtmpl::act::relu>(ref_relu);
  // MLP<...> is MLPWith<relu, ...>; ::with<Act> another activation
  check_mlp_against_reference<flowtmpl::MLP<5, 3>, 3, 4, 2>({5, 3}, ref_relu);
  check_mlp_against_reference<flowtmpl::MLP<5, 3>::with<flowtmpl::act::tanh>, 3, 4, 2>({5, 3}, ref_tanh);
  STATIC_REQUIRE(std::is_same_v<flowtmpl::MLP<5, 3>::conditioner<3, 4, 2, double>,
                                flowtmpl::MLPWith<flowtmpl::act::relu, 5, 3>::conditioner<3, 4, 2, double>>);
}
TEST_CASE("MLP evaluates the documented network (tanh)", "[conditioners][mlp]") {
  check_activation<flowtmpl::act::tanh>(ref_tanh);
}
TEST_CASE("MLP evaluates the documented network (silu)", "[conditioners][mlp]") {
  check_activation<flowtmpl::act::silu>(ref_silu);
}
TEST_CASE("MLP evaluates the documented network (elu)", "[conditioners][mlp]") {
  check_activation<flowtmpl::act::elu>(ref_elu);
}

TEST_CASE("MLP in float agrees with the double reference", "[conditioners][mlp]") {
  using Net = flowtmpl::MLPWith<flowtmpl::act::silu, 6, 5>::conditioner<3, 4, 2, float>;
  Net net;
  std::mt19937_64 gen(99);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> vd;
  for (auto& v : net.values) {
    v = float(u(gen));
    vd.push_back(double(v));
  }
  const Eigen::Vector3f x(0.5f, -1.25f, 2.0f);
  const Eigen::Vector2f c(-0.75f, 0.3f);
  const auto y = net.evaluate(x, c.data());
  const auto ref = reference_mlp(vd.data(), {5, 6, 5, 4}, {0.5, -1.25, 2.0}, {double(c[0]), double(c[1])}, ref_silu);
  for (int o = 0; o < 4; ++o) CHECK(double(y[o]) == Approx(ref[std::size_t(o)]).epsilon(1e-5).margin(1e-5));
}

// evaluate_block (dense_rows: tiles of 4 rows x 4 SIMD vectors of samples, then single
// vectors, then single samples) against evaluate per column, on n columns chosen to
// reach every part of it for float and double at any SIMD width up to 16 lanes, with
// widths that are not multiples of 4; a NaN input column gives NaN outputs in that
// column only.
template <class S, class Spec, int In, int Out, int C>
void check_block(Eigen::Index n, S tol) {
  using Net = typename Spec::template conditioner<In, Out, C, S>;
  std::mt19937_64 gen(77 + n);
  std::uniform_real_distribution<double> u(-1.5, 1.5);
  Net net;
  for (auto& v : net.values) v = S(u(gen));
  Eigen::Matrix<S, In, Eigen::Dynamic> X(In, n);
  Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic> Ctx((C > 0 ? C : 1), n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (int i = 0; i < In; ++i) X(i, j) = S(u(gen));
    for (int i = 0; i < (C > 0 ? C : 1); ++i) Ctx(i, j) = S(u(gen));
  }
  const Eigen::Index nan_col = n / 2;
  X(0, nan_col) = std::numeric_limits<S>::quiet_NaN();
  const Eigen::Matrix<S, Out, Eigen::Dynamic> Y = net.evaluate_block(X, C > 0 ? &Ctx : nullptr);
  REQUIRE(Y.cols() == n);
  long bad = 0, nan_wrong = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    const Eigen::Matrix<S, In, 1> x = X.col(j);
    const Eigen::Matrix<S, (C > 0 ? C : 1), 1> c = Ctx.col(j);
    const Eigen::Matrix<S, Out, 1> y = net.evaluate(x, C > 0 ? c.data() : nullptr);
    for (int o = 0; o < Out; ++o) {
      if (j == nan_col) {
        nan_wrong += !std::isnan(Y(o, j)) || !std::isnan(y[o]);
        continue;
      }
      bad += !(std::abs(Y(o, j) - y[o]) <= tol * std::max(S(1), std::abs(y[o])));
    }
  }
  INFO("n = " << n << ", In " << In << ", Out " << Out << ", C " << C);
  CHECK(bad == 0);
  CHECK(nan_wrong == 0);
}

TEST_CASE("MLP's block evaluation equals the per-sample one on every part of its kernel", "[conditioners][mlp]") {
  using flowtmpl::MLP;
  for (Eigen::Index n : {Eigen::Index(1), Eigen::Index(7), Eigen::Index(67), Eigen::Index(150), Eigen::Index(256)}) {
    check_block<double, MLP<7, 64>, 4, 9, 0>(n, 1e-12);
    check_block<double, MLP<13>, 3, 6, 2>(n, 1e-12);
    check_block<double, MLP<6, 5>::with<flowtmpl::act::tanh>, 2, 3, 0>(n, 1e-12);
    check_block<float, MLP<64, 64>, 4, 8, 0>(n, 1e-4f);
    check_block<float, MLP<5, 11>, 3, 7, 1>(n, 1e-4f);
  }
}

// The gradient's block pass (evaluate_block_taped: dense_rows per layer, keeping the
// hidden layers) against evaluate_block, which it replaces in the gradient's forward
// pass: bitwise the same outputs. Its backward_block against the per-sample backward
// summed over the columns (the per-sample path of the gradient): the inputs', the
// context's and the parameters' cotangents. n reaches every part of dense_rows as above;
// a NaN input column gives NaN outputs in that column only, input cotangents that are
// NaN exactly where the per-sample ones are (a ReLU's derivative at NaN is 0, as
// per sample), and NaN parameter cotangents wherever the per-sample sums are NaN.
template <class S, class Spec, int In, int Out, int C>
void check_block_gradient(Eigen::Index n, S tol, bool with_nan) {
  using Net = typename Spec::template conditioner<In, Out, C, S>;
  constexpr int CR = C > 0 ? C : 1;
  std::mt19937_64 gen(91 + n);
  std::uniform_real_distribution<double> u(-1.5, 1.5);
  Net net;
  for (auto& v : net.values) v = S(u(gen));
  Eigen::Matrix<S, In, Eigen::Dynamic> X(In, n);
  Eigen::Matrix<S, CR, Eigen::Dynamic> Ctx(CR, n);
  Eigen::Matrix<S, Out, Eigen::Dynamic> G(Out, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (int i = 0; i < In; ++i) X(i, j) = S(u(gen));
    for (int i = 0; i < CR; ++i) Ctx(i, j) = S(u(gen));
    for (int o = 0; o < Out; ++o) G(o, j) = S(u(gen));
  }
  const Eigen::Index nan_col = with_nan ? n / 2 : -1;
  if (with_nan) X(0, nan_col) = std::numeric_limits<S>::quiet_NaN();
  typename Net::block_tape t;
  const Eigen::Matrix<S, Out, Eigen::Dynamic> Y = [&] {
    if constexpr (C > 0)
      return Eigen::Matrix<S, Out, Eigen::Dynamic>(net.evaluate_block_taped(X, Ctx, t));
    else
      return Eigen::Matrix<S, Out, Eigen::Dynamic>(net.evaluate_block_taped(X, t));
  }();
  const Eigen::Matrix<S, Out, Eigen::Dynamic> Yref = net.evaluate_block(X, C > 0 ? &Ctx : nullptr);
  INFO("n = " << n << ", In " << In << ", Out " << Out << ", C " << C << (with_nan ? ", a NaN column" : ""));
  long differ = 0;
  for (Eigen::Index j = 0; j < n; ++j)
    for (int o = 0; o < Out; ++o)
      differ += !(Y(o, j) == Yref(o, j) || (std::isnan(Y(o, j)) && std::isnan(Yref(o, j))));
  CHECK(differ == 0);

  Net gblock{}, gref{};
  Eigen::Matrix<S, CR, Eigen::Dynamic> GC = Eigen::Matrix<S, CR, Eigen::Dynamic>::Zero(CR, n);
  const Eigen::Matrix<S, In, Eigen::Dynamic> GX = net.backward_block(t, G, gblock, C > 0 ? &GC : nullptr);
  REQUIRE(GX.cols() == n);
  long bad = 0, nan_wrong = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    typename Net::tape tp;
    const Eigen::Matrix<S, In, 1> x = X.col(j);
    const Eigen::Matrix<S, CR, 1> c = Ctx.col(j);
    (void)net.evaluate_taped(x, C > 0 ? c.data() : nullptr, tp);
    Eigen::Matrix<S, CR, 1> gc = Eigen::Matrix<S, CR, 1>::Zero();
    const Eigen::Matrix<S, Out, 1> g = G.col(j);
    const Eigen::Matrix<S, In, 1> gx = net.backward(tp, g, &gref, C > 0 ? gc.data() : nullptr);
    for (int i = 0; i < In; ++i) {
      if (std::isnan(gx[i]) || std::isnan(GX(i, j))) {
        nan_wrong += std::isnan(gx[i]) != std::isnan(GX(i, j)) || j != nan_col;
        continue;
      }
      bad += !(std::abs(GX(i, j) - gx[i]) <= tol * std::max(S(1), std::abs(gx[i])));
    }
    if constexpr (C > 0) {
      for (int i = 0; i < C; ++i) {
        if (std::isnan(gc[i]) || std::isnan(GC(i, j)))
          nan_wrong += std::isnan(gc[i]) != std::isnan(GC(i, j)) || j != nan_col;
        else
          bad += !(std::abs(GC(i, j) - gc[i]) <= tol * std::max(S(1), std::abs(gc[i])));
      }
    }
  }
  long grad_bad = 0, grad_nan = 0;
  for (std::size_t k = 0; k < gref.values.size(); ++k) {
    if (std::isnan(gref.values[k])) {
      grad_nan += std::isnan(gblock.values[k]);
      continue;
    }
    // a sum over n columns: judged on the scale of the terms (n of size about 1)
    grad_bad += !(std::abs(gblock.values[k] - gref.values[k]) <= tol * std::max(S(n), std::abs(gref.values[k])));
  }
  CHECK(bad == 0);
  CHECK(nan_wrong == 0);
  CHECK(grad_bad == 0);
  if (with_nan) {
    // the per-sample sums are NaN wherever the NaN column reaches a parameter
    CHECK(grad_nan > 0);
    long ref_nan = 0;
    for (const S v : gref.values) ref_nan += std::isnan(v);
    CHECK(grad_nan == ref_nan);
  }
}

TEST_CASE("MLP's taped block pass equals evaluate_block bitwise, and its backward the per-sample one",
          "[conditioners][mlp]") {
  using flowtmpl::MLP;
  for (const bool with_nan : {false, true})
    for (Eigen::Index n : {Eigen::Index(1), Eigen::Index(7), Eigen::Index(67), Eigen::Index(128), Eigen::Index(150)}) {
      check_block_gradient<double, MLP<7, 64>, 4, 9, 0>(n, 1e-12, with_nan);
      check_block_gradient<double, MLP<13>, 3, 6, 2>(n, 1e-12, with_nan);
      check_block_gradient<double, MLP<6, 5>::with<flowtmpl::act::tanh>, 2, 3, 0>(n, 1e-12, with_nan);
      check_block_gradient<float, MLP<64, 64>, 4, 8, 0>(n, 1e-4f, with_nan);
      check_block_gradient<float, MLP<5, 11>::with<flowtmpl::act::elu>, 3, 7, 1>(n, 1e-4f, with_nan);
    }
}

TEST_CASE("MLP's initialisation schemes", "[conditioners][mlp]") {
  using Net = flowtmpl::MLP<6, 5>::conditioner<3, 4, 2, double>;
  const std::vector<int> widths{5, 6, 5, 4};
  const double output_bias[4] = {0.25, -1.5, 3.0, 0.0};
  auto layer_check = [&](const Net& net, bool identity_start) {
    std::size_t off = 0;
    for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
      const int in = widths[l], out = widths[l + 1];
      const bool last = l + 2 == widths.size();
      const double bound = 1.0 / std::sqrt(double(in));
      const std::size_t nw = std::size_t(out) * std::size_t(in);
      double max_abs = 0;
      int negative = 0;
      for (std::size_t k = 0; k < nw + std::size_t(out); ++k) {
        double v = net.values[off + k];
        if (last && k >= nw) v -= output_bias[k - nw];
        INFO("layer " << l << ", entry " << k);
        if (last && identity_start) {
          CHECK(v == 0.0);
        } else {
          CHECK(std::abs(v) <= bound * (1 + 1e-12));
          max_abs = std::max(max_abs, std::abs(v));
          negative += v < 0;
        }
      }
      if (!(last && identity_start)) {
        // a draw over the whole interval, not a constant
        INFO("layer " << l);
        CHECK(max_abs > 0.6 * bound);
        CHECK(negative > 0);
        CHECK(negative < int(nw) + out);
      }
      if (last && identity_start)
        for (int o = 0; o < out; ++o) CHECK(net.values[off + nw + std::size_t(o)] == output_bias[o]);
      off += nw + std::size_t(out);
    }
  };
  SECTION("identity_start: hidden layers uniform, the last layer's weights 0 and bias the given one") {
    Net net;
    flowtmpl::philox_stream rng(7, 0);
    net.reset_parameters(rng, flowtmpl::init::identity_start, output_bias);
    layer_check(net, true);
    // hence the output is output_bias whatever the input
    const Eigen::Vector3d x(0.3, -2.0, 1.0);
    const Eigen::Vector2d c(5.0, -5.0);
    const Eigen::Vector4d y = net.evaluate(x, c.data());
    for (int o = 0; o < 4; ++o) CHECK(y[o] == output_bias[o]);
  }
  SECTION("uniform: every layer uniform in +-1/sqrt(fan_in), the last bias plus output_bias") {
    Net net;
    flowtmpl::philox_stream rng(8, 0);
    net.reset_parameters(rng, flowtmpl::init::uniform, output_bias);
    layer_check(net, false);
  }
  SECTION("the draws depend on the stream") {
    Net a, b;
    flowtmpl::philox_stream r1(1, 0), r2(2, 0);
    a.reset_parameters(r1, flowtmpl::init::uniform, output_bias);
    b.reset_parameters(r2, flowtmpl::init::uniform, output_bias);
    CHECK(a.values != b.values);
    Net a2;
    flowtmpl::philox_stream r1b(1, 0);
    a2.reset_parameters(r1b, flowtmpl::init::uniform, output_bias);
    CHECK(a.values == a2.values);
  }
}

TEST_CASE("MLP names its parameter blocks l.weight, l.bias over the flat array", "[conditioners][mlp]") {
  using Net = flowtmpl::MLP<6, 5>::conditioner<3, 4, 2, double>;
  Net net;
  struct block {
    std::string name;
    const double* p;
    std::size_t n;
  };
  std::vector<block> seen;
  const Net& cnet = net;
  cnet.for_each_parameter_block([&](const std::string& n, const double* p, std::size_t k) {
    seen.push_back({n, p, k});
  });
  const std::vector<std::string> names{"0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"};
  const std::vector<std::size_t> sizes{6 * 5, 6, 5 * 6, 5, 4 * 5, 4};
  REQUIRE(seen.size() == names.size());
  const double* expect = net.values.data();
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].name == names[i]);
    CHECK(seen[i].n == sizes[i]);
    CHECK(seen[i].p == expect);
    expect += sizes[i];
  }
  CHECK(expect == net.values.data() + net.values.size());
  // the non-const walk gives writable pointers to the same memory
  net.for_each_parameter_block([&](const std::string& n, double* p, std::size_t k) {
    if (n == "1.bias") p[k - 1] = 42.0;
  });
  CHECK(net.values[6 * 5 + 6 + 5 * 6 + 4] == 42.0);
  CHECK(std::string(Net::name) == "MLP");
}

}  // namespace mlp_test
