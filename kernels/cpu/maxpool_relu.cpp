// Fused max-pool + relu on NHWC activations; see maxpool_relu.h.
#include "kernels/cpu/maxpool_relu.h"

#include <cstring>

#include "kernels/cpu/eltwise.h"

namespace rampart::kernels::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 15;  // as pool.cpp: below this, a parallel region costs more

inline float relu1(float m) { return (m > 0.0f || m != m) ? m : 0.0f; }  // NaN passes, as relu_forward

}  // namespace

void maxpool_relu_forward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y,
                          int32_t* argmax) {
  const int oh = g.out_h(ih), ow = g.out_w(iw);
  const bool tiled = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0;
  if (!tiled) {
    maxpool_forward(g, n, ih, iw, c, x, y, argmax);
    relu_forward(y, y, int64_t(n) * oh * ow * c);
    return;
  }
  // 2x2 windows, stride 2: the common case, unrolled; same scan order and NaN rule as maxpool_forward.
  const int64_t in_img = int64_t(ih) * iw * c, out_img = int64_t(oh) * ow * c;
#pragma omp parallel for schedule(static) if (n * in_img > kParallelMin)
  for (int b = 0; b < n; ++b) {
    const float* xb = x + b * in_img;
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        const int32_t p00 = (2 * i) * iw + 2 * j, p01 = p00 + 1, p10 = p00 + iw, p11 = p10 + 1;
        const float *x00 = xb + int64_t(p00) * c, *x01 = xb + int64_t(p01) * c;
        const float *x10 = xb + int64_t(p10) * c, *x11 = xb + int64_t(p11) * c;
        float* yp = y + b * out_img + (int64_t(i) * ow + j) * c;
        int32_t* ap = argmax + b * out_img + (int64_t(i) * ow + j) * c;
#pragma omp simd
        for (int ch = 0; ch < c; ++ch) {
          float m = x00[ch];
          int32_t a = p00;
          float v = x01[ch];
          bool t = (v > m) || (v != v && m == m);
          m = t ? v : m; a = t ? p01 : a;
          v = x10[ch];
          t = (v > m) || (v != v && m == m);
          m = t ? v : m; a = t ? p10 : a;
          v = x11[ch];
          t = (v > m) || (v != v && m == m);
          m = t ? v : m; a = t ? p11 : a;
          yp[ch] = relu1(m);
          ap[ch] = a;
        }
      }
  }
}

void maxpool_relu_backward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* y, const float* dy,
                           const int32_t* argmax, float* dx) {
  const int oh = g.out_h(ih), ow = g.out_w(iw);
  const int64_t in_img = int64_t(ih) * iw * c, out_img = int64_t(oh) * ow * c;
  const bool tiled = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0;
#pragma omp parallel for schedule(static) if (n * in_img > kParallelMin)
  for (int b = 0; b < n; ++b) {
    float* dxb = dx + b * in_img;
    const float* yb = y + b * out_img;
    const float* dyb = dy + b * out_img;
    const int32_t* ab = argmax + b * out_img;
    if (tiled) {
      // Every input position lies in at most one window: write dx once, no
      // zeroing pass and no scatter; an odd last row or column gets zeros.
      for (int i = 0; i < oh; ++i) {
        for (int j = 0; j < ow; ++j) {
          const int32_t p00 = (2 * i) * iw + 2 * j, p01 = p00 + 1, p10 = p00 + iw, p11 = p10 + 1;
          float *d00 = dxb + int64_t(p00) * c, *d01 = dxb + int64_t(p01) * c;
          float *d10 = dxb + int64_t(p10) * c, *d11 = dxb + int64_t(p11) * c;
          const int64_t o = (int64_t(i) * ow + j) * c;
#pragma omp simd
          for (int ch = 0; ch < c; ++ch) {
            const float gv = yb[o + ch] > 0.0f ? dyb[o + ch] : 0.0f;
            const int32_t a = ab[o + ch];
            d00[ch] = a == p00 ? gv : 0.0f;
            d01[ch] = a == p01 ? gv : 0.0f;
            d10[ch] = a == p10 ? gv : 0.0f;
            d11[ch] = a == p11 ? gv : 0.0f;
          }
        }
        if (iw > 2 * ow) {  // odd width: the last column of both rows
          std::memset(dxb + (int64_t(2 * i) * iw + iw - 1) * c, 0, sizeof(float) * c);
          std::memset(dxb + (int64_t(2 * i + 1) * iw + iw - 1) * c, 0, sizeof(float) * c);
        }
      }
      if (ih > 2 * oh) std::memset(dxb + int64_t(ih - 1) * iw * c, 0, sizeof(float) * iw * c);
      continue;
    }
    std::memset(dxb, 0, sizeof(float) * in_img);
    for (int64_t o = 0; o < int64_t(oh) * ow; ++o) {
      const float* gp = dyb + o * c;
      const float* yp = yb + o * c;
      const int32_t* ap = ab + o * c;
#pragma omp simd
      for (int ch = 0; ch < c; ++ch) dxb[int64_t(ap[ch]) * c + ch] += yp[ch] > 0.0f ? gp[ch] : 0.0f;
    }
  }
}

