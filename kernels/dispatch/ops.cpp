// (device, op) -> kernel: element-wise, pooling, per-channel maps and batch
// normalisation (convolution and linear: ops_linear.cpp; loss, attack steps and the
// optimizer: ops_attack.cpp). The CPU branches are the kernels/cpu calls the layers
// made before (same order of operations, same bits); the CUDA branches queue the
// kernels/cuda launches on the context's stream.
#include "kernels/dispatch/ops.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/eltwise.h"
#include "kernels/dispatch/dispatch_internal.h"
#if RAMPART_HAVE_CUDA
#include "kernels/cuda/arith.cuh"
#include "kernels/cuda/avgpool.cuh"
#include "kernels/cuda/batchnorm.cuh"
#include "kernels/cuda/check.h"
#include "kernels/cuda/eltwise.cuh"
#include "kernels/cuda/layout.cuh"
#include "kernels/cuda/normalize.cuh"
#endif

namespace rampart::ops {

namespace cpu = kernels::cpu;

#if RAMPART_HAVE_CUDA
// The layer sizes BatchNormArgs::stats by the dispatch's count; the kernels index it by theirs.
static_assert(kBatchNormStats == cuda::kBnStats, "batchnorm stats layout differs between dispatch and CUDA");
#endif

std::string gap(Device d, const std::string& op) { return d == Device::kCpu ? "" : detail::cuda_gap(op); }

// ---- element-wise -----------------------------------------------------------------
void copy(Device d, float* dst, const float* src, int64_t n) {
  RAMPART_ON_CUDA(d, "copy",
                  cuda::copy(dst, src, n, detail::stream()));
  if (dst != src) std::memcpy(dst, src, sizeof(float) * size_t(n));
}

void add(Device d, float* y, const float* a, const float* b, int64_t n) {
  RAMPART_ON_CUDA(d, "add", cuda::add(a, b, y, n, detail::stream()));
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void accumulate(Device d, float* y, const float* x, int64_t n) {
  RAMPART_ON_CUDA(d, "accumulate", cuda::add_inplace(y, x, n, detail::stream()));
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void relu_forward(Device d, const float* x, float* y, int64_t n) {
  RAMPART_ON_CUDA(d, "relu", cuda::relu_forward(x, y, n, detail::stream()));
  cpu::relu_forward(x, y, n);
}

void relu_backward(Device d, const float* y, const float* dy, float* dx, int64_t n) {
  // relu'(x) = [x > 0] = [y > 0]: the CUDA kernel's "x" may be y.
  RAMPART_ON_CUDA(d, "relu", cuda::relu_backward(y, dy, dx, n, detail::stream()));
  cpu::relu_backward(y, dy, dx, n);
}

void nhwc_to_nchw(Device d, const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
  RAMPART_ON_CUDA(d, "flatten", cuda::nhwc_to_nchw(x, y, n, hw, c, detail::stream()));
  cpu::nhwc_to_nchw(x, y, n, hw, c);
}

void nchw_to_nhwc(Device d, const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
  RAMPART_ON_CUDA(d, "flatten", cuda::nchw_to_nhwc(x, y, n, hw, c, detail::stream()));
  cpu::nchw_to_nhwc(x, y, n, hw, c);
}

// ---- pooling ------------------------------------------------------------------------
#if RAMPART_HAVE_CUDA
namespace {
// The CUDA max-pool takes square windows (maxpool2d's gap() says so for others).
cuda::PoolShape pool_shape(const PoolGeometry& g, int n, int ih, int iw, int c) {
  if (g.kh != g.kw || g.sh != g.sw || g.ph != g.pw)
    throw std::runtime_error("maxpool2d on cuda: a non-square window reached the kernel");
  cuda::PoolShape s{n, ih, iw, c, g.kh, g.sh};
  s.pad = g.ph;
  return s;
}
cuda::Pool2dShape pool2d_shape(const PoolGeometry& g, int n, int ih, int iw, int c) {
  return cuda::Pool2dShape{n, ih, iw, c, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw};
}
}  // namespace
#endif

void maxpool_forward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y,
                     int32_t* argmax) {
  RAMPART_ON_CUDA(d, "maxpool2d", cuda::maxpool2d_forward(pool_shape(g, n, ih, iw, c), x, y, argmax, detail::stream()));
  cpu::maxpool_forward(g, n, ih, iw, c, x, y, argmax);
}

void maxpool_backward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy,
                      const int32_t* argmax, float* dx) {
  RAMPART_ON_CUDA(d, "maxpool2d", cuda::maxpool2d_backward(pool_shape(g, n, ih, iw, c), dy, argmax, dx, detail::stream()));
  cpu::maxpool_backward(g, n, ih, iw, c, dy, argmax, dx);
}

void avgpool_forward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y) {
  RAMPART_ON_CUDA(d, "avgpool2d", cuda::avgpool2d_forward(pool2d_shape(g, n, ih, iw, c), x, y, detail::stream()));
  cpu::avgpool_forward(g, n, ih, iw, c, x, y);
}

void avgpool_backward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy, float* dx) {
  RAMPART_ON_CUDA(d, "avgpool2d", cuda::avgpool2d_backward(pool2d_shape(g, n, ih, iw, c), dy, dx, detail::stream()));
  cpu::avgpool_backward(g, n, ih, iw, c, dy, dx);
}

