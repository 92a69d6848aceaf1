// Philox4x32-10 against the known-answer vectors published with Random123
// (Salmon et al. 2011, kat_vectors: philox4x32 10 rounds), and the draws built on it.
#include <flowtmpl/random.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>

namespace random_test {

namespace {
void check_block(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, std::uint32_t k0,
                 std::uint32_t k1, std::uint32_t e0, std::uint32_t e1, std::uint32_t e2, std::uint32_t e3) {
  const std::uint32_t ctr[4] = {c0, c1, c2, c3}, key[2] = {k0, k1};
  std::uint32_t out[4];
  flowtmpl::philox4x32::block(ctr, key, out);
  CHECK(out[0] == e0);
  CHECK(out[1] == e1);
  CHECK(out[2] == e2);
  CHECK(out[3] == e3);
}
}  // namespace

TEST_CASE("philox4x32-10 matches the Random123 known answers", "[random]") {
  check_block(0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u);
  check_block(~0u, ~0u, ~0u, ~0u, ~0u, ~0u, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu);
  check_block(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu,
              0x5001e420u, 0x24126ea1u);
}

TEST_CASE("a stream is keyed by (seed, index) and reproducible", "[random]") {
  flowtmpl::philox_stream a(7, 3), b(7, 3), c(7, 4), d(8, 3);
  const std::uint32_t a0 = a.next_u32();
  CHECK(a0 == b.next_u32());
  CHECK(a0 != c.next_u32());
  CHECK(a0 != d.next_u32());
  // the stream's words are the Philox blocks with counter (block, 0, index lo, index hi)
  flowtmpl::philox_stream s(0x0000000200000001ull, 0x0000000400000003ull);
  const std::uint32_t ctr[4] = {0, 0, 3, 4}, key[2] = {1, 2};
  std::uint32_t out[4];
  flowtmpl::philox4x32::block(ctr, key, out);
  for (int i = 0; i < 4; ++i) CHECK(s.next_u32() == out[i]);
  const std::uint32_t ctr1[4] = {1, 0, 3, 4};
  flowtmpl::philox4x32::block(ctr1, key, out);
  CHECK(s.next_u32() == out[0]);
}

TEMPLATE_TEST_CASE("uniform draws lie in [0, 1) with the right moments", "[random]", float, double) {
  flowtmpl::philox_stream s(11, 0);
  const int n = 200000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    const TestType u = s.template uniform<TestType>();
    REQUIRE(u >= TestType(0));
    REQUIRE(u < TestType(1));
    sum += u;
    sum2 += double(u) * u;
  }
  // mean 1/2 (sd of the mean 0.29/sqrt(n) = 6.5e-4), second moment 1/3
  CHECK(std::abs(sum / n - 0.5) < 4e-3);
  CHECK(std::abs(sum2 / n - 1.0 / 3.0) < 4e-3);
}

TEMPLATE_TEST_CASE("normal draws are finite with mean 0, variance 1, kurtosis 3", "[random]", float, double) {
  flowtmpl::philox_stream s(12, 5);
  const int n = 200000;
  double m1 = 0, m2 = 0, m4 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = s.template normal<TestType>();
    REQUIRE(std::isfinite(z));
    m1 += z;
    m2 += z * z;
    m4 += z * z * z * z;
  }
  CHECK(std::abs(m1 / n) < 0.012);
  CHECK(std::abs(m2 / n - 1.0) < 0.015);
  CHECK(std::abs(m4 / n - 3.0) < 0.08);
}

}  // namespace random_test
