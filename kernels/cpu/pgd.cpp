// CPU PGD kernels; per-element math from kernels/common/pgd_math.h.
#include "kernels/cpu/pgd.h"

#include <cmath>

#include "kernels/common/pgd_math.h"
#include "kernels/common/philox.h"

namespace rampart::kernels {

// Below ~64K elements the threads cost more than they save.
static constexpr int64_t kParallelMin = 1 << 16;

void pgd_linf_step_cpu(float* __restrict x_adv, const float* __restrict grad,
                       const float* __restrict x_clean, int64_t n, float alpha, float eps) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    // Written branch-free so that it vectorises: sign via comparisons, two clamps.
    float g = grad[i];
    float s = float(g > 0.f) - float(g < 0.f);
    float v = x_adv[i] + alpha * s;
    float lo = x_clean[i] - eps, hi = x_clean[i] + eps;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    v = v < 0.f ? 0.f : v;
    v = v > 1.f ? 1.f : v;
    x_adv[i] = v;
  }
}

void random_start_cpu(float* x_adv, const float* x_clean, int64_t n, float eps, uint64_t seed,
                      uint32_t stream, uint64_t sub, int64_t first) {
  const PhiloxKey key = philox_key(seed, stream);
  const int64_t b0 = first / 4, b1 = (first + n + 3) / 4;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t b = b0; b < b1; ++b) {
    PhiloxBlock r = philox4x32(uint64_t(b), sub, key);
    for (int j = 0; j < 4; ++j) {
      int64_t i = b * 4 + j - first;
      if (i >= 0 && i < n) x_adv[i] = random_start_update(x_clean[i], philox_uniform(r.v[j]), eps);
    }
  }
}

void carried_start_cpu(float* x_adv, const float* x_clean, const float* delta, const uint8_t* has,
                       int64_t batch, int64_t dim, float eps) {
#pragma omp parallel for schedule(static) if (batch * dim >= kParallelMin)
  for (int64_t e = 0; e < batch; ++e) {
    if (!has[e]) continue;
    const int64_t o = e * dim;
#pragma omp simd
    for (int64_t i = 0; i < dim; ++i) x_adv[o + i] = carried_start_update(x_clean[o + i], delta[o + i], eps);
  }
}

void pgd_l2_step_cpu(float* x_adv, const float* grad, const float* x_clean, int64_t batch,
                     int64_t dim, float alpha, float eps) {
#pragma omp parallel for schedule(static) if (batch * dim >= kParallelMin)
  for (int64_t e = 0; e < batch; ++e) {
    float* xa = x_adv + e * dim;
    const float* g = grad + e * dim;
    const float* xc = x_clean + e * dim;
    double gn = 0;
    for (int64_t i = 0; i < dim; ++i) gn += double(g[i]) * g[i];
    float inv = gn > 0 ? float(1.0 / std::sqrt(gn)) : 0.f;
    double dn = 0;
    for (int64_t i = 0; i < dim; ++i) {
      xa[i] = pgd_l2_step(xa[i], g[i], alpha, inv);
      double d = xa[i] - xc[i];
      dn += d * d;
    }
    float norm = float(std::sqrt(dn));
    float scale = norm > eps ? eps / norm : 1.f;
    for (int64_t i = 0; i < dim; ++i) xa[i] = pgd_l2_project(xa[i], xc[i], scale);
  }
}

void random_start_l2_cpu(float* x_adv, const float* x_clean, int64_t batch, int64_t dim, float eps,
                         uint64_t seed, uint32_t stream, uint64_t sub, int64_t first_example) {
  const PhiloxKey key = philox_key(seed, stream);
  for (int64_t e = 0; e < batch; ++e) {
    float* xa = x_adv + e * dim;
    const float* xc = x_clean + e * dim;
    // Box-Muller on Philox words: the counter is (example, pixel pair), so the
    // draw of one example does not depend on the batch it sits in.
    double n2 = 0;
    for (int64_t i = 0; i < dim; i += 2) {
      PhiloxBlock r = philox4x32(uint64_t(i / 2), sub ^ (uint64_t(e + first_example) << 32), key);
      double u1 = (double(r.v[0]) + 1.0) / 4294967297.0, u2 = double(r.v[1]) / 4294967296.0;
      double rad = std::sqrt(-2.0 * std::log(u1));
      xa[i] = float(rad * std::cos(6.283185307179586 * u2));
      if (i + 1 < dim) xa[i + 1] = float(rad * std::sin(6.283185307179586 * u2));
    }
    for (int64_t i = 0; i < dim; ++i) n2 += double(xa[i]) * xa[i];
    PhiloxBlock r = philox4x32(~uint64_t(0), sub ^ (uint64_t(e + first_example) << 32), key);
    float radius = eps * philox_uniform(r.v[2]);
    float s = n2 > 0 ? float(radius / std::sqrt(n2)) : 0.f;
    for (int64_t i = 0; i < dim; ++i) xa[i] = clampf(xc[i] + xa[i] * s, 0.f, 1.f);
  }
}

}  // namespace rampart::kernels
