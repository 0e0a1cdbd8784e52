// relu: y = max(x, 0), any shape; backward passes dy where y > 0.
#pragma once
#include <memory>

#include "runtime/layers/layer.h"

namespace rampart {

class Relu : public Layer {
 public:
  explicit Relu(int index) : index_(index) {}
  static std::unique_ptr<Layer> from_spec(const nlohmann::json& spec, int index);

  std::string type() const override { return "relu"; }
  nlohmann::json spec() const override { return {{"type", "relu"}}; }
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;

 private:
  int index_;
};

}  // namespace rampart
