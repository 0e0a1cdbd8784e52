// The PGD step and random start on CPU: one pass over the pixels each,
// vectorised (AVX-512 through the compiler) and split across OpenMP threads.
// All tensors are flat arrays of n floats in [0,1]; layout does not matter.
#pragma once
#include <cstdint>

namespace rampart::kernels {

// x_adv = clamp(clip(x_adv + alpha * sign(grad), x_clean - eps, x_clean + eps), 0, 1)
void pgd_linf_step_cpu(float* x_adv, const float* grad, const float* x_clean, int64_t n,
                       float alpha, float eps);

// x_adv = clamp(x_clean + U(-eps, eps), 0, 1) for elements first .. first+n-1
// of a larger (global) batch; x_adv and x_clean point at element `first`.
// Element i uses Philox block (i / 4, sub) under key philox_key(seed, stream),
// word i % 4: a rank that holds part of a global batch draws what one rank
// holding all of it would, and the CUDA kernel draws the same numbers.
void random_start_cpu(float* x_adv, const float* x_clean, int64_t n, float eps,
                      uint64_t seed, uint32_t stream, uint64_t sub, int64_t first = 0);

// Carried start (runtime/attacks/carry.h) for the examples e with has[e] != 0:
//   x_adv = clamp(x_clean + clip(delta, -eps, eps), 0, 1) over their dim pixels;
// other examples are left as they are (their random start).
void carried_start_cpu(float* x_adv, const float* x_clean, const float* delta, const uint8_t* has,
                       int64_t batch, int64_t dim, float eps);

// L2 PGD on a batch of `batch` examples of `dim` pixels each:
//   x_adv += alpha * g / ||g||_2, then project onto the eps-ball around x_clean, clamp to [0,1].
void pgd_l2_step_cpu(float* x_adv, const float* grad, const float* x_clean, int64_t batch,
                     int64_t dim, float alpha, float eps);

// L2 random start: a Gaussian direction scaled to radius eps * u, u ~ U(0,1),
// then clamped to [0,1]. Draws are keyed by the global example index
// (first_example + e), so they do not depend on how a batch is split.
void random_start_l2_cpu(float* x_adv, const float* x_clean, int64_t batch, int64_t dim,
                         float eps, uint64_t seed, uint32_t stream, uint64_t sub,
                         int64_t first_example = 0);

}  // namespace rampart::kernels
