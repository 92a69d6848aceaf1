// flowtmpl/random.hpp: Philox4x32-10, a counter-based generator (Salmon et al. 2011,
// "Parallel random numbers: as easy as 1, 2, 3"), and the draws flowtmpl makes from it.
//
// A stream is keyed by (seed, sample index): sample n of a batch draws from
// philox_stream(seed, n) whatever thread, block or backend evaluates it, so a batch
// gives the same samples for any number of threads.
//
// Draws:
//   next_u32()      the raw 32-bit words, four per Philox block, in order.
//   uniform<S>()    in [0, 1): float from 24 bits, double from 53 bits.
//   normal<S>()     standard normal by the Box-Muller transform of two uniforms in
//                   (0, 1); both values of a pair are used, in order.
// Cost: one Philox block (10 rounds of two 32x32->64 multiplies) per four words.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "config.hpp"

namespace flowtmpl {

struct philox4x32 {
  using counter = std::uint32_t[4];
  static constexpr std::uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
  static constexpr std::uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;

  // One Philox4x32-10 block: out = bijection_key(ctr).
  FLOWTMPL_HOST_DEVICE static constexpr void block(const std::uint32_t ctr_in[4], const std::uint32_t key_in[2],
                                                   std::uint32_t out[4]) {
    std::uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    std::uint32_t k0 = key_in[0], k1 = key_in[1];
    for (int round = 0; round < 10; ++round) {
      const std::uint64_t p0 = std::uint64_t(m0) * c0;
      const std::uint64_t p1 = std::uint64_t(m1) * c2;
      const std::uint32_t hi0 = std::uint32_t(p0 >> 32), lo0 = std::uint32_t(p0);
      const std::uint32_t hi1 = std::uint32_t(p1 >> 32), lo1 = std::uint32_t(p1);
      c0 = hi1 ^ c1 ^ k0;
      c1 = lo1;
      c2 = hi0 ^ c3 ^ k1;
      c3 = lo0;
      k0 += w0;
      k1 += w1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
  }
};

// The draws of one sample: key = seed, counter = (block, 0, index low, index high).
class philox_stream {
 public:
  FLOWTMPL_HOST_DEVICE constexpr philox_stream(std::uint64_t seed, std::uint64_t index)
      : key_{std::uint32_t(seed), std::uint32_t(seed >> 32)},
        index_lo_(std::uint32_t(index)),
        index_hi_(std::uint32_t(index >> 32)) {}

  FLOWTMPL_HOST_DEVICE constexpr std::uint32_t next_u32() {
    if (pos_ == 4) {
      const std::uint32_t ctr[4] = {block_, 0u, index_lo_, index_hi_};
      philox4x32::block(ctr, key_, buf_);
      ++block_;
      pos_ = 0;
    }
    return buf_[pos_++];
  }

  template <class S>
  FLOWTMPL_HOST_DEVICE S uniform() {
    if constexpr (sizeof(S) == 4) {
      return S(next_u32() >> 8) * S(0x1.0p-24);
    } else {
      const std::uint64_t a = next_u32() >> 5, b = next_u32() >> 6;
      return S((a << 26) | b) * S(0x1.0p-53);
    }
  }

  template <class S>
  FLOWTMPL_HOST_DEVICE S normal() {
    if (have_spare_) {
      have_spare_ = false;
      return S(spare_);
    }
    // Uniforms in (0, 1): the half-step offset keeps log() away from zero.
    S u1, u2;
    if constexpr (sizeof(S) == 4) {
      u1 = (S(next_u32() >> 8) + S(0.5)) * S(0x1.0p-24);
      u2 = S(next_u32() >> 8) * S(0x1.0p-24);
    } else {
      const std::uint64_t a = next_u32() >> 5, b = next_u32() >> 6;
      u1 = (S((a << 26) | b) + S(0.5)) * S(0x1.0p-53);
      u2 = uniform<S>();
    }
    using std::cos;
    using std::log;
    using std::sin;
    using std::sqrt;
    const S r = sqrt(S(-2) * log(u1));
    const S t = S(6.283185307179586476925286766559) * u2;
    spare_ = double(r * sin(t));
    have_spare_ = true;
    return r * cos(t);
  }

 private:
  std::uint32_t key_[2];
  std::uint32_t index_lo_, index_hi_;
  std::uint32_t block_ = 0;
  std::uint32_t buf_[4] = {0, 0, 0, 0};
  int pos_ = 4;
  bool have_spare_ = false;
  double spare_ = 0.0;
};

namespace detail {
// A key for philox_stream from the bits of a point (n values) and of its context (c
// values, may be null when c = 0): the per-sample probes of the stochastic log-dets
// (Residual, Continuous) depend on the point, not on its place in a batch.
template <class S>
FLOWTMPL_HOST_DEVICE std::uint64_t point_key(const S* x, int n, const S* ctx, int c) {
  using U = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
  std::uint64_t h = 0x9e3779b97f4a7c15ull;
  auto mix = [&](S v) {
    h ^= std::uint64_t(std::bit_cast<U>(v)) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  };
  for (int i = 0; i < n; ++i) mix(x[i]);
  for (int i = 0; i < c; ++i) mix(ctx[i]);
  return h;
}
}  // namespace detail

}  // namespace flowtmpl
