// ResidualMADE<12, 2> through the checks of made_test.cpp (see there for what is
// checked and why); a file of its own to keep compile times short.
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

namespace made_residual_test {

using namespace flowtmpl_test;

TEST_CASE("ResidualMADE<12, 2>: masks, reference, autoregressive property, sequential pass", "[conditioners][made]") {
  check_made_all<flowtmpl::ResidualMADE<12, 2>>({true, {12}, 2, ref_relu});
}

}  // namespace made_residual_test
