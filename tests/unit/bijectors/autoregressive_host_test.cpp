// Autoregressive layers through the host backend (flowtmpl/host.hpp): the batch entry
// points (which send both directions through the prepared layer's block path: the
// parallel one as one network evaluation, the sequential one as MADE's sequential pass
// over the block) against the per-sample members; parameter names
// through flowtmpl::for_each_parameter; checked mode on a MADE whose mask is violated.
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/distributions/flow_distribution.hpp>
#include <flowtmpl/distributions/standard_normal.hpp>
#include <flowtmpl/host.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/transformers/additive.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include "support/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace autoregressive_host_test {

namespace {

using flowtmpl::compose;
using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::Permute;
using flowtmpl::ResidualMADE;
using flowtmpl::Reverse;
using flowtmpl_test::domain_error_from;

bool close(double a, double b, double tol = 1e-12) { return std::abs(a - b) <= tol * std::max(1.0, std::abs(b)); }

template <int D>
Eigen::Matrix<double, D, Eigen::Dynamic> random_batch(Eigen::Index n, std::uint64_t seed, double lo, double hi) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Eigen::Matrix<double, D, Eigen::Dynamic> X(D, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (int i = 0; i < D; ++i) X(i, j) = u(gen);
  return X;
}

// Every batch entry point against the per-sample members, column by column. 300
// columns: three blocks of the host backend (128 + 128 + 44).
template <class B>
void check_batch(const B& b, double lo = -3, double hi = 3) {
  constexpr int D = B::dim;
  using V = Eigen::Matrix<double, D, 1>;
  const auto X = random_batch<D>(300, 7, lo, hi);
  const auto fwd = flowtmpl::forward_and_log_det(b, X);
  const auto fwd_values = flowtmpl::forward(b, X);
  const auto lds = flowtmpl::log_det(b, X);
  REQUIRE(fwd.values.cols() == 300);
  REQUIRE(lds.cols() == 300);
  const auto Y = fwd.values;
  const auto inv = flowtmpl::inverse_and_log_det(b, Y);
  const auto inv_values = flowtmpl::inverse(b, Y);
  int bad = 0;
  for (Eigen::Index j = 0; j < X.cols(); ++j) {
    const V x = X.col(j);
    const auto f = flowtmpl::forward_and_log_det(b, x);
    const V y = Y.col(j);
    const auto g = flowtmpl::inverse_and_log_det(b, y);
    bool ok = close(fwd.log_det[j], f.log_det) && close(lds[j], f.log_det) && close(inv.log_det[j], g.log_det);
    for (int i = 0; i < D; ++i)
      ok = ok && close(fwd.values(i, j), f.value[i]) && close(fwd_values(i, j), f.value[i]) &&
           close(inv.values(i, j), g.value[i]) && close(inv_values(i, j), g.value[i]) &&
           close(inv.values(i, j), x[i], 1e-9);
    if (!ok && bad++ == 0) {
      INFO("first mismatch at column " << j);
      CHECK(ok);
    }
  }
  CHECK(bad == 0);
}

// A prepared layer's sequential block pass (forward_block of a MAF, inverse_block of an
// IAF) against its per-sample sequential pass, column by column, with a context of C
// rows when C > 0; n = 37 columns (not a multiple of any vector width).
template <class L>
void check_sequential_block(const L& layer, double lo, double hi, std::uint64_t seed) {
  constexpr int D = L::dim, C = L::context_dim;
  constexpr bool maf = std::string_view(L::name) == "MaskedAutoregressive";
  const auto p = layer.prepare();
  const Eigen::Index n = 37;
  const Eigen::Matrix<double, D, Eigen::Dynamic> X = random_batch<D>(n, seed, lo, hi);
  const Eigen::Matrix<double, (C > 0 ? C : 1), Eigen::Dynamic> Ctx = random_batch<(C > 0 ? C : 1)>(n, seed + 1, -2, 2);
  Eigen::Matrix<double, D, Eigen::Dynamic> V = X;
  Eigen::Matrix<double, 1, Eigen::Dynamic> ld = Eigen::Matrix<double, 1, Eigen::Dynamic>::Constant(n, 0.5);
  if constexpr (maf && C > 0)
    p.forward_block(V, ld, Ctx);
  else if constexpr (maf)
    p.forward_block(V, ld);
  else if constexpr (C > 0)
    p.inverse_block(V, ld, Ctx);
  else
    p.inverse_block(V, ld);
  int bad = 0;
  for (Eigen::Index j = 0; j < n; ++j) {
    const Eigen::Matrix<double, D, 1> x = X.col(j);
    const Eigen::Matrix<double, (C > 0 ? C : 1), 1> c = Ctx.col(j);
    // the unprepared layer's per-sample sequential pass (unsorted units)
    const auto r = layer.template apply<(maf ? flowtmpl::direction::forward : flowtmpl::direction::inverse)>(x, C > 0 ? c.data() : nullptr);
    bool ok = close(ld[j], 0.5 + r.log_det);
    for (int i = 0; i < D; ++i) ok = ok && close(V(i, j), r.value[i]);
    if (!ok && bad++ == 0) {
      INFO("first mismatch at column " << j << ": " << V.col(j).transpose() << " vs " << r.value.transpose());
      CHECK(ok);
    }
  }
  CHECK(bad == 0);
  // the outputs differ from the inputs (the pass did something)
  CHECK((V - X).cwiseAbs().maxCoeff() > 1e-3);
}

}  // namespace

