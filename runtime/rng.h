// Counter-based random numbers (Philox4x32-10): a draw is a pure function of
// (seed, stream, counter), so results do not depend on thread count, rank count
// or the order in which work is done, and resuming needs only the step number.
#pragma once
#include <cstdint>

#include "kernels/common/philox.h"

namespace rampart {

// Streams keep unrelated uses of one seed apart.
enum class Stream : uint32_t {
  kInit = 1,         // parameter initialisation
  kShuffle = 2,      // data order per epoch
  kRandomStart = 3,  // attack random starts during training
  kEvalStart = 4,    // attack random starts during evaluation
  kProbe = 5,        // scheduler probes
  kAugment = 6,      // training-set augmentation, per (epoch, example)
  kEvalSearch = 7,   // AutoAttack's searches (runtime/attacks/search_attacks.h), per example
};

// A sequential generator on top of Philox, for initialisation and shuffling.
class Rng {
 public:
  Rng(uint64_t seed, Stream stream, uint64_t sub = 0)
      : key_(kernels::philox_key(seed, uint32_t(stream))), sub_(sub) {}
  uint32_t next_u32() {
    if (pos_ == 4) { block_ = kernels::philox4x32(counter_++, sub_, key_); pos_ = 0; }
    return block_.v[pos_++];
  }
  // Uniform in [0, 1) with 24 bits of resolution.
  float uniform() { return float(next_u32() >> 8) * (1.0f / 16777216.0f); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n) without modulo bias (Lemire's method).
  uint64_t below(uint64_t n) {
    uint64_t x = next_u32(), m = x * n;
    uint32_t l = uint32_t(m);
    if (l < n) {
      uint32_t t = uint32_t(-uint32_t(n)) % uint32_t(n);
      while (l < t) { x = next_u32(); m = x * n; l = uint32_t(m); }
    }
    return m >> 32;
  }

 private:
  kernels::PhiloxKey key_;
  uint64_t sub_;
  uint64_t counter_ = 0;
  kernels::PhiloxBlock block_{};
  int pos_ = 4;
};

}  // namespace rampart
