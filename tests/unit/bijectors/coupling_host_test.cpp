// Coupling layers through the host backend (flowtmpl/host.hpp): the block path (the
// conditioner over 256 samples at once, as matrix-matrix products) against the
// per-sample members, for batch sizes around the block size; parameter names and
// counts through flowtmpl::for_each_parameter; checked mode on a BoundedSpline coupling.
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/chain.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/affine.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace coupling_host_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::domain_error_from;

template <int D>
Eigen::Matrix<double, D, Eigen::Dynamic> random_batch(Eigen::Index n, std::uint64_t seed, double lo, double hi) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Eigen::Matrix<double, D, Eigen::Dynamic> x(D, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (int i = 0; i < D; ++i) x(i, j) = u(g);
  return x;
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::max(1.0, std::abs(b)); }

// batch (block path) against the per-sample members, both directions, 1e-12 relative
template <class B>
void check_batch_against_members(const B& b, double lo, double hi) {
  constexpr int D = B::dim;
  for (Eigen::Index n : {1, 255, 256, 257, 1000}) {
    const auto X = random_batch<D>(n, 100 + std::uint64_t(n), lo, hi);
    const auto F = ft::forward_and_log_det(b, X);
    REQUIRE(F.values.cols() == n);
    REQUIRE(F.log_det.cols() == n);
    // the inverse of points in the range: the forward images
    const auto I = ft::inverse_and_log_det(b, F.values);
    const auto Fv = ft::forward(b, X);
    const auto Iv = ft::inverse(b, F.values);
    const auto L = ft::log_det(b, X);
    double worst = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
      const Eigen::Matrix<double, D, 1> x = X.col(j);
      const auto r = ft::forward_and_log_det(b, x);  // the per-sample path
      const Eigen::Matrix<double, D, 1> y = F.values.col(j);
      const auto ri = ft::inverse_and_log_det(b, y);
      for (int i = 0; i < D; ++i) {
        worst = std::max(worst, rel_diff(F.values(i, j), r.value[i]));
        worst = std::max(worst, rel_diff(I.values(i, j), ri.value[i]));
        worst = std::max(worst, rel_diff(Fv(i, j), r.value[i]));
        worst = std::max(worst, rel_diff(Iv(i, j), ri.value[i]));
      }
      worst = std::max(worst, rel_diff(F.log_det[j], r.log_det));
      worst = std::max(worst, rel_diff(I.log_det[j], ri.log_det));
      worst = std::max(worst, rel_diff(L[j], r.log_det));
      // and the round trip through the batch
      for (int i = 0; i < D; ++i) CHECK(std::abs(I.values(i, j) - X(i, j)) <= 1e-10 * std::max(1.0, std::abs(X(i, j))));
    }
    INFO(B::name << "<" << B::transformer_type::name << ">, N = " << n << ": largest relative difference " << worst);
    CHECK(worst <= 1e-12);
  }
}

template <class Spec, int D>
auto uniform_layer(std::uint64_t seed) {
  ft::bind_t<Spec, D, double> b;
  b.reset_parameters(seed, ft::init::uniform);
  return b;
}

}  // namespace

