// relu on the element-wise kernels of kernels/cpu/eltwise.*.
#include "runtime/layers/relu.h"

#include "kernels/dispatch/ops.h"
#include "runtime/layers/layer_util.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {

std::unique_ptr<Layer> Relu::from_spec(const nlohmann::json& spec, int index) {
  SpecFields f(spec, index, "relu", {});
  return std::make_unique<Relu>(index);
}

void Relu::forward(const Tensor& x, Tensor& y, Mode) {
  ensure_shape_like(y, x);
  ops::relu_forward(x.device(), x.data(), y.data(), x.size());
}

void Relu::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool) {
  if (!dx) return;
  ensure_shape_like(*dx, y);
  ops::relu_backward(y.device(), y.data(), dy.data(), dx->data(), y.size());
}

}  // namespace rampart
