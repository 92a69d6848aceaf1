// zuko flows exported by tools/export/flowtmpl_export.py load into the C++ type the
// exporter names and compute zuko's numbers. tests/data/zuko_{maf,nsf}_{random,trained}_
// {f64,f32}.safetensors are zuko.flows.MAF / NSF(3, transforms=2, hidden_features=(8, 8))
// (the second transform with the flipped order); tests/data/zuko_{maf,nsf}_ctx2_{random,
// trained}_{f64,f32}.safetensors are MAF / NSF(3, context=2, transforms=2,
// hidden_features=(8, 8), randperm=True), conditional flows (Conditional<2, ...>, MADE
// with zuko's degrees and the context read linearly) whose drawn orders give
// Permute<Indices<...>>, Permute<Reverse> and unpermuted layers. Each with random (far
// from the identity) or briefly trained parameters, in double and float;
// tests/data/zuko_import.json holds, per file, the C++ type and zuko's log_prob at 200
// points (normal draws and points on and near the spline bound +-5) and zuko's samples
// flow().transform.inv(z) of 50 noise vectors z, with a context per point and per noise
// vector for the conditional flows (flow(c).log_prob(x), flow(c).transform.inv(z))
// (tools/export/make_import_fixtures.py wrote all of them; tests/data/README.md).
//
// Compared, per point, as |flowtmpl - zuko| / max(1, |zuko|) (the largest over the
// coordinates for a sample):
//   double files: 1e-12 at every point;
//   float files: 1e-5 at 99 % of the points and 1e-4 at every one. The reference is zuko
//   in double with the parameters rounded to float, at the points rounded to float, so
//   the difference is float arithmetic alone. zuko's own float model is within 7.4e-6 of
//   that reference at these points, but misses 1e-5 at the steepest points of larger
//   sets (make_import_fixtures.py's models on 20000 points: up to 5.9e-5 in log_prob and
//   7.4e-5 in samples, on the NSFs): hence 1e-4 for the largest.
// Also: a file loaded into another model's type fails with load's "saved from another
// flow" message (a conditional flow's file in an unconditional type, and in the type of
// the same model with other orders too), and the exporter's refusal of zuko.flows.NAF is
// recorded.
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/safetensors.hpp>

#include "support/import_checks.hpp"
#include "support/reference_data.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

