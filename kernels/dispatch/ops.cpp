// (device, op) -> kernel. The CPU branches are the kernels/cpu calls the layers made
// before (same order of operations, same bits); the CUDA branches queue the
// kernels/cuda launches on the context's stream.
#include "kernels/dispatch/ops.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/eltwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/pgd.h"
#include "kernels/cpu/softmax_xent.h"

#if RAMPART_HAVE_CUDA
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/conv_cudnn.h"
#include "kernels/cuda/eltwise.cuh"
#include "kernels/cuda/layout.cuh"
#include "kernels/cuda/linear_cublas.h"
#include "kernels/cuda/arith.cuh"
#include "kernels/cuda/attack_track.cuh"
#include "kernels/cuda/avgpool.cuh"
#include "kernels/cuda/batchnorm.cuh"
#include "kernels/cuda/normalize.cuh"
#include "kernels/cuda/pgd.cuh"
#include "kernels/cuda/softmax_xent.cuh"
#endif

namespace rampart::ops {

namespace cpu = kernels::cpu;

namespace {

// The ops with no CUDA kernel yet, and the CUDA build's absence.
const char* cuda_gap(const std::string& op) {
  if (!RAMPART_HAVE_CUDA) return "this rampart was built without CUDA";
  static const char* missing[] = {"random_start_l2"};
  for (const char* m : missing)
    if (op == m) return "no CUDA kernel yet";
  return "";
}

[[noreturn]] void unavailable(Device d, const char* op) {
  throw std::runtime_error(std::string("kernel ") + op + " on " + device_name(d) + ": " + gap(d, op) +
                           " (a caller should have refused this before running it)");
}

#if RAMPART_HAVE_CUDA
// The layer sizes BatchNormArgs::stats by the dispatch's count; the kernels index it by theirs.
static_assert(kBatchNormStats == cuda::kBnStats, "batchnorm stats layout differs between dispatch and CUDA");
cudaStream_t stream() { return cuda::context().stream(); }
#define RAMPART_ON_CUDA(d, op, ...)                  \
  if ((d) == Device::kCuda) {                        \
    if (*cuda_gap(op)) unavailable(d, op);           \
    __VA_ARGS__;                                     \
    return;                                          \
  }
#else
#define RAMPART_ON_CUDA(d, op, ...) \
  if ((d) == Device::kCuda) unavailable(d, op);
#endif

}  // namespace

std::string gap(Device d, const std::string& op) { return d == Device::kCpu ? "" : cuda_gap(op); }

// ---- element-wise -----------------------------------------------------------------
void copy(Device d, float* dst, const float* src, int64_t n) {
  RAMPART_ON_CUDA(d, "copy",
                  cuda::copy(dst, src, n, stream()));
  if (dst != src) std::memcpy(dst, src, sizeof(float) * size_t(n));
}

void add(Device d, float* y, const float* a, const float* b, int64_t n) {
  RAMPART_ON_CUDA(d, "add", cuda::add(a, b, y, n, stream()));
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void accumulate(Device d, float* y, const float* x, int64_t n) {
  RAMPART_ON_CUDA(d, "accumulate", cuda::add_inplace(y, x, n, stream()));
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void relu_forward(Device d, const float* x, float* y, int64_t n) {
  RAMPART_ON_CUDA(d, "relu", cuda::relu_forward(x, y, n, stream()));
  cpu::relu_forward(x, y, n);
}

void relu_backward(Device d, const float* y, const float* dy, float* dx, int64_t n) {
  // relu'(x) = [x > 0] = [y > 0]: the CUDA kernel's "x" may be y.
  RAMPART_ON_CUDA(d, "relu", cuda::relu_backward(y, dy, dx, n, stream()));
  cpu::relu_backward(y, dy, dx, n);
}

void nhwc_to_nchw(Device d, const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
  RAMPART_ON_CUDA(d, "flatten", cuda::nhwc_to_nchw(x, y, n, hw, c, stream()));
  cpu::nhwc_to_nchw(x, y, n, hw, c);
}

void nchw_to_nhwc(Device d, const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
  RAMPART_ON_CUDA(d, "flatten", cuda::nchw_to_nhwc(x, y, n, hw, c, stream()));
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
  RAMPART_ON_CUDA(d, "maxpool2d", cuda::maxpool2d_forward(pool_shape(g, n, ih, iw, c), x, y, argmax, stream()));
  cpu::maxpool_forward(g, n, ih, iw, c, x, y, argmax);
}

void maxpool_backward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy,
                      const int32_t* argmax, float* dx) {
  RAMPART_ON_CUDA(d, "maxpool2d", cuda::maxpool2d_backward(pool_shape(g, n, ih, iw, c), dy, argmax, dx, stream()));
  cpu::maxpool_backward(g, n, ih, iw, c, dy, argmax, dx);
}

void avgpool_forward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y) {
  RAMPART_ON_CUDA(d, "avgpool2d", cuda::avgpool2d_forward(pool2d_shape(g, n, ih, iw, c), x, y, stream()));
  cpu::avgpool_forward(g, n, ih, iw, c, x, y);
}

void avgpool_backward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy, float* dx) {
  RAMPART_ON_CUDA(d, "avgpool2d", cuda::avgpool2d_backward(pool2d_shape(g, n, ih, iw, c), dy, dx, stream()));
  cpu::avgpool_backward(g, n, ih, iw, c, dy, dx);
}

