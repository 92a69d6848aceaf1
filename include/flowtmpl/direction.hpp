// flowtmpl/direction.hpp: the direction of a pass through a layer, as a template
// argument that reads as a word in a compiler's message (`apply<direction::inverse>`
// rather than `apply<false>`).
//
//   direction::forward   the sampling direction (base -> data): Bijector::forward
//   direction::inverse   the normalizing direction (data -> base): Bijector::inverse
#pragma once

#include "config.hpp"

namespace flowtmpl {

enum class direction { forward, inverse };

FLOWTMPL_HOST_DEVICE constexpr direction opposite(direction d) {
  return d == direction::forward ? direction::inverse : direction::forward;
}

}  // namespace flowtmpl
