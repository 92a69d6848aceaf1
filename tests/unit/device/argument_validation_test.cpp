// The device backend's sampling arguments outside their documented domain (device/
// launch.hpp, device_batch.hpp): a temperature that is not finite and positive, a
// negative count, a count whose values one batch cannot index; each refused on the host
// before the launch, in one sentence naming the function.
#include "support/device.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace ft = flowtmpl;
using Catch::StartsWith;

namespace {
template <class F>
std::string type_thrown_by(F&& f) {
  try {
    f();
  } catch (const ft::shape_error&) {
    return "shape_error";
  } catch (const ft::argument_error&) {
    return "argument_error";
  } catch (const std::exception&) {
    return "other";
  }
  return "none";
}
}  // namespace

TEST_CASE("device sample and sample_and_log_prob refuse a temperature that is not finite and positive",
          "[device][arguments]") {
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine, ft::Permute<ft::Reverse>>>, 3, float>;
  using C = ft::bind_t<ft::Conditional<2, ft::Flow<ft::StandardNormal, ft::compose<ft::Coupling<ft::Affine, ft::MLP<8>>>>>,
                       3, float>;
  const ft::device_flow<F> df(F{});
  const ft::device_flow<C> dc(C{});
  const auto ctx = ft::to_device(Eigen::Matrix<float, 2, 1>(0.5f, -1.0f));
  using L = std::numeric_limits<float>;
  const std::vector<std::pair<float, std::string>> bad = {
      {0.0f, "0"},           {-1.0f, "-1"},        {L::quiet_NaN(), "nan"},
      {L::infinity(), "inf"}, {-L::infinity(), "-inf"}, {L::denorm_min(), "1.40129846e-45"}};
  for (const auto& [t, text] : bad) {
    INFO("T = " << text);
    const std::string tail = text + "; it must be finite and positive, at least 1.17549435e-38";
    REQUIRE_THROWS_WITH(ft::sample(ft::exec::device, df, 8, 1, t), StartsWith("device sample: the temperature is " + tail));
    REQUIRE_THROWS_WITH(ft::sample_and_log_prob(ft::exec::device, df, 8, 1, t),
                        StartsWith("device sample_and_log_prob: the temperature is " + tail));
    REQUIRE_THROWS_WITH(ft::sample(ft::exec::device, dc, 8, 1, ctx, t),
                        StartsWith("device sample: the temperature is " + tail));
    REQUIRE_THROWS_WITH(ft::sample_and_log_prob(ft::exec::device, dc, 8, 1, ctx, t),
                        StartsWith("device sample_and_log_prob: the temperature is " + tail));
    CHECK(type_thrown_by([&] { (void)ft::sample(ft::exec::device, df, 8, 1, t); }) == "argument_error");
  }
  // the smallest normal temperature draws finite values
  const auto r = ft::sample_and_log_prob(ft::exec::device, df, 8, 1, L::min());
  CHECK(ft::to_host(r.values).allFinite());
}

TEST_CASE("device sampling and device_batch refuse a negative or unindexable count", "[device][arguments]") {
  using F = ft::bind_t<ft::Flow<ft::StandardNormal, ft::compose<ft::Affine>>, 4, float>;
  const ft::device_flow<F> df(F{});
  REQUIRE_THROWS_WITH(ft::sample(ft::exec::device, df, -1, 0),
                      StartsWith("device sample: the number of samples is -1; it must be at least 0"));
  REQUIRE_THROWS_WITH(ft::sample_and_log_prob(ft::exec::device, df, -3, 0, 0.5f),
                      StartsWith("device sample_and_log_prob: the number of samples is -3"));
  // 2^62 samples of 4 floats: 2^66 bytes, beyond a 64-bit index (the product once
  // wrapped to a small allocation); refused before any allocation
  const std::int64_t huge = std::int64_t(1) << 62;
  REQUIRE_THROWS_WITH(ft::sample(ft::exec::device, df, huge, 0),
                      StartsWith("device sample: 4611686018427387904 samples of dimension 4 are more values than one "
                                 "device batch can index"));
  CHECK(type_thrown_by([&] { (void)ft::sample(ft::exec::device, df, huge, 0); }) == "shape_error");
  REQUIRE_THROWS_WITH(ft::device_batch<float>(4, huge),
                      StartsWith("device_batch: 4611686018427387904 samples of dimension 4 are more values than one "
                                 "device batch can index (at most 576460752303423487 samples)"));
  REQUIRE_THROWS_WITH(ft::device_batch<double>(2, -7), StartsWith("device_batch: the number of samples is -7"));
}
