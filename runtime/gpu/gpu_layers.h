// The layers of a GpuModel: conv2d (cuDNN), linear (cuBLAS), relu, maxpool2d and
// flatten (rampart_cuda kernels), each the GPU twin of runtime/layers/<type>.
// Same contract as runtime/layers/layer.h: forward(x) -> y; backward overwrites
// parameter gradients and writes dx when asked. Parameters are device pointers
// into the GpuModel's flat buffers, at the CPU Model's offsets.
#pragma once
#include <cuda_runtime.h>

#include <memory>

#include "kernels/cuda/conv_cudnn.h"
#include "kernels/cuda/linear_cublas.h"
#include "runtime/gpu/gpu_tensor.h"
#include "runtime/layers/layer.h"

namespace rampart::gpu {

// What the layers of one model share: the stream, and the cuDNN and cuBLAS
// handles (cuDNN's plans are cached per shape in `conv`).
struct GpuContext {
  cudaStream_t stream = nullptr;
  cuda::CudnnConv conv;
  cuda::CublasLinear linear;
};

// A layer's parameters on the device: value and gradient of each, in the order
// of Layer::param_shapes() (weight, then bias when there is one).
struct GpuParams {
  std::vector<float*> value, grad;
};

class GpuLayer {
 public:
  virtual ~GpuLayer() = default;
  virtual void forward(const GpuTensor& x, GpuTensor& y) = 0;
  // dx may be null (not wanted); param_grads: overwrite this layer's gradients.
  virtual void backward(const GpuTensor& x, const GpuTensor& y, const GpuTensor& dy, GpuTensor* dx,
                        bool param_grads) = 0;
};

// The GPU twin of `layer` (layer `index` of the spec). Throws ConfigError for a
// type (or a variant of one, such as a non-square pooling window) that has no
// GPU version yet.
std::unique_ptr<GpuLayer> make_gpu_layer(Layer& layer, int index, GpuContext& ctx, GpuParams params);

}  // namespace rampart::gpu
