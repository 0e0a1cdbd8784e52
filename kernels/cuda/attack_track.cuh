// Per-example bookkeeping of an attack on GPU, so that evaluation needs no host
// round trip per step: which examples some iterate has fooled, the best iterate
// so far, and the rows of examples that stopped early.
// CPU twin: runtime/attacks/attack.cpp (Attacker::consider and its best_* arrays).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rampart::cuda {

// fooled[e] |= !correct[e] for e in [0, n); correct as written by softmax_xent.
void mark_fooled(const uint8_t* correct, uint8_t* fooled, int64_t n, cudaStream_t stream);

// Attacker::consider: for each example e in [0, n), the current iterate beats the
// best so far when it is misclassified and the best is not, or when both agree and
// its loss is higher (strictly: ties keep the earlier iterate). A winner sets
// best_fooled[e] = !correct[e], best_loss[e] = loss[e] and copies row e of x_cur
// ([n, dim]) into best_x. loss, correct: as written by softmax_xent.
void keep_best(const float* x_cur, const float* loss, const uint8_t* correct, int64_t n,
               int64_t dim, float* best_x, float* best_loss, uint8_t* best_fooled,
               cudaStream_t stream);

// Early stop: zeroes row e of m ([n, k]) for every e with mask[e] == 0 (e.g. the
// gradient of examples already fooled); other rows are untouched.
void zero_masked_rows(float* m, const uint8_t* mask, int64_t n, int64_t k, cudaStream_t stream);

}  // namespace rampart::cuda