namespace zuko_import_test {

namespace {

namespace ft = flowtmpl;
using Catch::Contains;

// The C++ types that flowtmpl_export.py prints for the fixtures; the text of each is the
// string literal the JSON's cpp_type is compared with.
#define ZUKO_IMPORT_TYPE(name, ...)  \
  using name = __VA_ARGS__;          \
  constexpr const char* name##_text = #__VA_ARGS__

ZUKO_IMPORT_TYPE(MafF64, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>>>>>, 3, double>);
ZUKO_IMPORT_TYPE(MafF32, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>>>>>, 3, float>);
ZUKO_IMPORT_TYPE(NsfF64, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>>>>>, 3, double>);
ZUKO_IMPORT_TYPE(NsfF32, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>>>>>, 3, float>);

ZUKO_IMPORT_TYPE(MafCtxRandomF64, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Indices<1, 0, 2>>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Indices<1, 0, 2>>>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>>>>, 3, double>);
ZUKO_IMPORT_TYPE(MafCtxRandomF32, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Indices<1, 0, 2>>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Indices<1, 0, 2>>>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>>>>, 3, float>);
ZUKO_IMPORT_TYPE(MafCtxTrainedF64, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Permute<flowtmpl::Indices<1, 2, 0>>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Indices<1, 2, 0>>>>>>, 3, double>);
ZUKO_IMPORT_TYPE(MafCtxTrainedF32, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Permute<flowtmpl::Indices<1, 2, 0>>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoAffine<>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Indices<1, 2, 0>>>>>>, 3, float>);
ZUKO_IMPORT_TYPE(NsfCtxRandomF64, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Indices<0, 2, 1>>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Indices<0, 2, 1>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Permute<flowtmpl::Reverse>>>>, 3, double>);
ZUKO_IMPORT_TYPE(NsfCtxRandomF32, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Permute<flowtmpl::Indices<0, 2, 1>>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Inverse<flowtmpl::Permute<flowtmpl::Indices<0, 2, 1>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Permute<flowtmpl::Reverse>>>>, 3, float>);
ZUKO_IMPORT_TYPE(NsfCtxTrainedF64, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Permute<flowtmpl::Reverse>>>>, 3, double>);
ZUKO_IMPORT_TYPE(NsfCtxTrainedF32, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>::with_degrees<flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, flowtmpl::hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context>>, flowtmpl::Permute<flowtmpl::Reverse>>>>, 3, float>);

#undef ZUKO_IMPORT_TYPE

const nlohmann::json& fixtures() {
  static const nlohmann::json j = flowtmpl_test::load_reference("zuko_import.json");
  return j;
}

template <class Flow>
void check_file(const std::string& file, const char* type_text) {
  flowtmpl_test::check_import_file<Flow>(fixtures(), file, type_text);
}
using flowtmpl_test::data_path;

}  // namespace

TEST_CASE("zuko MAF with random parameters loads and computes zuko's log_prob and samples", "[io][zuko]") {
  check_file<MafF64>("zuko_maf_random_f64.safetensors", MafF64_text);
  check_file<MafF32>("zuko_maf_random_f32.safetensors", MafF32_text);
}

TEST_CASE("zuko MAF after training loads and computes zuko's log_prob and samples", "[io][zuko]") {
  check_file<MafF64>("zuko_maf_trained_f64.safetensors", MafF64_text);
  check_file<MafF32>("zuko_maf_trained_f32.safetensors", MafF32_text);
}

TEST_CASE("zuko NSF with random parameters loads and computes zuko's log_prob and samples", "[io][zuko]") {
  check_file<NsfF64>("zuko_nsf_random_f64.safetensors", NsfF64_text);
  check_file<NsfF32>("zuko_nsf_random_f32.safetensors", NsfF32_text);
}

TEST_CASE("zuko NSF after training loads and computes zuko's log_prob and samples", "[io][zuko]") {
  check_file<NsfF64>("zuko_nsf_trained_f64.safetensors", NsfF64_text);
  check_file<NsfF32>("zuko_nsf_trained_f32.safetensors", NsfF32_text);
}

TEST_CASE("zuko MAF with a context and random orders, random parameters, loads and computes zuko's numbers",
          "[io][zuko]") {
  check_file<MafCtxRandomF64>("zuko_maf_ctx2_random_f64.safetensors", MafCtxRandomF64_text);
  check_file<MafCtxRandomF32>("zuko_maf_ctx2_random_f32.safetensors", MafCtxRandomF32_text);
}

TEST_CASE("zuko MAF with a context and random orders, after training, loads and computes zuko's numbers",
          "[io][zuko]") {
  check_file<MafCtxTrainedF64>("zuko_maf_ctx2_trained_f64.safetensors", MafCtxTrainedF64_text);
  check_file<MafCtxTrainedF32>("zuko_maf_ctx2_trained_f32.safetensors", MafCtxTrainedF32_text);
}

TEST_CASE("zuko NSF with a context and random orders, random parameters, loads and computes zuko's numbers",
          "[io][zuko]") {
  check_file<NsfCtxRandomF64>("zuko_nsf_ctx2_random_f64.safetensors", NsfCtxRandomF64_text);
  check_file<NsfCtxRandomF32>("zuko_nsf_ctx2_random_f32.safetensors", NsfCtxRandomF32_text);
}

TEST_CASE("zuko NSF with a context and random orders, after training, loads and computes zuko's numbers",
          "[io][zuko]") {
  check_file<NsfCtxTrainedF64>("zuko_nsf_ctx2_trained_f64.safetensors", NsfCtxTrainedF64_text);
  check_file<NsfCtxTrainedF32>("zuko_nsf_ctx2_trained_f32.safetensors", NsfCtxTrainedF32_text);
}

TEST_CASE("a zuko file loaded into another model's type fails with load's message", "[io][zuko]") {
  NsfF64 nsf;
  CHECK_THROWS_WITH(ft::load(nsf, data_path("zuko_maf_random_f64.safetensors")),
                    Contains("the file was saved from another flow") && Contains("file: Flow<StandardNormal") &&
                        Contains("ZukoAffine[slope=0.001,P=2]") && Contains("flow: Flow<StandardNormal") &&
                        Contains("ZukoSpline[K=8,B=5,slope=0.001,P=23]"));
  MafF64 maf;
  CHECK_THROWS_WITH(ft::load(maf, data_path("zuko_nsf_trained_f64.safetensors")), Contains("the file was saved from another flow"));
  // the same model in the other scalar: load names the dtypes instead
  MafF32 maf32;
  CHECK_THROWS_WITH(ft::load(maf32, data_path("zuko_maf_random_f64.safetensors")),
                    Contains("the file holds F64 (double) parameters, the flow is float"));
  // a conditional flow's file in the unconditional model's type, and in the type of the
  // same conditional model whose randperm drew other orders
  CHECK_THROWS_WITH(ft::load(maf, data_path("zuko_maf_ctx2_random_f64.safetensors")),
                    Contains("the file was saved from another flow") && Contains("context=2"));
  MafCtxRandomF64 maf_ctx;
  CHECK_THROWS_WITH(ft::load(maf_ctx, data_path("zuko_maf_ctx2_trained_f64.safetensors")),
                    Contains("the file was saved from another flow") && Contains("Permute[1,2,0]"));
}

TEST_CASE("the exporter's refusal of a zuko NAF, as recorded", "[io][zuko]") {
  // make_import_fixtures.py records flowtmpl_export.py's ExportError for
  // zuko.flows.NAF(3, transforms=1) (its univariate, an MNN, has no flowtmpl transformer);
  // tools/export/test_export.py checks the refusals themselves
  const nlohmann::json& refusal = fixtures().at("refusal");
  CHECK(refusal.at("model").get<std::string>() == "zuko.flows.NAF(3, transforms=1)");
  const std::string message = refusal.at("message").get<std::string>();
  INFO(message);
  CHECK_THAT(message,
             Contains("zuko.flows.NAF transform.0") && Contains("univariate MNN has no flowtmpl transformer"));
}

}  // namespace zuko_import_test
