// Per-example bookkeeping of an attack on GPU, so that evaluation needs no host
// round trip per step: which examples some iterate has fooled.
// CPU twin: the best_fooled_ flags of runtime/attacks/attack.cpp (Attacker::consider).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rampart::cuda {

// fooled[e] |= !correct[e] for e in [0, n); correct as written by softmax_xent.
void mark_fooled(const uint8_t* correct, uint8_t* fooled, int64_t n, cudaStream_t stream);

}  // namespace rampart::cuda
