// The bad-input sweep (testing/bad_input.hpp) of the elementwise layers as bound
// bijectors (forward, inverse, their log-dets; no log_prob or sampling), in float and
// double: Logit, Sigmoid, Tanh, Exp (whose header states its overflow above log(max)),
// Softplus, LeakyReLU. And the sweep's own checks: a bound without a reason, and a
// layer that overflows where no bound is stated, are reported.
#include "hardening.hpp"

#include <cmath>
#include <limits>
#include <tuple>

namespace elementwise_test {

using namespace flowtmpl_test;

namespace {

template <class Spec, class S>
void elementwise(const char* family) {
  using B = ft::bind_t<Spec, 3, S>;
  B b{};
  ft::testing::bad_input_options<S> opt;
  constexpr S max = std::numeric_limits<S>::max();
  // where the true value is not representable, as each header states: the sweep's
  // values beyond the bound are +-max only (1e30 and 1e300 are inside)
  if constexpr (std::is_same_v<Spec, ft::Exp>)
    opt.bound_unchecked_finite(std::log(max), "exp(x) overflows above log(max) (bijectors/exp.hpp)");
  if constexpr (std::is_same_v<Spec, ft::Sigmoid> || std::is_same_v<Spec, ft::Logit>)
    opt.bound_unchecked_finite(max / 4, "the sigmoid's log-det, about -|x| a component, summed over 3 components is "
                                        "below -max beyond max / 3 (bijectors/sigmoid.hpp)");
  if constexpr (std::is_same_v<Spec, ft::Softplus>)
    opt.bound_unchecked_finite(max / 4, "the log-det, about x a component below 0, summed over 3 components is below "
                                        "-max beyond max / 3 (bijectors/softplus.hpp)");
  if constexpr (std::is_same_v<Spec, ft::Tanh>)
    opt.bound_unchecked_finite(max / 8, "the log-det, about -2|x| a component, summed over 3 components is below -max "
                                        "beyond max / 6 (bijectors/tanh.hpp)");
  if constexpr (std::is_same_v<Spec, ft::LeakyReLU>)
    opt.bound_unchecked_finite(max * S(0.01), "the inverse divides a negative y by the slope 0.01: below -0.01 max "
                                              "the true value is below -max (bijectors/leaky_relu.hpp)");
  require_clean_sweep(family, b, opt);
}

}  // namespace

#define FLOWTMPL_ELEMENTWISE_TYPES                                                                            \
  (std::tuple<ft::Logit, float>), (std::tuple<ft::Logit, double>), (std::tuple<ft::Sigmoid, float>),           \
      (std::tuple<ft::Sigmoid, double>), (std::tuple<ft::Tanh, float>), (std::tuple<ft::Tanh, double>),        \
      (std::tuple<ft::Exp, float>), (std::tuple<ft::Exp, double>), (std::tuple<ft::Softplus, float>),          \
      (std::tuple<ft::Softplus, double>), (std::tuple<ft::LeakyReLU, float>), (std::tuple<ft::LeakyReLU, double>)

TEMPLATE_TEST_CASE("bad inputs: elementwise layers", "[hardening]", FLOWTMPL_ELEMENTWISE_TYPES) {
  using Spec = std::tuple_element_t<0, TestType>;
  using S = std::tuple_element_t<1, TestType>;
  elementwise<Spec, S>(ft::bind_t<Spec, 3, S>::name);
}
TEMPLATE_TEST_CASE("bad inputs: elementwise layers, release build", "[hardening][acceptance]",
                   FLOWTMPL_ELEMENTWISE_TYPES) {
  using Spec = std::tuple_element_t<0, TestType>;
  using S = std::tuple_element_t<1, TestType>;
  elementwise<Spec, S>(ft::bind_t<Spec, 3, S>::name);
}

TEST_CASE("the bad-input sweep reports what breaks its contract", "[hardening]") {
  using B = ft::bind_t<ft::Exp, 3, double>;
  ft::testing::bad_input_options<double> opt;
  opt.large_batch = 300;
  // Exp's forward overflows to inf above log(max): unchecked.finite fails there when no
  // bound is stated, naming the entry point, the input and the result
  const auto rep = ft::testing::sweep_bad_inputs<B, false>("Exp", B{}, opt);
  CHECK(rep.checks.failed("unchecked.finite") > 0);
  CHECK(rep.checks.failed("checked.refuses") == 0);
  bool named = false;
  for (const auto& f : rep.failures)
    named = named || (f.find("unchecked.finite: Exp, forward | input +max") == 0 && f.find("inf") != std::string::npos);
  CHECK(named);
  // a bound stated without a reason is itself a failure
  opt.bound_unchecked_finite(700.0, "");
  const auto unexplained = ft::testing::sweep_bad_inputs<B, false>("Exp", B{}, opt);
  bool reported = false;
  for (const auto& f : unexplained.failures) reported = reported || f.find("without a reason") != std::string::npos;
  CHECK(reported);
}

}  // namespace elementwise_test
