// Host / device parity for the RealNVP, Glow-style, NSF and MAF chains (D = 8, the
// benchmarks' architectures), a conditional flow (with and without an embedding), the same samples for the same seed,
// and the device entry points' checks.
#include "support/device.hpp"

#include <standard_flows.hpp>

#include <stdexcept>
#include <vector>

namespace ft = flowtmpl;
using namespace flowtmpl_test;

namespace {
constexpr Eigen::Index N = 300;

template <class Spec>
standard_flows::flow<Spec> drawn_flow(std::uint64_t seed) {
  standard_flows::flow<Spec> f;
  ft::reset_parameters(f, seed, ft::init::uniform);
  // ActNorm and LUConv away from the identity, every weight within PyTorch's default
  // bound for 64 inputs (1/8): a well-conditioned flow, where rounding stays rounding
  if constexpr (!std::is_same_v<Spec, standard_flows::MAF>) randomize_for_device(f, seed, -0.1, 0.1);
  return f;
}
}  // namespace

TEMPLATE_TEST_CASE("device parity: the RealNVP, Glow-style, NSF and MAF chains", "[device]", standard_flows::RealNVP,
                   standard_flows::Glow, standard_flows::NSF, standard_flows::MAF) {
  const auto f = drawn_flow<TestType>(11);
  const auto X = ft::sample(f, N, 5);  // points where the flow has mass
  check_bijector(f.transform, X);
  check_distribution(f, X);
  check_gradient(f, X);
}

namespace {
using ConditionalLayers = ft::compose<ft::Coupling<ft::Spline<4>, ft::MLP<16>>, ft::Permute<ft::Reverse>,
                                      ft::MaskedAutoregressive<ft::Affine, ft::MADE<16>>>;
// a context of 2 read by the layers, or 2 raw values through an embedding to 3
using Plain = ft::Conditional<2, ft::Flow<ft::StandardNormal, ConditionalLayers>>;
using Embedded = ft::Conditional<3, ft::Flow<ft::StandardNormal, ConditionalLayers>, ft::Embedding<2, ft::MLP<8>>>;
}  // namespace

TEMPLATE_TEST_CASE("device parity: a conditional flow, a context per sample and one for all", "[device]", Plain,
                   Embedded) {
  using F = ft::bind_t<TestType, 3, float>;
  static_assert(F::context_dim == 2);
  F f;
  ft::reset_parameters(f, 12, ft::init::uniform);
  const auto X = inputs<float, 3>(N, 13);
  const auto Cs = inputs<float, 2>(N, 14);
  const Eigen::Matrix<float, 2, 1> c1(0.4f, -0.7f);
  const ft::device_flow<F> df(f);
  for (const ft::layout order : both_layouts) {
    INFO("layout " << name(order));
    const auto dX = ft::to_device(X, order);
    const auto dC = ft::to_device(Cs, order);
    const auto dc1 = ft::to_device(c1, order);
    // the host evaluates conditional layers in blocks: against its per-sample path
    // within 4 ulp, against the batch path within the reordering bound
    ft::row_t<float> ref(N), ref1(N);
    const auto p = ft::prepare(f);
    for (Eigen::Index j = 0; j < N; ++j) {
      ref[j] = p.log_prob(X.col(j), Cs.col(j));
      ref1[j] = p.log_prob(X.col(j), c1);
    }
    check_close(true, ft::to_host(ft::log_prob(ft::exec::device, df, dX, dC)), ft::log_prob(f, X, Cs), ref);
    check_close(true, ft::to_host(ft::log_prob(ft::exec::device, df, dX, dc1)), ft::log_prob(f, X, c1), ref1);
    const auto hs = ft::sample_and_log_prob(f, N, 15, Cs);
    const auto ds = ft::sample_and_log_prob(ft::exec::device, df, N, 15, dC, order);
    ft::batch_result<float, 3> rs{ft::batch_t<float, 3>(3, N), ft::row_t<float>(N)};
    for (Eigen::Index j = 0; j < N; ++j) {
      ft::philox_stream rng(15, std::uint64_t(j));
      const auto r = p.sample_and_log_prob(rng, Cs.col(j));
      rs.values.col(j) = r.value;
      rs.log_det[j] = r.log_det;
    }
    check_close(true, ft::to_host(ds.values), hs.values, rs.values);
    check_close(true, ft::to_host(ds.log_det), hs.log_det, rs.log_det);
    // the gradient against log_prob_vjp per sample, summed in the same slots of 256
    F ref_grad = ft::make_gradient(f);
    ft::detail::gradient_parts<F> parts(2, ft::detail::gradient_part<F>{ft::make_gradient(f)});
    for (Eigen::Index j = 0; j < N; ++j) {
      const Eigen::Matrix<float, 2, 1> c = Cs.col(j);
      ft::log_prob_vjp(f, ft::vector_t<F>(X.col(j)), c, -1.0f / float(N), parts[std::size_t(j / 256)].value);
    }
    ft::detail::sum_gradients(parts, ref_grad);
    F dg = ft::make_gradient(f);
    ft::nll_and_gradient(ft::exec::device, df, dX, dC, dg);
    CHECK(gradient_rel_error(ref_grad, dg) <= 1e-5);
  }
}

