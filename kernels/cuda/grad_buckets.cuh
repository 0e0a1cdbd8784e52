// Gradient buckets on GPU: buckets are ranges of one flat gradient buffer, so the
// only kernels are the averaging scale and a fused scale-and-copy.
//
// Why no pack/unpack: rampart's model keeps every parameter in one flat buffer and
// every gradient in another (runtime/model.h), laid out in layer order, and
// backward visits layers last to first. A bucket is therefore a contiguous range
// [begin, end) of the gradient buffer, and NCCL (like MPI) reduces it in place
// where backward wrote it. Packing would copy every gradient twice per step (in
// and out: 8 bytes of traffic per parameter) and need a staging buffer, to buy
// nothing the layout does not already give. The cost is that the buffer's layout
// is fixed at model build time, which it is anyway (checkpoints, broadcast).
//
// After the all-reduce sums a bucket, dividing by the world size is one pass of
// scale_inplace over the range, on the stream that consumes it; scale_copy is for
// a caller that wants the average in a separate buffer (e.g. to keep the summed
// gradient for a norm check) without a second pass.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rampart::cuda {

// data[i] *= s for i in [0, n). data: device memory (any alignment).
void scale_inplace(float* data, int64_t n, float s, cudaStream_t stream);

// dst[i] = src[i] * s for i in [0, n); dst and src must not overlap partially
// (dst == src is scale_inplace).
void scale_copy(float* dst, const float* src, int64_t n, float s, cudaStream_t stream);

}  // namespace rampart::cuda
