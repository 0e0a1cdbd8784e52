// 2-D convolution on the CPU with oneDNN 2.6. Activations are channels-last
// (memory order n, h, w, c); weights are PyTorch's [oc, ic, kh, kw].
// Primitives are built once per input shape (batch size, height, width) and
// reused; oneDNN chooses its own weight format, and the user's weights are
// reordered into it only when they changed since the last call.
#pragma once
#include <memory>
#include <string>

#include "kernels/common/precision.h"

namespace rampart::kernels::cpu {

struct ConvGeometry {
  int ic = 0, oc = 0;  // channels in, out
  int kh = 1, kw = 1;  // kernel
  int sh = 1, sw = 1;  // stride
  int ph = 0, pw = 0;  // zero padding on each side
  bool bias = true;
  int out_h(int ih) const { return (ih + 2 * ph - kh) / sh + 1; }
  int out_w(int iw) const { return (iw + 2 * pw - kw) / sw + 1; }
};

class ConvDnnl {
 public:
  explicit ConvDnnl(const ConvGeometry& g);
  ~ConvDnnl();
  ConvDnnl(const ConvDnnl&) = delete;
  ConvDnnl& operator=(const ConvDnnl&) = delete;

  // src: [n, ih, iw, ic]; w: [oc, ic, kh, kw]; b: [oc] (unused without bias); dst: [n, oh, ow, oc].
  void forward(int n, int ih, int iw, const float* src, const float* w, const float* b, float* dst);
  // ddst: [n, oh, ow, oc]; w: [oc, ic, kh, kw]; dsrc: [n, ih, iw, ic], overwritten.
  void backward_data(int n, int ih, int iw, const float* ddst, const float* w, float* dsrc);
  // src: [n, ih, iw, ic]; ddst: [n, oh, ow, oc]; dw: [oc, ic, kh, kw]; db: [oc] or null.
  // Both are overwritten.
  void backward_weights(int n, int ih, int iw, const float* src, const float* ddst, float* dw,
                        float* db);

  // The arithmetic of forward and backward_data from now on (backward_weights is always FP32:
  // only the weight update uses it). BF16: the input (and, backward, dL/dy) is converted to BF16
  // per call, the weights once per change; accumulation and outputs stay FP32. Backward to an
  // input with fewer than kSmallInChannels channels stays FP32 (its own GEMM path). Throws
  // std::runtime_error for BF16 on a CPU without native BF16 (see bf16_supported()).
  void set_precision(Precision p);
  Precision precision() const;
  // Whether this CPU runs BF16 convolutions natively (AVX-512 BF16 or AMX, as oneDNN sees it);
  // why not in *why when it does not.
  static bool bf16_supported(std::string* why = nullptr);

  // oneDNN's implementation names for the three passes at this shape (for benchmarks, logs).
  std::string impl_info(int n, int ih, int iw);
  // How many times user weights were reordered (tests check that unchanged weights are not).
  long weight_reorders() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::kernels::cpu