TEMPLATE_TEST_CASE("the same seed draws the same base samples on host and device, bitwise", "[device]", float, double) {
  check_same_seed_draws<TestType>(1000);
  // sample j does not depend on the batch size
  const ft::device_flow<ft::StandardNormalDistribution<5, TestType>> dn({});
  const auto big = ft::to_host(ft::sample(ft::exec::device, dn, 777, 9));
  const auto small = ft::to_host(ft::sample(ft::exec::device, dn, 10, 9));
  CHECK(max_ulp(big.leftCols(10), small) == 0);
}

TEST_CASE("device batches: layouts, round trips and shape errors", "[device]") {
  Eigen::MatrixXf X(3, 4);
  X << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12;
  const auto c = ft::to_device(X, ft::layout::columns);
  const auto r = ft::to_device(X, ft::layout::rows);
  // element (i, j) where exec.hpp says it is
  // (the raw storage copied out: thrust's element references bind a null policy, which
  // UBSan reports)
  std::vector<float> cs(c.storage().size()), rs(r.storage().size());
  thrust::copy(c.storage().begin(), c.storage().end(), cs.begin());
  thrust::copy(r.storage().begin(), r.storage().end(), rs.begin());
  CHECK(cs[1 + 2 * 3] == X(1, 2));
  CHECK(rs[1 * 4 + 2] == X(1, 2));
  CHECK(ft::to_host(c) == X);
  CHECK(ft::to_host(r) == X);

  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::Affine>, 4, float>;
  const ft::device_flow<F> df(F{});
  CHECK_THROWS_AS(ft::log_prob(ft::exec::device, df, c), ft::shape_error);  // 3 rows for D = 4
  CHECK_THROWS_WITH(ft::log_prob(ft::exec::device, df, c), Catch::Contains("3 rows"));
  CHECK_THROWS_AS(ft::sample(ft::exec::device, df, -1, 0), ft::shape_error);
  CHECK_THROWS_AS(ft::device_batch<float>(0, 5), ft::shape_error);
  F grad = ft::make_gradient(F{});
  CHECK_THROWS_AS(ft::nll_and_gradient(ft::exec::device, df, ft::device_batch<float>(4, 0), grad), ft::shape_error);
  ft::device_gradient_options bad;
  bad.samples_per_slot = 0;
  CHECK_THROWS_AS(ft::nll_and_gradient(ft::exec::device, df, ft::to_device(Eigen::MatrixXf::Ones(4, 3)), grad, nullptr, bad),
                  ft::shape_error);
  // an empty batch gives empty results
  CHECK(ft::log_prob(ft::exec::device, df, ft::device_batch<float>(4, 0)).empty());
  CHECK(ft::sample(ft::exec::device, df, 0, 1).count() == 0);
}

TEST_CASE("device_flow: assign replaces the parameters, get copies them back", "[device]") {
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::Affine>, 2, double>;
  F f;
  f.transform.shift = {1.0, 2.0};
  ft::device_flow<F> df(f);
  const auto x = ft::to_device(Eigen::Matrix2d::Zero());
  const auto before = ft::to_host(ft::log_prob(ft::exec::device, df, x));
  f.transform.shift = {0.0, 0.0};
  df.assign(f);
  CHECK(df.get().transform.shift[0] == 0.0);
  const auto after = ft::to_host(ft::log_prob(ft::exec::device, df, x));
  CHECK(after[0] > before[0]);  // x = 0 is the mode once the shift is gone
  CHECK(after[0] == Approx(-std::log(2 * 3.14159265358979323846)));
}

TEST_CASE("the host policy: the same calls with exec::host", "[device]") {
  using F = standard_flows::flow<standard_flows::NSF>;
  const auto f = drawn_flow<standard_flows::NSF>(16);
  const auto X = ft::sample(ft::exec::host, f, 50, 3);
  CHECK(max_ulp(X, ft::sample(f, 50, 3)) == 0);
  CHECK(max_ulp(ft::log_prob(ft::exec::host, f, X), ft::log_prob(f, X)) == 0);
  F g1 = ft::make_gradient(f), g2 = ft::make_gradient(f);
  CHECK(ft::nll_and_gradient(ft::exec::host, f, X, g1) == ft::nll_and_gradient(f, X, g2));
  CHECK(gradient_rel_error(g1, g2) == 0.0);
}
