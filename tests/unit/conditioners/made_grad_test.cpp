// Gradients of MADE and ResidualMADE (flowtmpl/conditioners/made.hpp; the interface is
// documented in conditioners/conditioner.hpp): evaluate_taped and backward.
//
// Checked for each configuration, on the network and on its sorted_copy(), in double:
//   taped     evaluate_taped(x, c) is bitwise evaluate(x, c)
//   nullptr   backward with grad and gctx nullptr returns bitwise the same input
//             cotangent and writes nothing; gctx alone gives bitwise the same context
//             cotangent; a second call adds again (2 g exactly)
//   input     g^T d out/dx against central differences of <g, evaluate(x, c)>
//   params    every parameter: masked weights get exactly 0 (and are 0), every other
//             value's cotangent against central differences
//   context   g^T d out/dc against central differences
//   sorted    the sorted copy's cotangents equal the network's (parameters permuted by
//             sorted_copy() of the gradient) to rounding
// and, for a few configurations, float against double to ~1e-4.
//
// Central differences: Richardson extrapolation of the steps h and h/2, h = 1e-3 max(1,
// |v|). relu is not differentiable where a pre-activation is 0 and elu's second
// derivative jumps there: a step must not move any recorded pre-activation across 0
// (their signs at v +- h, v +- h/2 must be those at v), else h shrinks by 8 (a
// piecewise-linear function is then differenced exactly). A value whose steps all cross
// fails the test with a message: the point would have to be changed. Tolerance: 1e-6
// relative, with an absolute floor 1e-9.
#include <flowtmpl/conditioners/made.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace made_grad_test {

namespace ft = flowtmpl;

namespace {

// One network behind a small interface, so that the checks below are compiled once
// and each configuration instantiates only the library's code.
struct made_ops {
  int D = 0, M = 0, C = 0;
  virtual ~made_ops() = default;
  virtual std::string name() const = 0;
  virtual double* values() = 0;
  virtual std::size_t parameter_count() const = 0;
  virtual int linear_count() const = 0;
  virtual ft::detail::made_linear linear(int li) const = 0;
  virtual std::string linear_name(int li) const = 0;
  virtual bool allowed(int li, int o, int i) const = 0;
  virtual const char* validate() const = 0;
  virtual void evaluate(const double* x, const double* c, double* y) const = 0;
  // evaluate_taped; pattern: the signs of every pre-activation in the tape
  virtual void evaluate_taped(const double* x, const double* c, double* y, std::vector<bool>* pattern) const = 0;
  // evaluate_taped(x, c), then backward(g) into gx, grad (parameter cotangents, or
  // nullptr) and gctx (or nullptr)
  virtual void backward(const double* x, const double* c, const double* g, double* gx, double* grad,
                        double* gctx) const = 0;
  // the sorted copy (nullptr for a sorted network); a parameter array in sorted order
  virtual std::unique_ptr<made_ops> sorted() const = 0;
  virtual std::vector<double> sort_values(const double* v) const = 0;
};

template <class Net>
struct made_adapter final : made_ops {
  static constexpr int d = Net::inputs, c = Net::context;
  Net net;
  explicit made_adapter(const Net& n) : net(n) {
    D = d;
    M = Net::outputs_per_feature;
    C = c;
  }
  using in_vec = typename Net::in_vec;
  using out_vec = typename Net::out_vec;
  std::string name() const override { return Net::name; }
  double* values() override { return net.values.data(); }
  std::size_t parameter_count() const override { return Net::parameter_count; }
  int linear_count() const override { return Net::n_linear; }
  ft::detail::made_linear linear(int li) const override { return Net::linears[std::size_t(li)]; }
  std::string linear_name(int li) const override { return Net::linear_name(li); }
  bool allowed(int li, int o, int i) const override { return Net::allowed(li, o, i); }
  const char* validate() const override { return net.validate(); }
  void evaluate(const double* x, const double* ctx, double* y) const override {
    Eigen::Map<out_vec> ym(y);
    ym = net.evaluate(Eigen::Map<const in_vec>(x), ctx);
  }
  void evaluate_taped(const double* x, const double* ctx, double* y, std::vector<bool>* pattern) const override {
    typename Net::tape tp;
    Eigen::Map<out_vec> ym(y);
    ym = net.evaluate_taped(Eigen::Map<const in_vec>(x), ctx, tp);
    if (!pattern) return;
    pattern->clear();
    for (const double v : tp.pre) pattern->push_back(v > 0);
    if constexpr (c > 0)
      for (const double v : tp.cpre) pattern->push_back(v > 0);
  }
  void backward(const double* x, const double* ctx, const double* g, double* gx, double* grad,
                double* gctx) const override {
    typename Net::tape tp;
    net.evaluate_taped(Eigen::Map<const in_vec>(x), ctx, tp);
    Net* gnet = nullptr;
    Net gn;
    if (grad) {
      std::copy(grad, grad + Net::parameter_count, gn.values.begin());
      gnet = &gn;
    }
    Eigen::Map<in_vec> gxm(gx);
    gxm = net.backward(tp, Eigen::Map<const out_vec>(g), gnet, gctx);
    if (grad) std::copy(gn.values.begin(), gn.values.end(), grad);
  }
  std::unique_ptr<made_ops> sorted() const override {
    if constexpr (requires { net.sorted_copy(); })
      return std::make_unique<made_adapter<typename Net::sorted_type>>(net.sorted_copy());
    else
      return nullptr;
  }
  std::vector<double> sort_values(const double* v) const override {
    if constexpr (requires { net.sorted_copy(); }) {
      Net n;
      std::copy(v, v + Net::parameter_count, n.values.begin());
      const auto s = n.sorted_copy();
      return std::vector<double>(s.values.begin(), s.values.end());
    } else {
      return {};
    }
  }
};

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(double) * a.size()) == 0;
}