TEST_CASE("a prepared layer's sequential direction over a block equals the per-sample pass",
          "[autoregressive][host][sequential]") {
  using flowtmpl::Affine;
  using flowtmpl::SoftplusAffine;
  using flowtmpl::Spline;
  using MAF = flowtmpl::bind_t<MaskedAutoregressive<Affine, MADE<8, 8>>, 4, double>;
  using IAF = flowtmpl::bind_t<InverseAutoregressive<Spline<8>, ResidualMADE<8, 1>>, 5, double>;
  // prepared, the sequential direction has a block entry point too
  STATIC_REQUIRE(flowtmpl::detail::has_forward_block_v<decltype(MAF{}.prepare()), 4, double>);
  STATIC_REQUIRE(flowtmpl::detail::has_inverse_block_v<decltype(IAF{}.prepare()), 5, double>);
  SECTION("MAF, Affine (row form), feedforward MADE<8, 8>, D = 4") {
    MAF b;
    b.reset_parameters(11, flowtmpl::init::uniform);
    check_sequential_block(b, -3, 3, 1);
  }
  SECTION("MAF, Affine, MADE<8, 6, 5> (three hidden layers of unequal widths), D = 6") {
    flowtmpl::bind_t<MaskedAutoregressive<Affine, MADE<8, 6, 5>>, 6, double> b;
    b.reset_parameters(12, flowtmpl::init::uniform);
    check_sequential_block(b, -3, 3, 2);
  }
  SECTION("IAF, Spline (per-column transformer), ResidualMADE<8, 1>, D = 5") {
    IAF b;
    b.reset_parameters(13, flowtmpl::init::uniform);
    check_sequential_block(b, -4, 4, 3);
  }
  SECTION("MAF, SoftplusAffine, ResidualMADE<6, 2>, D = 2") {
    flowtmpl::bind_t<MaskedAutoregressive<SoftplusAffine, ResidualMADE<6, 2>>, 2, double> b;
    b.reset_parameters(14, flowtmpl::init::uniform);
    check_sequential_block(b, -3, 3, 4);
  }
  SECTION("MAF, Affine, MADE<8>, D = 1 (every unit of degree 0)") {
    flowtmpl::bind_t<MaskedAutoregressive<Affine, MADE<8>>, 1, double> b;
    b.reset_parameters(15, flowtmpl::init::uniform);
    check_sequential_block(b, -3, 3, 5);
  }
  SECTION("with a context: MAF, Affine, MADE<8, 8>, C = 3") {
    typename MaskedAutoregressive<Affine, MADE<8, 8>>::template bind_with_context<4, double, 3> b;
    b.reset_parameters(16, flowtmpl::init::uniform);
    check_sequential_block(b, -3, 3, 6);
  }
  SECTION("with a context: IAF, SoftplusAffine, ResidualMADE<8, 2>, C = 2") {
    typename InverseAutoregressive<SoftplusAffine, ResidualMADE<8, 2>>::template bind_with_context<5, double, 2> b;
    b.reset_parameters(17, flowtmpl::init::uniform);
    check_sequential_block(b, -3, 3, 7);
  }
}

