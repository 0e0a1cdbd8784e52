// avgpool2d: PyTorch's nn.AvgPool2d on channels-last activations.
// x: [N, C, H, W] (memory nhwc); y: [N, C, OH, OW] (nhwc).
#pragma once
#include <memory>
#include <vector>

#include "kernels/cpu/pool.h"
#include "runtime/layers/layer.h"

namespace rampart {

class AvgPool2d : public Layer {
 public:
  AvgPool2d(int index, const kernels::cpu::PoolGeometry& g) : index_(index), g_(g) {}
  static std::unique_ptr<Layer> from_spec(const nlohmann::json& spec, int index);

  std::string type() const override { return "avgpool2d"; }
  nlohmann::json spec() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;

 private:
  int index_;
  kernels::cpu::PoolGeometry g_;
};

}  // namespace rampart
