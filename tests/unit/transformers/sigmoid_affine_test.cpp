// SigmoidAffine (transformers/sigmoid_affine.hpp) is the elementwise map of nflows's
// AffineCouplingTransform with the same (shift, unconstrained scale), to 1e-12 in both
// directions (tests/data/nflows_affine_coupling.json: nflows's coupling with a transform
// net that returns given parameters; raw scales of scale 4 and the extremes +-40, +-20,
// the identity's). Its derivatives are checked with the others in transformer_grad_test.cpp.
#include <flowtmpl/transformers/sigmoid_affine.hpp>

#include "support/reference_data.hpp"

#include <catch2/catch.hpp>

#include <iomanip>
#include <vector>

namespace sigmoid_affine_test {

TEST_CASE("SigmoidAffine is nflows's AffineCouplingTransform", "[affine][nflows][reference]") {
  using flowtmpl_test::close;
  using flowtmpl_test::doubles;
  using T = flowtmpl::SigmoidAffine::transformer<1, double>;
  const nlohmann::json data = flowtmpl_test::load_reference("nflows_affine_coupling.json");
  const std::vector<double> shift = doubles(data.at("shift")), raw = doubles(data.at("unconstrained_scale"));
  int points = 0;
  for (const char* dir : {"forward", "inverse"}) {
    const auto& f = data.at(dir);
    const std::vector<double> in = doubles(f.at("inputs")), out = doubles(f.at("outputs")),
                              ld = doubles(f.at("logabsdet"));
    REQUIRE(in.size() == shift.size());
    for (std::size_t j = 0; j < in.size(); ++j) {
      const double p[2] = {raw[j], shift[j]};  // flowtmpl's order: (u, t)
      double l;
      const double r = dir[0] == 'f' ? T{}.forward(0, in[j], p, l) : T{}.inverse(0, in[j], p, l);
      INFO(dir << " " << j << std::setprecision(17) << ": " << r << " (nflows " << out[j] << "), log-det " << l
               << " (nflows " << ld[j] << ")");
      CHECK(close(r, out[j], 1e-12));
      CHECK(close(l, ld[j], 1e-12));
      ++points;
    }
  }
  CHECK(points == 400);
  double p[2];
  T::identity_parameters(p);
  double l;
  CHECK(std::abs(T{}.forward(0, 1.7, p, l) - 1.7) <= 1e-15);
  CHECK(std::abs(l) <= 1e-15);
}

}  // namespace sigmoid_affine_test