bool close(double analytic, double numeric) {
  return std::abs(analytic - numeric) <= std::max(1e-9, 1e-6 * std::abs(numeric));
}

// <g, net(x, c)> and the activation pattern at (x, c)
struct probe_result {
  double value;
  std::vector<bool> pattern;
};
probe_result probe(const made_ops& net, const double* x, const double* c, const std::vector<double>& g) {
  std::vector<double> y(g.size());
  probe_result r{0.0, {}};
  net.evaluate_taped(x, c, y.data(), &r.pattern);
  for (std::size_t i = 0; i < g.size(); ++i) r.value += g[i] * y[i];
  return r;
}

// d/dt f(t) at 0 for f(t).value; false when every step crossed a kink
bool central_difference(const std::function<probe_result(double)>& f, double scale, double& out) {
  const probe_result base = f(0.0);
  for (double h = 1e-3 * scale; h > 1e-9 * scale; h /= 8) {
    const probe_result p1 = f(h), m1 = f(-h), p2 = f(h / 2), m2 = f(-h / 2);
    if (p1.pattern != base.pattern || m1.pattern != base.pattern || p2.pattern != base.pattern ||
        m2.pattern != base.pattern)
      continue;
    const double d1 = (p1.value - m1.value) / (2 * h), d2 = (p2.value - m2.value) / h;
    out = (4 * d2 - d1) / 3;
    return true;
  }
  return false;
}

struct point {
  std::vector<double> x, c, g;
  const double* ctx() const { return c.empty() ? nullptr : c.data(); }
};
point draw_point(int D, int M, int C, std::uint64_t seed) {
  ft::philox_stream rng(seed, 7);
  point p;
  for (int i = 0; i < D; ++i) p.x.push_back(rng.normal<double>());
  for (int i = 0; i < C; ++i) p.c.push_back(rng.normal<double>());
  for (int i = 0; i < D * M; ++i) p.g.push_back(rng.normal<double>());
  return p;
}

struct cotangents {
  std::vector<double> gx, grad, gc;
};

void require_near(const std::vector<double>& a, const std::vector<double>& b, double rel, const std::string& what) {
  INFO(what);
  REQUIRE(a.size() == b.size());
  double scale = 0;
  for (const double v : b) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < b.size(); ++i) {
    INFO("index " << i << ": " << a[i] << " vs " << b[i]);
    CHECK(std::abs(a[i] - b[i]) <= rel * (std::abs(b[i]) + 0.01 * scale));
  }
}

// Every check of the header's comment on one network; returns the cotangents.
cotangents check_network(made_ops& net, const point& p, const std::string& what) {
  INFO(what);
  const int D = net.D, C = net.C;
  const std::size_t P = net.parameter_count();
  REQUIRE(net.validate() == nullptr);
  const double* ctx = p.ctx();
  double* values = net.values();

  // taped
  std::vector<double> y(p.g.size()), y0(p.g.size());
  net.evaluate_taped(p.x.data(), ctx, y.data(), nullptr);
  net.evaluate(p.x.data(), ctx, y0.data());
  REQUIRE(same_bits(y, y0));

  // nullptr
  std::vector<double> gx0(std::size_t(D), -1.0);
  net.backward(p.x.data(), ctx, p.g.data(), gx0.data(), nullptr, nullptr);
  cotangents r{std::vector<double>(std::size_t(D)), std::vector<double>(P, 0.0), std::vector<double>(std::size_t(C), 0.0)};
  net.backward(p.x.data(), ctx, p.g.data(), r.gx.data(), r.grad.data(), C > 0 ? r.gc.data() : nullptr);
  REQUIRE(same_bits(r.gx, gx0));
  std::vector<double> gx2(std::size_t(D), 0.0), gc2(std::size_t(C), 0.0), twice = r.grad;
  if (C > 0) {
    net.backward(p.x.data(), ctx, p.g.data(), gx2.data(), nullptr, gc2.data());
    REQUIRE(same_bits(gx2, gx0));
    REQUIRE(same_bits(gc2, r.gc));
  }
  // a second call adds the same again (each parameter gets one term: 2 g exactly; the
  // context one term per context layer)
  net.backward(p.x.data(), ctx, p.g.data(), gx2.data(), twice.data(), C > 0 ? gc2.data() : nullptr);
  REQUIRE(same_bits(gx2, gx0));
  for (std::size_t k = 0; k < P; ++k) REQUIRE(twice[k] == 2 * r.grad[k]);
  {
    std::vector<double> doubled;
    for (const double v : r.gc) doubled.push_back(2 * v);
    require_near(gc2, doubled, 1e-14, "context cotangent added twice");
  }

  // input
  for (int i = 0; i < D; ++i) {
    double fd = 0;
    const bool ok = central_difference(
        [&](double t) {
          std::vector<double> x = p.x;
          x[std::size_t(i)] += t;
          return probe(net, x.data(), ctx, p.g);
        },
        std::max(1.0, std::abs(p.x[std::size_t(i)])), fd);
    INFO("input " << i << ": analytic " << r.gx[std::size_t(i)] << ", central difference " << fd);
    REQUIRE(ok);
    CHECK(close(r.gx[std::size_t(i)], fd));
  }

  // params
  std::size_t masked = 0, differenced = 0;
  for (int li = 0; li < net.linear_count(); ++li) {
    const ft::detail::made_linear l = net.linear(li);
    for (int o = 0; o < l.out; ++o)
      for (int i = 0; i <= l.in; ++i) {  // i = in: the bias
        const std::size_t k = i < l.in ? l.offset + std::size_t(o) * std::size_t(l.in) + std::size_t(i)
                                       : l.offset + std::size_t(l.out) * std::size_t(l.in) + std::size_t(o);
        INFO(net.linear_name(li) << (i < l.in ? ".weight" : ".bias") << " (" << o << ", " << i << "): analytic "
                                 << r.grad[k]);
        if (i < l.in && !net.allowed(li, o, i)) {
          REQUIRE(values[k] == 0.0);
          REQUIRE(r.grad[k] == 0.0);
          REQUIRE(!std::signbit(r.grad[k]));
          ++masked;
          continue;
        }
        const double v = values[k];
        double fd = 0;
        const bool ok = central_difference(
            [&](double t) {
              values[k] = v + t;
              probe_result pr = probe(net, p.x.data(), ctx, p.g);
              values[k] = v;
              return pr;
            },
            std::max(1.0, std::abs(v)), fd);
        INFO("central difference " << fd);
        REQUIRE(ok);
        CHECK(close(r.grad[k], fd));
        ++differenced;
      }
  }
  REQUIRE(masked + differenced == P);
  if (D > 1) REQUIRE(masked > 0);

  // context
  for (int j = 0; j < C; ++j) {
    double fd = 0;
    const bool ok = central_difference(
        [&](double t) {
          std::vector<double> c = p.c;
          c[std::size_t(j)] += t;
          return probe(net, p.x.data(), c.data(), p.g);
        },
        std::max(1.0, std::abs(p.c[std::size_t(j)])), fd);
    INFO("context " << j << ": analytic " << r.gc[std::size_t(j)] << ", central difference " << fd);
    REQUIRE(ok);
    CHECK(close(r.gc[std::size_t(j)], fd));
  }
  return r;
}

