// What the gradient tests share: random parameters and the kit's check as a Catch2
// requirement.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

namespace gradient_support {

// Every parameter of b uniform in [lo, hi] (MADE's masked weights included: use
// reset_parameters for a MADE that must keep its masks).
template <class B>
void randomize(B& b, std::uint64_t seed, double lo = -0.7, double hi = 0.7) {
  flowtmpl::philox_stream rng(seed, 3);
  flowtmpl::for_each_parameter(b, [&](const std::string&, auto* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) p[i] = decltype(+p[0])(lo + (hi - lo) * rng.uniform<double>());
  });
}

// check_gradients(b, opt) checked something and found nothing wrong (its report on failure)
template <class B>
void require_gradients(const B& b, flowtmpl::testing::gradient_options<double> opt = {}) {
  const auto rep = flowtmpl::testing::check_gradients(b, opt);
  INFO(rep.text());
  REQUIRE(rep.checks > 0);
  REQUIRE(rep.ok());
}

}  // namespace gradient_support
