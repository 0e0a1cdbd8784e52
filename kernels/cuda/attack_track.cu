// Per-example attack bookkeeping on GPU (see attack_track.cuh).
#include "kernels/cuda/attack_track.cuh"

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

}  // namespace

void mark_fooled(const uint8_t* correct, uint8_t* fooled, int64_t n, cudaStream_t stream) {
  require(n >= 0, "mark_fooled", "negative n " + std::to_string(n));
  if (n == 0) return;
  mark_fooled_kernel<<<grid_for(n), kThreads, 0, stream>>>(correct, fooled, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda
