// Element-wise arithmetic on GPU (see arith.cuh).
#include "kernels/cuda/arith.cuh"

#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

// y = a + b; float4 loads and stores when every pointer is 16-byte aligned (16
// bytes a thread per access, as memory-bound kernels want), the n % 4 tail by
// block 0. y may alias a or b exactly (same index read then written).
__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n, bool vec) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  int64_t start = 0;
  if (vec) {
    const int64_t n4 = n / 4;
    const float4* a4 = reinterpret_cast<const float4*>(a);
    const float4* b4 = reinterpret_cast<const float4*>(b);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4; i += stride) {
      const float4 u = a4[i], v = b4[i];
      y4[i] = make_float4(u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w);
    }
    start = n4 * 4;
    if (blockIdx.x != 0) return;
    for (int64_t i = start + threadIdx.x; i < n; i += blockDim.x) y[i] = a[i] + b[i];
    return;
  }
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += stride)
    y[i] = a[i] + b[i];
}

void check(const char* what, int64_t n, bool pointers_ok) {
  require(n >= 0, what, "n = " + std::to_string(n) + " is negative");
  require(n == 0 || pointers_ok, what, "a null pointer for n > 0");
}

void launch_add(const float* a, const float* b, float* y, int64_t n, cudaStream_t stream) {
  const bool vec = aligned16(a) && aligned16(b) && aligned16(y);
  add_kernel<<<grid_for(vec ? (n + 3) / 4 : n), kThreads, 0, stream>>>(a, b, y, n, vec);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void add_inplace(float* y, const float* x, int64_t n, cudaStream_t stream) {
  check("add_inplace", n, y && x);
  if (n == 0) return;
  launch_add(y, x, y, n, stream);  // y + x, in that order, as the CPU's y += x
}

void add(const float* a, const float* b, float* y, int64_t n, cudaStream_t stream) {
  check("add", n, a && b && y);
  if (n == 0) return;
  launch_add(a, b, y, n, stream);
}

void copy(float* dst, const float* src, int64_t n, cudaStream_t stream) {
  check("copy", n, dst && src);
  if (n == 0 || dst == src) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(float) * size_t(n), cudaMemcpyDeviceToDevice, stream));
}

}  // namespace rampart::cuda