// A network and its sorted copy through check_network; the two agree.
void check_with_sorted(made_ops& net, std::uint64_t seed) {
  const point p = draw_point(net.D, net.M, net.C, seed);
  const std::string what = net.name() + " D=" + std::to_string(net.D) + " M=" + std::to_string(net.M) +
                           " C=" + std::to_string(net.C) + " seed " + std::to_string(seed);
  const cotangents r = check_network(net, p, what);
  const std::unique_ptr<made_ops> sorted = net.sorted();
  REQUIRE(sorted);
  const cotangents rs = check_network(*sorted, p, what + " (sorted)");
  require_near(rs.gx, r.gx, 1e-12, what + ", sorted: input cotangent");
  require_near(rs.gc, r.gc, 1e-12, what + ", sorted: context cotangent");
  require_near(rs.grad, net.sort_values(r.grad.data()), 1e-12, what + ", sorted: parameter cotangents");
}

// The network of Spec bound to (D, M, C) with random parameters (init::uniform and a
// random output bias, or init::identity_start), checked unsorted and sorted.
template <class Spec, int D, int M, int C>
void check_config(std::uint64_t seed, ft::init scheme = ft::init::uniform) {
  using Net = typename Spec::template conditioner<D, M, C, double>;
  Net net;
  ft::philox_stream rng(seed, 0);
  std::array<double, D * M> output_bias;
  for (auto& b : output_bias) b = 0.5 * rng.normal<double>();
  net.reset_parameters(rng, scheme, output_bias.data());
  made_adapter<Net> a(net);
  check_with_sorted(a, seed);
}

template <class A>
std::vector<double> to_vector(const A& a) {
  std::vector<double> v;
  for (std::size_t i = 0; i < std::size_t(a.size()); ++i) v.push_back(double(a[i]));
  return v;
}
template <class A>
bool same_bits(const A& a, const A& b) {
  return std::memcmp(a.data(), b.data(), sizeof(a[0]) * std::size_t(a.size())) == 0;
}

