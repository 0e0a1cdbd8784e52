// Average pooling on GPU (see avgpool.cuh).
#include "kernels/cuda/avgpool.cuh"

#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

// One thread per output element (n, oh, ow, c); c fastest, so loads coalesce.
__global__ void avgpool_forward_kernel(Pool2dShape s, const float* __restrict__ x,
                                       float* __restrict__ y, int64_t total) {
  const int oh_n = s.out_h(), ow_n = s.out_w();
  const float scale = 1.0f / float(s.kh * s.kw);
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(blockDim.x) * gridDim.x) {
    const int ch = int(o % s.c);
    int64_t t = o / s.c;
    const int ow = int(t % ow_n);
    t /= ow_n;
    const int oh = int(t % oh_n);
    const int64_t n = t / oh_n;
    const float* xn = x + n * s.h * s.w * s.c + ch;
    const int h0 = oh * s.sh - s.ph, w0 = ow * s.sw - s.pw;
    float sum = 0.f;
    for (int ih = max(h0, 0); ih < min(h0 + s.kh, s.h); ++ih)
      for (int iw = max(w0, 0); iw < min(w0 + s.kw, s.w); ++iw)
        sum += xn[(int64_t(ih) * s.w + iw) * s.c];
    y[o] = sum * scale;
  }
}

// One thread per input element: gathers dy * scale from every window holding it,
// in the CPU's scatter order (outputs in scan order).
__global__ void avgpool_backward_kernel(Pool2dShape s, const float* __restrict__ dy,
                                        float* __restrict__ dx, int64_t total) {
  const int oh_n = s.out_h(), ow_n = s.out_w();
  const float scale = 1.0f / float(s.kh * s.kw);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(blockDim.x) * gridDim.x) {
    const int ch = int(i % s.c);
    int64_t t = i / s.c;
    const int iw = int(t % s.w);
    t /= s.w;
    const int ih = int(t % s.h);
    const int64_t n = t / s.h;
    // Windows oh with oh*sh - ph <= ih <= oh*sh - ph + kh - 1.
    const int lo_h = ih + s.ph - s.kh + 1, lo_w = iw + s.pw - s.kw + 1;
    const int oh0 = lo_h <= 0 ? 0 : (lo_h + s.sh - 1) / s.sh;
    const int ow0 = lo_w <= 0 ? 0 : (lo_w + s.sw - 1) / s.sw;
    const int oh1 = min((ih + s.ph) / s.sh, oh_n - 1);
    const int ow1 = min((iw + s.pw) / s.sw, ow_n - 1);
    float sum = 0.f;
    for (int oh = oh0; oh <= oh1; ++oh)
      for (int ow = ow0; ow <= ow1; ++ow)
        // __fmul_rn: no contraction into an FMA, so each term rounds as the CPU's does.
        sum += __fmul_rn(dy[((n * oh_n + oh) * ow_n + ow) * s.c + ch], scale);
    dx[i] = sum;
  }
}

void check_shape(const Pool2dShape& s, const char* what) {
  require(s.n >= 0 && s.h > 0 && s.w > 0 && s.c > 0 && s.kh > 0 && s.kw > 0 && s.sh > 0 &&
              s.sw > 0 && s.ph >= 0 && s.pw >= 0 && 2 * s.ph <= s.kh && 2 * s.pw <= s.kw &&
              s.h + 2 * s.ph >= s.kh && s.w + 2 * s.pw >= s.kw,
          what,
          "input [" + std::to_string(s.n) + ", " + std::to_string(s.h) + ", " +
              std::to_string(s.w) + ", " + std::to_string(s.c) + "] (NHWC), window " +
              std::to_string(s.kh) + "x" + std::to_string(s.kw) + ", stride " +
              std::to_string(s.sh) + "x" + std::to_string(s.sw) + ", pad " +
              std::to_string(s.ph) + "x" + std::to_string(s.pw) +
              " (need pad <= window/2 and a window that fits the padded input, as in PyTorch)");
}

}  // namespace

void avgpool2d_forward(const Pool2dShape& s, const float* x, float* y, cudaStream_t stream) {
  check_shape(s, "avgpool2d_forward");
  const int64_t total = int64_t(s.n) * s.out_h() * s.out_w() * s.c;
  if (total == 0) return;
  require(x && y, "avgpool2d_forward", "a null pointer");
  avgpool_forward_kernel<<<grid_for(total), kThreads, 0, stream>>>(s, x, y, total);
  CUDA_CHECK_LAUNCH();
}

void avgpool2d_backward(const Pool2dShape& s, const float* dy, float* dx, cudaStream_t stream) {
  check_shape(s, "avgpool2d_backward");
  const int64_t total = int64_t(s.n) * s.h * s.w * s.c;
  if (total == 0) return;
  require(dy && dx, "avgpool2d_backward", "a null pointer");
  avgpool_backward_kernel<<<grid_for(total), kThreads, 0, stream>>>(s, dy, dx, total);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda
