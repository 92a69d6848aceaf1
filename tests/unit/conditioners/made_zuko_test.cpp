// MADE<...>::with_degrees<...>::with_linear_context is zuko's MaskedMLP with a context
// (the network of zuko's MaskedAutoregressiveTransform(features, context)):
// tests/data/made_zuko_context.json (tools/reference/made_references.py) holds zuko's
// masks, masked weights, inputs, contexts and outputs. zuko's first layer reads [x; c]
// with one bias: flowtmpl's initial layer takes the x columns and the bias, its context
// layer the c columns with bias 0. zuko's hidden units, without a context those of
// nflows's sequential MADE, are here degree u mod D (a unit of degree 0 reads the context
// only), so the types list them; the test checks the masks derived from them against
// zuko's, then evaluate, evaluate_block, the sequential pass and the sorted copy against
// zuko's outputs to 1e-12. Without with_linear_context (nflows's activated context
// layer) the outputs differ: the test tells the two apart.
#include <flowtmpl/conditioners/made.hpp>

#include "support/reference_data.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace made_zuko_test {

namespace {
namespace ft = flowtmpl;
using ft::hidden_degrees;
using json = nlohmann::json;

using zuko_d3 = ft::MADE<8, 8>::with_degrees<hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>,
                                             hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>::with_linear_context;
using nflows_form_d3 =
    ft::MADE<8, 8>::with_degrees<hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>, hidden_degrees<0, 1, 2, 0, 1, 2, 0, 1>>;
using zuko_d4 =
    ft::MADE<6, 5>::with_degrees<hidden_degrees<0, 1, 2, 3, 0, 1>, hidden_degrees<0, 1, 2, 3, 0>>::with_linear_context;

std::vector<std::vector<double>> rows(const json& j) { return j.get<std::vector<std::vector<double>>>(); }

// loads zuko's layers into m; returns the largest difference of m's outputs from zuko's
// (every path), after checking the masks
template <class Made>
double check_case(const json& c, Made& m) {
  constexpr int D = Made::inputs, M = Made::outputs_per_feature, C = Made::context;
  INFO("case " << c.at("id").get<std::string>());
  REQUIRE(c.at("features").get<int>() == D);
  REQUIRE(c.at("context").get<int>() == C);
  REQUIRE(c.at("outputs_per_feature").get<int>() == M);
  const auto& layers = c.at("layers");
  // flowtmpl's linear maps: initial, context, the hidden ones, final
  REQUIRE(layers.size() + 1 == std::size_t(Made::n_linear));
  for (std::size_t z = 0; z < layers.size(); ++z) {
    const int li = z == 0 ? 0 : int(z) + 1;
    const auto& l = Made::linears[std::size_t(li)];
    const auto w = rows(layers[z].at("weight")), mask = rows(layers[z].at("mask"));
    const std::vector<double> b = flowtmpl_test::doubles(layers[z].at("bias"));
    REQUIRE(w.size() == std::size_t(l.out));
    int differ = 0;
    for (int o = 0; o < l.out; ++o) {
      for (int i = 0; i < l.in; ++i) {
        m.weight_data(li)[std::size_t(o) * l.in + i] = w[std::size_t(o)][std::size_t(i)];
        differ += (mask[std::size_t(o)][std::size_t(i)] == 1.0) != Made::allowed(li, o, i);
      }
      m.bias_data(li)[o] = b[std::size_t(o)];
      if (z == 0) {
        for (int i = 0; i < C; ++i) {
          m.weight_data(1)[std::size_t(o) * C + i] = w[std::size_t(o)][std::size_t(D + i)];
          CHECK(mask[std::size_t(o)][std::size_t(D + i)] == 1.0);  // the context reaches every first unit
        }
        m.bias_data(1)[o] = 0.0;
      }
    }
    INFO("layer " << z << ": " << differ << " mask entries differ from zuko's");
    CHECK(differ == 0);
  }
  CHECK(m.validate() == nullptr);
  const auto x = rows(c.at("inputs")), ctx = rows(c.at("context_values")), out = rows(c.at("outputs"));
  const Eigen::Index n = Eigen::Index(x.size());
  Eigen::Matrix<double, D, Eigen::Dynamic> X(D, n);
  Eigen::Matrix<double, C, Eigen::Dynamic> K(C, n);
  for (Eigen::Index r = 0; r < n; ++r) {
    for (int i = 0; i < D; ++i) X(i, r) = x[std::size_t(r)][std::size_t(i)];
    for (int i = 0; i < C; ++i) K(i, r) = ctx[std::size_t(r)][std::size_t(i)];
  }
  double worst = 0;
  auto compare = [&](const auto& net) {
    const auto block = net.evaluate_block(X, &K);
    for (Eigen::Index r = 0; r < n; ++r) {
      const Eigen::Matrix<double, C, 1> cr = K.col(r);
      const Eigen::Matrix<double, D, 1> xr = X.col(r);
      const auto single = net.evaluate(xr, cr.data());
      typename std::decay_t<decltype(net)>::sequential_state st;
      net.sequential_begin(st, cr.data());
      for (int k = 0; k < D; ++k) {
        double theta[M];
        net.sequential_step(st, k, theta);
        for (int j = 0; j < M; ++j) {
          const double want = out[std::size_t(r)][std::size_t(k * M + j)];
          worst = std::max({worst, std::abs(single[k * M + j] - want), std::abs(block(k * M + j, r) - want),
                            std::abs(theta[j] - want)});
        }
        st.x[k] = X(k, r);
      }
    }
  };
  compare(m);
  compare(m.sorted_copy());
  return worst;
}

}  // namespace

TEST_CASE("MADE::with_degrees<...>::with_linear_context is zuko's MaskedMLP with a context", "[reference][made][zuko]") {
  const json data = flowtmpl_test::load_reference("made_zuko_context.json");
  REQUIRE(data.at("cases").size() == 2);
  {
    zuko_d3::conditioner<3, 2, 2, double> m;
    const double worst = check_case(data.at("cases")[0], m);
    INFO("largest difference from zuko " << worst);
    CHECK(worst <= 1e-12);
  }
  {
    zuko_d4::conditioner<4, 2, 1, double> m;
    const double worst = check_case(data.at("cases")[1], m);
    INFO("largest difference from zuko " << worst);
    CHECK(worst <= 1e-12);
  }
  // nflows's form of the context (through an activated layer) is another function
  nflows_form_d3::conditioner<3, 2, 2, double> other;
  CHECK(check_case(data.at("cases")[0], other) > 1e-3);
}

}  // namespace made_zuko_test