// float against double
template <class Spec, int D, int M, int C>
void check_float(std::uint64_t seed) {
  using NetD = typename Spec::template conditioner<D, M, C, double>;
  using NetF = typename Spec::template conditioner<D, M, C, float>;
  NetF nf;
  ft::philox_stream rng(seed, 0);
  std::array<float, D * M> output_bias{};
  nf.reset_parameters(rng, ft::init::uniform, output_bias.data());
  NetD nd;  // the same network
  for (std::size_t k = 0; k < NetD::parameter_count; ++k) nd.values[k] = double(nf.values[k]);
  const point p = draw_point(D, M, C, seed);
  Eigen::Matrix<float, D, 1> xf;
  std::array<float, (C > 0 ? C : 1)> cf{};
  Eigen::Matrix<float, D * M, 1> gf;
  for (int i = 0; i < D; ++i) xf[i] = float(p.x[std::size_t(i)]);
  for (int j = 0; j < C; ++j) cf[std::size_t(j)] = float(p.c[std::size_t(j)]);
  for (int i = 0; i < D * M; ++i) gf[i] = float(p.g[std::size_t(i)]);
  const typename NetD::in_vec xd = xf.template cast<double>();
  std::array<double, (C > 0 ? C : 1)> cd{};
  for (std::size_t j = 0; j < cd.size(); ++j) cd[j] = double(cf[j]);
  const typename NetD::out_vec gd = gf.template cast<double>();

  typename NetF::tape tf;
  const auto yf = nf.evaluate_taped(xf, C > 0 ? cf.data() : nullptr, tf);
  REQUIRE(same_bits(yf, nf.evaluate(xf, C > 0 ? cf.data() : nullptr)));
  NetF grad_f;
  grad_f.values.fill(0.0f);
  std::array<float, (C > 0 ? C : 1)> gcf{};
  const auto gxf = nf.backward(tf, gf, &grad_f, C > 0 ? gcf.data() : nullptr);

  typename NetD::tape td;
  const auto yd = nd.evaluate_taped(xd, C > 0 ? cd.data() : nullptr, td);
  NetD grad_d;
  grad_d.values.fill(0.0);
  std::array<double, (C > 0 ? C : 1)> gcd{};
  const auto gxd = nd.backward(td, gd, &grad_d, C > 0 ? gcd.data() : nullptr);

  require_near(to_vector(yf), to_vector(yd), 1e-4, "float: outputs");
  require_near(to_vector(gxf), to_vector(gxd), 1e-4, "float: input cotangent");
  require_near(to_vector(gcf), to_vector(gcd), 1e-4, "float: context cotangent");
  require_near(to_vector(grad_f.values), to_vector(grad_d.values), 1e-4, "float: parameter cotangents");
  for (int li = 0; li < NetF::n_linear; ++li) {
    const auto& l = NetF::linears[std::size_t(li)];
    for (int o = 0; o < l.out; ++o)
      for (int i = 0; i < l.in; ++i)
        if (!NetF::allowed(li, o, i)) REQUIRE(grad_f.values[l.offset + std::size_t(o) * l.in + i] == 0.0f);
  }
}

// (D, M, C): every D in {1, 3, 5}, M in {2, 3}, C in {0, 2}
template <class Spec>
void check_grid(std::uint64_t seed) {
  check_config<Spec, 1, 2, 0>(seed + 1);
  check_config<Spec, 1, 3, 2>(seed + 2);
  check_config<Spec, 3, 2, 0>(seed + 3);
  check_config<Spec, 3, 3, 2>(seed + 4);
  check_config<Spec, 5, 2, 2>(seed + 5);
  check_config<Spec, 5, 3, 0>(seed + 6);
}
template <class Spec>
void check_some(std::uint64_t seed) {
  check_config<Spec, 3, 2, 2>(seed + 1);
  check_config<Spec, 5, 3, 0>(seed + 2);
}

}  // namespace

