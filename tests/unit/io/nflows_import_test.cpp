// nflows flows exported by tools/export/nflows_export.py load into the C++ type the
// exporter names and compute nflows's numbers. tests/data/nflows_*.safetensors (D = 3,
// hidden widths 8; tools/export/make_nflows_fixtures.py wrote all of them;
// tests/data/README.md):
//   maf             MaskedAutoregressiveFlow(3, 8, num_layers=2, num_blocks_per_layer=1):
//                   Inverse<InverseAutoregressive<SoftplusAffine, ResidualMADE<8, 1>>>
//                   and Permute<Reverse>, twice
//   maf_ctx2        the same layers with context_features=2: Conditional<2, Flow<...>>
//   splinecoupling  three PiecewiseRationalQuadraticCouplingTransforms (K = 5, linear
//                   tails at 3; two nets with hidden_features = 8, whose raw widths and
//                   heights nflows divides by sqrt(8); one with other minimum sizes) and
//                   a ReversePermutation: Inverse<Coupling<Spline<5, 3.0, ...>, MLP<8, 8>,
//                   mask::bits<...>>>
//   affinecoupling  three AffineCouplingTransforms and an AdditiveCouplingTransform:
//                   Inverse<Coupling<SigmoidAffine | Additive, MLP..., mask::bits<...>>>
//   simplerealnvp   nflows's SimpleRealNVP(3, 8, num_layers=2, num_blocks_per_layer=1):
//                   Inverse<Coupling<SigmoidAffine, ResidualNet<8, 1>, mask::bits<...>>>
//   resnetcoupling_ctx2  an affine and a spline coupling whose ResidualNets read a context
//                   of 2 (in the first layer and in every block's gate)
// with random (far from the identity) or briefly trained parameters, in double (both
// states) and float (trained); tests/data/nflows_import.json holds, per file, the C++ type
// and nflows's Flow.log_prob at 200 points (normal draws and points on and near the
// splines' bound +-3) and nflows's samples flow._transform.inverse(z) of 50 noise vectors
// z; the conditional file's with the recorded context of each point and noise vector.
//
// Compared, per point, as |flowtmpl - nflows| / max(1, |nflows|) (the largest over the
// coordinates for a sample):
//   double files: 1e-12 at every point;
//   float files: 1e-5 at 99 % of the points and 1e-4 at every one. The reference is
//   nflows in double with the parameters rounded to float, at the points rounded to
//   float, so the difference is float arithmetic alone (nflows's own float model is
//   within nflows_f32_error of that reference, recorded per file: at most 1.9e-6).
// Also: a file loaded into another model's type fails with load's "saved from another
// flow" message, and the exporter's refusal of a SimpleRealNVP with batch norm between
// its layers is recorded.
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

namespace nflows_import_test {

namespace {

namespace ft = flowtmpl;
using Catch::Contains;

// The C++ types that nflows_export.py prints for the fixtures; the text of each is the
// string literal the JSON's cpp_type is compared with.
#define NFLOWS_IMPORT_TYPE(name, ...) \
  using name = __VA_ARGS__;           \
  constexpr const char* name##_text = #__VA_ARGS__

NFLOWS_IMPORT_TYPE(MafF64, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::SoftplusAffine, flowtmpl::ResidualMADE<8, 1>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::SoftplusAffine, flowtmpl::ResidualMADE<8, 1>>>, flowtmpl::Permute<flowtmpl::Reverse>>>, 3, double>);
NFLOWS_IMPORT_TYPE(MafF32, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::SoftplusAffine, flowtmpl::ResidualMADE<8, 1>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::SoftplusAffine, flowtmpl::ResidualMADE<8, 1>>>, flowtmpl::Permute<flowtmpl::Reverse>>>, 3, float>);
NFLOWS_IMPORT_TYPE(MafCtx2F64, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::SoftplusAffine, flowtmpl::ResidualMADE<8, 1>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::SoftplusAffine, flowtmpl::ResidualMADE<8, 1>>>, flowtmpl::Permute<flowtmpl::Reverse>>>>, 3, double>);
NFLOWS_IMPORT_TYPE(SplineCouplingF64, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::Spline<5, 3.0, flowtmpl::spline_options{.width_divisor = 2.8284271247461903, .height_divisor = 2.8284271247461903}>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 1, 0>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::Spline<5, 3.0, flowtmpl::spline_options{.min_bin_width = 0.01, .min_bin_height = 0.02, .min_derivative = 0.005}>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<0, 1, 0>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::Spline<5, 3.0, flowtmpl::spline_options{.width_divisor = 2.8284271247461903, .height_divisor = 2.8284271247461903}>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 0, 1>>>>>, 3, double>);
NFLOWS_IMPORT_TYPE(SplineCouplingF32, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::Spline<5, 3.0, flowtmpl::spline_options{.width_divisor = 2.8284271247461903, .height_divisor = 2.8284271247461903}>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 1, 0>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::Spline<5, 3.0, flowtmpl::spline_options{.min_bin_width = 0.01, .min_bin_height = 0.02, .min_derivative = 0.005}>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<0, 1, 0>>>, flowtmpl::Permute<flowtmpl::Reverse>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::Spline<5, 3.0, flowtmpl::spline_options{.width_divisor = 2.8284271247461903, .height_divisor = 2.8284271247461903}>, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 0, 1>>>>>, 3, float>);
NFLOWS_IMPORT_TYPE(AffineCouplingF64, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::Additive, flowtmpl::MLPWith<flowtmpl::act::elu, 8>, flowtmpl::mask::bits<0, 0, 1>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::MLPWith<flowtmpl::act::silu, 8, 8>, flowtmpl::mask::bits<1, 1, 0>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::MLPWith<flowtmpl::act::tanh, 8, 8>, flowtmpl::mask::bits<0, 1, 0>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 0, 1>>>>>, 3, double>);
NFLOWS_IMPORT_TYPE(AffineCouplingF32, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::Additive, flowtmpl::MLPWith<flowtmpl::act::elu, 8>, flowtmpl::mask::bits<0, 0, 1>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::MLPWith<flowtmpl::act::silu, 8, 8>, flowtmpl::mask::bits<1, 1, 0>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::MLPWith<flowtmpl::act::tanh, 8, 8>, flowtmpl::mask::bits<0, 1, 0>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::MLP<8, 8>, flowtmpl::mask::bits<1, 0, 1>>>>>, 3, float>);

NFLOWS_IMPORT_TYPE(SimpleRealNvpF64, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::ResidualNet<8, 1>, flowtmpl::mask::bits<1, 0, 1>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::ResidualNet<8, 1>, flowtmpl::mask::bits<0, 1, 0>>>>>, 3, double>);
NFLOWS_IMPORT_TYPE(SimpleRealNvpF32, flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::ResidualNet<8, 1>, flowtmpl::mask::bits<1, 0, 1>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::ResidualNet<8, 1>, flowtmpl::mask::bits<0, 1, 0>>>>>, 3, float>);
NFLOWS_IMPORT_TYPE(ResNetCouplingCtx2F64, flowtmpl::bind_t<flowtmpl::Conditional<2, flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::Spline<5, 3.0, flowtmpl::spline_options{.width_divisor = 2.8284271247461903, .height_divisor = 2.8284271247461903}>, flowtmpl::ResidualNetWith<flowtmpl::act::tanh, 8, 1>, flowtmpl::mask::bits<0, 1, 0>>>, flowtmpl::Inverse<flowtmpl::Coupling<flowtmpl::SigmoidAffine, flowtmpl::ResidualNet<8, 2>, flowtmpl::mask::bits<1, 0, 1>>>>>>, 3, double>);

#undef NFLOWS_IMPORT_TYPE

const nlohmann::json& fixtures() {
  static const nlohmann::json j = flowtmpl_test::load_reference("nflows_import.json");
  return j;
}

template <class Flow>
void check_file(const std::string& file, const char* type_text) {
  flowtmpl_test::check_import_file<Flow>(fixtures(), file, type_text);
}
using flowtmpl_test::data_path;

}  // namespace

TEST_CASE("nflows MaskedAutoregressiveFlow loads and computes nflows's log_prob and samples", "[io][nflows]") {
  check_file<MafF64>("nflows_maf_random_f64.safetensors", MafF64_text);
  check_file<MafF64>("nflows_maf_trained_f64.safetensors", MafF64_text);
  check_file<MafF32>("nflows_maf_trained_f32.safetensors", MafF32_text);
}

TEST_CASE("nflows MADE layers with a context of 2 load as a Conditional flow", "[io][nflows]") {
  check_file<MafCtx2F64>("nflows_maf_ctx2_trained_f64.safetensors", MafCtx2F64_text);
}

TEST_CASE("nflows spline couplings (MLP nets, sqrt(hidden_features) divisors) load and compute nflows's numbers",
          "[io][nflows]") {
  check_file<SplineCouplingF64>("nflows_splinecoupling_random_f64.safetensors", SplineCouplingF64_text);
  check_file<SplineCouplingF64>("nflows_splinecoupling_trained_f64.safetensors", SplineCouplingF64_text);
  check_file<SplineCouplingF32>("nflows_splinecoupling_trained_f32.safetensors", SplineCouplingF32_text);
}

TEST_CASE("nflows affine and additive couplings load and compute nflows's numbers", "[io][nflows]") {
  check_file<AffineCouplingF64>("nflows_affinecoupling_random_f64.safetensors", AffineCouplingF64_text);
  check_file<AffineCouplingF64>("nflows_affinecoupling_trained_f64.safetensors", AffineCouplingF64_text);
  check_file<AffineCouplingF32>("nflows_affinecoupling_trained_f32.safetensors", AffineCouplingF32_text);
}

TEST_CASE("nflows's SimpleRealNVP (ResidualNet couplings) loads and computes nflows's numbers", "[io][nflows]") {
  check_file<SimpleRealNvpF64>("nflows_simplerealnvp_random_f64.safetensors", SimpleRealNvpF64_text);
  check_file<SimpleRealNvpF64>("nflows_simplerealnvp_trained_f64.safetensors", SimpleRealNvpF64_text);
  check_file<SimpleRealNvpF32>("nflows_simplerealnvp_trained_f32.safetensors", SimpleRealNvpF32_text);
}

TEST_CASE("nflows couplings whose ResidualNets read a context of 2 load as a Conditional flow", "[io][nflows]") {
  check_file<ResNetCouplingCtx2F64>("nflows_resnetcoupling_ctx2_random_f64.safetensors", ResNetCouplingCtx2F64_text);
  check_file<ResNetCouplingCtx2F64>("nflows_resnetcoupling_ctx2_trained_f64.safetensors", ResNetCouplingCtx2F64_text);
}

TEST_CASE("an nflows file loaded into another model's type fails with load's message", "[io][nflows]") {
  AffineCouplingF64 affine;
  CHECK_THROWS_WITH(ft::load(affine, data_path("nflows_splinecoupling_random_f64.safetensors")),
                    Contains("the file was saved from another flow") && Contains("file: Flow<StandardNormal") &&
                        Contains("Coupling<Spline[K=5,B=3,P=14,") && Contains("w_div=2.8284271247461903") &&
                        Contains("flow: Flow<StandardNormal") && Contains("Coupling<SigmoidAffine[P=2]"));
  MafF64 maf;
  CHECK_THROWS_WITH(ft::load(maf, data_path("nflows_maf_ctx2_trained_f64.safetensors")),
                    Contains("the file was saved from another flow"));
  SimpleRealNvpF64 nvp;
  CHECK_THROWS_WITH(ft::load(nvp, data_path("nflows_affinecoupling_random_f64.safetensors")),
                    Contains("the file was saved from another flow") && Contains("MLP<8,8>[1->4](act=relu)") &&
                        Contains("ResidualNet<8,1>[2->2](act=relu)"));
  SplineCouplingF32 spline32;
  CHECK_THROWS_WITH(ft::load(spline32, data_path("nflows_splinecoupling_trained_f64.safetensors")),
                    Contains("the file holds F64 (double) parameters, the flow is float"));
}

TEST_CASE("the exporter's refusal of nflows's SimpleRealNVP with batch norm, as recorded", "[io][nflows]") {
  // make_nflows_fixtures.py records nflows_export.py's ExportError for a SimpleRealNVP with
  // BatchNorm layers between its couplings; tools/export/check_nflows_roundtrip.py checks
  // the refusals themselves
  const nlohmann::json& refusal = fixtures().at("refusal");
  CHECK(refusal.at("model").get<std::string>() ==
        "nflows.flows.realnvp.SimpleRealNVP(3, 8, num_layers=2, num_blocks_per_layer=1, "
        "batch_norm_between_layers=True)");
  const std::string message = refusal.at("message").get<std::string>();
  INFO(message);
  CHECK_THAT(message, Contains("_transforms.1") && Contains("BatchNorm") && Contains("no batch-norm layer"));
}

}  // namespace nflows_import_test
