// tests/support/made.hpp: the MADE checks shared by unit/conditioners/made*_test.cpp, as
// ordinary functions over a small adapter of each configuration (made_test.cpp defines
// them).
#pragma once

#include <flowtmpl/conditioners/conditioner.hpp>
#include <flowtmpl/random.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace flowtmpl_test {
struct made_ops {
  int D = 0, M = 0, C = 0;
  virtual ~made_ops() = default;
  virtual std::unique_ptr<made_ops> clone() const = 0;
  virtual double* values() = 0;
  virtual std::size_t value_count() const = 0;
  virtual std::size_t parameter_count() const = 0;
  virtual void reset_uniform(std::uint64_t seed, const double* output_bias) = 0;
  virtual void evaluate(const double* x, const double* c, double* out) const = 0;
  // X is D x N, Ctx C x N; the result (D M) x N
  virtual Eigen::MatrixXd evaluate_block(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Ctx) const = 0;
  // sequential_begin, then for k = 0 .. D-1: sequential_step into out + k M, st.x[k] = x[k]
  virtual void sequential(const double* x, const double* c, double* out) const = 0;
  virtual const char* validate() const = 0;
  virtual void apply_masks() = 0;
  virtual void for_each_block(const std::function<void(const std::string&, double*, std::size_t)>& f) = 0;
};
struct net_desc {
  bool residual;
  std::vector<int> hidden;  // feedforward: the widths; residual: {H}
  int blocks;               // residual only
  double (*act)(double);
};
double ref_relu(double v);
double ref_tanh(double v);
double ref_silu(double v);
double ref_elu(double v);
void check_made_network(made_ops& net, const net_desc& desc);

template <class Net>
struct made_adapter final : made_ops {
  static constexpr int d = Net::inputs, m = Net::outputs_per_feature, c = Net::context;
  Net net;
  made_adapter() {
    D = d;
    M = m;
    C = c;
  }
  std::unique_ptr<made_ops> clone() const override { return std::make_unique<made_adapter>(*this); }
  double* values() override { return net.values.data(); }
  std::size_t value_count() const override { return net.values.size(); }
  std::size_t parameter_count() const override { return Net::parameter_count; }
  void reset_uniform(std::uint64_t seed, const double* output_bias) override {
    flowtmpl::philox_stream rng(seed, 0);
    net.reset_parameters(rng, flowtmpl::init::uniform, output_bias);
  }
  void evaluate(const double* x, const double* ctx, double* out) const override {
    const Eigen::Matrix<double, d, 1> xv = Eigen::Map<const Eigen::Matrix<double, d, 1>>(x);
    const Eigen::Matrix<double, d * m, 1> y = net.evaluate(xv, ctx);
    for (int i = 0; i < d * m; ++i) out[i] = y[i];
  }
  Eigen::MatrixXd evaluate_block(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Ctx) const override {
    const Eigen::Matrix<double, d, Eigen::Dynamic> Xf = X;  // the host's block types
    if constexpr (c > 0) {
      const Eigen::Matrix<double, c, Eigen::Dynamic> Cf = Ctx;
      return net.evaluate_block(Xf, &Cf);
    } else {
      return net.evaluate_block(Xf, static_cast<const Eigen::Matrix<double, 1, Eigen::Dynamic>*>(nullptr));
    }
  }
  void sequential(const double* x, const double* ctx, double* out) const override {
    typename Net::sequential_state st;
    net.sequential_begin(st, ctx);
    for (int k = 0; k < d; ++k) {
      net.sequential_step(st, k, out + k * m);
      st.x[k] = x[k];
    }
  }
  const char* validate() const override { return net.validate(); }
  void apply_masks() override { net.apply_masks(); }
  void for_each_block(const std::function<void(const std::string&, double*, std::size_t)>& f) override {
    net.for_each_parameter_block(f);
  }
};

template <class Spec, int D, int M, int C>
void check_made(const net_desc& desc) {
  using Net = typename Spec::template conditioner<D, M, C, double>;
  static_assert(Net::inputs == D && Net::outputs == D * M && Net::outputs_per_feature == M && Net::context == C);
  static_assert(std::is_trivially_copyable_v<Net>);
  made_adapter<Net> a;
  check_made_network(a, desc);
}
template <class Spec, int D, int C>
void check_made_m(const net_desc& desc) {
  check_made<Spec, D, 1, C>(desc);
  check_made<Spec, D, 2, C>(desc);
  check_made<Spec, D, 5, C>(desc);
}
// D = 1, 2, 3, 6; M = 1, 2, 5; without and with a context of 3
template <class Spec>
void check_made_all(const net_desc& desc) {
  check_made_m<Spec, 1, 0>(desc);
  check_made_m<Spec, 2, 0>(desc);
  check_made_m<Spec, 3, 0>(desc);
  check_made_m<Spec, 6, 0>(desc);
  check_made_m<Spec, 1, 3>(desc);
  check_made_m<Spec, 2, 3>(desc);
  check_made_m<Spec, 3, 3>(desc);
  check_made_m<Spec, 6, 3>(desc);
}
}  // namespace flowtmpl_test