// The gradient's block pass of the feedforward MADE without context
// (evaluate_block_taped: evaluate_block's dense_rows per layer, keeping the
// pre-activations) against evaluate_block, which it replaces in the gradient's forward
// pass: bitwise the same outputs; and its backward_block against the per-sample backward
// summed over the columns. n reaches every part of dense_rows (tiles of 4 rows x 4 SIMD
// vectors, single vectors, single samples) at any SIMD width up to 16 lanes; a NaN input
// column gives NaN outputs in that column only and cotangents that are NaN exactly
// where the per-sample ones are.
template <class Spec, class S, int D, int M>
void check_block_pass(Eigen::Index n, S tol, bool with_nan) {
  using Net = typename Spec::template conditioner<D, M, 0, S>;
  std::mt19937_64 gen(std::uint64_t(1000 + n));
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Net net;
  for (auto& v : net.values) v = S(u(gen));
  Eigen::Matrix<S, D, Eigen::Dynamic> X(D, n);
  Eigen::Matrix<S, D * M, Eigen::Dynamic> G(D * M, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (int i = 0; i < D; ++i) X(i, j) = S(u(gen));
    for (int o = 0; o < D * M; ++o) G(o, j) = S(u(gen));
  }
  const Eigen::Index nan_col = with_nan ? n / 2 : -1;
  if (with_nan) X(0, nan_col) = std::numeric_limits<S>::quiet_NaN();
  typename Net::block_tape t;
  const Eigen::Matrix<S, D * M, Eigen::Dynamic> Y = net.evaluate_block_taped(X, t);
  const Eigen::Matrix<S, D * M, Eigen::Dynamic> Yref = net.evaluate_block(X, static_cast<const Eigen::Matrix<S, 1, Eigen::Dynamic>*>(nullptr));
  INFO(Net::name << " D " << D << " M " << M << ", n = " << n << (with_nan ? ", a NaN column" : ""));
  long differ = 0;
  for (Eigen::Index j = 0; j < n; ++j)
    for (int o = 0; o < D * M; ++o)
      differ += !(Y(o, j) == Yref(o, j) || (std::isnan(Y(o, j)) && std::isnan(Yref(o, j))));
  CHECK(differ == 0);
  Net gblock, gref;
  gblock.values.fill(S(0));
  gref.values.fill(S(0));
  const Eigen::Matrix<S, D, Eigen::Dynamic> GX = net.backward_block(t, G, gblock);
  long bad = 0, nan_wrong = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    typename Net::tape tp;
    const typename Net::in_vec x = X.col(j);
    (void)net.evaluate_taped(x, nullptr, tp);
    const typename Net::out_vec g = G.col(j);
    const typename Net::in_vec gx = net.backward(tp, g, &gref, nullptr);
    for (int i = 0; i < D; ++i) {
      if (std::isnan(gx[i]) || std::isnan(GX(i, j)))
        nan_wrong += std::isnan(gx[i]) != std::isnan(GX(i, j)) || j != nan_col;
      else
        bad += !(std::abs(GX(i, j) - gx[i]) <= tol * std::max(S(1), std::abs(gx[i])));
    }
  }
  long grad_bad = 0;
  for (std::size_t k = 0; k < gref.values.size(); ++k) {
    if (std::isnan(gref.values[k]) || std::isnan(gblock.values[k])) {
      grad_bad += std::isnan(gref.values[k]) != std::isnan(gblock.values[k]);
      continue;
    }
    grad_bad += !(std::abs(gblock.values[k] - gref.values[k]) <= tol * std::max(S(n), std::abs(gref.values[k])));
  }
  CHECK(bad == 0);
  CHECK(nan_wrong == 0);
  CHECK(grad_bad == 0);
}

TEST_CASE("MADE's taped block pass equals evaluate_block bitwise, and its backward the per-sample one",
          "[gradients][made]") {
  for (const bool with_nan : {false, true})
    for (Eigen::Index n : {Eigen::Index(1), Eigen::Index(7), Eigen::Index(67), Eigen::Index(128), Eigen::Index(150)}) {
      check_block_pass<ft::MADE<8, 8>, double, 5, 3>(n, 1e-12, with_nan);
      check_block_pass<ft::MADE<7, 6, 5>::with<ft::act::tanh>, double, 4, 2>(n, 1e-12, with_nan);
      check_block_pass<ft::MADE<64, 64>, float, 8, 2>(n, 1e-4f, with_nan);
    }
}

