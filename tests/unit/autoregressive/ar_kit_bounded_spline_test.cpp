// The conformance kit on MaskedAutoregressive and InverseAutoregressive with the
// BoundedSpline<5> transformer (5 bins on the domain [0, 1]), conditioners MADE<8, 8>
// and ResidualMADE<8, 1>, D = 1, 2, 4, 5, float and double, after
// reset_parameters(seed, init::uniform) (random parameters everywhere, so the layer is
// far from the identity). The kit runs in ar_kit_runner_test.cpp (see the block below).
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

#include "unit/autoregressive/ar_kit_support.hpp"

namespace {

using flowtmpl_ar_test::kind_of;
using flowtmpl_ar_test::layer_adapter;
using flowtmpl_ar_test::run_kit;

template <class Spec, int D, class S>
void kit_layer(const std::string& label, std::uint64_t seed) {
  using B = flowtmpl::bind_t<Spec, D, S>;
  layer_adapter<B> a;
  a.b.reset_parameters(seed, flowtmpl::init::uniform);
  INFO(label << ", D = " << D << ", " << (sizeof(S) == 4 ? "float" : "double"));
  // the drawn layer is not the identity (the kit would prove little on it)
  Eigen::Matrix<S, D, 1> x;
  for (int i = 0; i < D; ++i) x[i] = S(0.3 + 0.1 * i);
  CHECK((a.b.forward(x) - x).cwiseAbs().maxCoeff() > S(1e-3));
  flowtmpl::testing::options<S> opt;
  const auto r = run_kit<D, S>(a, kind_of<B>(), opt);
  INFO(r.text());
  CHECK(r.ok());
  CHECK(r.checks > 64 * 5);
}

template <class Spec, class S>
void kit_dims(const std::string& label) {
  kit_layer<Spec, 1, S>(label, 11);
  kit_layer<Spec, 2, S>(label, 12);
  kit_layer<Spec, 4, S>(label, 14);
  kit_layer<Spec, 5, S>(label, 15);
}

using T = flowtmpl::BoundedSpline<5>;
using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::ResidualMADE;

}  // namespace

TEMPLATE_TEST_CASE("MaskedAutoregressive<BoundedSpline<5>, MADE<8, 8>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  kit_dims<MaskedAutoregressive<T, MADE<8, 8>>, TestType>("MaskedAutoregressive<BoundedSpline<5>, MADE<8, 8>>");
}
TEMPLATE_TEST_CASE("MaskedAutoregressive<BoundedSpline<5>, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  kit_dims<MaskedAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "MaskedAutoregressive<BoundedSpline<5>, ResidualMADE<8, 1>>");
}
TEMPLATE_TEST_CASE("InverseAutoregressive<BoundedSpline<5>, MADE<8, 8>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  kit_dims<InverseAutoregressive<T, MADE<8, 8>>, TestType>("InverseAutoregressive<BoundedSpline<5>, MADE<8, 8>>");
}
TEMPLATE_TEST_CASE("InverseAutoregressive<BoundedSpline<5>, ResidualMADE<8, 1>> passes the conformance kit",
                   "[autoregressive][kit]", float, double) {
  kit_dims<InverseAutoregressive<T, ResidualMADE<8, 1>>, TestType>(
      "InverseAutoregressive<BoundedSpline<5>, ResidualMADE<8, 1>>");
}
