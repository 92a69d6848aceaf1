// tests/compile_budget/chain.cpp: the translation unit of the compile-time budget.
// A neural spline flow of FLOWTMPL_BUDGET_LAYERS layers, each one step of the standard
// NSF (a rational-quadratic spline coupling, K = 8, MLP 64-64, then a reversal), float,
// D = 8, with everything a training program instantiates: the batch log_prob, sampling,
// the per-sample log_prob, nll_and_gradient (the reverse pass of every layer) and Adam.
// run_budget.cmake compiles it with g++ -O2 and compares the compiler's CPU time and
// peak memory with budget.cmake; benchmarks/compile_time.sh sweeps 1, 4, 16 and 64.
#include <cstddef>
#include <cstdio>
#include <utility>
#include <vector>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/training.hpp>

#ifndef FLOWTMPL_BUDGET_LAYERS
#define FLOWTMPL_BUDGET_LAYERS 16
#endif

namespace ft = flowtmpl;

// FLOWTMPL_BUDGET_DISTINCT: every layer a type of its own (tail bound 3 + I/8), so that
// nothing is shared between layers: the cost of composition itself, an upper bound.
#ifdef FLOWTMPL_BUDGET_DISTINCT
template <std::size_t I>
using Step = ft::compose<ft::Coupling<ft::Spline<8, 3.0 + double(I) / 8>, ft::MLP<64, 64>>, ft::Permute<ft::Reverse>>;
#else
template <std::size_t>
using Step = ft::compose<ft::Coupling<ft::Spline<8, 3.0>, ft::MLP<64, 64>>, ft::Permute<ft::Reverse>>;
#endif
template <std::size_t... I>
ft::compose<Step<I>...> repeat(std::index_sequence<I...>);
using Chain = decltype(repeat(std::make_index_sequence<FLOWTMPL_BUDGET_LAYERS>{}));
using Model = ft::bind_t<ft::Flow<ft::StandardNormal, Chain>, 8, float>;

int main() {
  Model flow{};
  ft::reset_parameters(flow, 1);
  const auto x = ft::sample(flow, 64, 3);
  const auto lp = ft::log_prob(flow, x);
  const float one = flow.prepare().log_prob(x.col(0));
  Model grad = ft::make_gradient(flow);
  const float nll = ft::nll_and_gradient(flow, x, grad);
  constexpr std::size_t n = ft::parameter_count_v<Model>;
  std::vector<float> p(n), g(n);
  ft::copy_parameters(flow, p.data());
  ft::copy_parameters(grad, g.data());
  ft::adam<float> opt{};
  opt.step(p.data(), g.data(), n, 1e-3);
  ft::assign_parameters(flow, p.data());
  std::printf("%d layers, %zu parameters: log_prob %g (batch) %g (one), nll %g\n", FLOWTMPL_BUDGET_LAYERS, n,
              double(lp[0]), double(one), double(nll));
  return 0;
}
