// Flatten's transposes on GPU (see layout.cuh).
#include "kernels/cuda/layout.cuh"

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

// One thread per output element, in output order: writes coalesce, reads stride.
// Activations at flatten are small (the last feature map), so a tiled shared-memory
// transpose would not pay for its code; revisit if a profile says otherwise.
__global__ void nhwc_to_nchw_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n,
                                    int64_t hw, int64_t c) {
  const int64_t total = n * hw * c;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(blockDim.x) * gridDim.x) {
    const int64_t p = o % hw, ch = (o / hw) % c, b = o / (hw * c);
    y[o] = x[(b * hw + p) * c + ch];
  }
}

__global__ void nchw_to_nhwc_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n,
                                    int64_t hw, int64_t c) {
  const int64_t total = n * hw * c;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(blockDim.x) * gridDim.x) {
    const int64_t ch = o % c, p = (o / c) % hw, b = o / (hw * c);
    y[o] = x[(b * c + ch) * hw + p];
  }
}

}  // namespace

void nhwc_to_nchw(const float* x, float* y, int64_t n, int64_t hw, int64_t c, cudaStream_t stream) {
  require(n >= 0 && hw >= 0 && c >= 0, "nhwc_to_nchw", "negative size");
  if (n * hw * c == 0) return;
  nhwc_to_nchw_kernel<<<grid_for(n * hw * c), kThreads, 0, stream>>>(x, y, n, hw, c);
  CUDA_CHECK_LAUNCH();
}

void nchw_to_nhwc(const float* x, float* y, int64_t n, int64_t hw, int64_t c, cudaStream_t stream) {
  require(n >= 0 && hw >= 0 && c >= 0, "nchw_to_nhwc", "negative size");
  if (n * hw * c == 0) return;
  nchw_to_nhwc_kernel<<<grid_for(n * hw * c), kThreads, 0, stream>>>(x, y, n, hw, c);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda
