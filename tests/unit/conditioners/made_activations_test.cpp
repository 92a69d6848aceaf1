// MADE with other activations than relu (tanh, silu, elu: the sequential pass applies
// them one value at a time, evaluate() elementwise on arrays) through the checks of
// made_test.cpp (see there for what is checked and why).
#include <flowtmpl/conditioners/made.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "support/made.hpp"

namespace made_activations_test {

using namespace flowtmpl_test;

TEST_CASE("MADE with other activations: reference, autoregressive property, sequential pass", "[conditioners][made]") {
  check_made<flowtmpl::MADE<7, 5>::with<flowtmpl::act::tanh>, 3, 2, 3>({false, {7, 5}, 0, ref_tanh});
  check_made<flowtmpl::MADE<7, 5>::with<flowtmpl::act::elu>, 6, 5, 0>({false, {7, 5}, 0, ref_elu});
  check_made<flowtmpl::MADE<16, 16, 16>::with<flowtmpl::act::silu>, 6, 1, 3>({false, {16, 16, 16}, 0, ref_silu});
  check_made<flowtmpl::ResidualMADE<5, 1>::with<flowtmpl::act::elu>, 6, 2, 3>({true, {5}, 1, ref_elu});
  check_made<flowtmpl::ResidualMADE<12, 2>::with<flowtmpl::act::tanh>, 2, 5, 3>({true, {12}, 2, ref_tanh});
  check_made<flowtmpl::ResidualMADE<12, 2>::with<flowtmpl::act::silu>, 1, 2, 3>({true, {12}, 2, ref_silu});
}

}  // namespace made_activations_test