void maxpool2x2_relu_forward(int n, int ih, int iw, int c, const float* x, float* y, uint8_t* code) {
  const int oh = ih / 2, ow = iw / 2;
  const int64_t in_img = int64_t(ih) * iw * c, out_img = int64_t(oh) * ow * c;
#pragma omp parallel for schedule(static) if (n * in_img > kParallelMin)
  for (int b = 0; b < n; ++b) {
    const float* xb = x + b * in_img;
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        const float* x00 = xb + (int64_t(2 * i) * iw + 2 * j) * c;
        const float *x01 = x00 + c, *x10 = x00 + int64_t(iw) * c, *x11 = x10 + c;
        const int64_t o = b * out_img + (int64_t(i) * ow + j) * c;
#pragma omp simd
        for (int ch = 0; ch < c; ++ch) {
          // Same scan order and NaN rule as maxpool_forward.
          float m = x00[ch];
          int a = 0;
          float v = x01[ch];
          bool t = (v > m) || (v != v && m == m);
          m = t ? v : m; a = t ? 1 : a;
          v = x10[ch];
          t = (v > m) || (v != v && m == m);
          m = t ? v : m; a = t ? 2 : a;
          v = x11[ch];
          t = (v > m) || (v != v && m == m);
          m = t ? v : m; a = t ? 3 : a;
          y[o + ch] = relu1(m);
          code[o + ch] = uint8_t(m > 0.0f ? a : 4);
        }
      }
  }
}

void maxpool2x2_relu_backward(int n, int ih, int iw, int c, const float* dy, const uint8_t* code, float* dx) {
  const int oh = ih / 2, ow = iw / 2;
  const int64_t in_img = int64_t(ih) * iw * c, out_img = int64_t(oh) * ow * c;
#pragma omp parallel for schedule(static) if (n * in_img > kParallelMin)
  for (int b = 0; b < n; ++b) {
    float* dxb = dx + b * in_img;
    for (int i = 0; i < oh; ++i) {
      for (int j = 0; j < ow; ++j) {
        float* d00 = dxb + (int64_t(2 * i) * iw + 2 * j) * c;
        float *d01 = d00 + c, *d10 = d00 + int64_t(iw) * c, *d11 = d10 + c;
        const int64_t o = b * out_img + (int64_t(i) * ow + j) * c;
#pragma omp simd
        for (int ch = 0; ch < c; ++ch) {
          const float g = dy[o + ch];
          const int a = code[o + ch];
          d00[ch] = a == 0 ? g : 0.0f;
          d01[ch] = a == 1 ? g : 0.0f;
          d10[ch] = a == 2 ? g : 0.0f;
          d11[ch] = a == 3 ? g : 0.0f;
        }
      }
      if (iw > 2 * ow) {
        std::memset(dxb + (int64_t(2 * i) * iw + iw - 1) * c, 0, sizeof(float) * c);
        std::memset(dxb + (int64_t(2 * i + 1) * iw + iw - 1) * c, 0, sizeof(float) * c);
      }
    }
    if (ih > 2 * oh) std::memset(dxb + int64_t(ih - 1) * iw * c, 0, sizeof(float) * iw * c);
  }
}

void maxpool_relu_forward_ref(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y,
                              int32_t* argmax, float* scratch) {
  relu_forward(x, scratch, int64_t(n) * ih * iw * c);
  maxpool_forward(g, n, ih, iw, c, scratch, y, argmax);
}

void maxpool_relu_backward_ref(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x,
                               const float* dy, const int32_t* argmax, float* dx, float* scratch) {
  const int64_t count = int64_t(n) * ih * iw * c;
  float* r = scratch;          // relu's output
  float* dr = scratch + count; // dL/d(relu output)
  relu_forward(x, r, count);
  maxpool_backward(g, n, ih, iw, c, dy, argmax, dr);
  relu_backward(r, dr, dx, count);
}

}  // namespace rampart::kernels::cpu
