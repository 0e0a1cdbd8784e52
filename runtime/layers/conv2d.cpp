// conv2d on ops::Conv (oneDNN on the CPU, cuDNN on the GPU): spec parsing, shapes, init, passes.
#include "runtime/layers/conv2d.h"

#include <cmath>

#include "runtime/layers/layer_util.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {

Conv2d::Conv2d(int index, const kernels::cpu::ConvGeometry& g)
    : index_(index), g_(g) {}

ops::Conv& Conv2d::kernel(Device d) {
  if (!conv_ || conv_device_ != d) {
    conv_ = ops::make_conv(d, g_);
    conv_device_ = d;
    conv_->set_precision(precision_);
  }
  return *conv_;
}

void Conv2d::set_precision(Precision p) {
  if (conv_) conv_->set_precision(p);  // throws where the kernel cannot run p
  precision_ = p;
}

std::unique_ptr<Layer> Conv2d::from_spec(const nlohmann::json& spec, int index) {
  SpecFields f(spec, index, "conv2d",
               {"in_channels", "out_channels", "kernel_size", "stride", "padding", "bias"});
  kernels::cpu::ConvGeometry g;
  g.ic = f.positive_int("in_channels");
  g.oc = f.positive_int("out_channels");
  auto k = f.pair("kernel_size", {-1, -1}, 1);
  auto s = f.pair("stride", {1, 1}, 1);
  auto p = f.pair("padding", {0, 0}, 0);
  g.kh = k.first; g.kw = k.second;
  g.sh = s.first; g.sw = s.second;
  g.ph = p.first; g.pw = p.second;
  g.bias = f.bool_or("bias", true);
  return std::make_unique<Conv2d>(index, g);
}

nlohmann::json Conv2d::spec() const {
  return {{"type", "conv2d"},
          {"in_channels", g_.ic},
          {"out_channels", g_.oc},
          {"kernel_size", pair_json({g_.kh, g_.kw})},
          {"stride", pair_json({g_.sh, g_.sw})},
          {"padding", pair_json({g_.ph, g_.pw})},
          {"bias", g_.bias}};
}

Shape Conv2d::output_shape(const Shape& in) const {
  if (in.size() != 4)
    layer_error(index_, "conv2d", "expected an input [N, C, H, W], found " + shape_str(in));
  if (in[1] != g_.ic)
    layer_error(index_, "conv2d", "in_channels is " + std::to_string(g_.ic) + " but the input has " +
                                      std::to_string(in[1]) + " channels (input " + shape_str(in) + ")");
  int64_t oh = (in[2] + 2 * g_.ph - g_.kh) / g_.sh + 1, ow = (in[3] + 2 * g_.pw - g_.kw) / g_.sw + 1;
  if (in[2] + 2 * g_.ph < g_.kh || in[3] + 2 * g_.pw < g_.kw)
    layer_error(index_, "conv2d", "kernel " + std::to_string(g_.kh) + "x" + std::to_string(g_.kw) +
                                      " does not fit the padded input " + std::to_string(in[2] + 2 * g_.ph) +
                                      "x" + std::to_string(in[3] + 2 * g_.pw) + " (input " + shape_str(in) + ")");
  return {in[0], g_.oc, oh, ow};
}

std::vector<std::pair<std::string, Shape>> Conv2d::param_shapes() const {
  std::vector<std::pair<std::string, Shape>> p = {{"weight", {g_.oc, g_.ic, g_.kh, g_.kw}}};
  if (g_.bias) p.push_back({"bias", {g_.oc}});
  return p;
}

void Conv2d::bind_params(std::vector<ParamView*> params) {
  weight_ = params.at(0);
  bias_ = g_.bias ? params.at(1) : nullptr;
}

void Conv2d::reset_parameters(Rng& rng) {
  // kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
  float bound = 1.0f / std::sqrt(float(g_.ic * g_.kh * g_.kw));
  uniform_init(weight_->value, weight_->size(), bound, rng);
  if (bias_) uniform_init(bias_->value, bias_->size(), bound, rng);
}

void Conv2d::check_input(const Tensor& x) const {
  if (x.ndim() != 4 || x.dim(1) != g_.ic || g_.out_h(int(x.dim(2))) <= 0 || g_.out_w(int(x.dim(3))) <= 0)
    output_shape(x.shape());  // throws with the reason
}

void Conv2d::forward(const Tensor& x, Tensor& y, Mode) {
  check_input(x);
  int n = int(x.dim(0)), ih = int(x.dim(2)), iw = int(x.dim(3));
  ensure_shape(y, n, g_.oc, g_.out_h(ih), g_.out_w(iw));
  kernel(x.device()).forward(n, ih, iw, x.data(), weight_->value, bias_ ? bias_->value : nullptr, y.data());
}

void Conv2d::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, bool param_grads) {
  int n = int(x.dim(0)), ih = int(x.dim(2)), iw = int(x.dim(3));
  if (param_grads)
    kernel(x.device()).backward_weights(n, ih, iw, x.data(), dy.data(), weight_->grad, bias_ ? bias_->grad : nullptr);
  if (dx) {
    ensure_shape_like(*dx, x);
    kernel(x.device()).backward_data(n, ih, iw, dy.data(), weight_->value, dx->data());
  }
}

double Conv2d::flops(const Shape& in) const {
  Shape out = output_shape(in);
  return 2.0 * double(g_.oc) * out[2] * out[3] * g_.ic * g_.kh * g_.kw;
}

}  // namespace rampart
