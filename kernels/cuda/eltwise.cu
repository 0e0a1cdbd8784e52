// Element-wise layers, max-pooling, bias and SGD on GPU (see eltwise.cuh).
#include "kernels/cuda/eltwise.cuh"

#include <cmath>

#include "kernels/cuda/check.h"
#include "kernels/cuda/column_reduce.cuh"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

#define RAMPART_GRID_STRIDE(i, n)                                                  \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n);     \
       i += int64_t(blockDim.x) * gridDim.x)

__global__ void relu_forward_kernel(const float* x, float* y, int64_t n) {
  RAMPART_GRID_STRIDE(i, n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}

__global__ void relu_backward_kernel(const float* x, const float* dy, float* dx, int64_t n) {
  RAMPART_GRID_STRIDE(i, n) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
}

// One thread per output element (n, oh, ow, c); c fastest, so loads coalesce.
__global__ void maxpool_forward_kernel(PoolShape s, const float* __restrict__ x,
                                       float* __restrict__ y, int32_t* __restrict__ argmax,
                                       int64_t total) {
  const int oh_n = s.out_h(), ow_n = s.out_w();
  RAMPART_GRID_STRIDE(o, total) {
    const int c = int(o % s.c);
    int64_t t = o / s.c;
    const int ow = int(t % ow_n);
    t /= ow_n;
    const int oh = int(t % oh_n);
    const int64_t n = t / oh_n;
    const float* xn = x + n * s.h * s.w * s.c;
    float m = -INFINITY;
    int32_t arg = -1;
    for (int kh = 0; kh < s.kernel; ++kh) {
      const int ih = oh * s.stride - s.pad + kh;
      if (ih < 0 || ih >= s.h) continue;
      for (int kw = 0; kw < s.kernel; ++kw) {
        const int iw = ow * s.stride - s.pad + kw;
        if (iw < 0 || iw >= s.w) continue;
        const float v = xn[(int64_t(ih) * s.w + iw) * s.c + c];
        if (arg < 0 || v > m || isnan(v)) { m = v; arg = ih * s.w + iw; }
      }
    }
    y[o] = m;
    argmax[o] = arg;
  }
}

// One thread per input element: gathers dy from every window that picked it.
__global__ void maxpool_backward_kernel(PoolShape s, const float* __restrict__ dy,
                                        const int32_t* __restrict__ argmax,
                                        float* __restrict__ dx, int64_t total) {
  const int oh_n = s.out_h(), ow_n = s.out_w();
  RAMPART_GRID_STRIDE(i, total) {
    const int c = int(i % s.c);
    int64_t t = i / s.c;
    const int iw = int(t % s.w);
    t /= s.w;
    const int ih = int(t % s.h);
    const int64_t n = t / s.h;
    // Windows oh with oh*stride - pad <= ih <= oh*stride - pad + kernel - 1.
    const int lo_h = ih + s.pad - s.kernel + 1, lo_w = iw + s.pad - s.kernel + 1;
    const int oh0 = lo_h <= 0 ? 0 : (lo_h + s.stride - 1) / s.stride;
    const int ow0 = lo_w <= 0 ? 0 : (lo_w + s.stride - 1) / s.stride;
    const int oh1 = min((ih + s.pad) / s.stride, oh_n - 1);
    const int ow1 = min((iw + s.pad) / s.stride, ow_n - 1);
    const int32_t me = ih * s.w + iw;
    float sum = 0.f;
    for (int oh = oh0; oh <= oh1; ++oh)
      for (int ow = ow0; ow <= ow1; ++ow) {
        const int64_t o = ((n * oh_n + oh) * ow_n + ow) * s.c + c;
        if (argmax[o] == me) sum += dy[o];
      }
    dx[i] = sum;
  }
}

__global__ void bias_add_kernel(float* y, const float* b, int64_t total, int cols) {
  RAMPART_GRID_STRIDE(i, total) y[i] += b[i % cols];
}

// Bias gradient: the column sums of dy, through column_reduce (all SMs, fixed order).
struct BiasLoad {
  const float* dy;
  int cols;
  __device__ void operator()(int64_t r, int col, float (&v)[1]) const { v[0] = dy[r * cols + col]; }
};
struct BiasFinish {
  float* db;
  bool accumulate;
  __device__ void operator()(int, int col, float total) const {
    db[col] = accumulate ? db[col] + total : total;
  }
};

__global__ void sgd_momentum_kernel(float* __restrict__ p, const float* __restrict__ g,
                                    float* __restrict__ buf, int64_t n, float lr, float momentum,
                                    float weight_decay, bool nesterov) {
  RAMPART_GRID_STRIDE(i, n) {
    const float d = g[i] + weight_decay * p[i];
    const float b = momentum * buf[i] + d;
    buf[i] = b;
    p[i] = p[i] - lr * (nesterov ? d + momentum * b : b);
  }
}

void check_n(int64_t n, bool pointers_ok, const char* what) {
  require(n >= 0, what, "n = " + std::to_string(n) + " is negative");
  require(n == 0 || pointers_ok, what, "a null pointer for n > 0");
}

void check_pool(const PoolShape& s, const char* what) {
  require(s.n >= 0 && s.h > 0 && s.w > 0 && s.c > 0 && s.kernel > 0 && s.stride > 0 &&
              s.pad >= 0 && 2 * s.pad <= s.kernel && s.h + 2 * s.pad >= s.kernel &&
              s.w + 2 * s.pad >= s.kernel && s.out_h() > 0 && s.out_w() > 0,
          what,
          "shape n=" + std::to_string(s.n) + " h=" + std::to_string(s.h) + " w=" +
              std::to_string(s.w) + " c=" + std::to_string(s.c) + " kernel=" +
              std::to_string(s.kernel) + " stride=" + std::to_string(s.stride) + " pad=" +
              std::to_string(s.pad) +
              " (need pad <= kernel/2 and a window that fits the padded input, as in PyTorch)");
}

}  // namespace

