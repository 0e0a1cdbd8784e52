// PGD kernels on GPU (see pgd.cuh). Compiled with --fmad=false (CMakeLists.txt) so
// the shared math rounds as written, matching the host bit for bit.
#include "kernels/cuda/pgd.cuh"

#include "kernels/common/pgd_math.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

using kernels::PhiloxBlock;
using kernels::PhiloxKey;

enum class Op { kStep, kStart, kFirstStep };

struct Rand {
  PhiloxKey key;
  uint64_t sub;
  int64_t first;
};

// The start value of global element gi; four draws per Philox block.
__device__ __forceinline__ float start_at(float xc, int64_t gi, const Rand& r, float eps) {
  PhiloxBlock b = kernels::philox4x32(uint64_t(gi >> 2), r.sub, r.key);
  return kernels::random_start_update(xc, kernels::philox_uniform(b.v[gi & 3]), eps);
}

// One element, any alignment.
template <Op kOp>
__device__ __forceinline__ void one(float* __restrict__ x_adv, const float* __restrict__ grad,
                                    const float* __restrict__ x_clean, int64_t i, float alpha,
                                    float eps, const Rand& r) {
  float xc = x_clean[i];
  if constexpr (kOp == Op::kStep) {
    x_adv[i] = kernels::pgd_linf_update(x_adv[i], grad[i], xc, alpha, eps);
  } else {
    float x0 = start_at(xc, r.first + i, r, eps);
    x_adv[i] = kOp == Op::kStart ? x0 : kernels::pgd_linf_update(x0, grad[i], xc, alpha, eps);
  }
}

template <Op kOp>
__global__ void pgd_scalar_kernel(float* __restrict__ x_adv, const float* __restrict__ grad,
                                  const float* __restrict__ x_clean, int64_t n, float alpha,
                                  float eps, Rand r) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x)
    one<kOp>(x_adv, grad, x_clean, i, alpha, eps, r);
}

// float4 body for the first n/4*4 elements; the n%4 tail goes to block 0's first
// threads. Needs 16-byte aligned pointers and, for the random start, first % 4 == 0
// (then one Philox block serves exactly one float4).
template <Op kOp>
__global__ void pgd_vec4_kernel(float* __restrict__ x_adv, const float* __restrict__ grad,
                                const float* __restrict__ x_clean, int64_t n, float alpha,
                                float eps, Rand r) {
  const int64_t n4 = n >> 2;
  float4* xa4 = reinterpret_cast<float4*>(x_adv);
  const float4* g4 = reinterpret_cast<const float4*>(grad);
  const float4* xc4 = reinterpret_cast<const float4*>(x_clean);
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n4;
       j += int64_t(blockDim.x) * gridDim.x) {
    const float4 c = xc4[j];
    float4 a;
    if constexpr (kOp == Op::kStep) {
      a = xa4[j];
    } else {
      PhiloxBlock b = kernels::philox4x32(uint64_t((r.first >> 2) + j), r.sub, r.key);
      a.x = kernels::random_start_update(c.x, kernels::philox_uniform(b.v[0]), eps);
      a.y = kernels::random_start_update(c.y, kernels::philox_uniform(b.v[1]), eps);
      a.z = kernels::random_start_update(c.z, kernels::philox_uniform(b.v[2]), eps);
      a.w = kernels::random_start_update(c.w, kernels::philox_uniform(b.v[3]), eps);
    }
    if constexpr (kOp != Op::kStart) {
      const float4 g = g4[j];
      a.x = kernels::pgd_linf_update(a.x, g.x, c.x, alpha, eps);
      a.y = kernels::pgd_linf_update(a.y, g.y, c.y, alpha, eps);
      a.z = kernels::pgd_linf_update(a.z, g.z, c.z, alpha, eps);
      a.w = kernels::pgd_linf_update(a.w, g.w, c.w, alpha, eps);
    }
    xa4[j] = a;
  }
  const int64_t tail = n - n4 * 4;  // 0..3
  if (blockIdx.x == 0 && threadIdx.x < tail)
    one<kOp>(x_adv, grad, x_clean, n4 * 4 + threadIdx.x, alpha, eps, r);
}

template <Op kOp>
void launch_linf(float* x_adv, const float* grad, const float* x_clean, int64_t n, float alpha,
                 float eps, Rand r, cudaStream_t stream) {
  const char* what = kOp == Op::kStep ? "pgd_linf_step" : kOp == Op::kStart ? "random_start"
                                                                            : "pgd_linf_first_step";
  require(n >= 0, what, "n = " + std::to_string(n) + " is negative");
  require(eps >= 0.f && alpha >= 0.f, what,
          "eps = " + std::to_string(eps) + " and alpha = " + std::to_string(alpha) +
              " must not be negative");
  require(r.first >= 0, what, "first = " + std::to_string(r.first) + " is negative");
  if (n == 0) return;
  require(x_adv && x_clean && (kOp == Op::kStart || grad), what, "a null pointer for n > 0");
  const bool vec = aligned16(x_adv) && aligned16(x_clean) &&
                   (kOp == Op::kStart || aligned16(grad)) &&
                   (kOp == Op::kStep || r.first % 4 == 0);
  if (vec) {
    pgd_vec4_kernel<kOp><<<grid_for(n / 4), kThreads, 0, stream>>>(x_adv, grad, x_clean, n, alpha,
                                                                   eps, r);
  } else {
    pgd_scalar_kernel<kOp><<<grid_for(n), kThreads, 0, stream>>>(x_adv, grad, x_clean, n, alpha,
                                                                 eps, r);
  }
  CUDA_CHECK_LAUNCH();
}

