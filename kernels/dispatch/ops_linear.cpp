// (device, op) -> kernel: convolution (oneDNN or cuDNN, plans cached per shape) and
// linear layers (sgemm or cuBLAS). See ops.cpp.
#include "kernels/dispatch/ops.h"

#include <stdexcept>
#include <string>

#include "kernels/cpu/eltwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/dispatch/dispatch_internal.h"
#if RAMPART_HAVE_CUDA
#include "kernels/cuda/conv_cudnn.h"
#include "kernels/cuda/eltwise.cuh"
#include "kernels/cuda/linear_cublas.h"
#endif

namespace rampart::ops {

namespace cpu = kernels::cpu;

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
  void set_precision(Precision p) override { conv_.set_precision(p); }

 private:
  cpu::ConvDnnl conv_;
};

#if RAMPART_HAVE_CUDA
class CudaConv final : public Conv {
 public:
  explicit CudaConv(const ConvGeometry& g) : g_(g) {}
  void forward(int n, int ih, int iw, const float* src, const float* w, const float* b, float* dst) override {
    cuda::ConvShape s = shape(n, ih, iw);
    cuda::context().conv().forward(s, src, w, dst, detail::stream());
    if (b) cuda::bias_add(dst, b, int64_t(n) * s.out_h() * s.out_w(), g_.oc, detail::stream());
  }
  void backward_data(int n, int ih, int iw, const float* ddst, const float* w, float* dsrc) override {
    cuda::context().conv().backward_data(shape(n, ih, iw), ddst, w, dsrc, detail::stream());
  }
  void backward_weights(int n, int ih, int iw, const float* src, const float* ddst, float* dw, float* db) override {
    cuda::ConvShape s = shape(n, ih, iw);
    cuda::context().conv().backward_filter(s, src, ddst, dw, /*accumulate=*/false, detail::stream());
    if (db) cuda::bias_backward(ddst, int64_t(n) * s.out_h() * s.out_w(), g_.oc, db, false, detail::stream());
  }
  void set_precision(Precision p) override {
    if (p != Precision::kFp32) throw std::runtime_error(precision_gap(Device::kCuda, p));
  }

 private:
  cuda::ConvShape shape(int n, int ih, int iw) const {
    cuda::ConvShape s{n, g_.ic, ih, iw, g_.oc, g_.kh, g_.kw};
    s.stride_h = g_.sh; s.stride_w = g_.sw; s.pad_h = g_.ph; s.pad_w = g_.pw;
    return s;
  }
  ConvGeometry g_;  // cuDNN's plans are per shape, in the context's CudnnConv
};


cuda::CublasLinear& cublas() { return cuda::context().linear(); }
#endif

}  // namespace

std::string precision_gap(Device d, Precision p) {
  if (p == Precision::kFp32) return "";
  if (d == Device::kCuda)
    return std::string("attack passes in ") + precision_name(p) + " are not implemented on CUDA yet (cuDNN BF16 is "
           "planned): use --attack-precision fp32 with --device cuda";
  std::string why;
  return cpu::ConvDnnl::bf16_supported(&why) ? "" : why + ": use --attack-precision fp32";
}

std::unique_ptr<Conv> make_conv(Device d, const ConvGeometry& g) {
#if RAMPART_HAVE_CUDA
  if (d == Device::kCuda) return std::make_unique<CudaConv>(g);
#else
  if (d == Device::kCuda) detail::unavailable(d, "conv2d");
#endif
  return std::make_unique<CpuConv>(g);
}

void linear_forward(Device d, const float* x, const float* w, const float* b, float* y, int n, int in, int out) {
  RAMPART_ON_CUDA(d, "linear", cublas().forward(x, w, b, y, n, in, out, detail::stream()));
  // The bias is broadcast into y first so that the GEMM adds onto it (beta = 1).
  if (b) cpu::broadcast_rows(b, y, n, out);
  cpu::sgemm(false, true, n, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

void linear_backward_data(Device d, const float* dy, const float* w, float* dx, int n, int in, int out) {
  RAMPART_ON_CUDA(d, "linear", cublas().backward_data(dy, w, dx, n, in, out, detail::stream()));
  cpu::sgemm(false, false, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

void linear_backward_weights(Device d, const float* x, const float* dy, float* dw, float* db, int n, int in,
                             int out) {
  RAMPART_ON_CUDA(d, "linear", cublas().backward_weights(x, dy, dw, db, n, in, out, false, detail::stream()));
  cpu::sgemm(true, false, out, in, n, 1.0f, dy, out, x, in, 0.0f, dw, in);
  if (db) cpu::sum_rows(dy, db, n, out);
}

}  // namespace rampart::ops
