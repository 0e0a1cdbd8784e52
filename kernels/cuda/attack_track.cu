// Per-example attack bookkeeping on GPU (see attack_track.cuh).
#include "kernels/cuda/attack_track.cuh"

#include <algorithm>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

__global__ void mark_fooled_kernel(const uint8_t* __restrict__ correct, uint8_t* __restrict__ fooled,
                                   int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(blockDim.x) * gridDim.x)
    if (!correct[e]) fooled[e] = 1;
}

// One block per example (grid-stride over examples): thread 0 decides, the block
// copies the row, then thread 0 updates the best arrays, which nobody else reads.
__global__ void keep_best_kernel(const float* __restrict__ x_cur, const float* __restrict__ loss,
                                 const uint8_t* __restrict__ correct, int64_t n, int64_t dim,
                                 float* __restrict__ best_x, float* __restrict__ best_loss,
                                 uint8_t* __restrict__ best_fooled) {
  __shared__ bool better;
  for (int64_t e = blockIdx.x; e < n; e += gridDim.x) {
    if (threadIdx.x == 0) {
      const uint8_t fooled = !correct[e];
      better = fooled > best_fooled[e] || (fooled == best_fooled[e] && loss[e] > best_loss[e]);
    }
    __syncthreads();
    if (better) {
      const float* src = x_cur + e * dim;
      float* dst = best_x + e * dim;
      for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) dst[j] = src[j];
      if (threadIdx.x == 0) {
        best_fooled[e] = !correct[e];
        best_loss[e] = loss[e];
      }
    }
    __syncthreads();  // `better` is rewritten for the next example
  }
}

__global__ void zero_masked_rows_kernel(float* m, const uint8_t* __restrict__ mask, int64_t total,
                                        int64_t k) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(blockDim.x) * gridDim.x)
    if (!mask[i / k]) m[i] = 0.f;
}

}  // namespace

void keep_best(const float* x_cur, const float* loss, const uint8_t* correct, int64_t n,
               int64_t dim, float* best_x, float* best_loss, uint8_t* best_fooled,
               cudaStream_t stream) {
  require(n >= 0 && dim >= 0, "keep_best",
          "n = " + std::to_string(n) + ", dim = " + std::to_string(dim) + " (need both >= 0)");
  if (n == 0) return;
  require(x_cur && loss && correct && best_x && best_loss && best_fooled, "keep_best",
          "a null pointer");
  const unsigned blocks = unsigned(std::min<int64_t>(n, int64_t(sm_count_cached()) * 16));
  keep_best_kernel<<<blocks, kThreads, 0, stream>>>(x_cur, loss, correct, n, dim, best_x,
                                                    best_loss, best_fooled);
  CUDA_CHECK_LAUNCH();
}

void zero_masked_rows(float* m, const uint8_t* mask, int64_t n, int64_t k, cudaStream_t stream) {
  require(n >= 0 && k >= 0, "zero_masked_rows",
          "n = " + std::to_string(n) + ", k = " + std::to_string(k) + " (need both >= 0)");
  const int64_t total = n * k;
  if (total == 0) return;
  require(m && mask, "zero_masked_rows", "a null pointer");
  zero_masked_rows_kernel<<<grid_for(total), kThreads, 0, stream>>>(m, mask, total, k);
  CUDA_CHECK_LAUNCH();
}

void mark_fooled(const uint8_t* correct, uint8_t* fooled, int64_t n, cudaStream_t stream) {
  require(n >= 0, "mark_fooled", "negative n " + std::to_string(n));
  if (n == 0) return;
  mark_fooled_kernel<<<grid_for(n), kThreads, 0, stream>>>(correct, fooled, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda
