// relu followed by max-pool, computed as max-pool then relu on channels-last
// activations: relu and max commute (max(relu(a), relu(b)) = relu(max(a, b)),
// exactly, in floating point), so relu touches a quarter of the values of a 2x2
// pool, and backward needs no separate relu pass.
// Gradients are those of relu -> maxpool2d, ties and zeros included: where the
// window's maximum is > 0 it came from the first maximum in scan order, which is
// where maxpool2d on relu's output routes it; where it is <= 0 (or NaN) relu's
// mask stops the gradient either way.
#pragma once
#include <cstdint>

#include "kernels/cpu/pool.h"

namespace rampart::kernels::cpu {

// x: [n, ih, iw, c] (before relu); y: [n, oh, ow, c] = relu(maxpool(x));
// argmax: [n, oh, ow, c], position h*iw + w in x's image of the first maximum.
void maxpool_relu_forward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y,
                          int32_t* argmax);
// y, dy, argmax: [n, oh, ow, c] of the last forward; dx: [n, ih, iw, c], overwritten
// with dL/dx (dy at the argmax where y > 0, summed over overlapping windows; else 0).
void maxpool_relu_backward(const PoolGeometry& g, int n, int ih, int iw, int c, const float* y, const float* dy,
                           const int32_t* argmax, float* dx);

// The common case, 2x2 windows with stride 2 and no padding, with one byte per
// output instead of y and a 32-bit argmax in backward: code = the window position
// (0..3, row-major) of the first maximum when y > 0, 4 when relu stopped the
// gradient (max <= 0 or NaN). Backward then reads dy and the code only.
// x: [n, ih, iw, c]; y, code: [n, ih/2, iw/2, c]; dx: [n, ih, iw, c], overwritten
// (an odd last row or column gets zeros).
void maxpool2x2_relu_forward(int n, int ih, int iw, int c, const float* x, float* y, uint8_t* code);
void maxpool2x2_relu_backward(int n, int ih, int iw, int c, const float* dy, const uint8_t* code, float* dx);
inline bool is_pool2x2(const PoolGeometry& g) {
  return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0;
}

// The plain reference the fused kernels are tested against: relu, maxpool_forward,
// maxpool_backward and relu_backward in sequence (scratch: two [n, ih, iw, c] buffers).
void maxpool_relu_forward_ref(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y,
                              int32_t* argmax, float* scratch);
void maxpool_relu_backward_ref(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x,
                               const float* dy, const int32_t* argmax, float* dx, float* scratch);

}  // namespace rampart::kernels::cpu
