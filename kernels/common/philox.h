// Philox4x32-10 (Salmon et al., SC'11), the generator of curand's device API.
// Shared by the CPU kernels and the CUDA kernels so that both draw the same numbers.
#pragma once
#include <cstdint>

#include "kernels/common/hd.h"

namespace rampart::kernels {

struct PhiloxKey { uint32_t k0, k1; };
struct PhiloxBlock { uint32_t v[4]; };

RAMPART_HD PhiloxKey philox_key(uint64_t seed, uint32_t stream) {
  // Mix the stream into the seed so that streams of one seed are unrelated.
  uint64_t s = seed ^ (uint64_t(stream) * 0x9E3779B97F4A7C15ull);
  return {uint32_t(s), uint32_t(s >> 32)};
}

RAMPART_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  hi = uint32_t(p >> 32);
  lo = uint32_t(p);
}

// One block of four 32-bit numbers for the 128-bit counter (c_lo, c_hi).
RAMPART_HD PhiloxBlock philox4x32(uint64_t c_lo, uint64_t c_hi, PhiloxKey key) {
  uint32_t c0 = uint32_t(c_lo), c1 = uint32_t(c_lo >> 32), c2 = uint32_t(c_hi), c3 = uint32_t(c_hi >> 32);
  uint32_t k0 = key.k0, k1 = key.k1;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, c0, hi0, lo0);
    philox_mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform float in [0, 1) from 32 random bits (24 bits of resolution).
RAMPART_HD float philox_uniform(uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }

}  // namespace rampart::kernels
