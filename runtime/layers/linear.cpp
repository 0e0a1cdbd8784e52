// linear on ops::linear_* (sgemm on the CPU, cuBLAS on the GPU): y = x W^T + b, dx = dy W, dW = dy^T x, db = sum dy.
#include "runtime/layers/linear.h"

#include <cmath>

#include "runtime/layers/layer_util.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {

Linear::Linear(int index, int in_features, int out_features, bool bias)
    : index_(index), in_(in_features), out_(out_features), has_bias_(bias) {}

std::unique_ptr<Layer> Linear::from_spec(const nlohmann::json& spec, int index) {
  SpecFields f(spec, index, "linear", {"in_features", "out_features", "bias"});
  int in = f.positive_int("in_features");
  int out = f.positive_int("out_features");
  return std::make_unique<Linear>(index, in, out, f.bool_or("bias", true));
}

nlohmann::json Linear::spec() const {
  return {{"type", "linear"}, {"in_features", in_}, {"out_features", out_}, {"bias", has_bias_}};
}

Shape Linear::output_shape(const Shape& in) const {
  if (in.size() != 2)
    layer_error(index_, "linear",
                "expected an input [N, features], found " + shape_str(in) +
                    (in.size() == 4 ? " (add a flatten layer before it)" : ""));
  if (in[1] != in_)
    layer_error(index_, "linear", "in_features is " + std::to_string(in_) + " but the input has " +
                                      std::to_string(in[1]) + " features (input " + shape_str(in) + ")");
  return {in[0], out_};
}

std::vector<std::pair<std::string, Shape>> Linear::param_shapes() const {
  std::vector<std::pair<std::string, Shape>> p = {{"weight", {out_, in_}}};
  if (has_bias_) p.push_back({"bias", {out_}});
  return p;
}

void Linear::bind_params(std::vector<ParamView*> params) {
  weight_ = params.at(0);
  bias_ = has_bias_ ? params.at(1) : nullptr;
}

void Linear::reset_parameters(Rng& rng) {
  float bound = 1.0f / std::sqrt(float(in_));
  uniform_init(weight_->value, weight_->size(), bound, rng);
  if (bias_) uniform_init(bias_->value, bias_->size(), bound, rng);
}

void Linear::forward(const Tensor& x, Tensor& y, Mode) {
  if (x.ndim() != 2 || x.dim(1) != in_) output_shape(x.shape());  // throws with the reason
  int n = int(x.dim(0));
  ensure_shape(y, n, out_);
  // The bias is broadcast into y first so that the GEMM adds onto it (beta = 1).
  ops::linear_forward(x.device(), x.data(), weight_->value, bias_ ? bias_->value : nullptr, y.data(), n, in_, out_);
}

void Linear::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, bool param_grads) {
  int n = int(x.dim(0));
  if (param_grads) {
    ops::linear_backward_weights(x.device(), x.data(), dy.data(), weight_->grad, bias_ ? bias_->grad : nullptr, n,
                                 in_, out_);
  }
  if (dx) {
    ensure_shape(*dx, n, in_);
    ops::linear_backward_data(x.device(), dy.data(), weight_->value, dx->data(), n, in_, out_);
  }
}

double Linear::flops(const Shape& in) const { return 2.0 * double(in_) * out_; }

}  // namespace rampart