void relu_forward(const float* x, float* y, int64_t n, cudaStream_t stream) {
  check_n(n, x && y, "relu_forward");
  if (n == 0) return;
  relu_forward_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, y, n);
  CUDA_CHECK_LAUNCH();
}

void relu_backward(const float* x, const float* dy, float* dx, int64_t n, cudaStream_t stream) {
  check_n(n, x && dy && dx, "relu_backward");
  if (n == 0) return;
  relu_backward_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, dy, dx, n);
  CUDA_CHECK_LAUNCH();
}

void maxpool2d_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax,
                       cudaStream_t stream) {
  check_pool(s, "maxpool2d_forward");
  const int64_t total = int64_t(s.n) * s.out_h() * s.out_w() * s.c;
  check_n(total, x && y && argmax, "maxpool2d_forward");
  if (total == 0) return;
  maxpool_forward_kernel<<<grid_for(total), kThreads, 0, stream>>>(s, x, y, argmax, total);
  CUDA_CHECK_LAUNCH();
}

void maxpool2d_backward(const PoolShape& s, const float* dy, const int32_t* argmax, float* dx,
                        cudaStream_t stream) {
  check_pool(s, "maxpool2d_backward");
  const int64_t total = int64_t(s.n) * s.h * s.w * s.c;
  check_n(total, dy && argmax && dx, "maxpool2d_backward");
  if (total == 0) return;
  maxpool_backward_kernel<<<grid_for(total), kThreads, 0, stream>>>(s, dy, argmax, dx, total);
  CUDA_CHECK_LAUNCH();
}

void bias_add(float* y, const float* b, int64_t rows, int cols, cudaStream_t stream) {
  require(rows >= 0 && cols > 0, "bias_add",
          "rows = " + std::to_string(rows) + ", cols = " + std::to_string(cols));
  const int64_t total = rows * cols;
  check_n(total, y && b, "bias_add");
  if (total == 0) return;
  bias_add_kernel<<<grid_for(total), kThreads, 0, stream>>>(y, b, total, cols);
  CUDA_CHECK_LAUNCH();
}

void bias_backward(const float* dy, int64_t rows, int cols, float* db, bool accumulate,
                   cudaStream_t stream) {
  require(rows >= 0 && cols > 0, "bias_backward",
          "rows = " + std::to_string(rows) + ", cols = " + std::to_string(cols));
  require(db && (rows == 0 || dy), "bias_backward", "a null pointer");
  detail::column_reduce<1, float>(rows, cols, BiasLoad{dy, cols}, BiasFinish{db, accumulate},
                                  stream);
}

void sgd_momentum(float* params, const float* grads, float* momentum_buf, int64_t n, float lr,
                  float momentum, float weight_decay, bool nesterov, cudaStream_t stream) {
  check_n(n, params && grads && momentum_buf, "sgd_momentum");
  if (n == 0) return;
  sgd_momentum_kernel<<<grid_for(n), kThreads, 0, stream>>>(params, grads, momentum_buf, n, lr,
                                                            momentum, weight_decay, nesterov);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda
