// 2-D convolution on the CPU with oneDNN 2.6. Activations are channels-last
// (memory order n, h, w, c); weights are PyTorch's [oc, ic, kh, kw].
// Primitives are built once per input shape (batch size, height, width) and
// reused; oneDNN chooses its own weight format, and the user's weights are
// reordered into it only when they changed since the last call.
#pragma once
#include <memory>
#include <string>

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

  // oneDNN's implementation names for the three passes at this shape (for benchmarks, logs).
  std::string impl_info(int n, int ih, int iw);
  // How many times user weights were reordered (tests check that unchanged weights are not).
  long weight_reorders() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::kernels::cpu