TEST_CASE("the batch entry points equal the per-sample members (block path for the parallel direction)",
          "[autoregressive][host]") {
  using MAF = flowtmpl::bind_t<MaskedAutoregressive<flowtmpl::Affine, MADE<8, 8>>, 4, double>;
  using IAF = flowtmpl::bind_t<InverseAutoregressive<flowtmpl::Spline<8>, ResidualMADE<8, 1>>, 5, double>;
  // the parallel direction has a block entry point: MAF inverse, IAF forward
  STATIC_REQUIRE(flowtmpl::detail::has_inverse_block_v<MAF, 4, double>);
  STATIC_REQUIRE(!flowtmpl::detail::has_forward_block_v<MAF, 4, double>);
  STATIC_REQUIRE(flowtmpl::detail::has_forward_block_v<IAF, 5, double>);
  STATIC_REQUIRE(!flowtmpl::detail::has_inverse_block_v<IAF, 5, double>);
  STATIC_REQUIRE(flowtmpl::detail::uses_blocks<MAF>());
  MAF maf;
  maf.reset_parameters(1, flowtmpl::init::uniform);
  IAF iaf;
  iaf.reset_parameters(2, flowtmpl::init::uniform);
  SECTION("MaskedAutoregressive<Affine, MADE<8, 8>>") { check_batch(maf); }
  SECTION("InverseAutoregressive<Spline<8>, ResidualMADE<8, 1>>") { check_batch(iaf, -4, 4); }
  SECTION("MaskedAutoregressive<BoundedSpline<5>, ResidualMADE<8, 1>>, inputs in [0, 1]") {
    flowtmpl::bind_t<MaskedAutoregressive<flowtmpl::BoundedSpline<5>, ResidualMADE<8, 1>>, 3, double> b;
    b.reset_parameters(3, flowtmpl::init::uniform);
    check_batch(b, 0, 1);
  }
  SECTION("Inverse<MaskedAutoregressive<SoftplusAffine, MADE<8, 8>>>") {
    flowtmpl::bind_t<flowtmpl::Inverse<MaskedAutoregressive<flowtmpl::SoftplusAffine, MADE<8, 8>>>, 4, double> b;
    b.base.reset_parameters(4, flowtmpl::init::uniform);
    check_batch(b);
  }
  SECTION("a chain: MAF, Permute<Reverse>, IAF (Additive)") {
    flowtmpl::bind_t<compose<MaskedAutoregressive<flowtmpl::Affine, MADE<8, 8>>, Permute<Reverse>,
                             InverseAutoregressive<flowtmpl::Additive, MADE<8, 8>>>,
                     4, double>
        b;
    flowtmpl::reset_parameters(b, 5, flowtmpl::init::uniform);
    check_batch(b);
  }
}

TEST_CASE("log_prob and sample_and_log_prob of a flow with autoregressive layers", "[autoregressive][host]") {
  using Flow = flowtmpl::bind_t<
      flowtmpl::Flow<flowtmpl::StandardNormal, compose<MaskedAutoregressive<flowtmpl::Spline<8>, MADE<8, 8>>,
                                                       Permute<Reverse>, MaskedAutoregressive<flowtmpl::Affine>>>,
      3, double>;
  Flow d;
  flowtmpl::reset_parameters(d, 6, flowtmpl::init::uniform);
  const auto X = random_batch<3>(300, 8, -3, 3);
  const auto lp = flowtmpl::log_prob(d, X);
  for (Eigen::Index j = 0; j < X.cols(); ++j) {
    const Eigen::Vector3d x = X.col(j);
    // log p(x) = log N(f^-1(x)) + log|det df^-1/dx|, from the per-sample members
    const auto r = flowtmpl::inverse_and_log_det(d.transform, x);
    const double ref = -0.5 * r.value.squaredNorm() - 1.5 * std::log(2 * std::numbers::pi) + r.log_det;
    CHECK(close(lp[j], ref));
  }
  const auto s = flowtmpl::sample_and_log_prob(d, 300, 9);
  const auto lp2 = flowtmpl::log_prob(d, s.values);
  for (Eigen::Index j = 0; j < 300; ++j) CHECK(close(s.log_det[j], lp2[j], 1e-10));
}

