// Bucket averaging kernels (see grad_buckets.cuh for why buckets are ranges).
#include "kernels/cuda/grad_buckets.cuh"

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

// A bucket's range starts wherever a layer's parameters start, so the pointer is
// often not 16-byte aligned: scalar loads, coalesced, and still bandwidth-bound.
__global__ void scale_copy_kernel(float* dst, const float* src, int64_t n, float s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x)
    dst[i] = src[i] * s;
}

void launch(float* dst, const float* src, int64_t n, float s, cudaStream_t stream,
            const char* what) {
  require(n >= 0, what, "n = " + std::to_string(n) + " is negative");
  if (n == 0) return;
  require(dst && src, what, "a null pointer for n > 0");
  scale_copy_kernel<<<grid_for(n), kThreads, 0, stream>>>(dst, src, n, s);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void scale_inplace(float* data, int64_t n, float s, cudaStream_t stream) {
  launch(data, data, n, s, stream, "scale_inplace");
}

void scale_copy(float* dst, const float* src, int64_t n, float s, cudaStream_t stream) {
  if (n > 0 && dst != src) {
    const bool overlap = dst < src + n && src < dst + n;
    require(!overlap, "scale_copy", "dst and src overlap without being equal");
  }
  launch(dst, src, n, s, stream, "scale_copy");
}

}  // namespace rampart::cuda
