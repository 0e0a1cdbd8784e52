// Average pooling on GPU over channels-last activations (memory [n, h, w, c]).
// CPU twin: kernels/cpu/pool.h avgpool_forward / avgpool_backward. As there and in
// PyTorch (count_include_pad=True, ceil_mode=False), zero padding counts in the
// divisor, which is therefore always kh*kw. Both kernels add in the CPU's order
// (window rows, then columns; backward: outputs in scan order) and keep the
// separate multiply: the results equal the CPU's up to the CPU compiler's own
// fused multiply-adds (1 ulp per term at most).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/hd.h"

namespace rampart::cuda {

struct Pool2dShape {
  int n, h, w, c;             // input [n, h, w, c]
  int kh, kw, sh, sw, ph, pw;  // window, stride, padding (PyTorch's arguments)
  RAMPART_HD int out_h() const { return (h + 2 * ph - kh) / sh + 1; }
  RAMPART_HD int out_w() const { return (w + 2 * pw - kw) / sw + 1; }
};

// y: [n, out_h, out_w, c].
void avgpool2d_forward(const Pool2dShape& s, const float* x, float* y, cudaStream_t stream);
// dy: [n, out_h, out_w, c]; dx: [n, h, w, c], every element written (gather: no
// atomics, deterministic).
void avgpool2d_backward(const Pool2dShape& s, const float* dy, float* dx, cudaStream_t stream);

}  // namespace rampart::cuda
