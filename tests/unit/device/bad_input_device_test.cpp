// Bad inputs through the device backend's entry points (device/entry_points.hpp; the OMP
// system here): forward, inverse, forward_and_log_det, inverse_and_log_det and log_prob
// of RealNVP (float), MAF (double) and a conditional flow with an embedding (float), in
// both layouts. The device has no checked mode; its contract: no crash or out-of-bounds
// read (the sanitizer build), every column within 4 ulp of the host's per-sample path
// where that is finite and non-finite where it is not, the ordinary columns of a batch
// bitwise what they give without the bad columns beside them, and a batch or context of
// the wrong size refused with shape_error naming the function ("device forward: ...").
#include "support/device.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace ft = flowtmpl;
using namespace flowtmpl_test;

namespace {

using Net = ft::MLP<8, 8>;
using RealNVP = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, Net, ft::mask::even>,
                                                                    ft::Coupling<ft::Affine, Net, ft::mask::odd>>>,
                           4, float>;
using MAF = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::MaskedAutoregressive<ft::Affine, ft::MADE<8, 8>>,
                                                                ft::Permute<ft::Reverse>>>,
                       4, double>;
using Cond = ft::bind_t<ft::Conditional<3, ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, ft::MLP<8>>,
                                                                                    ft::Permute<ft::Reverse>>>,
                                        ft::Embedding<2, ft::MLP<8>>>,
                        4, float>;

template <class S>
std::vector<std::pair<const char*, S>> bad_values() {
  using lim = std::numeric_limits<S>;
  return {{"nan", lim::quiet_NaN()}, {"+inf", lim::infinity()}, {"-inf", -lim::infinity()},
          {"+max", lim::max()},     {"lowest", lim::lowest()},  {"+1e30", S(1e30)},
          {"-1e30", S(-1e30)},      {"denorm_min", lim::denorm_min()}, {"-0", -S(0)}};
}

// 300 columns (across the host's 128-column blocks): the value v in every component
// of columns 1 and 256, in component (j % D) of columns 3 and 299, ordinary values elsewhere
template <class S, int D>
std::pair<ft::batch_t<S, D>, std::vector<Eigen::Index>> mixed(S v, std::uint64_t seed) {
  ft::batch_t<S, D> x(D, 300);
  ft::philox_stream rng(seed, 0);
  for (Eigen::Index j = 0; j < x.cols(); ++j)
    for (int i = 0; i < D; ++i) x(i, j) = S(4) * rng.uniform<S>() - S(2);
  x.col(1).setConstant(v);
  x.col(256).setConstant(v);
  x(3 % D, 3) = v;
  x(299 % D, 299) = v;
  return {x, {1, 3, 256, 299}};
}

// equal entry by entry, NaN equal to NaN
template <class A, class B>
bool same_values(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i)
      if (!(a(i, j) == b(i, j) || (std::isnan(a(i, j)) && std::isnan(b(i, j))))) return false;
  return true;
}

