// conv2d, linear, relu, maxpool2d and flatten on GPU (see gpu_layers.h).
#include "runtime/gpu/gpu_layers.h"

#include <string>

#include "kernels/cuda/eltwise.cuh"
#include "kernels/cuda/layout.cuh"
#include "runtime/errors.h"
#include "runtime/layers/conv2d.h"
#include "runtime/layers/pool_common.h"

namespace rampart::gpu {
namespace {

[[noreturn]] void unsupported(int index, const std::string& type, const std::string& why) {
  throw ConfigError("layer " + std::to_string(index) + " (" + type + "): " + why +
                    " is not supported on --device cuda yet (conv2d, linear, relu, maxpool2d with a "
                    "square window, and flatten are); use --device cpu for this model");
}

// Forward input shape checks are the CPU layers' (Layer::output_shape throws with
// the reason); the GPU layers only compute.
class GpuConv2d : public GpuLayer {
 public:
  GpuConv2d(Conv2d& cpu, GpuContext& ctx, GpuParams p) : cpu_(cpu), g_(cpu.geometry()), ctx_(ctx), p_(std::move(p)) {}
  void forward(const GpuTensor& x, GpuTensor& y) override {
    Shape out = cpu_.output_shape(x.shape());
    y.resize(out);
    cuda::ConvShape s = shape(x);
    ctx_.conv.forward(s, x.data(), p_.value[0], y.data(), ctx_.stream);
    if (g_.bias) cuda::bias_add(y.data(), p_.value[1], out[0] * out[2] * out[3], g_.oc, ctx_.stream);
  }
  void backward(const GpuTensor& x, const GpuTensor& y, const GpuTensor& dy, GpuTensor* dx,
                bool param_grads) override {
    cuda::ConvShape s = shape(x);
    if (param_grads) {
      ctx_.conv.backward_filter(s, x.data(), dy.data(), p_.grad[0], false, ctx_.stream);
      if (g_.bias)
        cuda::bias_backward(dy.data(), y.dim(0) * y.dim(2) * y.dim(3), g_.oc, p_.grad[1], false, ctx_.stream);
    }
    if (dx) {
      dx->resize(x.shape());
      ctx_.conv.backward_data(s, dy.data(), p_.value[0], dx->data(), ctx_.stream);
    }
  }

 private:
  cuda::ConvShape shape(const GpuTensor& x) const {
    cuda::ConvShape s{int(x.dim(0)), g_.ic, int(x.dim(2)), int(x.dim(3)), g_.oc, g_.kh, g_.kw};
    s.stride_h = g_.sh; s.stride_w = g_.sw; s.pad_h = g_.ph; s.pad_w = g_.pw;
    return s;
  }
  Conv2d& cpu_;
  kernels::cpu::ConvGeometry g_;
  GpuContext& ctx_;
  GpuParams p_;
};

class GpuLinear : public GpuLayer {
 public:
  GpuLinear(Layer& cpu, int in, int out, bool bias, GpuContext& ctx, GpuParams p)
      : cpu_(cpu), in_(in), out_(out), bias_(bias), ctx_(ctx), p_(std::move(p)) {}
  void forward(const GpuTensor& x, GpuTensor& y) override {
    y.resize(cpu_.output_shape(x.shape()));
    ctx_.linear.forward(x.data(), p_.value[0], bias_ ? p_.value[1] : nullptr, y.data(), int(x.dim(0)), in_,
                        out_, ctx_.stream);
  }
  void backward(const GpuTensor& x, const GpuTensor&, const GpuTensor& dy, GpuTensor* dx,
                bool param_grads) override {
    const int n = int(x.dim(0));
    if (param_grads)
      ctx_.linear.backward_weights(x.data(), dy.data(), p_.grad[0], bias_ ? p_.grad[1] : nullptr, n, in_, out_,
                                   false, ctx_.stream);
    if (dx) {
      dx->resize(x.shape());
      ctx_.linear.backward_data(dy.data(), p_.value[0], dx->data(), n, in_, out_, ctx_.stream);
    }
  }

 private:
  Layer& cpu_;
  int in_, out_;
  bool bias_;
  GpuContext& ctx_;
  GpuParams p_;
};

class GpuRelu : public GpuLayer {
 public:
  explicit GpuRelu(GpuContext& ctx) : ctx_(ctx) {}
  void forward(const GpuTensor& x, GpuTensor& y) override {
    y.resize(x.shape());
    cuda::relu_forward(x.data(), y.data(), x.size(), ctx_.stream);
  }
  void backward(const GpuTensor& x, const GpuTensor&, const GpuTensor& dy, GpuTensor* dx, bool) override {
    if (!dx) return;
    dx->resize(x.shape());
    cuda::relu_backward(x.data(), dy.data(), dx->data(), x.size(), ctx_.stream);
  }

