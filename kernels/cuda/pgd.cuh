// The PGD attack's per-step kernels on GPU: the fused L-inf step, the random
// start (also fused into the first step), and the L2 step. CPU twins live in
// kernels/cpu/pgd.h; both use the per-element math of kernels/common/pgd_math.h
// and the Philox of kernels/common/philox.h, so the same inputs give the same bits
// (the L2 step's norms are summed in another order: equal to rounding only).
// Pointers are device memory; tensors are flat arrays of n floats in [0,1]
// (layout does not matter). Every launcher only enqueues work on `stream`.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rampart::cuda {

// x_adv = clamp(clip(x_adv + alpha * sign(grad), x_clean - eps, x_clean + eps), 0, 1)
// Uses 16-byte (float4) loads when all three pointers are 16-byte aligned, else a
// scalar kernel; n need not be a multiple of 4.
void pgd_linf_step(float* x_adv, const float* grad, const float* x_clean, int64_t n, float alpha,
                   float eps, cudaStream_t stream);

// Where random-start draws come from. Element i of the (local) tensor is global
// element first + i; it takes word (first+i) % 4 of Philox block
// philox4x32((first+i) / 4, sub, philox_key(seed, rng_stream)), exactly as
// random_start_cpu does, so a split batch draws what the whole batch would.
struct RandomStartKey {
  uint64_t seed = 0;
  uint32_t rng_stream = 0;  // rampart::Stream::kRandomStart or kEvalStart
  uint64_t sub = 0;         // chosen by the caller, e.g. the global step
  int64_t first = 0;        // global index of element 0 of this tensor
};

// x_adv = clamp(x_clean + U(-eps, eps), 0, 1): copy and noise in one pass.
void random_start(float* x_adv, const float* x_clean, int64_t n, float eps,
                  const RandomStartKey& key, cudaStream_t stream);

// The random start fused into the first step: x_adv = step(start(x_clean), grad),
// where start() is regenerated from the counters instead of read back, so the
// first step reads grad and x_clean only. grad must be the gradient at the start
// (the attack ran forward/backward on random_start's output). Bit-identical to
// random_start followed by pgd_linf_step.
void pgd_linf_first_step(float* x_adv, const float* grad, const float* x_clean, int64_t n,
                         float alpha, float eps, const RandomStartKey& key, cudaStream_t stream);

// Carried start (runtime/attacks/carry.h; CPU twin carried_start_cpu): for the
// examples e with has[e] != 0, x_adv = clamp(x_clean + clip(delta, -eps, eps), 0, 1)
// over their dim pixels; other examples keep what x_adv holds (their random start).
void carried_start(float* x_adv, const float* x_clean, const float* delta, const uint8_t* has,
                   int64_t batch, int64_t dim, float eps, cudaStream_t stream);

// L2 PGD on `batch` examples of `dim` pixels each (x_adv, grad, x_clean: [batch, dim]):
//   x_adv += alpha * g / ||g||_2 (a zero gradient does not move),
//   then x_adv = clamp(x_clean + delta * min(1, eps / ||delta||_2), 0, 1).
// One block per example; the norms are block reductions accumulated in double,
// as the CPU kernel does.
void pgd_l2_step(float* x_adv, const float* grad, const float* x_clean, int64_t batch,
                 int64_t dim, float alpha, float eps, cudaStream_t stream);

}  // namespace rampart::cuda
