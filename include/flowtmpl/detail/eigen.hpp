// flowtmpl/detail/eigen.hpp: Eigen, as every flowtmpl header includes it.
//
// g++ 12 at -O3 reports a false "-Waggressive-loop-optimizations" ("iteration
// 4611686018427387903 invokes undefined behavior") inside Eigen 3.4's matrix-vector
// kernel (BlasUtil.h, instantiated for the run-time one-column case of a block product),
// which -Werror builds turn into an error; the training path's block products
// instantiate it for float flows. The warning is silenced for Eigen's own lines only
// (GCC's diagnostic state is kept per source location): a translation unit that
// includes Eigen before any flowtmpl header keeps the compiler's default.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Waggressive-loop-optimizations"
#endif
#include <Eigen/Core>
#include <Eigen/LU>
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#pragma GCC diagnostic pop
#endif
