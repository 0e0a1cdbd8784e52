// The model on GPU (--device cuda): the GPU twin of a CPU Model built from the
// same spec, with every parameter in one flat device buffer (and every gradient
// in another) laid out exactly as the CPU Model's flat buffers. Moving weights
// between the two is one memcpy, so broadcasts, gradient buckets and checkpoints
// are the same bytes on both devices: checkpoints are written from the CPU Model
// after download_params().
//
// Supported layers: conv2d, linear, relu, maxpool2d (square window), flatten;
// others throw ConfigError at construction. None of these behaves differently in
// training and evaluation (no batchnorm yet), so forward takes no Mode.
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <utility>
#include <vector>

#include "runtime/gpu/gpu_layers.h"
#include "runtime/gpu/gpu_tensor.h"
#include "runtime/model.h"

namespace rampart::gpu {

class GpuModel {
 public:
  // host: the CPU Model this mirrors; it must outlive the GpuModel (its layers
  // give the geometry and shape checks). Parameters are not copied: call
  // upload_params(). Uses the current CUDA device; creates its own stream.
  // allow_tf32: see kernels/cuda/conv_cudnn.h (off: FP32 products, as on CPU).
  explicit GpuModel(Model& host, bool allow_tf32 = false);
  ~GpuModel();
  GpuModel(const GpuModel&) = delete;
  GpuModel& operator=(const GpuModel&) = delete;

  // Every call below enqueues on stream() and returns without waiting, unless it
  // says otherwise.
  cudaStream_t stream() const { return ctx_.stream; }

  // Host <-> device copies of the flat buffers (num_params() floats); they wait
  // for the copy, so the host buffer may be reused on return.
  void upload_params(const float* host_flat);
  void download_params(float* host_flat) const;
  void download_grads(float* host_flat) const;
  void upload_params(const Model& host) { upload_params(host.flat_params()); }
  void download_params(Model& host) const { download_params(host.flat_params()); }

  // x: device [n, C, H, W] channels-last, as Model::forward; must stay valid until
  // backward. Returns the device logits [n, classes].
  const GpuTensor& forward(const float* x, int64_t n);

  // As Model::backward: from dlogits (device [n, classes]) of the last forward.
  // input_grad: also return dL/dx (device [n, C, H, W]); else an empty tensor.
  // param_grads: overwrite flat_grads(). on_grad_ready(i) is called on the host
  // right after layer i's gradient kernels are enqueued (not completed): a
  // reducer must record an event on stream() there and wait on it before reading.
  const GpuTensor& backward(const float* dlogits, bool input_grad, bool param_grads,
                            const Model::GradReadyFn& on_grad_ready = nullptr);

  float* flat_params() { return params_.data(); }
  float* flat_grads() { return grads_.data(); }
  int64_t num_params() const { return host_.num_params(); }
  int num_classes() const { return host_.num_classes(); }
  const Shape& input_shape() const { return host_.input_shape(); }
  // Same ranges as Model::layer_param_range (the layouts are equal).
  std::pair<int64_t, int64_t> layer_param_range(int i) const { return host_.layer_param_range(i); }

 private:
  Model& host_;
  GpuContext ctx_;
  DeviceArray<float> params_, grads_;
  std::vector<std::unique_ptr<GpuLayer>> layers_;
  std::vector<GpuTensor> acts_;   // acts_[i] = output of layer i
  GpuTensor grad_bufs_[2];        // ping-pong dL/d(activation)
  GpuTensor input_;               // view of the last forward's x
  GpuTensor dlogits_;             // view of the last backward's dlogits
};

}  // namespace rampart::gpu