TEST_CASE("MADE<8, 8> gradients (relu)", "[gradients][made]") { check_grid<ft::MADE<8, 8>>(100); }

TEST_CASE("ResidualMADE<8, 2> gradients (relu)", "[gradients][made]") { check_grid<ft::ResidualMADE<8, 2>>(200); }

TEST_CASE("MADE and ResidualMADE gradients with tanh, silu, elu", "[gradients][made]") {
  check_some<ft::MADE<8, 8>::with<ft::act::tanh>>(300);
  check_some<ft::MADE<8, 8>::with<ft::act::silu>>(310);
  check_some<ft::MADE<8, 8>::with<ft::act::elu>>(320);
  check_some<ft::ResidualMADE<8, 2>::with<ft::act::tanh>>(330);
  check_some<ft::ResidualMADE<8, 2>::with<ft::act::silu>>(340);
  check_some<ft::ResidualMADE<8, 2>::with<ft::act::elu>>(350);
}

TEST_CASE("MADE gradients: one and three hidden layers, one and three residual blocks", "[gradients][made]") {
  check_config<ft::MADE<8>, 3, 2, 2>(400);
  check_config<ft::MADE<8>, 4, 2, 0>(401);
  check_config<ft::MADE<8, 6, 5>::with<ft::act::tanh>, 4, 2, 2>(402);
  check_config<ft::MADE<8, 6, 5>, 2, 1, 0>(403);
  check_config<ft::ResidualMADE<8, 1>, 3, 2, 2>(404);
  check_config<ft::ResidualMADE<6, 3>::with<ft::act::silu>, 4, 2, 2>(405);
}

TEST_CASE("MADE gradients at the identity start (zero final weights still get gradients)", "[gradients][made]") {
  check_config<ft::MADE<8, 8>, 3, 2, 2>(500, ft::init::identity_start);
  check_config<ft::ResidualMADE<8, 2>, 3, 2, 0>(501, ft::init::identity_start);
}

TEST_CASE("MADE gradients in float agree with double", "[gradients][made]") {
  check_float<ft::MADE<8, 8>, 3, 2, 2>(600);
  check_float<ft::MADE<8, 8>::with<ft::act::tanh>, 5, 3, 0>(601);
  check_float<ft::ResidualMADE<8, 2>, 5, 3, 2>(602);
  check_float<ft::ResidualMADE<8, 2>::with<ft::act::elu>, 3, 2, 0>(603);
}

TEST_CASE("MADE::with_degrees gradients (listed degrees, some 0: units that read the context only)",
          "[gradients][made]") {
  using listed = ft::MADE<6, 5>::with_degrees<ft::hidden_degrees<2, 0, 1, 3, 1, 2>, ft::hidden_degrees<0, 3, 1, 2, 2>>;
  check_config<listed, 4, 2, 2>(600);
  check_config<listed, 4, 3, 0>(601);
  using listed_tanh = ft::MADE<6, 5>::with<ft::act::tanh>::with_degrees<ft::hidden_degrees<2, 0, 1, 3, 4, 2>,
                                                                       ft::hidden_degrees<0, 3, 4, 2, 2>>;
  check_config<listed_tanh, 5, 2, 2>(602);
}

TEST_CASE("MADE::with_linear_context gradients (zuko's MaskedMLP: the context read linearly)", "[gradients][made]") {
  using zuko_like = ft::MADE<6, 5>::with_degrees<ft::hidden_degrees<0, 1, 2, 3, 0, 1>,
                                                 ft::hidden_degrees<0, 1, 2, 3, 0>>::with_linear_context;
  check_config<zuko_like, 4, 2, 2>(700);
  check_config<ft::MADE<8, 8>::with<ft::act::tanh>::with_linear_context, 3, 3, 2>(701);
}

}  // namespace made_grad_test
