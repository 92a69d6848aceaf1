// tests/support/coupling_kit.hpp: the conformance kit on a coupling layer, shared by the
// unit/bijectors/coupling_kit_*_test.cpp files.
//
//   check_coupling_layer<Spec, D, S>(seed, opt)   the kit on bind_t<Spec, D, S> after
//       reset_parameters(seed, init::uniform), at 48 points, as Catch2 checks; first
//       that the drawn layer is far from the identity (some component of some point
//       moves by more than 1e-2), so that the kit proves something
#pragma once

#include <flowtmpl/core.hpp>
#include <flowtmpl/testing.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>

namespace flowtmpl_test {

template <class Spec, int D, class S>
void check_coupling_layer(std::uint64_t seed, flowtmpl::testing::options<S> opt = {}) {
  using B = flowtmpl::bind_t<Spec, D, S>;
  B b;
  b.reset_parameters(seed, flowtmpl::init::uniform);
  {
    double moved = 0;
    for (int i = 0; i < 8; ++i) {
      Eigen::Matrix<S, D, 1> x;
      for (int j = 0; j < D; ++j) x[j] = S(-2.5 + 0.6 * ((i + 2 * j) % 9));
      moved = std::max(moved, double((b.forward(x) - x).cwiseAbs().maxCoeff()));
    }
    INFO(B::name << " D = " << D << ": largest move " << moved);
    REQUIRE(moved > 1e-2);
  }
  opt.points = 48;
  opt.seed = seed;
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO(B::name << "<" << B::transformer_type::name << ">, D = " << D << ", " << (sizeof(S) == 4 ? "float" : "double")
               << ", seed " << seed << "\n"
               << r.text());
  CHECK(r.ok());
  CHECK(r.checks() >= 48 * 8);  // the kit ran its per-point checks
}

}  // namespace flowtmpl_test
