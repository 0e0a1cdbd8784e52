// GpuModel: construction from the CPU Model, flat device buffers, forward and
// backward (see gpu_model.h). Host code only; the kernels are rampart_cuda's.
#include "runtime/gpu/gpu_model.h"

#include <string>

#include "runtime/errors.h"

namespace rampart::gpu {

GpuModel::GpuModel(Model& host, bool allow_tf32) : host_(host), ctx_{nullptr, cuda::CudnnConv(allow_tf32), cuda::CublasLinear(allow_tf32)} {
  if (!host.is_plain_list())  // the layers below run as a chain, found by their names "<i>."
    throw ConfigError("GpuModel: models with named modules or residual blocks are not supported on --device cuda "
                      "yet (found a nested spec); use --device cpu, or a flat list of layers");
  params_.resize(host.num_params());
  grads_.resize(host.num_params());
  // The CPU Model's views are in layer order, each at its offset in the flat
  // buffer; the device views take the same offsets.
  const auto& views = host.params();
  size_t v = 0;
  for (int i = 0; i < host.num_layers(); ++i) {
    GpuParams p;
    const std::string prefix = std::to_string(i) + ".";
    for (; v < views.size() && views[v].name.compare(0, prefix.size(), prefix) == 0; ++v) {
      p.value.push_back(params_.data() + views[v].offset);
      p.grad.push_back(grads_.data() + views[v].offset);
    }
    layers_.push_back(make_gpu_layer(host.layer(i), i, ctx_, std::move(p)));
  }
  if (v != views.size())
    throw std::logic_error("GpuModel: parameter " + views[v].name + " is not in layer order");
  if (!host.buffers().empty())
    throw ConfigError("GpuModel: models with non-trainable buffers (batchnorm) are not supported on --device cuda yet");
  acts_.resize(layers_.size());
  // Last, so that a throw above (an unsupported layer) leaks no stream.
  CUDA_CHECK(cudaStreamCreateWithFlags(&ctx_.stream, cudaStreamNonBlocking));
  CUDA_CHECK(cudaMemsetAsync(grads_.data(), 0, sizeof(float) * size_t(host.num_params()), ctx_.stream));
}

GpuModel::~GpuModel() {
  // Members free device memory after this; wait for work that may still use it.
  // Errors are ignored: destructors never throw.
  if (ctx_.stream) {
    cudaStreamSynchronize(ctx_.stream);
    cudaStreamDestroy(ctx_.stream);
  }
}

void GpuModel::upload_params(const float* host_flat) {
  CUDA_CHECK(cudaMemcpyAsync(params_.data(), host_flat, sizeof(float) * size_t(num_params()),
                             cudaMemcpyHostToDevice, ctx_.stream));
  CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
}

void GpuModel::download_params(float* host_flat) const {
  CUDA_CHECK(cudaMemcpyAsync(host_flat, params_.data(), sizeof(float) * size_t(num_params()),
                             cudaMemcpyDeviceToHost, ctx_.stream));
  CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
}

void GpuModel::download_grads(float* host_flat) const {
  CUDA_CHECK(cudaMemcpyAsync(host_flat, grads_.data(), sizeof(float) * size_t(num_params()),
                             cudaMemcpyDeviceToHost, ctx_.stream));
  CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
}

const GpuTensor& GpuModel::forward(const float* x, int64_t n) {
  const Shape& in = host_.input_shape();
  if (n < 1) throw DataError("GpuModel::forward: expected a batch of at least one example, found " + std::to_string(n));
  input_ = GpuTensor::wrap(x, {n, in[0], in[1], in[2]});
  const GpuTensor* cur = &input_;
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(*cur, acts_[i]);
    cur = &acts_[i];
  }
  return *cur;
}

const GpuTensor& GpuModel::backward(const float* dlogits, bool input_grad, bool param_grads,
                                    const Model::GradReadyFn& on_grad_ready) {
  static const GpuTensor kEmpty;
  if (acts_.empty() || acts_.back().size() == 0)
    throw std::logic_error("GpuModel::backward called before forward");
  dlogits_ = GpuTensor::wrap(dlogits, acts_.back().shape());
  const GpuTensor* dy = &dlogits_;
  int slot = 0;
  // The same walk as Model::backward: stop below the last layer that still needs work.
  for (int i = int(layers_.size()) - 1; i >= 0; --i) {
    const GpuTensor& x = i == 0 ? input_ : acts_[i - 1];
    const bool has_params = host_.layer_param_range(i).second > host_.layer_param_range(i).first;
    const bool need_dx = i > 0 || input_grad;
    const bool pg = param_grads && has_params;
    if (!need_dx && !pg) break;
    GpuTensor* dx = need_dx ? &grad_bufs_[slot] : nullptr;
    layers_[i]->backward(x, acts_[i], *dy, dx, pg);
    if (pg && on_grad_ready) on_grad_ready(i);
    if (dx) { dy = dx; slot ^= 1; }
  }
  return input_grad ? *dy : kEmpty;
}

}  // namespace rampart::gpu
