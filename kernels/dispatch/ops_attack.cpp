// (device, op) -> kernel: the softmax cross-entropy, the attack's start, step and
// stopping kernels, and the SGD update. See ops.cpp.
#include "kernels/dispatch/ops.h"

#include <cstring>
#include <vector>

#include "kernels/cpu/pair_loss.h"
#include "kernels/cpu/pgd.h"
#include "kernels/cpu/softmax_xent.h"
#include "kernels/dispatch/dispatch_internal.h"
#if RAMPART_HAVE_CUDA
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/attack_track.cuh"
#include "kernels/cuda/check.h"
#include "kernels/cuda/eltwise.cuh"
#include "kernels/cuda/pgd.cuh"
#include "kernels/cuda/pair_loss.cuh"
#include "kernels/cuda/softmax_xent.cuh"
#endif

namespace rampart::ops {

#if RAMPART_HAVE_CUDA
namespace {

// Per-example scratch of the loss kernel, grown to the largest batch seen.
struct XentScratch {
  float* loss = nullptr;
  uint8_t* ok = nullptr;
  cuda::XentTotals* totals = nullptr;
  int64_t capacity = -1;
  void reserve(int64_t n) {
    if (n <= capacity) return;
    release();
    loss = static_cast<float*>(cuda::device_alloc(sizeof(float) * size_t(n + 1)));
    ok = static_cast<uint8_t*>(cuda::device_alloc(size_t(n + 1)));
    totals = static_cast<cuda::XentTotals*>(cuda::device_alloc(sizeof(cuda::XentTotals)));
    capacity = n;
  }
  void release() {
    for (void* p : {static_cast<void*>(loss), static_cast<void*>(ok), static_cast<void*>(totals)})
      if (p) cuda::device_free(p);
    loss = nullptr; ok = nullptr; totals = nullptr;
  }
  ~XentScratch() { release(); }
};

}  // namespace
#endif

// ---- loss, attack steps, optimizer ---------------------------------------------------------------
XentTotals softmax_xent(Device d, const float* logits, const int32_t* labels, int64_t n, int64_t k,
                        float grad_scale, float* dlogits, float* per_loss, uint8_t* correct) {
#if RAMPART_HAVE_CUDA
  if (d == Device::kCuda) {
    // The CUDA kernel writes per-example loss and correctness always; scratch when not wanted.
    static thread_local XentScratch scratch;
    scratch.reserve(n);
    float* loss = per_loss ? per_loss : scratch.loss;
    uint8_t* ok = correct ? correct : scratch.ok;
    cuda::XentTotals* tot = scratch.totals;
    cuda::softmax_xent(logits, labels, n, int(k), grad_scale, dlogits, loss, ok, tot, detail::stream());
    cuda::XentTotals host{};
    CUDA_CHECK(cudaMemcpyAsync(&host, tot, sizeof host, cudaMemcpyDeviceToHost, detail::stream()));
    CUDA_CHECK(cudaStreamSynchronize(detail::stream()));
    return {host.loss_sum, int64_t(host.correct)};
  }
#else
  if (d == Device::kCuda) detail::unavailable(d, "softmax_xent");
#endif
  auto t = kernels::softmax_xent_cpu(logits, labels, n, k, grad_scale, dlogits, per_loss, correct);
  return {t.loss_sum, t.correct};
}

XentTotals pair_loss(Device d, const kernels::PairLossParams& p, const float* adv, const float* clean,
                     const int32_t* labels, int64_t n, int64_t k, float grad_scale, float* dadv, float* dclean,
                     float* per_loss, uint8_t* correct) {
#if RAMPART_HAVE_CUDA
  if (d == Device::kCuda) {
    // The kernel writes per-example loss and correctness always; the totals are summed on
    // the host in example order (fixed, so every run gives the same bits).
    static thread_local XentScratch scratch;
    scratch.reserve(n);
    float* loss = per_loss ? per_loss : scratch.loss;
    uint8_t* ok = correct ? correct : scratch.ok;
    cuda::pair_loss(p, adv, clean, labels, n, int(k), grad_scale, dadv, dclean, loss, ok, detail::stream());
    std::vector<float> hl(static_cast<size_t>(n));
    std::vector<uint8_t> hok(static_cast<size_t>(n));
    CUDA_CHECK(cudaMemcpyAsync(hl.data(), loss, sizeof(float) * size_t(n), cudaMemcpyDeviceToHost, detail::stream()));
    CUDA_CHECK(cudaMemcpyAsync(hok.data(), ok, size_t(n), cudaMemcpyDeviceToHost, detail::stream()));
    CUDA_CHECK(cudaStreamSynchronize(detail::stream()));
    XentTotals t;
    for (int64_t e = 0; e < n; ++e) { t.loss_sum += hl[size_t(e)]; t.correct += hok[size_t(e)]; }
    return t;
  }
#else
  if (d == Device::kCuda) detail::unavailable(d, "pair_loss");
#endif
  auto t = kernels::pair_loss_cpu(p, adv, clean, labels, n, k, grad_scale, dadv, dclean, per_loss, correct);
  return {t.loss_sum, t.correct};
}

#if RAMPART_HAVE_CUDA
namespace {
cuda::RandomStartKey cuda_key(const RandomKey& k) {
  cuda::RandomStartKey c;
  c.seed = k.seed; c.rng_stream = k.stream; c.sub = k.sub; c.first = k.first;
  return c;
}
}  // namespace
#endif

void random_start_linf(Device d, float* x_adv, const float* x, int64_t n, float eps, const RandomKey& k) {
  RAMPART_ON_CUDA(d, "random_start_linf", cuda::random_start(x_adv, x, n, eps, cuda_key(k), detail::stream()));
  kernels::random_start_cpu(x_adv, x, n, eps, k.seed, k.stream, k.sub, k.first);
}

void random_start_l2(Device d, float* x_adv, const float* x, int64_t batch, int64_t dim, float eps,
                     const RandomKey& k) {
  RAMPART_ON_CUDA(d, "random_start_l2", detail::unavailable(d, "random_start_l2"));
  kernels::random_start_l2_cpu(x_adv, x, batch, dim, eps, k.seed, k.stream, k.sub, k.first);
}

void carried_start(Device d, float* x_adv, const float* x, const float* delta, const uint8_t* has, int64_t batch,
                   int64_t dim, float eps) {
  RAMPART_ON_CUDA(d, "carried_start", cuda::carried_start(x_adv, x, delta, has, batch, dim, eps, detail::stream()));
  kernels::carried_start_cpu(x_adv, x, delta, has, batch, dim, eps);
}

void pgd_linf_step(Device d, float* x_adv, const float* grad, const float* x, int64_t n, float alpha, float eps) {
  RAMPART_ON_CUDA(d, "pgd_linf_step", cuda::pgd_linf_step(x_adv, grad, x, n, alpha, eps, detail::stream()));
  kernels::pgd_linf_step_cpu(x_adv, grad, x, n, alpha, eps);
}

void pgd_l2_step(Device d, float* x_adv, const float* grad, const float* x, int64_t batch, int64_t dim, float alpha,
                 float eps) {
  RAMPART_ON_CUDA(d, "pgd_l2_step", cuda::pgd_l2_step(x_adv, grad, x, batch, dim, alpha, eps, detail::stream()));
  kernels::pgd_l2_step_cpu(x_adv, grad, x, batch, dim, alpha, eps);
}

void zero_masked_rows(Device d, float* m, const uint8_t* mask, int64_t n, int64_t k) {
  RAMPART_ON_CUDA(d, "zero_masked_rows", cuda::zero_masked_rows(m, mask, n, k, detail::stream()));
  for (int64_t e = 0; e < n; ++e)
    if (!mask[e]) std::memset(m + e * k, 0, sizeof(float) * size_t(k));
}

void keep_best(Device d, const float* x_cur, const float* loss, const uint8_t* correct, int64_t n, int64_t dim,
               float* best_x, float* best_loss, uint8_t* best_fooled) {
  RAMPART_ON_CUDA(d, "keep_best",
                  cuda::keep_best(x_cur, loss, correct, n, dim, best_x, best_loss, best_fooled, detail::stream()));
  for (int64_t e = 0; e < n; ++e) {
    const uint8_t fooled = !correct[e];
    const bool better = fooled > best_fooled[e] || (fooled == best_fooled[e] && loss[e] > best_loss[e]);
    if (!better) continue;
    best_fooled[e] = fooled;
    best_loss[e] = loss[e];
    std::memcpy(best_x + e * dim, x_cur + e * dim, sizeof(float) * size_t(dim));
  }
}

void sgd_momentum(Device d, float* __restrict w, const float* __restrict g, float* __restrict b, int64_t n, float lr,
                  float momentum, float weight_decay) {
  RAMPART_ON_CUDA(d, "sgd", cuda::sgd_momentum(w, g, b, n, lr, momentum, weight_decay, false, detail::stream()));
  // PyTorch starts the buffer as a copy of the first gradient; starting from
  // zero gives the same value (momentum * 0 + g).
  const float mu = momentum, wd = weight_decay, a = lr;
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i] + wd * w[i];
    b[i] = mu * b[i] + gi;
    w[i] -= a * b[i];
  }
}

}  // namespace rampart::ops
