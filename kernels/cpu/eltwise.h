// Small memory-bound loops shared by the CPU layers: relu, per-channel affine
// maps, row broadcasts and sums, and the channels-last <-> channels-first
// transposes of flatten. "rows x c" arrays are [rows, c] row-major, which is
// how an nhwc activation looks with rows = n*h*w.
#pragma once
#include <cstdint>

namespace rampart::kernels::cpu {

// y = max(x, 0); x, y: [count] (NaN passes through, as in PyTorch).
void relu_forward(const float* x, float* y, int64_t count);
// dx = dy where y > 0, else 0 (PyTorch's threshold_backward on the output).
void relu_backward(const float* y, const float* dy, float* dx, int64_t count);

// y[r, ch] = (x[r, ch] - sub[ch]) / div[ch]; x, y: [rows, c].
void channel_sub_div(const float* x, const float* sub, const float* div, float* y, int64_t rows, int c);
// y[r, ch] = x[r, ch] * scale[ch] + shift[ch] (shift may be null).
void channel_scale_shift(const float* x, const float* scale, const float* shift, float* y, int64_t rows,
                         int c);

// out[r, :] = v for every row r; out: [rows, c], v: [c].
void broadcast_rows(const float* v, float* out, int64_t rows, int c);
// out[ch] = sum over r of x[r, ch]; x: [rows, c] (accumulated in double).
void sum_rows(const float* x, float* out, int64_t rows, int c);

// x: [n, hw, c] -> y: [n, c, hw]  (flatten's forward: nhwc to PyTorch's c*H*W + h*W + w order)
void nhwc_to_nchw(const float* x, float* y, int64_t n, int64_t hw, int64_t c);
// x: [n, c, hw] -> y: [n, hw, c]  (flatten's backward)
void nchw_to_nhwc(const float* x, float* y, int64_t n, int64_t hw, int64_t c);

}  // namespace rampart::kernels::cpu
