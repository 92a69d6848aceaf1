// flowtmpl/parameters.hpp: parameter_count_v against counts worked out by hand, and
// for_each_parameter's names, order, sizes and pointers (writing through them changes
// the layer).
#include <flowtmpl/flowtmpl.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace parameters_test {

namespace {

namespace ft = flowtmpl;

struct block {
  std::string name;
  std::size_t size;
  bool operator==(const block&) const = default;
};

template <class B>
std::vector<block> blocks_of(B& b) {
  std::vector<block> out;
  ft::for_each_parameter(b, [&](const std::string& name, auto* data, std::size_t size) {
    (void)data;
    out.push_back({name, size});
  });
  return out;
}

std::string show(const std::vector<block>& bs) {
  std::string s;
  for (const auto& b : bs) s += b.name + "[" + std::to_string(b.size) + "] ";
  return s;
}

}  // namespace

TEST_CASE("parameter_count_v of single layers", "[parameters]") {
  // ActNorm D = 8: log_scale[8] + shift[8]
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::ActNorm, 8, float>> == 16);
  // LUConv D = 4: lower 4*3/2 = 6, upper 6, diag 4, bias 4
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::LUConv, 4, double>> == 6 + 6 + 4 + 4);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::LUConv, 4, float>> == 20);
  // LUConv D = 3: 3 + 3 + 3 + 3; D = 1: no triangle, diag 1, bias 1
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::LUConv, 3, double>> == 12);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::LUConv, 1, double>> == 2);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::LUConvT<ft::lu_diag::softplus>, 5, double>> == 10 + 10 + 5 + 5);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Affine, 4, double>> == 8);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Scale, 6, double>> == 6);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Shift, 5, float>> == 5);
  // no trained parameters: fixed settings (a permutation, a slope) are not parameters
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Permute<ft::Reverse>, 4, double>> == 0);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Permute<ft::Random<7>>, 4, double>> == 0);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Permute<ft::Indices<1, 0>>, 2, double>> == 0);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Exp, 4, double>> == 0);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Tanh, 4, double>> == 0);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::LeakyReLU, 4, double>> == 0);
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Identity, 4, double>> == 0);
  // an inverse holds its layer's parameters
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::Inverse<ft::ActNorm>, 8, float>> == 16);
}

TEST_CASE("parameter_count_v of a chain is the sum over its layers", "[parameters][chain]") {
  // D = 4: ActNorm 8 + LUConv 20 + Permute 0 + Tanh 0
  STATIC_REQUIRE(
      ft::parameter_count_v<ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh>, 4, double>> ==
      28);
  // nested: Affine 8 + (Shift 4 + LUConv 20)
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::compose<ft::Affine, ft::compose<ft::Shift, ft::LUConv>>, 4, float>> ==
                 32);
  // an inverse of a chain: ActNorm 16 + Exp 0 + Scale 8, D = 8
  STATIC_REQUIRE(
      ft::parameter_count_v<ft::bind_t<ft::compose<ft::Inverse<ft::compose<ft::ActNorm, ft::Exp>>, ft::Scale>, 8, double>> ==
      24);
  // only parameter-free layers
  STATIC_REQUIRE(ft::parameter_count_v<ft::bind_t<ft::compose<ft::Exp, ft::Permute<ft::Reverse>, ft::Tanh>, 3, double>> == 0);
}

TEST_CASE("for_each_parameter names the blocks in layer order", "[parameters]") {
  SECTION("a single layer: the member names") {
    ft::bind_t<ft::ActNorm, 3, double> a;
    const std::vector<block> expected = {{"log_scale", 3}, {"shift", 3}};
    CHECK(blocks_of(a) == expected);
  }
  SECTION("compose<ActNorm, LUConv, Permute<Reverse>, Tanh>") {
    ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh>, 4, double> f;
    const std::vector<block> expected = {{"0.log_scale", 4},     {"0.shift", 4}, {"1.lower_entries", 6},
                                         {"1.upper_entries", 6}, {"1.diag", 4},  {"1.bias", 4}};
    const auto got = blocks_of(f);
    INFO(show(got));
    CHECK(got == expected);
  }
  SECTION("nested chains give the path") {
    ft::bind_t<ft::compose<ft::Affine, ft::compose<ft::Shift, ft::Tanh, ft::compose<ft::Scale>>>, 2, float> f;
    const std::vector<block> expected = {{"0.log_scale", 2}, {"0.shift", 2}, {"1.0.shift", 2}, {"1.2.0.log_scale", 2}};
    const auto got = blocks_of(f);
    INFO(show(got));
    CHECK(got == expected);
  }
  SECTION("an inverse adds nothing to the name") {
    ft::bind_t<ft::compose<ft::Tanh, ft::Inverse<ft::ActNorm>, ft::Inverse<ft::compose<ft::Shift, ft::Exp>>>, 2, double> f;
    const std::vector<block> expected = {{"1.log_scale", 2}, {"1.shift", 2}, {"2.0.shift", 2}};
    const auto got = blocks_of(f);
    INFO(show(got));
    CHECK(got == expected);
  }
  SECTION("a layer without parameters gives no block") {
    ft::bind_t<ft::compose<ft::Exp, ft::LeakyReLU>, 2, double> f;
    CHECK(blocks_of(f).empty());
  }
  SECTION("the sizes add up to parameter_count_v") {
    using F = ft::bind_t<ft::compose<ft::ActNorm, ft::compose<ft::LUConv, ft::Affine>, ft::Inverse<ft::Scale>>, 5, float>;
    F f;
    std::size_t total = 0;
    for (const auto& b : blocks_of(f)) total += b.size;
    CHECK(total == ft::parameter_count_v<F>);
    CHECK(total == 10 + (10 + 10 + 5 + 5) + 10 + 5);
  }
}

