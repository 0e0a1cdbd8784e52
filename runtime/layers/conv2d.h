// conv2d: PyTorch's nn.Conv2d (no dilation, no groups) on channels-last activations.
// x: [N, in_channels, H, W] (memory nhwc); y: [N, out_channels, OH, OW] (nhwc);
// weight: [out, in, kh, kw]; bias: [out].
#pragma once
#include <memory>

#include "kernels/dispatch/ops.h"
#include "runtime/layers/layer.h"

namespace rampart {

class Conv2d : public Layer {
 public:
  Conv2d(int index, const kernels::cpu::ConvGeometry& g);
  static std::unique_ptr<Layer> from_spec(const nlohmann::json& spec, int index);

  std::string type() const override { return "conv2d"; }
  nlohmann::json spec() const override;
  Shape output_shape(const Shape& in) const override;
  std::vector<std::pair<std::string, Shape>> param_shapes() const override;
  void bind_params(std::vector<ParamView*> params) override;
  void reset_parameters(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;
  double flops(const Shape& in) const override;
  void set_precision(Precision p) override;

  const kernels::cpu::ConvGeometry& geometry() const { return g_; }
  // The convolution kernel for device d (made on first use there).
  ops::Conv& kernel(Device d);

 private:
  void check_input(const Tensor& x) const;
  int index_;
  kernels::cpu::ConvGeometry g_;
  ParamView* weight_ = nullptr;
  ParamView* bias_ = nullptr;
  std::unique_ptr<ops::Conv> conv_;
  Device conv_device_ = Device::kCpu;
  Precision precision_ = Precision::kFp32;
};

}  // namespace rampart
