// Small GPU layers and the optimizer: ReLU, max-pooling (NHWC), bias add and its
// gradient, and SGD with momentum on the flat parameter buffer. Device pointers;
// every launcher only enqueues work on `stream`. Activations are channels-last
// ([N, H, W, C] in memory), as on the CPU path.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/hd.h"

namespace rampart::cuda {

// y = max(x, 0); y may be x.
void relu_forward(const float* x, float* y, int64_t n, cudaStream_t stream);
// dx = x > 0 ? dy : 0 (x: the forward input); dx may be dy.
void relu_backward(const float* x, const float* dy, float* dx, int64_t n, cudaStream_t stream);

struct PoolShape {
  int n, h, w, c;       // input [n, h, w, c]
  int kernel, stride;   // square window; PyTorch's default stride is the kernel
  int pad = 0;          // padding counts as -inf
  RAMPART_HD int out_h() const { return (h + 2 * pad - kernel) / stride + 1; }
  RAMPART_HD int out_w() const { return (w + 2 * pad - kernel) / stride + 1; }
};

// y: [n, out_h, out_w, c]; argmax: same shape, the input position (ih * w + iw) of
// each maximum, first in window order on ties, NaN wins (as PyTorch does).
void maxpool2d_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax,
                       cudaStream_t stream);
// dx: [n, h, w, c], every element written (no zeroing needed). Each input gathers
// the outputs whose argmax it is: no atomics, so overlapping windows
// (stride < kernel) add in a fixed order and the result is deterministic.
void maxpool2d_backward(const PoolShape& s, const float* dy, const int32_t* argmax, float* dx,
                        cudaStream_t stream);

// y[r, j] += b[j] for y: [rows, cols] (linear: rows = batch; conv NHWC: rows = n*h*w).
void bias_add(float* y, const float* b, int64_t rows, int cols, cudaStream_t stream);
// db[j] (+)= sum_r dy[r, j]; accumulate adds to db instead of overwriting it.
// A fixed summation order per column (two stages over all SMs, split by shape
// only): deterministic, the same bits on every GPU. Scratch from allocator.h.
void bias_backward(const float* dy, int64_t rows, int cols, float* db, bool accumulate,
                   cudaStream_t stream);

// PyTorch's SGD (dampening 0) on n parameters:
//   g = grad + weight_decay * p;  buf = momentum * buf + g;
//   p -= lr * (nesterov ? g + momentum * buf : buf)
// buf starts at zeros, which makes the first step buf = g exactly, as in PyTorch.
void sgd_momentum(float* params, const float* grads, float* momentum_buf, int64_t n, float lr,
                  float momentum, float weight_decay, bool nesterov, cudaStream_t stream);

}  // namespace rampart::cuda