// ---- per-channel maps -------------------------------------------------------------------
void channel_normalize(Device d, const float* x, const float* mean, const float* std, float* y, int64_t rows,
                       int c) {
  RAMPART_ON_CUDA(d, "normalize", cuda::normalize_forward(x, mean, std, y, rows, c, detail::stream()));
  cpu::channel_sub_div(x, mean, std, y, rows, c);
}

void channel_scale(Device d, const float* x, const float* scale, float* y, int64_t rows, int c) {
  RAMPART_ON_CUDA(d, "normalize", cuda::channel_scale_shift(x, scale, nullptr, y, rows, c, detail::stream()));
  cpu::channel_scale_shift(x, scale, nullptr, y, rows, c);
}

// ---- batch normalisation --------------------------------------------------------------------
void batchnorm_forward(Device d, const BatchNormArgs& a, bool train, const float* x, float* y) {
#if RAMPART_HAVE_CUDA
  if (d == Device::kCuda) {
    if (!train) {
      cuda::batchnorm_forward_eval(x, a.rows, a.c, a.gamma, a.beta, a.eps, a.running_mean, a.running_var, a.stats,
                                   y, detail::stream());
      return;
    }
    // The batch counter is one float in device memory (it is checkpointed with the
    // running statistics); PyTorch's momentum=None needs its value here.
    float count = 0;
    CUDA_CHECK(cudaMemcpyAsync(&count, a.num_batches, sizeof count, cudaMemcpyDeviceToHost, detail::stream()));
    CUDA_CHECK(cudaStreamSynchronize(detail::stream()));
    count += 1.0f;
    CUDA_CHECK(cudaMemcpyAsync(a.num_batches, &count, sizeof count, cudaMemcpyHostToDevice, detail::stream()));
    CUDA_CHECK(cudaStreamSynchronize(detail::stream()));  // &count is about to go
    const double m = a.momentum >= 0 ? a.momentum : 1.0 / double(count);
    cuda::batchnorm_forward_train(x, a.rows, a.c, a.gamma, a.beta, a.eps, m, a.running_mean, a.running_var,
                                  a.stats, y, detail::stream());
    return;
  }
#else
  if (d == Device::kCuda) detail::unavailable(d, "batchnorm2d");
#endif
  const int c = a.c;
  float* mean = a.stats;
  float* invstd = a.stats + c;
  float* scale = a.stats + 2 * c;
  float* shift = a.stats + 3 * c;
  float* var = shift;  // until shift is computed from it
  if (train) {
    cpu::bn_mean_var(x, a.rows, c, mean, var);
    // PyTorch: running stats move by momentum (or 1/count for momentum None),
    // and the running variance is the unbiased one.
    float count = a.num_batches[0] + 1.0f;
    a.num_batches[0] = count;
    double m = a.momentum >= 0 ? a.momentum : 1.0 / double(count);
    double unbias = double(a.rows) / double(a.rows - 1);
    for (int ch = 0; ch < c; ++ch) {
      a.running_mean[ch] = float((1 - m) * a.running_mean[ch] + m * mean[ch]);
      a.running_var[ch] = float((1 - m) * a.running_var[ch] + m * var[ch] * unbias);
    }
  } else {
    for (int ch = 0; ch < c; ++ch) {
      mean[ch] = a.running_mean[ch];
      var[ch] = a.running_var[ch];
    }
  }
  for (int ch = 0; ch < c; ++ch) {
    invstd[ch] = float(1.0 / std::sqrt(double(var[ch]) + a.eps));
    scale[ch] = a.gamma[ch] * invstd[ch];
    shift[ch] = a.beta[ch] - mean[ch] * scale[ch];
  }
  cpu::channel_scale_shift(x, scale, shift, y, a.rows, c);
}

void batchnorm_backward(Device d, const BatchNormArgs& a, bool train, const float* x, const float* dy, float* dx,
                        float* dgamma, float* dbeta) {
  RAMPART_ON_CUDA(d, "batchnorm2d",
                  cuda::batchnorm_backward(x, dy, a.rows, a.c, a.gamma, a.stats, train, dx, dgamma, dbeta, detail::stream()));
  const int c = a.c;
  const float* mean = a.stats;
  const float* invstd = a.stats + c;
  const float* scale = a.stats + 2 * c;  // gamma * invstd, from forward
  static thread_local std::vector<float> sums;  // grows to the widest layer once
  if (sums.size() < size_t(2 * c)) sums.resize(size_t(2 * c));
  float* sum_dy = sums.data();
  float* sum_dy_xhat = sums.data() + c;
  const bool need_sums = dgamma || dbeta || (dx && train);
  if (need_sums) cpu::bn_backward_sums(x, dy, mean, invstd, a.rows, c, sum_dy, sum_dy_xhat);
  if (dgamma) std::memcpy(dgamma, sum_dy_xhat, sizeof(float) * c);
  if (dbeta) std::memcpy(dbeta, sum_dy, sizeof(float) * c);
  if (!dx) return;
  if (train) {
    cpu::bn_backward_train_dx(x, dy, mean, invstd, a.gamma, sum_dy, sum_dy_xhat, a.rows, c, dx);
  } else {
    // Running statistics are constants: dx = dy * gamma * invstd.
    cpu::channel_scale_shift(dy, scale, nullptr, dx, a.rows, c);
  }
}

}  // namespace rampart::ops
