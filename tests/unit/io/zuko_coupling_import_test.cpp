// zuko's coupling flows exported by tools/export/flowtmpl_export.py load into the C++ type
// the exporter names and compute zuko's numbers: tests/data/zuko_realnvp_ctx2_{random,
// trained}_{f64,f32}.safetensors are zuko.flows.RealNVP(3, context=2, transforms=2,
// hidden_features=(8, 8)) (affine couplings whose MLP reads [x_a; c]: Conditional<2, ...>
// of Inverse<Coupling<ZukoAffine<>, MLP<8, 8>, mask::bits<...>>>), and tests/data/
// zuko_nice_rqs_*.safetensors zuko.flows.NICE(3, transforms=2, hidden_features=(8, 8),
// univariate=MonotonicRQSTransform, shapes=[(6,), (6,), (5,)]) (spline couplings:
// Coupling<ZukoSpline<6>, MLP<8, 8>, ...>), zuko's masks [1, 0, 1] then [0, 1, 0] (1:
// constant). Random (far from the identity) or briefly trained parameters, in double and
// float, with zuko's log_prob and samples in tests/data/zuko_import.json
// (tools/export/make_import_fixtures.py; tests/data/README.md), compared as
// zuko_import_test.cpp compares its files (tests/support/import_checks.hpp: double 1e-12
// at every point; float 1e-5 at 99 % of the points, 1e-4 at every one).
#include "support/import_checks.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace zuko_coupling_import_test {

namespace {

namespace ft = flowtmpl;
using Catch::Contains;

#define ZUKO_IMPORT_TYPE(name, ...)  \
  using name = __VA_ARGS__;          \
  constexpr const char* name##_text = #__VA_ARGS__

ZUKO_IMPORT_TYPE(RealNvpCtxF64, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::ZukoAffine<>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 0, 1>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::ZukoAffine<>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<0, 1, 0>>>>>>, 3, double>);
ZUKO_IMPORT_TYPE(RealNvpCtxF32, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::ZukoAffine<>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 0, 1>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::ZukoAffine<>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<0, 1, 0>>>>>>, 3, float>);
ZUKO_IMPORT_TYPE(NiceRqsF64, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::ZukoSpline<6>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 0, 1>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::ZukoSpline<6>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<0, 1, 0>>>>>, 3, double>);
ZUKO_IMPORT_TYPE(NiceRqsF32, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::ZukoSpline<6>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 0, 1>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::ZukoSpline<6>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<0, 1, 0>>>>>, 3, float>);

#undef ZUKO_IMPORT_TYPE

const nlohmann::json& fixtures() {
  static const nlohmann::json j = flowtmpl_test::load_reference("zuko_import.json");
  return j;
}

template <class Flow>
void check_file(const std::string& file, const char* type_text) {
  // the masks the types were written for: zuko's [1, 0, 1] and [0, 1, 0]
  const nlohmann::json want = nlohmann::json::parse("[[1, 0, 1], [0, 1, 0]]");
  CHECK(fixtures().at("files").at(file).at("masks") == want);
  flowtmpl_test::check_import_file<Flow>(fixtures(), file, type_text);
}

}  // namespace

TEST_CASE("zuko RealNVP with a context loads and computes zuko's log_prob and samples", "[io][zuko]") {
  check_file<RealNvpCtxF64>("zuko_realnvp_ctx2_random_f64.safetensors", RealNvpCtxF64_text);
  check_file<RealNvpCtxF32>("zuko_realnvp_ctx2_random_f32.safetensors", RealNvpCtxF32_text);
  check_file<RealNvpCtxF64>("zuko_realnvp_ctx2_trained_f64.safetensors", RealNvpCtxF64_text);
  check_file<RealNvpCtxF32>("zuko_realnvp_ctx2_trained_f32.safetensors", RealNvpCtxF32_text);
}

TEST_CASE("zuko NICE with spline couplings loads and computes zuko's log_prob and samples", "[io][zuko]") {
  check_file<NiceRqsF64>("zuko_nice_rqs_random_f64.safetensors", NiceRqsF64_text);
  check_file<NiceRqsF32>("zuko_nice_rqs_random_f32.safetensors", NiceRqsF32_text);
  check_file<NiceRqsF64>("zuko_nice_rqs_trained_f64.safetensors", NiceRqsF64_text);
  check_file<NiceRqsF32>("zuko_nice_rqs_trained_f32.safetensors", NiceRqsF32_text);
}

TEST_CASE("a zuko coupling file loaded into another coupling flow's type fails with load's message", "[io][zuko]") {
  NiceRqsF64 nice;
  CHECK_THROWS_WITH(ft::load(nice, flowtmpl_test::data_path("zuko_realnvp_ctx2_random_f64.safetensors")),
                    Contains("the file was saved from another flow") && Contains("MLP<8,8>[1->4](ctx=2, act=relu)") &&
                        Contains("ZukoSpline[K=6,B=5,slope=0.001,P=17]"));
}

}  // namespace zuko_coupling_import_test