TEST_CASE("coupling batches through the host block path equal the per-sample results", "[coupling][host]") {
  SECTION("Affine, MLP<16, 16>, half, D = 4") {
    check_batch_against_members(uniform_layer<ft::Coupling<ft::Affine, ft::MLP<16, 16>>, 4>(1), -3, 3);
  }
  SECTION("Additive, MLP<8>::with<elu>, odd, D = 3") {
    const auto b = uniform_layer<ft::Coupling<ft::Additive, ft::MLP<8>::with<ft::act::elu>, ft::mask::odd>, 3>(2);
    check_batch_against_members(b, -3, 3);
    const auto F = ft::forward_and_log_det(b, random_batch<3>(300, 1, -2, 2));
    CHECK(F.log_det.cwiseAbs().maxCoeff() == 0.0);
  }
  SECTION("BoundedAffine<2, learnable>, bits, D = 5, a changed bound") {
    auto b = uniform_layer<ft::Coupling<ft::BoundedAffine<2.0, ft::affine_bound::learnable>, ft::MLP<8>, ft::mask::bits<1, 0, 0, 1, 1>>, 5>(3);
    b.transformer.log_bound = {std::log(0.5), std::log(3.0), std::log(1.5)};
    check_batch_against_members(b, -3, 3);
  }
  SECTION("SoftplusAffine, tanh, half_flipped, D = 3") {
    check_batch_against_members(
        uniform_layer<ft::Coupling<ft::SoftplusAffine, ft::MLP<8>::with<ft::act::tanh>, ft::mask::half_flipped>, 3>(4),
        -3, 3);
  }
  SECTION("Spline<8>, silu, even, D = 5, inputs across the tails") {
    check_batch_against_members(
        uniform_layer<ft::Coupling<ft::Spline<8>, ft::MLP<16>::with<ft::act::silu>, ft::mask::even>, 5>(5), -4, 4);
  }
  SECTION("BoundedSpline<6>, half, D = 3, on [0, 1]") {
    check_batch_against_members(uniform_layer<ft::Coupling<ft::BoundedSpline<6>, ft::MLP<8, 8>>, 3>(6), 0, 1);
  }
  SECTION("a chain: ActNorm, Spline coupling, Permute<Reverse>, Affine coupling (odd), D = 4") {
    using F = ft::bind_t<ft::compose<ft::ActNorm, ft::Coupling<ft::Spline<8>, ft::MLP<16, 16>>, ft::Permute<ft::Reverse>,
                                     ft::Coupling<ft::Affine, ft::MLP<8>, ft::mask::odd>>,
                         4, double>;
    F f;
    f.get<0>().log_scale = {0.2, -0.1, 0.3, 0.05};
    f.get<0>().shift = {0.1, -0.2, 0.0, 0.3};
    f.get<1>().reset_parameters(7, ft::init::uniform);
    f.get<3>().reset_parameters(8, ft::init::uniform);
    constexpr int D = 4;
    for (Eigen::Index n : {1, 255, 256, 257, 1000}) {
      const auto X = random_batch<D>(n, 200 + std::uint64_t(n), -3, 3);
      const auto R = ft::forward_and_log_det(f, X);
      const auto I = ft::inverse_and_log_det(f, R.values);
      double worst = 0;
      for (Eigen::Index j = 0; j < n; ++j) {
        const Eigen::Matrix<double, D, 1> x = X.col(j);
        const auto r = ft::forward_and_log_det(f, x);
        const auto ri = ft::inverse_and_log_det(f, Eigen::Matrix<double, D, 1>(R.values.col(j)));
        for (int i = 0; i < D; ++i) {
          worst = std::max(worst, rel_diff(R.values(i, j), r.value[i]));
          worst = std::max(worst, rel_diff(I.values(i, j), ri.value[i]));
        }
        worst = std::max(worst, rel_diff(R.log_det[j], r.log_det));
        worst = std::max(worst, rel_diff(I.log_det[j], ri.log_det));
      }
      INFO("chain, N = " << n << ": largest relative difference " << worst);
      CHECK(worst <= 1e-12);
      CHECK((I.values - X).cwiseAbs().maxCoeff() <= 1e-10 * std::max(1.0, X.cwiseAbs().maxCoeff()));
    }
  }
  SECTION("a row-major N x D buffer is read as the D x N batch") {
    const auto b = uniform_layer<ft::Coupling<ft::Affine, ft::MLP<8>>, 2>(9);
    std::vector<double> buf = {0.1, 0.2, -1.0, 0.5, 2.0, -0.3};  // three samples of D = 2
    const Eigen::Map<const Eigen::Matrix<double, 2, Eigen::Dynamic>> X(buf.data(), 2, 3);
    const auto F = ft::forward(b, X);
    for (int j = 0; j < 3; ++j) {
      const Eigen::Vector2d x(buf[std::size_t(2 * j)], buf[std::size_t(2 * j + 1)]);
      CHECK((F.col(j) - b.forward(x)).cwiseAbs().maxCoeff() <= 1e-15);
    }
  }
}

TEST_CASE("coupling parameters: names through for_each_parameter, counts through parameter_count_v",
          "[coupling][host][parameters]") {
  using Cpl = ft::Coupling<ft::BoundedAffine<2.0, ft::affine_bound::learnable>, ft::MLP<8, 8>, ft::mask::half>;
  using F = ft::bind_t<ft::compose<ft::ActNorm, Cpl>, 4, double>;
  F f;
  struct block {
    std::string name;
    std::size_t size;
  };
  std::vector<block> seen;
  std::size_t total = 0;
  ft::for_each_parameter(f, [&](const std::string& name, double* data, std::size_t size) {
    (void)data;
    seen.push_back({name, size});
    total += size;
  });
  // D = 4, mask::half: 2 conditioning inputs, 2 transformed components with 2 raw
  // parameters each (4 outputs); MLP<8, 8>: 2 -> 8 -> 8 -> 4
  const std::vector<block> expected = {{"0.log_scale", 4},
                                       {"0.shift", 4},
                                       {"1.conditioner.0.weight", 8 * 2},
                                       {"1.conditioner.0.bias", 8},
                                       {"1.conditioner.1.weight", 8 * 8},
                                       {"1.conditioner.1.bias", 8},
                                       {"1.conditioner.2.weight", 4 * 8},
                                       {"1.conditioner.2.bias", 4},
                                       {"1.transformer.log_bound", 2}};
  REQUIRE(seen.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("block " << i);
    CHECK(seen[i].name == expected[i].name);
    CHECK(seen[i].size == expected[i].size);
  }
  STATIC_REQUIRE(ft::parameter_count_v<F> == 4 + 4 + 16 + 8 + 64 + 8 + 32 + 4 + 2);
  CHECK(total == ft::parameter_count_v<F>);

  // the pointers are the layer's storage: writing through them changes the map
  const Eigen::Vector4d x(0.3, -0.4, 0.8, 1.2);
  const Eigen::Vector4d before = f.forward(x);
  ft::for_each_parameter(f, [&](const std::string& name, double* data, std::size_t size) {
    if (name == "1.conditioner.2.bias")
      for (std::size_t k = 0; k < size; ++k) data[k] = 0.1 * double(k + 1);
    if (name == "1.transformer.log_bound") data[1] = std::log(0.25);
  });
  CHECK(f.get<1>().transformer.log_bound[1] == std::log(0.25));
  const Eigen::Vector4d after = f.forward(x);
  CHECK(after[0] == before[0]);
  CHECK(after[1] == before[1]);
  CHECK(after[2] != before[2]);
  CHECK(after[3] != before[3]);

  // a spline coupling (no transformer parameters) and the count of its outputs: 2 x 23
  using G = ft::bind_t<ft::compose<ft::Coupling<ft::Spline<8>, ft::MLP<16>>, ft::Permute<ft::Reverse>>, 4, float>;
  std::vector<std::string> names;
  std::size_t gtotal = 0;
  const G g;
  ft::for_each_parameter(g, [&](const std::string& name, const float*, std::size_t size) {
    names.push_back(name);
    gtotal += size;
  });
  CHECK(names == std::vector<std::string>{"0.conditioner.0.weight", "0.conditioner.0.bias", "0.conditioner.1.weight",
                                          "0.conditioner.1.bias"});
  STATIC_REQUIRE(ft::parameter_count_v<G> == (16 * 2 + 16) + (46 * 16 + 46));
  CHECK(gtotal == ft::parameter_count_v<G>);
}