 private:
  GpuContext& ctx_;
};

class GpuMaxPool2d : public GpuLayer {
 public:
  GpuMaxPool2d(Layer& cpu, int kernel, int stride, int pad, GpuContext& ctx)
      : cpu_(cpu), kernel_(kernel), stride_(stride), pad_(pad), ctx_(ctx) {}
  void forward(const GpuTensor& x, GpuTensor& y) override {
    y.resize(cpu_.output_shape(x.shape()));
    argmax_.resize(y.size());
    cuda::maxpool2d_forward(shape(x), x.data(), y.data(), argmax_.data(), ctx_.stream);
  }
  void backward(const GpuTensor& x, const GpuTensor&, const GpuTensor& dy, GpuTensor* dx, bool) override {
    if (!dx) return;
    dx->resize(x.shape());
    cuda::maxpool2d_backward(shape(x), dy.data(), argmax_.data(), dx->data(), ctx_.stream);
  }

 private:
  cuda::PoolShape shape(const GpuTensor& x) const {
    cuda::PoolShape s{int(x.dim(0)), int(x.dim(2)), int(x.dim(3)), int(x.dim(1)), kernel_, stride_};
    s.pad = pad_;
    return s;
  }
  Layer& cpu_;
  int kernel_, stride_, pad_;
  GpuContext& ctx_;
  DeviceArray<int32_t> argmax_;  // from the last forward, for backward
};

// [N, C, H, W] (NHWC memory) -> [N, C*H*W] in PyTorch's order; 2-D passes through.
class GpuFlatten : public GpuLayer {
 public:
  GpuFlatten(Layer& cpu, GpuContext& ctx) : cpu_(cpu), ctx_(ctx) {}
  void forward(const GpuTensor& x, GpuTensor& y) override {
    y.resize(cpu_.output_shape(x.shape()));
    if (x.ndim() == 4)
      cuda::nhwc_to_nchw(x.data(), y.data(), x.dim(0), x.dim(2) * x.dim(3), x.dim(1), ctx_.stream);
    else
      CUDA_CHECK(cudaMemcpyAsync(y.data(), x.data(), sizeof(float) * x.size(), cudaMemcpyDeviceToDevice, ctx_.stream));
  }
  void backward(const GpuTensor& x, const GpuTensor&, const GpuTensor& dy, GpuTensor* dx, bool) override {
    if (!dx) return;
    dx->resize(x.shape());
    if (x.ndim() == 4)
      cuda::nchw_to_nhwc(dy.data(), dx->data(), x.dim(0), x.dim(2) * x.dim(3), x.dim(1), ctx_.stream);
    else
      CUDA_CHECK(cudaMemcpyAsync(dx->data(), dy.data(), sizeof(float) * x.size(), cudaMemcpyDeviceToDevice, ctx_.stream));
  }

 private:
  Layer& cpu_;
  GpuContext& ctx_;
};

}  // namespace

std::unique_ptr<GpuLayer> make_gpu_layer(Layer& layer, int index, GpuContext& ctx, GpuParams params) {
  const std::string type = layer.type();
  if (type == "conv2d") return std::make_unique<GpuConv2d>(dynamic_cast<Conv2d&>(layer), ctx, std::move(params));
  if (type == "linear") {
    auto spec = layer.spec();
    return std::make_unique<GpuLinear>(layer, spec.at("in_features").get<int>(), spec.at("out_features").get<int>(),
                                       spec.at("bias").get<bool>(), ctx, std::move(params));
  }
  if (type == "relu") return std::make_unique<GpuRelu>(ctx);
  if (type == "flatten") return std::make_unique<GpuFlatten>(layer, ctx);
  if (type == "maxpool2d") {
    // The layer's spec is already validated and normalised; re-reading it gives the geometry.
    kernels::cpu::PoolGeometry g = parse_pool_spec(layer.spec(), index, "maxpool2d");
    if (g.kh != g.kw || g.sh != g.sw || g.ph != g.pw)
      unsupported(index, type, "a non-square window, stride or padding");
    return std::make_unique<GpuMaxPool2d>(layer, g.kh, g.sh, g.ph, ctx);
  }
  unsupported(index, type, "this layer type");
}

}  // namespace rampart::gpu