TEST_CASE("autoregressive layers name their parameters as nflows's state_dict", "[autoregressive][parameters]") {
  struct entry {
    std::string name;
    std::size_t size;
  };
  auto names_of = [](auto& b) {
    std::vector<entry> v;
    flowtmpl::for_each_parameter(b, [&](const std::string& n, auto*, std::size_t k) { v.push_back({n, k}); });
    return v;
  };
  auto expect = [](const std::vector<entry>& got, const std::vector<entry>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].name == want[i].name);
      CHECK(got[i].size == want[i].size);
    }
  };
  SECTION("MADE<8, 8>, D = 4, two parameters per feature") {
    flowtmpl::bind_t<MaskedAutoregressive<flowtmpl::Affine, MADE<8, 8>>, 4, double> b;
    expect(names_of(b), {{"made.initial_layer.weight", 8 * 4},
                         {"made.initial_layer.bias", 8},
                         {"made.blocks.0.linear.weight", 8 * 8},
                         {"made.blocks.0.linear.bias", 8},
                         {"made.final_layer.weight", 8 * 8},
                         {"made.final_layer.bias", 8}});
    CHECK(flowtmpl::parameter_count_v<decltype(b)> == 32 + 8 + 64 + 8 + 64 + 8);
  }
  SECTION("ResidualMADE<8, 1>, D = 3, Spline<8> (23 parameters per feature)") {
    flowtmpl::bind_t<InverseAutoregressive<flowtmpl::Spline<8>, ResidualMADE<8, 1>>, 3, float> b;
    expect(names_of(b), {{"made.initial_layer.weight", 8 * 3},
                         {"made.initial_layer.bias", 8},
                         {"made.blocks.0.linear_layers.0.weight", 64},
                         {"made.blocks.0.linear_layers.0.bias", 8},
                         {"made.blocks.0.linear_layers.1.weight", 64},
                         {"made.blocks.0.linear_layers.1.bias", 8},
                         {"made.final_layer.weight", 3 * 23 * 8},
                         {"made.final_layer.bias", 3 * 23}});
  }
  SECTION("with a context of 2 (bound with a context, as Conditional<2, ...> does)") {
    flowtmpl::MaskedAutoregressive<flowtmpl::Additive, ResidualMADE<8, 1>>::bind_with_context<2, double, 2> b;
    expect(names_of(b), {{"made.initial_layer.weight", 16},
                         {"made.initial_layer.bias", 8},
                         {"made.context_layer.weight", 16},
                         {"made.context_layer.bias", 8},
                         {"made.blocks.0.linear_layers.0.weight", 64},
                         {"made.blocks.0.linear_layers.0.bias", 8},
                         {"made.blocks.0.context_layer.weight", 16},
                         {"made.blocks.0.context_layer.bias", 8},
                         {"made.blocks.0.linear_layers.1.weight", 64},
                         {"made.blocks.0.linear_layers.1.bias", 8},
                         {"made.final_layer.weight", 16},
                         {"made.final_layer.bias", 2}});
  }
  SECTION("a learnable bound adds transformer.log_bound") {
    flowtmpl::bind_t<MaskedAutoregressive<flowtmpl::BoundedAffine<3.0, flowtmpl::affine_bound::learnable>, MADE<8>>, 2, double> b;
    const auto v = names_of(b);
    REQUIRE(v.size() == 5);
    CHECK(v[4].name == "transformer.log_bound");
    CHECK(v[4].size == 2);
    CHECK(flowtmpl::parameter_count_v<decltype(b)> == 16 + 8 + 32 + 4 + 2);
  }
  SECTION("in a chain: the layer's position first; an inverse adds nothing") {
    flowtmpl::bind_t<compose<MaskedAutoregressive<flowtmpl::Affine, MADE<8>>, Permute<Reverse>,
                             flowtmpl::Inverse<InverseAutoregressive<flowtmpl::Additive, MADE<8>>>>,
                     3, double>
        b;
    const auto v = names_of(b);
    REQUIRE(v.size() == 8);
    CHECK(v[0].name == "0.made.initial_layer.weight");
    CHECK(v[3].name == "0.made.final_layer.bias");
    CHECK(v[4].name == "2.made.initial_layer.weight");
    CHECK(v[7].name == "2.made.final_layer.bias");
    // the pointers are the layer's own: writing through them changes the map
    const Eigen::Vector3d x(0.1, 0.2, 0.3);
    const Eigen::Vector3d y = b.forward(x);
    flowtmpl::for_each_parameter(b, [&](const std::string& n, double* p, std::size_t) {
      if (n == "0.made.final_layer.bias") p[1] += 0.5;  // feature 0's shift
    });
    CHECK(b.forward(x) != y);
  }
}