Rand to_rand(const RandomStartKey& k) {
  return {kernels::philox_key(k.seed, k.rng_stream), k.sub, k.first};
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread
// gets the total. `shared` holds 32 doubles and may be reused after the call.
__device__ double block_sum(double v, double* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x >> 5) ? shared[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  const double total = shared[0];
  __syncthreads();
  return total;
}

// One block per example. Each thread revisits the same indices in every pass, so a
// value it wrote in pass 2 is read back by itself in pass 3 (no extra barrier).
__global__ void pgd_l2_kernel(float* __restrict__ x_adv, const float* __restrict__ grad,
                              const float* __restrict__ x_clean, int64_t dim, float alpha,
                              float eps) {
  __shared__ double shared[32];
  const int64_t base = int64_t(blockIdx.x) * dim;
  float* xa = x_adv + base;
  const float* g = grad + base;
  const float* xc = x_clean + base;

  double gn = 0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) gn += double(g[i]) * g[i];
  gn = block_sum(gn, shared);
  const float inv = gn > 0 ? float(1.0 / sqrt(gn)) : 0.f;

  double dn = 0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = kernels::pgd_l2_step(xa[i], g[i], alpha, inv);
    xa[i] = v;
    const double d = v - xc[i];
    dn += d * d;
  }
  dn = block_sum(dn, shared);
  const float norm = float(sqrt(dn));
  const float scale = norm > eps ? eps / norm : 1.f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    xa[i] = kernels::pgd_l2_project(xa[i], xc[i], scale);
}

// Grid-stride over all batch * dim pixels; an example without a carried start is skipped.
__global__ void carried_start_kernel(float* __restrict__ x_adv, const float* __restrict__ x_clean,
                                     const float* __restrict__ delta, const uint8_t* __restrict__ has,
                                     int64_t n, int64_t dim, float eps) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    if (has[i / dim]) x_adv[i] = kernels::carried_start_update(x_clean[i], delta[i], eps);
}

}  // namespace

void carried_start(float* x_adv, const float* x_clean, const float* delta, const uint8_t* has,
                   int64_t batch, int64_t dim, float eps, cudaStream_t stream) {
  require(batch >= 0 && dim > 0, "carried_start",
          "batch = " + std::to_string(batch) + ", dim = " + std::to_string(dim));
  require(eps >= 0.f, "carried_start", "eps = " + std::to_string(eps) + " is negative");
  if (batch == 0) return;
  require(x_adv && x_clean && delta && has, "carried_start", "a null pointer for a non-empty batch");
  carried_start_kernel<<<grid_for(batch * dim), kThreads, 0, stream>>>(x_adv, x_clean, delta, has, batch * dim,
                                                                       dim, eps);
  CUDA_CHECK_LAUNCH();
}

void pgd_linf_step(float* x_adv, const float* grad, const float* x_clean, int64_t n, float alpha,
                   float eps, cudaStream_t stream) {
  launch_linf<Op::kStep>(x_adv, grad, x_clean, n, alpha, eps, Rand{}, stream);
}

void random_start(float* x_adv, const float* x_clean, int64_t n, float eps,
                  const RandomStartKey& key, cudaStream_t stream) {
  launch_linf<Op::kStart>(x_adv, nullptr, x_clean, n, 0.f, eps, to_rand(key), stream);
}

void pgd_linf_first_step(float* x_adv, const float* grad, const float* x_clean, int64_t n,
                         float alpha, float eps, const RandomStartKey& key, cudaStream_t stream) {
  launch_linf<Op::kFirstStep>(x_adv, grad, x_clean, n, alpha, eps, to_rand(key), stream);
}

void pgd_l2_step(float* x_adv, const float* grad, const float* x_clean, int64_t batch,
                 int64_t dim, float alpha, float eps, cudaStream_t stream) {
  require(batch >= 0 && dim >= 0, "pgd_l2_step",
          "batch = " + std::to_string(batch) + ", dim = " + std::to_string(dim));
  require(batch <= 0x7fffffff, "pgd_l2_step",
          "batch = " + std::to_string(batch) + " exceeds one block per example (2^31 - 1)");
  require(eps >= 0.f && alpha >= 0.f, "pgd_l2_step", "eps and alpha must not be negative");
  if (batch == 0 || dim == 0) return;
  require(x_adv && grad && x_clean, "pgd_l2_step", "a null pointer for a non-empty batch");
  pgd_l2_kernel<<<unsigned(batch), kThreads, 0, stream>>>(x_adv, grad, x_clean, dim, alpha, eps);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda
