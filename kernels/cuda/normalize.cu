// Per-channel normalisation on GPU (see normalize.cuh).
#include "kernels/cuda/normalize.cuh"

#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

__global__ void normalize_forward_kernel(const float* x, const float* __restrict__ mean,
                                         const float* __restrict__ std, float* y, int64_t total,
                                         int c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(blockDim.x) * gridDim.x) {
    const int ch = int(i % c);
    y[i] = (x[i] - mean[ch]) / std[ch];
  }
}

__global__ void normalize_backward_kernel(const float* dy, const float* __restrict__ std,
                                          float* dx, int64_t total, int c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(blockDim.x) * gridDim.x) {
    const int ch = int(i % c);
    dx[i] = dy[i] * (1.0f / std[ch]);  // the CPU's inv_std_c_, then one multiply
  }
}

void check(const char* what, int64_t rows, int c, bool pointers_ok) {
  require(rows >= 0 && c > 0, what,
          "rows = " + std::to_string(rows) + ", c = " + std::to_string(c) +
              " (need rows >= 0 and c >= 1)");
  require(rows == 0 || pointers_ok, what, "a null pointer");
}

}  // namespace

void normalize_forward(const float* x, const float* mean, const float* std, float* y, int64_t rows,
                       int c, cudaStream_t stream) {
  check("normalize_forward", rows, c, x && mean && std && y);
  const int64_t total = rows * c;
  if (total == 0) return;
  normalize_forward_kernel<<<grid_for(total), kThreads, 0, stream>>>(x, mean, std, y, total, c);
  CUDA_CHECK_LAUNCH();
}

void normalize_backward(const float* dy, const float* std, float* dx, int64_t rows, int c,
                        cudaStream_t stream) {
  check("normalize_backward", rows, c, dy && std && dx);
  const int64_t total = rows * c;
  if (total == 0) return;
  normalize_backward_kernel<<<grid_for(total), kThreads, 0, stream>>>(dy, std, dx, total, c);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda
