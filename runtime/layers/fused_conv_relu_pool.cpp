// conv2d -> relu -> maxpool2d as one executor; see fused_conv_relu_pool.h.
#include "runtime/layers/fused_conv_relu_pool.h"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/eltwise.h"
#include "kernels/cpu/maxpool_relu.h"
#include "runtime/layers/layer_util.h"

namespace rampart {

namespace {
// About half of a Zen 4/5 core's 1 MiB L2 for each thread's part of the chunk's
// conv output, leaving room for its input, the pooled output and the argmax.
constexpr int64_t kChunkBytesPerThread = 512 << 10;
}  // namespace

FusedConvReluPool::FusedConvReluPool(Conv2d* conv, ParamView* weight, ParamView* bias,
                                     const kernels::cpu::PoolGeometry& pool, nlohmann::json spec, bool has_pool)
    : conv_(conv), weight_(weight), bias_(bias), g_(pool), spec_(std::move(spec)), has_pool_(has_pool) {}

Shape FusedConvReluPool::output_shape(const Shape& in) const {
  Shape s = conv_ ? conv_->output_shape(in) : in;
  if (!has_pool_) return s;
  return {s[0], s[1], g_.out_h(int(s[2])), g_.out_w(int(s[3]))};
}

int FusedConvReluPool::chunk_images(int n, int h, int w) const {
  const auto& cg = conv_->geometry();
  const int64_t per_image = int64_t(cg.out_h(h)) * cg.out_w(w) * cg.oc * int64_t(sizeof(float));
  int chunk = int(std::clamp<int64_t>(omp_get_max_threads() * kChunkBytesPerThread / per_image, 1, n));
  const int chunks = (n + chunk - 1) / chunk;
  return (n + chunks - 1) / chunks;  // equal chunks: one or two primitive shapes, not three
}

void FusedConvReluPool::pool_forward(int b0, int m, int h, int w, int c, const float* x, Tensor& y) {
  const int64_t off = b0 * (int64_t(g_.out_h(h)) * g_.out_w(w) * c);
  if (kernels::cpu::is_pool2x2(g_)) {
    if (code_.size() < size_t(y.size())) code_.resize(y.size());
    kernels::cpu::maxpool2x2_relu_forward(m, h, w, c, x, y.data() + off, code_.data() + off);
  } else {
    if (argmax_.size() < size_t(y.size())) argmax_.resize(y.size());
    kernels::cpu::maxpool_relu_forward(g_, m, h, w, c, x, y.data() + off, argmax_.data() + off);
  }
}

void FusedConvReluPool::pool_backward(int b0, int m, int h, int w, int c, const Tensor& y, const Tensor& dy,
                                      float* dx) {
  const int64_t off = b0 * (int64_t(g_.out_h(h)) * g_.out_w(w) * c);
  if (kernels::cpu::is_pool2x2(g_))
    kernels::cpu::maxpool2x2_relu_backward(m, h, w, c, dy.data() + off, code_.data() + off, dx);
  else
    kernels::cpu::maxpool_relu_backward(g_, m, h, w, c, y.data() + off, dy.data() + off, argmax_.data() + off, dx);
}

void FusedConvReluPool::forward(const Tensor& x, Tensor& y, Mode mode) {
  if (!conv_) {
    const int n = int(x.dim(0)), c = int(x.dim(1)), h = int(x.dim(2)), w = int(x.dim(3));
    ensure_shape(y, n, c, g_.out_h(h), g_.out_w(w));
    pool_forward(0, n, h, w, c, x.data(), y);
    return;
  }
  Shape out = conv_->output_shape(x.shape());  // checks the input, throws with the reason
  const int n = int(x.dim(0)), ih = int(x.dim(2)), iw = int(x.dim(3));
  const int c = int(out[1]), h = int(out[2]), w = int(out[3]);
  const int64_t in_img = int64_t(ih) * iw * x.dim(1), pre_img = int64_t(h) * w * c;
  if (!has_pool_) {
    ensure_shape(y, n, c, h, w);
    const int chunk = chunk_images(n, ih, iw);
    for (int b0 = 0; b0 < n; b0 += chunk) {
      const int m = std::min(chunk, n - b0);
      float* yc = y.data() + b0 * pre_img;
      conv_->kernel(Device::kCpu).forward(m, ih, iw, x.data() + b0 * in_img, weight_->value, bias_ ? bias_->value : nullptr, yc);
      kernels::cpu::relu_forward(yc, yc, m * pre_img);
    }
    return;
  }
  ensure_shape(y, n, c, g_.out_h(h), g_.out_w(w));
  const int chunk = chunk_images(n, ih, iw);
  if (pre_.size() < size_t(chunk * pre_img)) pre_.resize(chunk * pre_img);
  for (int b0 = 0; b0 < n; b0 += chunk) {
    const int m = std::min(chunk, n - b0);
    conv_->kernel(Device::kCpu).forward(m, ih, iw, x.data() + b0 * in_img, weight_->value, bias_ ? bias_->value : nullptr,
                            pre_.data());
    pool_forward(b0, m, h, w, c, pre_.data(), y);
  }
}

void FusedConvReluPool::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                                 bool param_grads) {
  if (!conv_) {
    if (!dx) return;
    ensure_shape_like(*dx, x);
    pool_backward(0, int(x.dim(0)), int(x.dim(2)), int(x.dim(3)), int(x.dim(1)), y, dy, dx->data());
    return;
  }
  if (!dx && !param_grads) return;
  const auto& cg = conv_->geometry();
  const int n = int(x.dim(0)), ih = int(x.dim(2)), iw = int(x.dim(3));
  const int c = cg.oc, h = cg.out_h(ih), w = cg.out_w(iw);
  const int64_t in_img = int64_t(ih) * iw * cg.ic, pre_img = int64_t(h) * w * c;
  const int64_t out_img = has_pool_ ? int64_t(g_.out_h(h)) * g_.out_w(w) * c : pre_img;
  // dL/d(conv output) for images [b0, b0 + m) into out.
  auto dpre = [&](int b0, int m, float* out) {
    if (has_pool_)
      pool_backward(b0, m, h, w, c, y, dy, out);
    else
      kernels::cpu::relu_backward(y.data() + b0 * out_img, dy.data() + b0 * out_img, out, m * pre_img);
  };
  if (dx) ensure_shape_like(*dx, x);
  if (param_grads) {
    // Weight gradients reduce over the whole batch: one call on the whole dL/d(conv output).
    ensure_shape(dpre_, n, c, h, w);
    dpre(0, n, dpre_.data());
    conv_->kernel(Device::kCpu).backward_weights(n, ih, iw, x.data(), dpre_.data(), weight_->grad,
                                     bias_ ? bias_->grad : nullptr);
    if (dx) conv_->kernel(Device::kCpu).backward_data(n, ih, iw, dpre_.data(), weight_->value, dx->data());
    return;
  }
  const int chunk = chunk_images(n, ih, iw);
  if (dpre_.size() < chunk * pre_img) dpre_.resize({chunk * pre_img});
  for (int b0 = 0; b0 < n; b0 += chunk) {
    const int m = std::min(chunk, n - b0);
    dpre(b0, m, dpre_.data());
    conv_->kernel(Device::kCpu).backward_data(m, ih, iw, dpre_.data(), weight_->value, dx->data() + b0 * in_img);
  }
}

}  // namespace rampart