// Every device entry point on the mixed batch of each bad value; ctx: a C x 300 context
// batch for a conditional flow, or none.
template <class F, class... Ctx>
void sweep_device(const F& f, const Ctx&... ctx) {
  using S = typename F::scalar_type;
  constexpr int D = F::dim;
  using T = std::remove_cvref_t<decltype(f.transform)>;
  const ft::device_flow<F> df(f);
  const ft::device_flow<T> dt(f.transform);
  const auto p = ft::prepare(f);
  for (const auto& [label, v] : bad_values<S>()) {
    const auto [x, bad] = mixed<S, D>(v, 7);
    ft::batch_t<S, D> clean = x;
    for (Eigen::Index j : bad) clean.col(j).setZero();
    // the host's per-sample path: forward values and log-det, inverse ones, log_prob
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> host(2 * D + 3, x.cols());
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      const ft::vector_t<F> xj = x.col(j);
      const auto a = ft::forward_and_log_det(p.transform, xj, Eigen::Matrix<S, F::context_dim, 1>(ctx.col(j))...);
      const auto b = ft::inverse_and_log_det(p.transform, xj, Eigen::Matrix<S, F::context_dim, 1>(ctx.col(j))...);
      host.col(j) << a.value, a.log_det, b.value, b.log_det, p.log_prob(xj, Eigen::Matrix<S, F::context_dim, 1>(ctx.col(j))...);
    }
    for (const ft::layout order : both_layouts) {
      INFO(label << ", layout " << name(order));
      // all five entry points stacked as the host's rows
      auto run = [&](const ft::batch_t<S, D>& in) {
        const auto dx = ft::to_device(in, order);
        const auto dc = [&] { if constexpr (sizeof...(Ctx) > 0) return ft::to_device(ctx..., order); else return 0; }();
        auto with = [&](auto&& fn) {
          if constexpr (sizeof...(Ctx) > 0) return fn(dc); else return (void)dc, fn();
        };
        const auto fw = with([&](const auto&... c) { return ft::forward_and_log_det(ft::exec::device, dt, dx, c...); });
        const auto iw = with([&](const auto&... c) { return ft::inverse_and_log_det(ft::exec::device, dt, dx, c...); });
        const auto lp = with([&](const auto&... c) { return ft::log_prob(ft::exec::device, df, dx, c...); });
        const auto fo = with([&](const auto&... c) { return ft::forward(ft::exec::device, dt, dx, c...); });
        const auto io = with([&](const auto&... c) { return ft::inverse(ft::exec::device, dt, dx, c...); });
        Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> out(2 * D + 3, in.cols());
        out << ft::to_host(fw.values), ft::to_host(fw.log_det), ft::to_host(iw.values), ft::to_host(iw.log_det),
            ft::to_host(lp);
        // the values-only entry points give the same values bitwise
        CHECK(same_values(ft::to_host(fo), ft::to_host(fw.values)));
        CHECK(same_values(ft::to_host(io), ft::to_host(iw.values)));
        return out;
      };
      const auto got = run(x);
      const auto without = run(clean);
      // each column: within 4 ulp of the host where that is finite, else not finite; an
      // ordinary column bitwise what it gives without the bad columns (NaN as NaN)
      int mismatched = 0, disturbed = 0;
      std::string first;
      for (Eigen::Index j = 0; j < x.cols(); ++j) {
        const bool is_bad = std::find(bad.begin(), bad.end(), j) != bad.end();
        for (int r = 0; r < 2 * D + 3; ++r) {
          const bool ok = std::isfinite(host(r, j)) ? ulp_distance(got(r, j), host(r, j)) <= eval_ulp
                                                    : !std::isfinite(got(r, j));
          if (!ok && mismatched++ == 0)
            first = "column " + std::to_string(j) + ", row " + std::to_string(r) + ": device " + std::to_string(got(r, j)) +
                    ", host " + std::to_string(host(r, j));
          if (!is_bad && !same_values(got.col(j), without.col(j))) ++disturbed;
        }
      }
      INFO(first << " (rows: forward values, log-det, inverse values, log-det, log_prob)");
      CHECK(mismatched == 0);
      CHECK(disturbed == 0);
    }
  }
  // the wrong number of rows, and a context of the wrong size
  const auto wrong = ft::to_device(ft::batch_t<S, D + 1>::Zero(D + 1, 3), ft::layout::columns);
  auto refused = [](auto&& call, const std::string& start) {
    try {
      call();
      FAIL_CHECK("no exception: wanted a shape_error starting with '" << start << "'");
    } catch (const ft::shape_error& e) {
      CHECK_THAT(e.what(), Catch::StartsWith(start));
    }
  };
  if constexpr (sizeof...(Ctx) == 0) {
    refused([&] { (void)ft::forward(ft::exec::device, dt, wrong); }, "device forward:");
    refused([&] { (void)ft::inverse_and_log_det(ft::exec::device, dt, wrong); }, "device inverse_and_log_det:");
    refused([&] { (void)ft::log_prob(ft::exec::device, df, wrong); }, "device log_prob:");
  } else {
    const auto c_wrong = ft::to_device(Eigen::Matrix<S, F::context_dim + 1, Eigen::Dynamic>::Zero(F::context_dim + 1, 3),
                                       ft::layout::columns);
    const auto x3 = ft::to_device(ft::batch_t<S, D>::Zero(D, 3), ft::layout::columns);
    refused([&] { (void)ft::forward(ft::exec::device, dt, x3, c_wrong); }, "device forward:");
    refused([&] { (void)ft::log_prob(ft::exec::device, df, x3, c_wrong); }, "device log_prob:");
  }
}

}  // namespace

TEST_CASE("device bad inputs: RealNVP (float)", "[device][hardening]") {
  RealNVP f;
  ft::reset_parameters(f, 41, ft::init::uniform);
  sweep_device(f);
}

TEST_CASE("device bad inputs: MAF (double)", "[device][hardening]") {
  MAF f;
  ft::reset_parameters(f, 42, ft::init::uniform);
  sweep_device(f);
}

TEST_CASE("device bad inputs: a conditional flow with an embedding (float), bad contexts too", "[device][hardening]") {
  Cond f;
  ft::reset_parameters(f, 43, ft::init::uniform);
  Eigen::Matrix<float, 2, Eigen::Dynamic> c(2, 300);
  ft::philox_stream rng(44, 0);
  for (Eigen::Index j = 0; j < c.cols(); ++j)
    for (int i = 0; i < 2; ++i) c(i, j) = 2 * rng.uniform<float>() - 1;
  sweep_device(f, c);
  // nan and inf contexts beside ordinary ones (the inputs ordinary)
  c(0, 5) = std::numeric_limits<float>::quiet_NaN();
  c(1, 260) = std::numeric_limits<float>::infinity();
  sweep_device(f, c);
}