TEST_CASE("for_each_parameter's pointers are the layer's own storage", "[parameters]") {
  ft::bind_t<ft::compose<ft::ActNorm, ft::compose<ft::Shift, ft::LUConv>>, 3, double> f;
  std::vector<std::pair<std::string, const double*>> seen;
  ft::for_each_parameter(f, [&](const std::string& name, double* data, std::size_t) { seen.emplace_back(name, data); });
  REQUIRE(seen.size() == 7);
  CHECK(seen[0].second == f.get<0>().log_scale.data());
  CHECK(seen[1].second == f.get<0>().shift.data());
  CHECK(seen[2].second == f.get<1>().get<0>().shift.data());
  CHECK(seen[3].second == f.get<1>().get<1>().lower_entries.data());
  CHECK(seen[6].second == f.get<1>().get<1>().bias.data());
  // a const flow gives const pointers
  const auto& cf = f;
  ft::for_each_parameter(cf, [&](const std::string&, auto* data, std::size_t) {
    STATIC_REQUIRE(std::is_const_v<std::remove_pointer_t<decltype(data)>>);
  });
}

TEST_CASE("writing through for_each_parameter's pointers changes the layer", "[parameters]") {
  SECTION("compose<Affine, Shift>: the map by hand") {
    ft::bind_t<ft::compose<ft::Affine, ft::Shift>, 2, double> f;
    ft::for_each_parameter(f, [](const std::string& name, double* data, std::size_t size) {
      REQUIRE(size == 2);
      if (name == "0.log_scale") {
        data[0] = std::log(2.0);
        data[1] = std::log(3.0);
      } else if (name == "0.shift") {
        data[0] = 1;
        data[1] = -1;
      } else if (name == "1.shift") {
        data[0] = 10;
        data[1] = 20;
      } else {
        FAIL("unexpected parameter " << name);
      }
    });
    // y = (2 x0 + 1 + 10, 3 x1 - 1 + 20), log|det| = log 6
    const Eigen::Vector2d x(0.5, -2);
    const Eigen::Vector2d y = f.forward(x);
    CHECK(y[0] == Approx(12.0));
    CHECK(y[1] == Approx(13.0));
    CHECK(f.log_det(x) == Approx(std::log(6.0)));
  }
  SECTION("LUConv from a flat parameter vector") {
    ft::bind_t<ft::compose<ft::LUConv>, 3, float> f;
    // fill all 12 scalars in walk order with 0.1, 0.2, ..., 1.2
    int next = 1;
    ft::for_each_parameter(f, [&](const std::string&, float* data, std::size_t size) {
      for (std::size_t k = 0; k < size; ++k) data[k] = float(0.1 * next++);
    });
    CHECK(next == 13);
    const auto& lu = f.get<0>();
    const float expected_params[12] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 1.1f, 1.2f};
    for (int k = 0; k < 3; ++k) {
      CHECK(lu.lower_entries[k] == Approx(expected_params[k]));
      CHECK(lu.upper_entries[k] == Approx(expected_params[3 + k]));
      CHECK(lu.diag[k] == Approx(expected_params[6 + k]));
      CHECK(lu.bias[k] == Approx(expected_params[9 + k]));
    }
    // W = L (U + diag(exp(diag))) by hand, P = I
    Eigen::Matrix3d L = Eigen::Matrix3d::Identity(), U = Eigen::Matrix3d::Zero();
    L(1, 0) = 0.1, L(2, 0) = 0.2, L(2, 1) = 0.3;
    U(0, 1) = 0.4, U(0, 2) = 0.5, U(1, 2) = 0.6;
    U(0, 0) = std::exp(0.7), U(1, 1) = std::exp(0.8), U(2, 2) = std::exp(0.9);
    const Eigen::Vector3d x(0.3, -1, 2), b(1.0, 1.1, 1.2);
    const Eigen::Vector3d expected = L * U * x + b;
    const Eigen::Vector3f y = f.forward(x.cast<float>());
    for (int i = 0; i < 3; ++i) CHECK(double(y[i]) == Approx(expected[i]).epsilon(1e-5));
    CHECK(double(f.log_det(x.cast<float>())) == Approx(0.7 + 0.8 + 0.9).epsilon(1e-6));
  }
}

}  // namespace parameters_test
