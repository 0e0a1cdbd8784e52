// The small value types that the attack's parts share: the norm of the threat model, where a
// random start's numbers come from, and a carried start.
#pragma once
#include <cstdint>

#include "runtime/rng.h"

namespace rampart {

enum class Norm { kLinf, kL2 };

// Where the random start's numbers come from: Philox (seed, stream), counter
// `sub` (e.g. the global step), and the index of the batch's first example in
// the global batch, so a batch split across ranks draws what one rank would.
// Restart r of an attack draws with sub * 1000003 + r.
struct RandomKey {
  uint64_t seed = 0;
  Stream stream = Stream::kRandomStart;
  uint64_t sub = 0;
  int64_t first_example = 0;
};

// Carried starts (runtime/attacks/carry.h): for examples with has[e] != 0 the first
// restart begins at clamp(x + clip(delta, -eps, eps), 0, 1) instead of a random point.
// delta: [N, C, H, W]; both pointers stay owned by the caller.
struct CarriedStart {
  const float* delta = nullptr;
  const uint8_t* has = nullptr;
};

}  // namespace rampart
