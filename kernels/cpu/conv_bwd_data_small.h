// Input gradient of a convolution with few input channels (the first layer of
// an image model: 1 or 3 channels), where oneDNN 2.6's backward-data kernel
// is slow (conv 1->32 3x3 at 28x28, batch 64, one core: 15 GF/s against
// 107 GF/s forward). Here it is a GEMM and a col2im:
//   cols[p, c*kh*kw + u*kw + v] = sum_o ddst[p, o] * w[o, c, u, v]   (p = output pixel)
//   dsrc[b, h, w, c] = sum of cols over the taps (u, v) that reach (h, w).
// The GEMM reads PyTorch's weight layout as it is, so nothing is repacked.
#pragma once
#include <vector>

#include "kernels/cpu/conv_dnnl.h"

namespace rampart::kernels::cpu {

// Below this many input channels ConvDnnl::backward_data uses conv_bwd_data_small.
constexpr int kSmallInChannels = 4;  // conv_bwd_data_small handles 1 to 3

// ddst: [n, oh, ow, oc]; w: [oc, ic, kh, kw]; dsrc: [n, ih, iw, ic], overwritten.
// cols: scratch, grown to n*oh*ow*ic*kh*kw floats on first use and then reused.
void conv_bwd_data_small(const ConvGeometry& g, int n, int ih, int iw, const float* ddst, const float* w,
                         float* dsrc, std::vector<float>& cols);

}  // namespace rampart::kernels::cpu
