// examples/getting_started.cpp: every snippet of docs/getting-started.md, compiled and run.
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include <cstdio>
#include <iostream>

int main() {
  // [specs]
  using Spec = flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::LUConv, flowtmpl::Permute<flowtmpl::Reverse>>;
  using Flow8 = flowtmpl::bind_t<Spec, 8, float>;   // flowtmpl::Chain<ActNormBijector<8, float>, ...>
  Flow8 f;                                          // every layer starts as the identity
  f.get<0>().log_scale[3] = 0.5f;                   // parameters are plain std::arrays
  static_assert(std::is_trivially_copyable_v<Flow8>);

  // [one sample]
  Eigen::Matrix<float, 8, 1> z = Eigen::Matrix<float, 8, 1>::LinSpaced(-1.0f, 1.0f);
  auto x = f.forward(z);                                   // sampling direction
  auto [x2, ld] = flowtmpl::forward_and_log_det(f, z);     // ld = log|det dx/dz|
  auto z2 = f.inverse(x);                                  // normalizing direction
  if ((z2 - z).norm() > 1e-5f || (x2 - x).norm() != 0.0f || std::abs(ld - 0.5f) > 1e-6f) return 1;

  // [distributions]
  using Model = flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, Spec>, 8, float>;
  Model m;
  auto xs = flowtmpl::sample(m, 1000, /*seed=*/42);            // 8 x 1000
  auto xt = flowtmpl::sample(m, 1000, /*seed=*/42, 0.7f);      // base scale times 0.7
  auto lp = flowtmpl::log_prob(m, xs);                         // 1 x 1000
  if (xs.cols() != 1000 || xt.cols() != 1000 || !lp.allFinite()) return 1;

  // [conformance]
  auto my_bijector = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Affine, flowtmpl::Tanh>, 4, double>{};
  auto report = flowtmpl::testing::check_bijector(my_bijector);
  if (!report.ok()) std::cerr << report.text();

  std::printf("getting_started: all snippets ran; conformance: %s", report.text().c_str());
  return report.ok() ? 0 : 1;
}
