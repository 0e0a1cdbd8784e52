// Batch-normalisation reductions and training-mode backward; see batchnorm.h.
// Each thread sums a contiguous block of rows into its own double accumulators,
// then the blocks are combined in thread order (deterministic for a fixed
// thread count).
#include "kernels/cpu/batchnorm.h"

#include <omp.h>

#include <cstddef>

#include <vector>

namespace rampart::kernels::cpu {

namespace {

// Sums f(r, ch) -> (a, b) over rows into out_a, out_b.
template <typename F>
void reduce_pairs(int64_t rows, int c, float* out_a, float* out_b, F f) {
  int nt = rows * c > (1 << 15) ? omp_get_max_threads() : 1;
  thread_local std::vector<double> acc;  // [nt][2][c]; allocated once per size
  acc.assign(std::size_t(nt) * 2 * c, 0.0);
  double* base = acc.data();
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), nth = omp_get_num_threads();
    int64_t r0 = rows * t / nth, r1 = rows * (t + 1) / nth;
    double* a = base + std::size_t(t) * 2 * c;
    double* b = a + c;
    for (int64_t r = r0; r < r1; ++r) f(r, a, b);
  }
  for (int ch = 0; ch < c; ++ch) {
    double sa = 0, sb = 0;
    for (int t = 0; t < nt; ++t) {
      sa += base[std::size_t(t) * 2 * c + ch];
      sb += base[std::size_t(t) * 2 * c + c + ch];
    }
    out_a[ch] = float(sa);
    out_b[ch] = float(sb);
  }
}

}  // namespace

void bn_mean_var(const float* x, int64_t rows, int c, float* mean, float* var) {
  // Two passes: the mean first, then squared deviations (no cancellation).
  thread_local std::vector<float> zero;
  zero.assign(c, 0.0f);
  float* unused = zero.data();
  reduce_pairs(rows, c, mean, unused, [&](int64_t r, double* a, double*) {
    const float* xr = x + r * c;
#pragma omp simd
    for (int ch = 0; ch < c; ++ch) a[ch] += xr[ch];
  });
  for (int ch = 0; ch < c; ++ch) mean[ch] = float(double(mean[ch]) / double(rows));
  reduce_pairs(rows, c, var, unused, [&](int64_t r, double* a, double*) {
    const float* xr = x + r * c;
#pragma omp simd
    for (int ch = 0; ch < c; ++ch) {
      double d = double(xr[ch]) - double(mean[ch]);
      a[ch] += d * d;
    }
  });
  for (int ch = 0; ch < c; ++ch) var[ch] = float(double(var[ch]) / double(rows));
}

void bn_backward_sums(const float* x, const float* dy, const float* mean, const float* invstd,
                      int64_t rows, int c, float* sum_dy, float* sum_dy_xhat) {
  reduce_pairs(rows, c, sum_dy, sum_dy_xhat, [&](int64_t r, double* a, double* b) {
    const float* xr = x + r * c;
    const float* gr = dy + r * c;
#pragma omp simd
    for (int ch = 0; ch < c; ++ch) {
      a[ch] += gr[ch];
      b[ch] += double(gr[ch]) * double((xr[ch] - mean[ch]) * invstd[ch]);
    }
  });
}

void bn_backward_train_dx(const float* x, const float* dy, const float* mean, const float* invstd,
                          const float* gamma, const float* sum_dy, const float* sum_dy_xhat,
                          int64_t rows, int c, float* dx) {
  float inv_rows = 1.0f / float(rows);
#pragma omp parallel for schedule(static) if (rows * c > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    const float* gr = dy + r * c;
    float* dr = dx + r * c;
#pragma omp simd
    for (int ch = 0; ch < c; ++ch) {
      float xhat = (xr[ch] - mean[ch]) * invstd[ch];
      dr[ch] = gamma[ch] * invstd[ch] *
               (gr[ch] - sum_dy[ch] * inv_rows - xhat * sum_dy_xhat[ch] * inv_rows);
    }
  }
}

}  // namespace rampart::kernels::cpu
