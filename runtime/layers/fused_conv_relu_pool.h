// A fused executor for "[conv2d] relu maxpool2d" runs of a model (built by
// Model's fusion pass; never from a spec): the convolution writes its output
// once, max-pool and relu then run as one pass over it in the order pool -> relu
// (they commute), and backward turns dL/dy straight into dL/d(conv output)
// without materialising relu's input or output gradient.
// x: [N, C, H, W] nhwc (the conv's input, or relu's when there is no conv);
// y: [N, C', OH, OW] nhwc, what the maxpool2d layer would output.
// Gradients are exactly those of the separate layers (tests/runtime/test_fusion.cpp).
#pragma once
#include <vector>

#include "kernels/cpu/pool.h"
#include "runtime/layers/conv2d.h"
#include "runtime/layers/layer.h"

namespace rampart {

class FusedConvReluPool : public Layer {
 public:
  // conv: the model's conv2d layer (not owned; parameters stay bound to it), or
  // null for a bare relu -> maxpool2d. pool: the maxpool2d layer's geometry.
  FusedConvReluPool(Conv2d* conv, const kernels::cpu::PoolGeometry& pool, nlohmann::json spec);

  std::string type() const override { return conv_ ? "fused(conv2d,relu,maxpool2d)" : "fused(relu,maxpool2d)"; }
  nlohmann::json spec() const override { return spec_; }
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;
  double flops(const Shape& in) const override { return conv_ ? conv_->flops(in) : 0; }
  bool has_params() const override { return conv_ != nullptr; }

 private:
  Conv2d* conv_;
  kernels::cpu::PoolGeometry g_;
  nlohmann::json spec_;
  Tensor pre_;    // conv output = relu input [N, C', H', W'] (only with a conv)
  Tensor dpre_;   // dL/d(pre_) (only with a conv)
  std::vector<int32_t> argmax_;
};

}  // namespace rampart
