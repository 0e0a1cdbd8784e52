// normalize: y = (x - mean[c]) / std[c] per channel (torchvision's Normalize as
// a layer, so that attacks work in pixel space [0,1]). No parameters.
// x, y: [N, C, H, W] (memory nhwc) or [N, C]. mean and std have C entries, or
// one entry used for every channel.
#pragma once
#include <memory>
#include <vector>

#include "runtime/layers/layer.h"

namespace rampart {

class Normalize : public Layer {
 public:
  Normalize(int index, std::vector<float> mean, std::vector<float> std);
  static std::unique_ptr<Layer> from_spec(const nlohmann::json& spec, int index);

  std::string type() const override { return "normalize"; }
  nlohmann::json spec() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;

 private:
  void expand(int c, Device d);  // fills the per-channel arrays for c channels
  int index_;
  std::vector<float> mean_, std_;                  // as in the spec
  // One per channel of the input, on the device of the last input.
  Tensor mean_c_, std_c_, inv_std_c_;
};

}  // namespace rampart
