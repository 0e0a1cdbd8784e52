// Per-channel input normalisation on GPU: y = (x - mean[ch]) / std[ch] over
// channels-last activations viewed as [rows, c]. CPU twin: runtime/layers/
// normalize.cpp (kernels/cpu/eltwise.h channel_sub_div, then channel_scale_shift
// with 1/std for the backward). IEEE division and one multiply per element on
// both sides: results are bit-identical to the CPU's.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rampart::cuda {

// x, y: [rows, c]; mean, std: [c] device arrays. y may be x.
void normalize_forward(const float* x, const float* mean, const float* std, float* y, int64_t rows,
                       int c, cudaStream_t stream);
// dx = dy * (1 / std[ch]); dx may be dy.
void normalize_backward(const float* dy, const float* std, float* dx, int64_t rows, int c,
                        cudaStream_t stream);

}  // namespace rampart::cuda
