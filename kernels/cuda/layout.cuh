// Flatten's transposes on GPU: channels-last activations to PyTorch's feature
// order and back. CPU twins: kernels/cpu/eltwise.h nhwc_to_nchw / nchw_to_nhwc.
// Device pointers; the launchers only enqueue work on `stream`. Pure data moves:
// results are bit-identical to the CPU's.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rampart::cuda {

// x: [n, hw, c] -> y: [n, c, hw]  (flatten's forward); y must not alias x.
void nhwc_to_nchw(const float* x, float* y, int64_t n, int64_t hw, int64_t c, cudaStream_t stream);
// x: [n, c, hw] -> y: [n, hw, c]  (flatten's backward); y must not alias x.
void nchw_to_nhwc(const float* x, float* y, int64_t n, int64_t hw, int64_t c, cudaStream_t stream);

}  // namespace rampart::cuda