TEST_CASE("checked mode reports a MADE weight that its mask forbids", "[autoregressive][checked]") {
  using MAF = flowtmpl::bind_t<MaskedAutoregressive<flowtmpl::Affine, MADE<8, 8>>, 4, double>;
  MAF b;
  b.reset_parameters(11, flowtmpl::init::uniform);
  const auto X = random_batch<4>(5, 12, -2, 2);
  // valid parameters: checked mode gives what the unchecked path gives
  CHECK(b.validate() == nullptr);
  const auto checked = flowtmpl::forward_and_log_det(b, X, flowtmpl::checked);
  const auto unchecked = flowtmpl::forward_and_log_det(b, X);
  for (Eigen::Index j = 0; j < X.cols(); ++j) {
    CHECK(close(checked.log_det[j], unchecked.log_det[j]));
    for (int i = 0; i < 4; ++i) CHECK(close(checked.values(i, j), unchecked.values(i, j)));
  }
  // hidden unit 0 of the initial layer has degree 1; input 3 has degree 4: forbidden
  flowtmpl::for_each_parameter(b, [&](const std::string& n, double* p, std::size_t) {
    if (n == "made.initial_layer.weight") p[0 * 4 + 3] = 0.25;
  });
  REQUIRE(b.validate() != nullptr);
  for (bool fwd : {true, false}) {
    INFO((fwd ? "forward" : "inverse"));
    const auto e = domain_error_from([&] {
      if (fwd)
        (void)flowtmpl::forward(b, X, flowtmpl::checked);
      else
        (void)flowtmpl::inverse(b, X, flowtmpl::checked);
    });
    REQUIRE(e.has_value());
    CHECK(e->sample == 0);
    CHECK(e->component == -1);
    CHECK_THAT(e->layer, Catch::Contains("MaskedAutoregressive"));
    CHECK_THAT(std::string(e->what()),
               Catch::Contains("invalid parameters") && Catch::Contains("MADE") && Catch::Contains("mask"));
  }
  // in a chain, the path names the layer
  flowtmpl::bind_t<compose<Permute<Reverse>, MAF>, 4, double> c;
  c.get<1>() = b;
  const auto e = domain_error_from([&] { (void)flowtmpl::log_det(c, X, flowtmpl::checked); });
  REQUIRE(e.has_value());
  CHECK_THAT(e->layer, Catch::Contains("layer 1") && Catch::Contains("MaskedAutoregressive"));
  // apply_masks() repairs it
  b.made.apply_masks();
  CHECK(b.validate() == nullptr);
  CHECK_NOTHROW(flowtmpl::forward(b, X, flowtmpl::checked));
}

TEST_CASE("checked mode reports an input outside a bounded spline's domain", "[autoregressive][checked]") {
  flowtmpl::bind_t<InverseAutoregressive<flowtmpl::BoundedSpline<5>, MADE<8>>, 3, double> b;
  b.reset_parameters(13, flowtmpl::init::uniform);
  Eigen::Matrix<double, 3, Eigen::Dynamic> X(3, 2);
  X << 0.2, 0.4, 0.5, 1.5, 0.7, 0.1;
  const auto e = domain_error_from([&] { (void)flowtmpl::forward(b, X, flowtmpl::checked); });
  REQUIRE(e.has_value());
  CHECK(e->sample == 1);
  CHECK(e->component == 1);
  CHECK(e->value == 1.5);
  CHECK_THAT(std::string(e->what()), Catch::Contains("[0, 1]"));
}

}  // namespace autoregressive_host_test
