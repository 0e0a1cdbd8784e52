// TRADES and MART losses (see pair_loss.cuh; derivatives in kernels/cpu/pair_loss.cpp).
// Each thread recomputes a row's softmax terms where the CPU kernel keeps them in arrays.
#include "kernels/cuda/pair_loss.cuh"

#include <cmath>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

using kernels::kMartEps;
using kernels::kMartMargin;
using kernels::kMartWeight;
using kernels::PairLossKind;

struct RowLse {
  double lse;
  int arg;
};

__device__ RowLse row_lse(const float* z, int k) {
  int arg = 0;
  double mx = z[0];
  for (int j = 1; j < k; ++j)
    if (z[j] > mx) { mx = z[j]; arg = j; }
  double s = 0;
  for (int j = 0; j < k; ++j) s += exp(double(z[j]) - mx);
  return {mx + log(s), arg};
}

__global__ void pair_loss_kernel(kernels::PairLossParams prm, const float* __restrict__ adv,
                                 const float* __restrict__ clean, const int32_t* __restrict__ labels, int64_t n,
                                 int k, float grad_scale, float* __restrict__ dadv, float* __restrict__ dclean,
                                 float* __restrict__ per_loss, uint8_t* __restrict__ correct) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= n) return;
  const float* a = adv + e * k;
  const float* c = clean + e * k;
  const RowLse la = row_lse(a, k), lc = row_lse(c, k);
  const int y = labels[e];
  if (y < 0 || y >= k) {  // cannot be reported from here: NaN, which the caller's loss check shows
    per_loss[e] = NAN;
    correct[e] = 0;
    return;
  }
  auto lp = [&](int j) { return double(a[j]) - la.lse; };
  auto lq = [&](int j) { return double(c[j]) - lc.lse; };
  const double beta = prm.beta, g = grad_scale;
  double l;
  if (prm.kind == PairLossKind::kTrades) {
    double kl = 0;
    for (int j = 0; j < k; ++j) kl += exp(lq(j)) * (lq(j) - lp(j));
    l = double(prm.ce_weight) * -lq(y) + beta * kl;
    for (int j = 0; j < k; ++j) {
      const double p = exp(lp(j)), q = exp(lq(j));
      if (dadv) dadv[e * k + j] = float(g * beta * (p - q));
      if (dclean)
        dclean[e * k + j] =
            float(g * (beta * q * (lq(j) - lp(j) - kl) + double(prm.ce_weight) * (q - (j == y ? 1.0 : 0.0))));
    }
  } else {
    int wrong = -1;
    for (int j = 0; j < k; ++j)
      if (j != y && (wrong < 0 || a[j] > a[wrong])) wrong = j;
    const double pw = wrong >= 0 ? exp(lp(wrong)) : 0.0;
    const double m = kMartMargin - pw + kMartEps;
    double kk = 0, s_sum = 0;
    for (int j = 0; j < k; ++j) {
      const double p = exp(lp(j)), q = exp(lq(j));
      kk += q * (lq(j) - log(p + kMartEps));
      s_sum += q * p / (p + kMartEps);
    }
    const double qy = exp(lq(y)), w = kMartWeight - qy;
    l = -lp(y) + (wrong >= 0 ? -log(m) : 0.0) + beta * kk * w;
    for (int j = 0; j < k; ++j) {
      const double p = exp(lp(j)), q = exp(lq(j));
      double da = p - (j == y ? 1.0 : 0.0);
      if (wrong >= 0) da += pw * ((j == wrong ? 1.0 : 0.0) - p) / m;
      da += beta * w * (-q * p / (p + kMartEps) + p * s_sum);
      if (dadv) dadv[e * k + j] = float(g * da);
      if (dclean) {
        const double r = lq(j) - log(p + kMartEps);
        dclean[e * k + j] = float(g * beta * (w * q * (r - kk) - kk * qy * ((j == y ? 1.0 : 0.0) - q)));
      }
    }
  }
  per_loss[e] = float(l);
  correct[e] = la.arg == y;
}

}  // namespace

void pair_loss(const kernels::PairLossParams& p, const float* adv, const float* clean, const int32_t* labels,
               int64_t n, int k, float grad_scale, float* dadv, float* dclean, float* per_loss, uint8_t* correct,
               cudaStream_t stream) {
  if (n == 0) return;
  const int threads = 128;
  pair_loss_kernel<<<unsigned((n + threads - 1) / threads), threads, 0, stream>>>(
      p, adv, clean, labels, n, k, grad_scale, dadv, dclean, per_loss, correct);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda
