// conv2d -> relu -> maxpool2d as one executor; see fused_conv_relu_pool.h.
#include "runtime/layers/fused_conv_relu_pool.h"

#include "kernels/cpu/maxpool_relu.h"
#include "runtime/layers/layer_util.h"

namespace rampart {

FusedConvReluPool::FusedConvReluPool(Conv2d* conv, const kernels::cpu::PoolGeometry& pool, nlohmann::json spec)
    : conv_(conv), g_(pool), spec_(std::move(spec)) {}

Shape FusedConvReluPool::output_shape(const Shape& in) const {
  Shape s = conv_ ? conv_->output_shape(in) : in;
  return {s[0], s[1], g_.out_h(int(s[2])), g_.out_w(int(s[3]))};
}

void FusedConvReluPool::forward(const Tensor& x, Tensor& y, Mode mode) {
  const Tensor* pre = &x;
  if (conv_) {
    conv_->forward(x, pre_, mode);
    pre = &pre_;
  }
  const int n = int(pre->dim(0)), c = int(pre->dim(1)), h = int(pre->dim(2)), w = int(pre->dim(3));
  ensure_shape(y, n, c, g_.out_h(h), g_.out_w(w));
  if (argmax_.size() < size_t(y.size())) argmax_.resize(y.size());
  kernels::cpu::maxpool_relu_forward(g_, n, h, w, c, pre->data(), y.data(), argmax_.data());
}

void FusedConvReluPool::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                                 bool param_grads) {
  if (!conv_) {
    if (!dx) return;
    ensure_shape_like(*dx, x);
    kernels::cpu::maxpool_relu_backward(g_, int(x.dim(0)), int(x.dim(2)), int(x.dim(3)), int(x.dim(1)), y.data(),
                                        dy.data(), argmax_.data(), dx->data());
    return;
  }
  if (!dx && !param_grads) return;
  ensure_shape_like(dpre_, pre_);
  kernels::cpu::maxpool_relu_backward(g_, int(pre_.dim(0)), int(pre_.dim(2)), int(pre_.dim(3)), int(pre_.dim(1)),
                                      y.data(), dy.data(), argmax_.data(), dpre_.data());
  conv_->backward(x, pre_, dpre_, dx, param_grads);
}

}  // namespace rampart
