// Element-wise and per-channel loops; see eltwise.h. OpenMP splits large arrays
// between threads; small ones stay on one thread, where a parallel region
// would cost more than the work.
#include "kernels/cpu/eltwise.h"

#include <algorithm>
#include <vector>

namespace rampart::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;  // elements; below this, one thread
}

void relu_forward(const float* x, float* y, int64_t count) {
#pragma omp parallel for simd schedule(static) if (count > kParallelMin)
  for (int64_t i = 0; i < count; ++i) y[i] = x[i] > 0.0f ? x[i] : (x[i] != x[i] ? x[i] : 0.0f);
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t count) {
#pragma omp parallel for simd schedule(static) if (count > kParallelMin)
  for (int64_t i = 0; i < count; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void channel_sub_div(const float* x, const float* sub, const float* div, float* y, int64_t rows, int c) {
#pragma omp parallel for schedule(static) if (rows * c > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
#pragma omp simd
    for (int ch = 0; ch < c; ++ch) yr[ch] = (xr[ch] - sub[ch]) / div[ch];
  }
}

void channel_scale_shift(const float* x, const float* scale, const float* shift, float* y, int64_t rows,
                         int c) {
#pragma omp parallel for schedule(static) if (rows * c > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
    if (shift) {
#pragma omp simd
      for (int ch = 0; ch < c; ++ch) yr[ch] = xr[ch] * scale[ch] + shift[ch];
    } else {
#pragma omp simd
      for (int ch = 0; ch < c; ++ch) yr[ch] = xr[ch] * scale[ch];
    }
  }
}

void broadcast_rows(const float* v, float* out, int64_t rows, int c) {
  for (int64_t r = 0; r < rows; ++r) std::copy(v, v + c, out + r * c);
}

void sum_rows(const float* x, float* out, int64_t rows, int c) {
  // Blocks of rows summed in float, blocks combined in double: fast and accurate
  // enough for bias gradients (a few hundred rows per block).
  constexpr int64_t kBlock = 256;
  thread_local std::vector<double> acc;
  thread_local std::vector<float> part;
  acc.assign(c, 0.0);  // no allocation once c has been seen
  part.resize(c);
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
    std::fill(part.begin(), part.end(), 0.0f);
    int64_t r1 = std::min(rows, r0 + kBlock);
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * c;
#pragma omp simd
      for (int ch = 0; ch < c; ++ch) part[ch] += xr[ch];
    }
    for (int ch = 0; ch < c; ++ch) acc[ch] += part[ch];
  }
  for (int ch = 0; ch < c; ++ch) out[ch] = float(acc[ch]);
}

void nhwc_to_nchw(const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
#pragma omp parallel for schedule(static) if (n * hw * c > kParallelMin)
  for (int64_t b = 0; b < n; ++b) {
    const float* xb = x + b * hw * c;
    float* yb = y + b * hw * c;
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t ch = 0; ch < c; ++ch) yb[ch * hw + p] = xb[p * c + ch];
  }
}

void nchw_to_nhwc(const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
#pragma omp parallel for schedule(static) if (n * hw * c > kParallelMin)
  for (int64_t b = 0; b < n; ++b) {
    const float* xb = x + b * hw * c;
    float* yb = y + b * hw * c;
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t ch = 0; ch < c; ++ch) yb[p * c + ch] = xb[ch * hw + p];
  }
}

}  // namespace rampart::kernels::cpu
