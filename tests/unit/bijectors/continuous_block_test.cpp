// The host block path of flowtmpl/bijectors/continuous.hpp (detail/ode_block.hpp,
// conditioners/tangent_block.hpp): a block of samples solved together, each column with
// its own steps, against the per-sample path:
//   values     forward / inverse and log-dets of every column, RK4 to rounding, Dopri5
//              at tight tolerances to them and at the default ones with the same NFE
//   gradients  vjp_block against the per-sample vjps summed (parameters, inputs and
//              the context's cotangents), exact and Hutchinson traces
#include <flowtmpl/bijectors/continuous.hpp>
#include <flowtmpl/conditional.hpp>
#include <flowtmpl/flowtmpl.hpp>

#include <catch2/catch.hpp>

#include <vector>

#include "support/continuous.hpp"

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::drawn_continuous;

template <int D>
Eigen::Matrix<double, D, Eigen::Dynamic> points(Eigen::Index n, std::uint64_t seed) {
  ft::philox_stream rng(seed, 0);
  Eigen::Matrix<double, D, Eigen::Dynamic> X(D, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (int i = 0; i < D; ++i) X(i, j) = 1.5 * rng.normal<double>();
  return X;
}

// every column of the block path against the per-sample path, both directions
template <class L>
void check_values(const L& b, double tol) {
  constexpr int D = L::dim;
  const auto X = points<D>(37, 5);
  for (const ft::direction dir : {ft::direction::forward, ft::direction::inverse}) {
    Eigen::Matrix<double, D, Eigen::Dynamic> V = X;
    Eigen::Matrix<double, 1, Eigen::Dynamic> ld = Eigen::Matrix<double, 1, Eigen::Dynamic>::Zero(X.cols());
    if (dir == ft::direction::forward)
      b.forward_block(V, ld);
    else
      b.inverse_block(V, ld);
    double worst = 0;
    for (Eigen::Index j = 0; j < X.cols(); ++j) {
      const Eigen::Matrix<double, D, 1> x = X.col(j);
      const auto r = dir == ft::direction::forward ? b.forward_and_log_det(x) : b.inverse_and_log_det(x);
      worst = std::max(worst, (r.value - V.col(j)).cwiseAbs().maxCoeff() / (1 + r.value.cwiseAbs().maxCoeff()));
      worst = std::max(worst, std::abs(r.log_det - ld[j]) / (1 + std::abs(r.log_det)));
    }
    INFO((dir == ft::direction::forward ? "forward" : "inverse") << ": largest relative difference " << worst);
    CHECK(worst <= tol);
  }
}

// vjp_block against the per-sample vjps (and the context's cotangents)
template <class L, class Ctx>
void check_gradients(const L& b, const Ctx* context, double tol) {
  constexpr int D = L::dim;
  const auto X = points<D>(29, 6);
  const auto Gin = points<D>(29, 7);
  const double gld = 0.7;
  for (const ft::direction dir : {ft::direction::forward, ft::direction::inverse}) {
    L gb = ft::make_gradient(b), gs = ft::make_gradient(b);
    Eigen::Matrix<double, D, Eigen::Dynamic> G = Gin, Gs(D, X.cols());
    typename L::context_block GC, GCs;
    if constexpr (L::context_dim > 0) {
      GC.setZero(L::context_dim, X.cols());
      GCs.setZero(L::context_dim, X.cols());
    }
    for (Eigen::Index j = 0; j < X.cols(); ++j) {
      const Eigen::Matrix<double, D, 1> x = X.col(j), g = Gin.col(j);
      if constexpr (L::context_dim > 0) {
        const Eigen::Matrix<double, L::context_dim, 1> c = context->col(j);
        Eigen::Matrix<double, L::context_dim, 1> gc = Eigen::Matrix<double, L::context_dim, 1>::Zero();
        Gs.col(j) = dir == ft::direction::forward ? b.forward_vjp(x, c, g, gld, gs, gc) : b.inverse_vjp(x, c, g, gld, gs, gc);
        GCs.col(j) = gc;
      } else {
        Gs.col(j) = dir == ft::direction::forward ? b.forward_vjp(x, g, gld, gs) : b.inverse_vjp(x, g, gld, gs);
      }
    }
    if constexpr (L::context_dim > 0) {
      if (dir == ft::direction::forward)
        b.template vjp_block<ft::direction::forward>(X, *context, G, gld, gb, &GC);
      else
        b.template vjp_block<ft::direction::inverse>(X, *context, G, gld, gb, &GC);
      CHECK((GC - GCs).cwiseAbs().maxCoeff() <= tol * (1 + GCs.cwiseAbs().maxCoeff()));
      CHECK(GCs.cwiseAbs().maxCoeff() > 1e-3);
    } else {
      if (dir == ft::direction::forward)
        b.template vjp_block<ft::direction::forward>(X, G, gld, gb);
      else
        b.template vjp_block<ft::direction::inverse>(X, G, gld, gb);
    }
    INFO((dir == ft::direction::forward ? "forward" : "inverse"));
    CHECK((G - Gs).cwiseAbs().maxCoeff() <= tol * (1 + Gs.cwiseAbs().maxCoeff()));
    std::vector<double> pb(ft::parameter_count_v<L>), ps(pb.size());
    ft::copy_parameters(gb, pb.data());
    ft::copy_parameters(gs, ps.data());
    double worst = 0, largest = 0;
    for (std::size_t i = 0; i < pb.size(); ++i) {
      worst = std::max(worst, std::abs(pb[i] - ps[i]));
      largest = std::max(largest, std::abs(ps[i]));
    }
    INFO("parameters: largest difference " << worst << ", largest cotangent " << largest);
    CHECK(largest > 1e-2);
    CHECK(worst <= tol * (1 + largest));
  }
}
}  // namespace

