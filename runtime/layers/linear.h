// linear: PyTorch's nn.Linear. x: [N, in_features]; y: [N, out_features];
// weight: [out, in] (row-major, as in PyTorch); bias: [out].
#pragma once
#include <memory>

#include "runtime/layers/layer.h"

namespace rampart {

class Linear : public Layer {
 public:
  Linear(int index, int in_features, int out_features, bool bias);
  static std::unique_ptr<Layer> from_spec(const nlohmann::json& spec, int index);

  std::string type() const override { return "linear"; }
  nlohmann::json spec() const override;
  Shape output_shape(const Shape& in) const override;
  std::vector<std::pair<std::string, Shape>> param_shapes() const override;
  void bind_params(std::vector<ParamView*> params) override;
  void reset_parameters(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;
  double flops(const Shape& in) const override;

 private:
  int index_, in_, out_;
  bool has_bias_;
  ParamView* weight_ = nullptr;
  ParamView* bias_ = nullptr;
};

}  // namespace rampart
