// examples/two_moons_models.hpp: the two flows of examples/two_moons.cpp (also trained
// for 10,000 steps by tests/unit/training/two_moons_acceptance_test.cpp).
#pragma once

#include <flowtmpl/flowtmpl.hpp>

namespace two_moons {

// Eight couplings with alternating masks: the even ones transform x1 given x0, the odd
// ones x0 given x1; each conditioner an MLP with two hidden layers of 64 (ReLU).
template <class T>
using Couplings = flowtmpl::compose<
    flowtmpl::Coupling<T, flowtmpl::MLP<64, 64>, flowtmpl::mask::half>,
    flowtmpl::Coupling<T, flowtmpl::MLP<64, 64>, flowtmpl::mask::half_flipped>,
    flowtmpl::Coupling<T, flowtmpl::MLP<64, 64>, flowtmpl::mask::half>,
    flowtmpl::Coupling<T, flowtmpl::MLP<64, 64>, flowtmpl::mask::half_flipped>,
    flowtmpl::Coupling<T, flowtmpl::MLP<64, 64>, flowtmpl::mask::half>,
    flowtmpl::Coupling<T, flowtmpl::MLP<64, 64>, flowtmpl::mask::half_flipped>,
    flowtmpl::Coupling<T, flowtmpl::MLP<64, 64>, flowtmpl::mask::half>,
    flowtmpl::Coupling<T, flowtmpl::MLP<64, 64>, flowtmpl::mask::half_flipped>>;
using RealNVP = flowtmpl::Flow<flowtmpl::StandardNormal, Couplings<flowtmpl::Affine>>;
// K = 8 bins on [-3, 3], linear tails
using NSF = flowtmpl::Flow<flowtmpl::StandardNormal, Couplings<flowtmpl::Spline<8, 3.0>>>;

}  // namespace two_moons