TEST_CASE("Continuous's block path: the per-sample values", "[continuous][block]") {
  using R = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>, ft::RK4<5>>, 3, double>;
  static_assert(ft::detail::uses_blocks<R>());
  check_values(drawn_continuous<R>(41, 1.5), 1e-12);
  using T = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>::with<ft::act::tanh>, ft::Dopri5<1e-10, 1e-12>>, 3, double>;
  check_values(drawn_continuous<T>(42, 1.5), 1e-9);
  using Default = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>>, 2, double>;
  const Default d = drawn_continuous<Default>(43, 1.5);
  check_values(d, 1e-4);
  // the same steps, column by column
  const auto X = points<2>(37, 5);
  std::vector<ft::ode_solve> st(std::size_t(X.cols()));
  d.solve_block<ft::direction::inverse>(X, nullptr, d.probe_block(X, nullptr), st.data(),
                                        [](Eigen::Index, double, double, const auto&) {});
  int same = 0;
  for (Eigen::Index j = 0; j < X.cols(); ++j)
    same += st[std::size_t(j)].evaluations == d.solve_status(ft::direction::inverse, Eigen::Vector2d(X.col(j))).evaluations;
  CHECK(same >= X.cols() * 9 / 10);  // a flip of an accept decision at the tolerance's edge is rare
  // log_prob of a flow takes the block path
  ft::FlowDistribution<ft::StandardNormalDistribution<2, double>, Default> f{{}, d};
  const Eigen::VectorXd lp = ft::log_prob(f, X);
  for (Eigen::Index j = 0; j < X.cols(); ++j) CHECK(lp[j] == Approx(f.log_prob(Eigen::Vector2d(X.col(j)))).epsilon(1e-4));
}

TEST_CASE("Continuous's block path: gradients as the per-sample vjps", "[continuous][block][gradients]") {
  using R = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>, ft::RK4<4>>, 3, double>;
  check_gradients(drawn_continuous<R>(44, 1.5), static_cast<const int*>(nullptr), 1e-11);
  using T = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16>::with<ft::act::tanh>, ft::Dopri5<1e-10, 1e-12>>, 2, double>;
  check_gradients(drawn_continuous<T>(45, 1.5), static_cast<const int*>(nullptr), 1e-8);
  constexpr ft::continuous_options hutchinson{.trace = ft::continuous_trace::hutchinson};
  using H = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16>::with<ft::act::tanh>, ft::RK4<3>, hutchinson>, 4, double>;
  check_gradients(drawn_continuous<H>(46, 1.5), static_cast<const int*>(nullptr), 1e-11);
  using B = ft::bind_t<ft::Conditional<2, ft::Continuous<ft::DynamicsMLP<8>, ft::RK4<3>>>, 3, double>;
  const Eigen::Matrix<double, 2, Eigen::Dynamic> ctx = points<2>(29, 8);
  check_gradients(drawn_continuous<B>(47, 1.5), &ctx, 1e-11);
}
