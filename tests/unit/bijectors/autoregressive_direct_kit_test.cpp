// The conformance kit run directly (no layer_ops wrapper) on autoregressive layers and
// on Inverse<MaskedAutoregressive<...>>; and a check that the kit reached through
// layer_ops (ar_kit_runner_test.cpp) does fail on a broken layer, a broken prepared
// form included, so that the green results of the ar_kit_*_test.cpp files mean
// something.
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/direction.hpp>
#include <flowtmpl/testing.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "support/autoregressive_kit.hpp"

namespace autoregressive_direct_kit_test {

namespace {

template <class B>
void kit(const B& b, const flowtmpl::testing::options<typename B::scalar_type>& opt = {}) {
  const auto r = flowtmpl::testing::check_bijector(b, opt);
  INFO(B::name << ", D = " << B::dim << ", " << (sizeof(typename B::scalar_type) == 4 ? "float" : "double") << "\n"
               << r.text());
  CHECK(r.ok());
  CHECK(r.checks() > 64 * 5);
  CHECK(r.count("prepared") == 2 * 64);
}

template <class Spec, int D, class S>
flowtmpl::bind_t<Spec, D, S> drawn(std::uint64_t seed) {
  flowtmpl::bind_t<Spec, D, S> b;
  b.reset_parameters(seed, flowtmpl::init::uniform);
  return b;
}

// What a faulty_adapter gets wrong.
enum class fault {
  log_det_off,              // the log-det is off by 0.01
  output_0_reads_last,      // output 0 also reads input D-1 (not lower triangular)
  inverse_off,              // the inverse is off by 1e-3 in its last component
  prepared_log_det_off,     // the layer is right, its prepared form's log-det off by 0.01
};

// A layer that breaks one law while declaring the layer's own properties. Its prepared
// form is the layer's real one (the faults of the layer kept), or for
// prepared_log_det_off, a copy of the layer with that fault.
template <class B, fault F>
struct faulty_adapter final : flowtmpl_test::layer_ops<B::dim, typename B::scalar_type> {
  using base = flowtmpl_test::layer_ops<B::dim, typename B::scalar_type>;
  using typename base::result;
  using typename base::vec;
  using S = typename B::scalar_type;
  B b;
  bool prepared_form = false;  // this adapter is the prepared form of another
  vec forward(const vec& x) const override {
    vec y = b.forward(x);
    if (F == fault::output_0_reads_last) y[0] += S(0.01) * x[B::dim - 1] * x[B::dim - 1];
    return y;
  }
  vec inverse(const vec& y) const override {
    vec x = b.inverse(y);
    if (F == fault::inverse_off) x[B::dim - 1] += S(1e-3);
    return x;
  }
  S log_det(const vec& x) const override {
    const bool off = F == fault::log_det_off || (F == fault::prepared_log_det_off && prepared_form);
    return b.log_det(x) + (off ? S(0.01) : S(0));
  }
  result forward_and_log_det(const vec& x) const override { return {forward(x), log_det(x)}; }
  result inverse_and_log_det(const vec& y) const override {
    const vec x = inverse(y);
    return {x, -log_det(x)};
  }
  std::shared_ptr<const base> prepared() const override {
    if constexpr (F == fault::prepared_log_det_off) {
      auto p = std::make_shared<faulty_adapter>(*this);
      p->prepared_form = true;
      return p;
    } else {
      using P = decltype(flowtmpl::prepare(b));
      auto p = std::make_shared<faulty_adapter<P, F>>();
      p->b = flowtmpl::prepare(b);
      return p;
    }
  }
};

template <fault F>
std::string faulty_report() {
  using B = flowtmpl::bind_t<flowtmpl::MaskedAutoregressive<flowtmpl::Affine, flowtmpl::MADE<8, 8>>, 4, double>;
  faulty_adapter<B, F> a;
  a.b.reset_parameters(5, flowtmpl::init::uniform);
  const auto r = flowtmpl_test::run_kit<4, double>(a, flowtmpl_test::kind_of<B>());
  CHECK(!r.ok());
  return r.text();
}

using flowtmpl::InverseAutoregressive;
using flowtmpl::MADE;
using flowtmpl::MaskedAutoregressive;
using flowtmpl::ResidualMADE;

}  // namespace

TEST_CASE("the kit through layer_ops fails a layer that breaks a law", "[autoregressive][kit]") {
  CHECK_THAT(faulty_report<fault::log_det_off>(), Catch::Contains("log_det:"));
  CHECK_THAT(faulty_report<fault::output_0_reads_last>(),
             Catch::Contains("structure:") && Catch::Contains("output 0 depends on input 3"));
  CHECK_THAT(faulty_report<fault::inverse_off>(), Catch::Contains("round_trip:"));
  CHECK_THAT(faulty_report<fault::prepared_log_det_off>(),
             Catch::Contains("prepared:") && Catch::Contains("prepared: 128 run, 128 failed"));
  // and it passes the same layer unbroken
  using B = flowtmpl::bind_t<MaskedAutoregressive<flowtmpl::Affine, MADE<8, 8>>, 4, double>;
  flowtmpl_test::layer_adapter<B> a;
  a.b.reset_parameters(5, flowtmpl::init::uniform);
  const auto r = flowtmpl_test::run_kit<4, double>(a, flowtmpl_test::kind_of<B>());
  INFO(r.text());
  CHECK(r.ok());
  // compared with its real prepared form, another type (the MADE's units sorted)
  STATIC_REQUIRE_FALSE(std::is_same_v<decltype(flowtmpl::prepare(a.b)), B>);
  CHECK(r.count("prepared") == 2 * 64);
}

TEST_CASE("the kit run directly on autoregressive layers", "[autoregressive][kit]") {
  kit(drawn<MaskedAutoregressive<flowtmpl::Spline<8>, MADE<8, 8>>, 4, double>(41));
  kit(drawn<InverseAutoregressive<flowtmpl::BoundedSpline<5>, ResidualMADE<8, 1>>, 5, float>(42));
}

TEMPLATE_TEST_CASE("Inverse<MaskedAutoregressive<...>> passes the kit", "[autoregressive][kit]", float, double) {
  using S = TestType;
  using Spec = flowtmpl::Inverse<MaskedAutoregressive<flowtmpl::SoftplusAffine, MADE<8, 8>>>;
  using B = flowtmpl::bind_t<Spec, 4, S>;
  STATIC_REQUIRE(std::is_same_v<typename B::structure, flowtmpl::structure::lower_triangular>);
  B b;
  b.base.reset_parameters(43, flowtmpl::init::uniform);
  flowtmpl::testing::options<S> opt;
  // the inverse is MaskedAutoregressive's forward, sequential: output i grows like
  // y^(i + 1) (SoftplusAffine's scale is unbounded)
  flowtmpl_test::narrow_to_power(opt, flowtmpl::direction::inverse, 4,
                                 "the inverse's outputs grow like up to the 4th power of the input");
  kit(b, opt);
}

}  // namespace autoregressive_direct_kit_test
