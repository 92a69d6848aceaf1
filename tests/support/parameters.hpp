// tests/support/parameters.hpp: random parameters for a layer or a flow, as the gradient
// tests (support/gradients.hpp) and the device tests (support/device.hpp) draw them.
#pragma once

#include <flowtmpl/parameters.hpp>
#include <flowtmpl/random.hpp>

#include <cstddef>
#include <string>

namespace flowtmpl_test {

// Every parameter of b uniform in [lo, hi], in the order of for_each_parameter, from
// rng (MADE's masked weights included: use reset_parameters for a MADE that must keep
// its masks).
template <class B>
void draw_parameters(B& b, flowtmpl::philox_stream rng, double lo, double hi) {
  flowtmpl::for_each_parameter(b, [&](const std::string&, auto* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) p[i] = decltype(+p[0])(lo + (hi - lo) * rng.uniform<double>());
  });
}

}  // namespace flowtmpl_test
