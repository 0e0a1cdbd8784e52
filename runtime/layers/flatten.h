// flatten: [N, C, H, W] (memory nhwc) -> [N, C*H*W] in PyTorch's order
// (c*H*W + h*W + w), so that the next linear layer's weights match PyTorch
// checkpoints. A 2-D input passes through unchanged (copied).
#pragma once
#include <memory>

#include "runtime/layers/layer.h"

namespace rampart {

class Flatten : public Layer {
 public:
  explicit Flatten(int index) : index_(index) {}
  static std::unique_ptr<Layer> from_spec(const nlohmann::json& spec, int index);

  std::string type() const override { return "flatten"; }
  nlohmann::json spec() const override { return {{"type", "flatten"}}; }
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;

 private:
  int index_;
};

}  // namespace rampart
