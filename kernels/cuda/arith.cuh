// Element-wise arithmetic on GPU for the one stack: gradient accumulation, the
// residual add and its backward, and copies. Pure adds and moves: results are
// bit-identical to the CPU's. Device pointers, any alignment (16-byte aligned
// pointers take a float4 path); launchers only enqueue work on `stream`.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rampart::cuda {

// y[i] += x[i] (gradient accumulation; a residual add's backward into the skip path).
void add_inplace(float* y, const float* x, int64_t n, cudaStream_t stream);
// y[i] = a[i] + b[i] (residual add); y may be a or b.
void add(const float* a, const float* b, float* y, int64_t n, cudaStream_t stream);
// dst[i] = src[i], stream-ordered (cudaMemcpyAsync, device to device).
void copy(float* dst, const float* src, int64_t n, cudaStream_t stream);

}  // namespace rampart::cuda
