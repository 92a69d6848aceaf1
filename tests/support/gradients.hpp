// tests/support/gradients.hpp: what the gradient tests share: random parameters and the
// kit's check_gradients as a Catch2 requirement.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/testing.hpp>

#include "parameters.hpp"

namespace flowtmpl_test {

// Every parameter of b uniform in [lo, hi], from the gradient tests' stream (seed, 3).
template <class B>
void randomize(B& b, std::uint64_t seed, double lo = -0.7, double hi = 0.7) {
  draw_parameters(b, flowtmpl::philox_stream(seed, 3), lo, hi);
}

// check_gradients(b, opt) checked something and found nothing wrong (its report on failure)
template <class B>
void require_gradients(const B& b, flowtmpl::testing::gradient_options<double> opt = {}) {
  const auto rep = flowtmpl::testing::check_gradients(b, opt);
  INFO(rep.text());
  REQUIRE(rep.checks() > 0);
  REQUIRE(rep.ok());
}

}  // namespace flowtmpl_test
