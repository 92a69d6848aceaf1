// The Hutchinson trace of flowtmpl/bijectors/continuous.hpp:
//   unbiased   over 2000 probe seeds the mean log-det equals the exact trace's (same
//              weights, RK4; and Dopri5 with log_det_weight 0, whose steps do not
//              depend on the probe), Rademacher and Gaussian probes; the values are
//              the exact mode's to the bit (the probe only enters the log-det)
//   keyed      one sample's estimate depends on (probe_seed, its point), not on the
//              batch; after_optimizer_step draws fresh probes
//   gradients  with the probe fixed (parameters do not enter its key): the parameters'
//              cotangents against central differences
#include <flowtmpl/bijectors/continuous.hpp>
#include <flowtmpl/flowtmpl.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "support/continuous.hpp"

namespace continuous_hutchinson_test {

namespace {
namespace ft = flowtmpl;
using flowtmpl_test::drawn_continuous;

template <class Solver, ft::continuous_options Options>
using Hutch = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>::with<ft::act::tanh>, Solver, Options>, 4, double>;
template <class Solver>
using Exact = ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>::with<ft::act::tanh>, Solver>, 4, double>;

template <class H, class E>
void check_unbiased() {
  const E e = drawn_continuous<E>(31, 1.5);
  H h = drawn_continuous<H>(31, 1.5);
  static_assert(!H::exact && E::exact);
  const Eigen::Vector4d z(0.3, -0.8, 1.1, 0.2);
  const auto ref = e.forward_and_log_det(z);
  constexpr int n = 2000;
  double sum = 0, sum2 = 0;
  for (int s = 0; s < n; ++s) {
    h.probe_seed = std::uint64_t(s) * 7919 + 1;
    const auto r = h.forward_and_log_det(z);
    if (s == 0) CHECK(r.value == ref.value);
    sum += r.log_det;
    sum2 += r.log_det * r.log_det;
  }
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean), se = sd / std::sqrt(double(n));
  INFO("exact " << ref.log_det << ", Hutchinson mean " << mean << " +- " << se << " (sd " << sd << ")");
  CHECK(sd > 1e-3);  // the estimates do vary
  CHECK(std::abs(mean - ref.log_det) <= 4 * se);
}
}  // namespace

TEST_CASE("Continuous's Hutchinson log-det is unbiased", "[continuous][hutchinson]") {
  constexpr ft::continuous_options rademacher{.trace = ft::continuous_trace::hutchinson};
  constexpr ft::continuous_options gaussian{.trace = ft::continuous_trace::hutchinson,
                                            .probe = ft::trace_probe::gaussian};
  constexpr ft::continuous_options gaussian_z_steps{.trace = ft::continuous_trace::hutchinson,
                                                    .probe = ft::trace_probe::gaussian, .log_det_weight = 0};
  check_unbiased<Hutch<ft::RK4<6>, rademacher>, Exact<ft::RK4<6>>>();
  check_unbiased<Hutch<ft::RK4<6>, gaussian>, Exact<ft::RK4<6>>>();
  check_unbiased<Hutch<ft::Dopri5<>, gaussian_z_steps>,
                 ft::bind_t<ft::Continuous<ft::DynamicsMLP<16, 16>::with<ft::act::tanh>, ft::Dopri5<>,
                                           ft::continuous_options{.log_det_weight = 0}>,
                            4, double>>();
}

TEST_CASE("Continuous's Hutchinson probes are keyed on the point and the probe seed", "[continuous][hutchinson]") {
  using H = Hutch<ft::RK4<4>, ft::continuous_options{.trace = ft::continuous_trace::hutchinson}>;
  H h = drawn_continuous<H>(32, 1.5);
  Eigen::Matrix<double, 4, Eigen::Dynamic> Z(4, 3);
  Z << 0.1, 0.5, -1, 0.2, -0.3, 0.7, 1.1, 0, -0.4, -0.9, 0.6, 0.8;
  const auto all = ft::forward_and_log_det(h, Z);
  Eigen::Matrix<double, 4, Eigen::Dynamic> one = Z.col(2);
  CHECK(ft::forward_and_log_det(h, one).log_det[0] == all.log_det[2]);
  CHECK(h.log_det(Eigen::Vector4d(Z.col(1))) == all.log_det[1]);
  const double before = h.log_det(Eigen::Vector4d(Z.col(0)));
  h.after_optimizer_step(1);
  CHECK(h.log_det(Eigen::Vector4d(Z.col(0))) != before);
}

TEST_CASE("Continuous's Hutchinson gradients with the probe fixed", "[continuous][hutchinson][gradients]") {
  using H = Hutch<ft::RK4<4>, ft::continuous_options{.trace = ft::continuous_trace::hutchinson}>;
  const H h = drawn_continuous<H>(33, 1.5);
  const Eigen::Vector4d v(0.3, -0.8, 1.1, 0.2), g(0.5, -0.2, 0.1, 0.9);
  const double gld = 1.3;
  for (const ft::direction dir : {ft::direction::forward, ft::direction::inverse}) {
    const bool fwd = dir == ft::direction::forward;
    H grad = ft::make_gradient(h);
    if (fwd)
      h.forward_vjp(v, g, gld, grad);
    else
      h.inverse_vjp(v, g, gld, grad);
    int checked = 0;
    for (std::size_t p = 0; p < h.net.values.size(); p += 37) {
      auto at = [&](double d) {
        H m = h;
        m.net.values[p] += d;
        const auto r = fwd ? m.forward_and_log_det(v) : m.inverse_and_log_det(v);
        return g.dot(r.value) + gld * r.log_det;
      };
      const double e = 1e-5;
      const double fd = (8 * (at(e) - at(-e)) - (at(2 * e) - at(-2 * e))) / (12 * e);
      INFO((fwd ? "forward" : "inverse") << ", parameter " << p);
      CHECK(grad.net.values[p] == Approx(fd).epsilon(1e-6).margin(1e-9));
      ++checked;
    }
    CHECK(checked >= 10);
  }
}

}  // namespace continuous_hutchinson_test