// ---- per-channel maps -------------------------------------------------------------------
void channel_normalize(Device d, const float* x, const float* mean, const float* std, float* y, int64_t rows,
                       int c) {
  RAMPART_ON_CUDA(d, "normalize", cuda::normalize_forward(x, mean, std, y, rows, c, stream()));
  cpu::channel_sub_div(x, mean, std, y, rows, c);
}

void channel_scale(Device d, const float* x, const float* scale, float* y, int64_t rows, int c) {
  RAMPART_ON_CUDA(d, "normalize", cuda::channel_scale_shift(x, scale, nullptr, y, rows, c, stream()));
  cpu::channel_scale_shift(x, scale, nullptr, y, rows, c);
}

// ---- batch normalisation --------------------------------------------------------------------
void batchnorm_forward(Device d, const BatchNormArgs& a, bool train, const float* x, float* y) {
#if RAMPART_HAVE_CUDA
  if (d == Device::kCuda) {
    if (!train) {
      cuda::batchnorm_forward_eval(x, a.rows, a.c, a.gamma, a.beta, a.eps, a.running_mean, a.running_var, a.stats,
                                   y, stream());
      return;
    }
    // The batch counter is one float in device memory (it is checkpointed with the
    // running statistics); PyTorch's momentum=None needs its value here.
    float count = 0;
    CUDA_CHECK(cudaMemcpyAsync(&count, a.num_batches, sizeof count, cudaMemcpyDeviceToHost, stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    count += 1.0f;
    CUDA_CHECK(cudaMemcpyAsync(a.num_batches, &count, sizeof count, cudaMemcpyHostToDevice, stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));  // &count is about to go
    const double m = a.momentum >= 0 ? a.momentum : 1.0 / double(count);
    cuda::batchnorm_forward_train(x, a.rows, a.c, a.gamma, a.beta, a.eps, m, a.running_mean, a.running_var,
                                  a.stats, y, stream());
    return;
  }
#else
  if (d == Device::kCuda) unavailable(d, "batchnorm2d");
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
                  cuda::batchnorm_backward(x, dy, a.rows, a.c, a.gamma, a.stats, train, dx, dgamma, dbeta, stream()));
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

// ---- convolution and linear ------------------------------------------------------------------
namespace {

class CpuConv final : public Conv {
 public:
  explicit CpuConv(const ConvGeometry& g) : conv_(g) {}
  void forward(int n, int ih, int iw, const float* src, const float* w, const float* b, float* dst) override {
    conv_.forward(n, ih, iw, src, w, b, dst);
  }
  void backward_data(int n, int ih, int iw, const float* ddst, const float* w, float* dsrc) override {
    conv_.backward_data(n, ih, iw, ddst, w, dsrc);
  }
  void backward_weights(int n, int ih, int iw, const float* src, const float* ddst, float* dw, float* db) override {
    conv_.backward_weights(n, ih, iw, src, ddst, dw, db);
  }
  long weight_reorders() const override { return conv_.weight_reorders(); }

 private:
  cpu::ConvDnnl conv_;
};

#if RAMPART_HAVE_CUDA
class CudaConv final : public Conv {
 public:
  explicit CudaConv(const ConvGeometry& g) : g_(g) {}
  void forward(int n, int ih, int iw, const float* src, const float* w, const float* b, float* dst) override {
    cuda::ConvShape s = shape(n, ih, iw);
    cuda::context().conv().forward(s, src, w, dst, stream());
    if (b) cuda::bias_add(dst, b, int64_t(n) * s.out_h() * s.out_w(), g_.oc, stream());
  }
  void backward_data(int n, int ih, int iw, const float* ddst, const float* w, float* dsrc) override {
    cuda::context().conv().backward_data(shape(n, ih, iw), ddst, w, dsrc, stream());
  }
  void backward_weights(int n, int ih, int iw, const float* src, const float* ddst, float* dw, float* db) override {
    cuda::ConvShape s = shape(n, ih, iw);
    cuda::context().conv().backward_filter(s, src, ddst, dw, /*accumulate=*/false, stream());
    if (db) cuda::bias_backward(ddst, int64_t(n) * s.out_h() * s.out_w(), g_.oc, db, false, stream());
  }

 private:
  cuda::ConvShape shape(int n, int ih, int iw) const {
    cuda::ConvShape s{n, g_.ic, ih, iw, g_.oc, g_.kh, g_.kw};
    s.stride_h = g_.sh; s.stride_w = g_.sw; s.pad_h = g_.ph; s.pad_w = g_.pw;
    return s;
  }
  ConvGeometry g_;  // cuDNN's plans are per shape, in the context's CudnnConv
};

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

cuda::CublasLinear& cublas() { return cuda::context().linear(); }
#endif

}  // namespace

std::unique_ptr<Conv> make_conv(Device d, const ConvGeometry& g) {
#if RAMPART_HAVE_CUDA
  if (d == Device::kCuda) return std::make_unique<CudaConv>(g);
#else
  if (d == Device::kCuda) unavailable(d, "conv2d");
#endif
  return std::make_unique<CpuConv>(g);
}

void linear_forward(Device d, const float* x, const float* w, const float* b, float* y, int n, int in, int out) {
  RAMPART_ON_CUDA(d, "linear", cublas().forward(x, w, b, y, n, in, out, stream()));
  // The bias is broadcast into y first so that the GEMM adds onto it (beta = 1).
  if (b) cpu::broadcast_rows(b, y, n, out);
  cpu::sgemm(false, true, n, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

void linear_backward_data(Device d, const float* dy, const float* w, float* dx, int n, int in, int out) {
  RAMPART_ON_CUDA(d, "linear", cublas().backward_data(dy, w, dx, n, in, out, stream()));
  cpu::sgemm(false, false, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

void linear_backward_weights(Device d, const float* x, const float* dy, float* dw, float* db, int n, int in,
                             int out) {
  RAMPART_ON_CUDA(d, "linear", cublas().backward_weights(x, dy, dw, db, n, in, out, false, stream()));
  cpu::sgemm(true, false, out, in, n, 1.0f, dy, out, x, in, 0.0f, dw, in);
  if (db) cpu::sum_rows(dy, db, n, out);
}

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
    cuda::softmax_xent(logits, labels, n, int(k), grad_scale, dlogits, loss, ok, tot, stream());
    cuda::XentTotals host{};
    CUDA_CHECK(cudaMemcpyAsync(&host, tot, sizeof host, cudaMemcpyDeviceToHost, stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    return {host.loss_sum, int64_t(host.correct)};
  }
#else
  if (d == Device::kCuda) unavailable(d, "softmax_xent");
#endif
  auto t = kernels::softmax_xent_cpu(logits, labels, n, k, grad_scale, dlogits, per_loss, correct);
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
  RAMPART_ON_CUDA(d, "random_start_linf", cuda::random_start(x_adv, x, n, eps, cuda_key(k), stream()));
  kernels::random_start_cpu(x_adv, x, n, eps, k.seed, k.stream, k.sub, k.first);
}

void random_start_l2(Device d, float* x_adv, const float* x, int64_t batch, int64_t dim, float eps,
                     const RandomKey& k) {
  RAMPART_ON_CUDA(d, "random_start_l2", unavailable(d, "random_start_l2"));
  kernels::random_start_l2_cpu(x_adv, x, batch, dim, eps, k.seed, k.stream, k.sub, k.first);
}

void carried_start(Device d, float* x_adv, const float* x, const float* delta, const uint8_t* has, int64_t batch,
                   int64_t dim, float eps) {
  RAMPART_ON_CUDA(d, "carried_start", cuda::carried_start(x_adv, x, delta, has, batch, dim, eps, stream()));
  kernels::carried_start_cpu(x_adv, x, delta, has, batch, dim, eps);
}

void pgd_linf_step(Device d, float* x_adv, const float* grad, const float* x, int64_t n, float alpha, float eps) {
  RAMPART_ON_CUDA(d, "pgd_linf_step", cuda::pgd_linf_step(x_adv, grad, x, n, alpha, eps, stream()));
  kernels::pgd_linf_step_cpu(x_adv, grad, x, n, alpha, eps);
}

void pgd_l2_step(Device d, float* x_adv, const float* grad, const float* x, int64_t batch, int64_t dim, float alpha,
                 float eps) {
  RAMPART_ON_CUDA(d, "pgd_l2_step", cuda::pgd_l2_step(x_adv, grad, x, batch, dim, alpha, eps, stream()));
  kernels::pgd_l2_step_cpu(x_adv, grad, x, batch, dim, alpha, eps);
}

void zero_masked_rows(Device d, float* m, const uint8_t* mask, int64_t n, int64_t k) {
  RAMPART_ON_CUDA(d, "zero_masked_rows", cuda::zero_masked_rows(m, mask, n, k, stream()));
  for (int64_t e = 0; e < n; ++e)
    if (!mask[e]) std::memset(m + e * k, 0, sizeof(float) * size_t(k));
}

void keep_best(Device d, const float* x_cur, const float* loss, const uint8_t* correct, int64_t n, int64_t dim,
               float* best_x, float* best_loss, uint8_t* best_fooled) {
  RAMPART_ON_CUDA(d, "keep_best",
                  cuda::keep_best(x_cur, loss, correct, n, dim, best_x, best_loss, best_fooled, stream()));
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
  RAMPART_ON_CUDA(d, "sgd", cuda::sgd_momentum(w, g, b, n, lr, momentum, weight_decay, false, stream()));
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
