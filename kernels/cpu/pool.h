// Max and average pooling over channels-last activations (memory n, h, w, c).
// Threads split the batch; the channel loop is innermost and vectorised.
// Padding follows PyTorch: max-pool pads with -inf, avg-pool counts the zero
// padding in its divisor (count_include_pad=True), so the divisor is kh*kw.
#pragma once
#include <cstdint>

namespace rampart::kernels::cpu {

struct PoolGeometry {
  int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  int out_h(int ih) const { return (ih + 2 * ph - kh) / sh + 1; }
  int out_w(int iw) const { return (iw + 2 * pw - kw) / sw + 1; }
};

// x: [n, ih, iw, c]; y: [n, oh, ow, c]; argmax: [n, oh, ow, c], the position
// h*iw + w in x's image of the element chosen (the first maximum in scan order).
void maxpool_forward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y,
                     int32_t* argmax);
// dy, argmax: [n, oh, ow, c]; dx: [n, ih, iw, c], overwritten.
void maxpool_backward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy,
                      const int32_t* argmax, float* dx);

// x: [n, ih, iw, c]; y: [n, oh, ow, c].
void avgpool_forward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y);
// dy: [n, oh, ow, c]; dx: [n, ih, iw, c], overwritten.
void avgpool_backward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy, float* dx);

}  // namespace rampart::kernels::cpu
