// maxpool2d: PyTorch's nn.MaxPool2d on channels-last activations.
// x: [N, C, H, W] (memory nhwc); y: [N, C, OH, OW] (nhwc).
#pragma once
#include <memory>
#include <vector>

#include "kernels/cpu/pool.h"
#include "runtime/layers/layer.h"

namespace rampart {

class MaxPool2d : public Layer {
 public:
  MaxPool2d(int index, const kernels::cpu::PoolGeometry& g) : index_(index), g_(g) {}
  static std::unique_ptr<Layer> from_spec(const nlohmann::json& spec, int index);

  std::string type() const override { return "maxpool2d"; }
  std::string gap(Device d) const override;
  nlohmann::json spec() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;

 private:
  int index_;
  kernels::cpu::PoolGeometry g_;
  // Where each output's maximum came from (position h*W + w in its image), kept
  // from the last forward for backward; grows once, then is reused.
  Buffer<int32_t> argmax_;
};

}  // namespace rampart