TEST_CASE("checked mode reports a BoundedSpline coupling's input outside [0, 1]", "[coupling][host][checked]") {
  using B = ft::bind_t<ft::Coupling<ft::BoundedSpline<6>, ft::MLP<8>>, 3, double>;
  B b;
  b.reset_parameters(11, ft::init::uniform);
  auto X = random_batch<3>(20, 3, 0, 1);
  // valid inputs: the same values as unchecked (to rounding: checked mode evaluates
  // sample by sample, the unchecked block path the conditioner as a matrix product)
  CHECK((ft::forward(b, X, ft::checked) - ft::forward(b, X)).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((ft::inverse(b, X, ft::checked) - ft::inverse(b, X)).cwiseAbs().maxCoeff() <= 1e-12);
  for (int comp : {0, 2}) {  // a conditioning component, then a transformed one
    for (double bad : {1.5, -0.25, std::nextafter(1.0, 2.0)}) {
      auto Y = X;
      Y(comp, 7) = bad;
      INFO("component " << comp << " = " << bad);
      const auto e = domain_error_from([&] { (void)ft::forward(b, Y, ft::checked); });
      REQUIRE(e.has_value());
      CHECK(e->sample == 7);
      CHECK(e->component == comp);
      CHECK(e->value == bad);
      CHECK_THAT(e->layer, Catch::Contains("Coupling"));
      CHECK_THAT(std::string(e->what()), Catch::Contains("outside the domain") && Catch::Contains("[0, 1]"));
      const auto ei = domain_error_from([&] { (void)ft::inverse_and_log_det(b, Y, ft::checked); });
      REQUIRE(ei.has_value());
      CHECK(ei->sample == 7);
      CHECK(ei->component == comp);
      // unchecked: a transformed component outside [0, 1] gives NaN in that sample only
      if (comp == 2) {
        const auto U = ft::forward_and_log_det(b, Y);
        CHECK(std::isnan(U.values(2, 7)));
        CHECK(std::isnan(U.log_det[7]));
        CHECK(U.values.col(6).allFinite());
        CHECK(U.values.col(8).allFinite());
      }
    }
  }
  // a non-finite input is reported as such
  auto Z = X;
  Z(1, 4) = std::numeric_limits<double>::quiet_NaN();
  const auto e = domain_error_from([&] { (void)ft::forward(b, Z, ft::checked); });
  REQUIRE(e.has_value());
  CHECK(e->sample == 4);
  CHECK(e->component == 1);

  // in a chain, the path names the coupling's position: ActNorm shifts 0.9 to 1.2
  using F = ft::bind_t<ft::compose<ft::ActNorm, ft::Coupling<ft::BoundedSpline<6>, ft::MLP<8>>>, 3, double>;
  F f;
  f.get<0>().shift = {0.3, 0.0, -0.5};
  Eigen::Matrix<double, 3, Eigen::Dynamic> W(3, 2);
  W << 0.1, 0.9, 0.5, 0.5, 0.6, 0.7;
  const auto ec = domain_error_from([&] { (void)ft::forward(f, W, ft::checked); });
  REQUIRE(ec.has_value());
  CHECK(ec->sample == 1);
  CHECK(ec->component == 0);
  CHECK_THAT(ec->layer, Catch::Contains("layer 1") && Catch::Contains("Coupling"));
}

}  // namespace coupling_host_test
