// A fused executor for "[conv2d] relu maxpool2d" and "conv2d relu" runs of a model (built by
// Model's fusion pass; never from a spec): the convolution writes its output
// once, max-pool and relu then run as one pass over it in the order pool -> relu
// (they commute), and backward turns dL/dy straight into dL/d(conv output)
// without materialising relu's input or output gradient.
// x: [N, C, H, W] nhwc (the conv's input, or relu's when there is no conv);
// y: [N, C', OH, OW] nhwc, what the maxpool2d layer would output.
// Gradients are exactly those of the separate layers (tests/runtime/test_fusion.cpp).
// The batch runs in chunks sized so that a chunk's conv output stays in L2
// between the convolution and the pool (the first conv of small-cnn writes
// 12.8 MB per batch of 128, which otherwise goes to memory and back); backward
// to the input only (the attack's passes) is chunked the same way.
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
  // weight, bias: the conv's parameter views (bias may be null). has_pool false:
  // conv2d relu only (relu runs on each chunk while it is in cache; backward uses
  // the output's y > 0 mask, as relu's backward does).
  FusedConvReluPool(Conv2d* conv, ParamView* weight, ParamView* bias, const kernels::cpu::PoolGeometry& pool,
                    nlohmann::json spec, bool has_pool = true);

  std::string type() const override {
    return !has_pool_ ? "fused(conv2d,relu)" : conv_ ? "fused(conv2d,relu,maxpool2d)" : "fused(relu,maxpool2d)";
  }
  nlohmann::json spec() const override { return spec_; }
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;
  double flops(const Shape& in) const override { return conv_ ? conv_->flops(in) : 0; }
  bool has_params() const override { return conv_ != nullptr; }

 private:
  // Images per chunk for an input of h x w (conv output per image, 2 threads' share of L2).
  int chunk_images(int n, int h, int w) const;
  // Pool + relu of images [b0, b0 + m) of the pre-activation x (pointing at image b0)
  // into the batch's y, and back from the batch's y, dy into dx (image b0's part).
  void pool_forward(int b0, int m, int h, int w, int c, const float* x, Tensor& y);
  void pool_backward(int b0, int m, int h, int w, int c, const Tensor& y, const Tensor& dy, float* dx);

  Conv2d* conv_;
  ParamView* weight_ = nullptr;
  ParamView* bias_ = nullptr;
  kernels::cpu::PoolGeometry g_;
  nlohmann::json spec_;
  bool has_pool_ = true;
  std::vector<float> pre_;   // one chunk's conv output = relu input (only with a conv)
  Tensor dpre_;              // dL/d(conv output): one chunk, or the batch for weight gradients
  std::vector<int32_t> argmax_;  // general pools
  std::vector<uint8_t> code_;    // 2x2 stride-2 pools (kernels/cpu/maxpool_relu.h)
};

}  // namespace rampart
