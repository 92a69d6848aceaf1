// The standard flows of the benchmarks (and of the device tests): the architectures as
// the literature and the peer libraries build them, float or double, D = 8 unless said.
//   RealNVP  8 affine couplings, MLP 64-64, a reversal between couplings
//   Glow     8 x [ActNorm, LUConv, affine coupling (MLP 64-64)]
//   NSF      8 rational-quadratic spline couplings, K = 8 bins on [-3, 3], MLP 64-64,
//            a reversal between couplings
//   MAF      5 MADE layers (hidden 64-64, affine), a reversal between layers
// A spec each; bind_t<Flow<StandardNormal, Spec>, D, S> is the flow distribution.
#pragma once

#include <flowtmpl/flowtmpl.hpp>

namespace standard_flows {
namespace ft = flowtmpl;

template <class Step>
using times8 = ft::compose<Step, Step, Step, Step, Step, Step, Step, Step>;

using RealNVPStep = ft::compose<ft::Coupling<ft::Affine, ft::MLP<64, 64>>, ft::Permute<ft::Reverse>>;
using RealNVP = times8<RealNVPStep>;
using GlowStep = ft::compose<ft::ActNorm, ft::LUConv, ft::Coupling<ft::Affine, ft::MLP<64, 64>>>;
using Glow = times8<GlowStep>;
using NSFStep = ft::compose<ft::Coupling<ft::Spline<8, 3.0>, ft::MLP<64, 64>>, ft::Permute<ft::Reverse>>;
using NSF = times8<NSFStep>;
using MAFStep = ft::compose<ft::MaskedAutoregressive<ft::Affine, ft::MADE<64, 64>>, ft::Permute<ft::Reverse>>;
using MAF = ft::compose<MAFStep, MAFStep, MAFStep, MAFStep, MAFStep>;

template <class Spec, int D = 8, class S = float>
using flow = ft::bind_t<ft::Flow<ft::StandardNormal, Spec>, D, S>;

}  // namespace standard_flows
