// ZukoAffine (transformers/zuko_affine.hpp) is zuko's MonotonicAffineTransform with the
// same (shift, scale) parameters, to 1e-12 in both directions (tests/data/zuko_affine.json,
// computed by zuko; raw scales up to 30 times a standard normal, deep in the soft clip).
#include <flowtmpl/transformers/zuko_affine.hpp>

#include "support/reference_data.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace zuko_affine_test {

TEST_CASE("ZukoAffine is zuko's MonotonicAffineTransform", "[affine][zuko][reference]") {
  using flowtmpl_test::close;
  using flowtmpl_test::doubles;
  using T = flowtmpl::ZukoAffine<>::transformer<1, double>;
  const nlohmann::json data = flowtmpl_test::load_reference("zuko_affine.json");
  int points = 0;
  for (const auto& c : data.at("cases")) {
    const std::vector<double> shift = doubles(c.at("shift")), raw = doubles(c.at("scale"));
    for (const char* dir : {"forward", "inverse"}) {
      const auto& f = c.at(dir);
      const std::vector<double> in = doubles(f.at("inputs")), out = doubles(f.at("outputs")),
                                ld = doubles(f.at("logabsdet"));
      REQUIRE(in.size() == shift.size());
      for (std::size_t j = 0; j < in.size(); ++j) {
        const double p[2] = {shift[j], raw[j]};
        double l;
        const double r = dir[0] == 'f' ? T{}.forward(0, in[j], p, l) : T{}.inverse(0, in[j], p, l);
        INFO(c.at("id").get<std::string>() << " " << dir << " " << j << ": " << r << " (zuko " << out[j] << ")");
        CHECK(close(r, out[j], 1e-12));
        CHECK(close(l, ld[j], 1e-12));
        ++points;
      }
    }
  }
  CHECK(points == 3 * 2 * 64);
}

}  // namespace zuko_affine_test
