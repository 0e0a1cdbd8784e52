// NHWC pooling kernels; see pool.h.
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace rampart::kernels::cpu {

namespace {

// Below this many input values a parallel region costs more than the work.
constexpr int64_t kParallelMin = 1 << 15;

// The window of output (i, j), clipped to the input.
struct Window { int h0, h1, w0, w1; };
inline Window window(const PoolGeometry& g, int ih, int iw, int i, int j) {
  int h = i * g.sh - g.ph, w = j * g.sw - g.pw;
  return {std::max(h, 0), std::min(h + g.kh, ih), std::max(w, 0), std::min(w + g.kw, iw)};
}

}  // namespace

void maxpool_forward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y,
                     int32_t* argmax) {
  const int oh = g.out_h(ih), ow = g.out_w(iw);
  const int64_t in_img = int64_t(ih) * iw * c, out_img = int64_t(oh) * ow * c;
#pragma omp parallel for schedule(static) if (n * in_img > kParallelMin)
  for (int b = 0; b < n; ++b) {
    const float* xb = x + b * in_img;
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        float* yp = y + b * out_img + (int64_t(i) * ow + j) * c;
        int32_t* ap = argmax + b * out_img + (int64_t(i) * ow + j) * c;
        Window win = window(g, ih, iw, i, j);
        // With padding <= kernel/2 (checked by the layer) every window holds an input.
        int32_t first = win.h0 * iw + win.w0;
        const float* x0 = xb + int64_t(first) * c;
#pragma omp simd
        for (int ch = 0; ch < c; ++ch) { yp[ch] = x0[ch]; ap[ch] = first; }
        for (int h = win.h0; h < win.h1; ++h)
          for (int w = win.w0; w < win.w1; ++w) {
            int32_t pos = h * iw + w;
            if (pos == first) continue;
            const float* xp = xb + int64_t(pos) * c;
#pragma omp simd
            for (int ch = 0; ch < c; ++ch) {
              float v = xp[ch];
              // NaN wins, as in PyTorch (max is then NaN and stays).
              bool take = (v > yp[ch]) || (v != v && yp[ch] == yp[ch]);
              yp[ch] = take ? v : yp[ch];
              ap[ch] = take ? pos : ap[ch];
            }
          }
      }
  }
}

void maxpool_backward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy,
                      const int32_t* argmax, float* dx) {
  const int oh = g.out_h(ih), ow = g.out_w(iw);
  const int64_t in_img = int64_t(ih) * iw * c, out_img = int64_t(oh) * ow * c;
#pragma omp parallel for schedule(static) if (n * in_img > kParallelMin)
  for (int b = 0; b < n; ++b) {
    float* dxb = dx + b * in_img;
    std::memset(dxb, 0, sizeof(float) * in_img);
    const float* dyb = dy + b * out_img;
    const int32_t* ab = argmax + b * out_img;
    // Scatter: distinct channels never collide, so the inner loop is free of
    // dependencies; overlapping windows (stride < kernel) add up correctly.
    for (int64_t o = 0; o < int64_t(oh) * ow; ++o) {
      const float* gp = dyb + o * c;
      const int32_t* ap = ab + o * c;
#pragma omp simd
      for (int ch = 0; ch < c; ++ch) dxb[int64_t(ap[ch]) * c + ch] += gp[ch];
    }
  }
}

void avgpool_forward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y) {
  const int oh = g.out_h(ih), ow = g.out_w(iw);
  const int64_t in_img = int64_t(ih) * iw * c, out_img = int64_t(oh) * ow * c;
  const float scale = 1.0f / float(g.kh * g.kw);
#pragma omp parallel for schedule(static) if (n * in_img > kParallelMin)
  for (int b = 0; b < n; ++b) {
    const float* xb = x + b * in_img;
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        float* yp = y + b * out_img + (int64_t(i) * ow + j) * c;
        Window win = window(g, ih, iw, i, j);
#pragma omp simd
        for (int ch = 0; ch < c; ++ch) yp[ch] = 0.0f;
        for (int h = win.h0; h < win.h1; ++h)
          for (int w = win.w0; w < win.w1; ++w) {
            const float* xp = xb + (int64_t(h) * iw + w) * c;
#pragma omp simd
            for (int ch = 0; ch < c; ++ch) yp[ch] += xp[ch];
          }
#pragma omp simd
        for (int ch = 0; ch < c; ++ch) yp[ch] *= scale;
      }
  }
}

void avgpool_backward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy, float* dx) {
  const int oh = g.out_h(ih), ow = g.out_w(iw);
  const int64_t in_img = int64_t(ih) * iw * c, out_img = int64_t(oh) * ow * c;
  const float scale = 1.0f / float(g.kh * g.kw);
#pragma omp parallel for schedule(static) if (n * in_img > kParallelMin)
  for (int b = 0; b < n; ++b) {
    float* dxb = dx + b * in_img;
    std::memset(dxb, 0, sizeof(float) * in_img);
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        const float* gp = dy + b * out_img + (int64_t(i) * ow + j) * c;
        Window win = window(g, ih, iw, i, j);
        for (int h = win.h0; h < win.h1; ++h)
          for (int w = win.w0; w < win.w1; ++w) {
            float* dp = dxb + (int64_t(h) * iw + w) * c;
#pragma omp simd
            for (int ch = 0; ch < c; ++ch) dp[ch] += gp[ch] * scale;
          }
      }
  }
}

}  // namespace rampart::kernels::cpu
