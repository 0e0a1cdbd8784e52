// Fused softmax cross-entropy (see softmax_xent.cuh).
#include "kernels/cuda/softmax_xent.cuh"

#include <climits>
#include <cmath>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

constexpr int kRowsPerBlock = kThreads / 32;

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// One warp per row: max and argmax, then the sum of exponentials, then the
// gradient; the row is read three times but stays in L1/L2 (k is small).
__global__ void xent_kernel(const float* __restrict__ logits, const int32_t* __restrict__ labels,
                            int64_t n, int k, float grad_scale, float* __restrict__ dlogits,
                            float* __restrict__ per_loss, uint8_t* __restrict__ correct) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  if (row >= n) return;  // the whole warp leaves together
  const float* z = logits + row * k;

  // Each lane scans j = lane, lane+32, ... keeping the first strict maximum;
  // merging keeps the larger value, or the lower index on a tie.
  float mx = -INFINITY;
  int arg = INT_MAX;
  for (int j = lane; j < k; j += 32) {
    const float v = z[j];
    if (arg == INT_MAX || v > mx) { mx = v; arg = j; }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, mx, o);
    const int a2 = __shfl_xor_sync(0xffffffffu, arg, o);
    if (a2 != INT_MAX && (arg == INT_MAX || m2 > mx || (m2 == mx && a2 < arg))) { mx = m2; arg = a2; }
  }

  double s = 0;
  for (int j = lane; j < k; j += 32) s += exp(double(z[j]) - mx);
  s = warp_sum(s);
  const double lse = mx + log(s);

  const int32_t y = labels[row];
  const bool valid = y >= 0 && y < k;
  if (lane == 0) {
    per_loss[row] = valid ? float(lse - z[y]) : NAN;
    correct[row] = valid && arg == y;
  }
  if (dlogits) {
    float* d = dlogits + row * k;
    for (int j = lane; j < k; j += 32) {
      const double p = exp(double(z[j]) - lse);
      d[j] = float((p - (j == y ? 1.0 : 0.0)) * grad_scale);
    }
  }
}

// One block adds everything in a fixed order: deterministic, and n is a batch.
__global__ void xent_totals_kernel(const float* __restrict__ per_loss,
                                   const uint8_t* __restrict__ correct, int64_t n,
                                   XentTotals* __restrict__ totals) {
  __shared__ double loss_part[kThreads];
  __shared__ long long correct_part[kThreads];
  double l = 0;
  long long c = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    l += per_loss[i];
    c += correct[i];
  }
  loss_part[threadIdx.x] = l;
  correct_part[threadIdx.x] = c;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half >>= 1) {
    if (int(threadIdx.x) < half) {
      loss_part[threadIdx.x] += loss_part[threadIdx.x + half];
      correct_part[threadIdx.x] += correct_part[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    totals->loss_sum = loss_part[0];
    totals->mean_loss = n > 0 ? float(loss_part[0] / double(n)) : 0.f;
    totals->pad_ = 0;
    totals->correct = correct_part[0];
  }
}

}  // namespace

void softmax_xent(const float* logits, const int32_t* labels, int64_t n, int k, float grad_scale,
                  float* dlogits, float* per_loss, uint8_t* correct, XentTotals* totals,
                  cudaStream_t stream) {
  require(n >= 0 && k >= 1, "softmax_xent",
          "n = " + std::to_string(n) + ", k = " + std::to_string(k) + " (need n >= 0, k >= 1)");
  require((n + kRowsPerBlock - 1) / kRowsPerBlock <= 0x7fffffff, "softmax_xent",
          "n = " + std::to_string(n) + " rows exceed the grid");
  if (n > 0) {
    require(logits && labels && per_loss && correct, "softmax_xent",
            "logits, labels, per_loss and correct must not be null");
    const unsigned blocks = unsigned((n + kRowsPerBlock - 1) / kRowsPerBlock);
    xent_kernel<<<blocks, kThreads, 0, stream>>>(logits, labels, n, k, grad_scale, dlogits,
                                                 per_loss, correct);
    CUDA_CHECK_LAUNCH();
  }
  if (totals) {
    xent_totals_kernel<<<1, kThreads, 0, stream>>>(per_loss, correct, n, totals);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace rampart::cuda
