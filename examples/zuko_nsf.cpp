// A zuko NSF trained in Python, loaded into flowtmpl and evaluated beside zuko's own numbers.
//
// Usage: zuko_nsf MODEL.safetensors
//   MODEL.json lies next to it. tools/export/train_zuko_nsf.py writes both (by default
//   tests/data/zuko_nsf_two_moons.safetensors and .json; the test suite runs this example
//   on those, with no Python). Prints flowtmpl's log density at each point of the JSON
//   beside zuko's and their difference, then five samples. Exits 1 if a difference exceeds
//   1e-10 or something cannot be read (a missing file, a model of another type: one
//   sentence on stderr says which).
//
// The type is what flowtmpl_export.py prints for zuko.flows.NSF(2, transforms=3,
// hidden_features=(32, 32)): zuko's transforms t0 (order 0, 1), t1 (order 1, 0), t2 map
// data to noise; flowtmpl's flow maps noise to data, so the chain runs t2, t1, t0, each
// an Inverse<InverseAutoregressive<...>>, the flipped t1 between two Permute<Reverse>.
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/safetensors.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

using namespace flowtmpl;

using Step = Inverse<InverseAutoregressive<ZukoSpline<8>, MADE<32, 32>>>;
using Model = bind_t<Flow<StandardNormal, compose<Step, Permute<Reverse>, Step, Permute<Reverse>, Step>>, 2, double>;

namespace {

// MODEL.json for MODEL.safetensors (MODEL + ".json" when the name has no extension)
std::string json_path_of(const std::string& path) {
  const std::size_t dot = path.rfind('.'), slash = path.rfind('/');
  const bool has_extension = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_extension ? path.substr(0, dot) : path) + ".json";
}

int fail(const std::string& sentence) {
  std::fprintf(stderr, "zuko_nsf: %s\n", sentence.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return fail("expected one argument, the model file (usage: zuko_nsf MODEL.safetensors).");
  const std::string path = argv[1];
  const std::string json_path = json_path_of(path);

  Model model;
  try {
    load(model, path);
  } catch (const std::exception& e) {
    // flowtmpl's message names the file and the cause: cannot open it, another flow's
    // spec, a damaged header, float parameters for a double flow, ...
    // on one line: each line break and the indent after it become "; " (" " after a colon)
    std::string what;
    for (const char* c = e.what(); *c != '\0'; ++c) {
      if (*c != '\n') {
        what += *c;
        continue;
      }
      while (c[1] == ' ') ++c;
      what += !what.empty() && what.back() == ':' ? " " : "; ";
    }
    return fail("cannot load the model into zuko_nsf's type: " + what);
  }

  nlohmann::json ref;
  Eigen::Matrix2Xd x;
  std::vector<double> zuko_lp;
  try {
    std::ifstream in(json_path);
    if (!in) return fail("cannot open " + json_path + ", the JSON that train_zuko_nsf.py writes next to the model.");
    ref = nlohmann::json::parse(in);
    const auto& points = ref.at("points");
    x.resize(2, Eigen::Index(points.size()));
    for (std::size_t j = 0; j < points.size(); ++j) {
      if (points[j].size() != 2) return fail(json_path + ": point " + std::to_string(j) + " does not have two coordinates.");
      for (int i = 0; i < 2; ++i) x(i, Eigen::Index(j)) = points[j][std::size_t(i)].get<double>();
    }
    zuko_lp = ref.at("log_prob").get<std::vector<double>>();
    if (zuko_lp.size() != points.size())
      return fail(json_path + ": " + std::to_string(zuko_lp.size()) + " log densities for " + std::to_string(points.size()) +
                  " points.");
    (void)ref.at("steps").get<int>();
    (void)ref.at("train_nll").get<double>();
  } catch (const nlohmann::json::exception& e) {
    return fail(json_path + " is not the JSON that train_zuko_nsf.py writes (" + e.what() + ").");
  }

  const auto lp = log_prob(model, x);
  std::printf("zuko NSF (%d training steps, NLL %.3f) loaded from %s\n", ref["steps"].get<int>(), ref["train_nll"].get<double>(),
              path.c_str());
  std::printf("%18s  %22s  %22s  %9s\n", "point", "flowtmpl log p(x)", "zuko log p(x)", "|diff|");
  double worst = 0;
  bool within = true;
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    const double z = zuko_lp[std::size_t(j)];
    const double d = std::abs(lp[j] - z);
    within = within && d <= 1e-10;  // false for a NaN as well
    worst = std::isnan(d) || d > worst ? d : worst;
    std::printf("(%6.2f, %6.2f)  %22.15f  %22.15f  %9.1e\n", x(0, j), x(1, j), lp[j], z, d);
  }
  const auto s = sample(model, 5, /*seed=*/1);
  std::printf("five samples:");
  for (Eigen::Index j = 0; j < s.cols(); ++j) std::printf(" (%.3f, %.3f)", s(0, j), s(1, j));
  std::printf("\nlargest difference %.1e\n", worst);
  if (!within) return fail("flowtmpl's log density differs from zuko's by more than 1e-10.");
  return 0;
}
