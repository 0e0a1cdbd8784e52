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

// The plain reference the fused kernels are tested against: relu, maxpool_forward,
// maxpool_backward and relu_backward in sequence (scratch: two [n, ih, iw, c] buffers).
void maxpool_relu_forward_ref(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y,
                              int32_t* argmax, float* scratch);
void maxpool_relu_backward_ref(const PoolGeometry& g, int n, int ih, int iw, int c, const float* x,
                               const float* dy, const int32_t* argmax, float* dx, float* scratch);

}  // namespace rampart::kernels::cpu
