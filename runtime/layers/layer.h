// The layer interface: forward, and backward to the input and to the parameters.
// Layers read and write the channels-last tensors of runtime/tensor.h.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/dispatch/ops.h"
#include "runtime/tensor.h"

namespace rampart {

class Rng;

// What the pass is for. Training uses batch statistics in batchnorm and updates
// its running statistics; evaluation and attacks use the running statistics
// (attacks always run with batchnorm in eval mode).
enum class Mode { kTrain, kEval };

class Layer {
 public:
  virtual ~Layer() = default;

  // The "type" of the spec ("conv2d", ...), and the spec itself as JSON that
  // mirrors PyTorch's constructor arguments.
  virtual std::string type() const = 0;
  virtual nlohmann::json spec() const = 0;

  // The output shape for a logical input shape [N, C, H, W] or [N, F]; throws
  // ConfigError naming the layer when the input does not fit (wrong channels...).
  virtual Shape output_shape(const Shape& in) const = 0;

  // Trainable parameters, with local names ("weight", "bias") and PyTorch shapes.
  // The model allocates them in its flat buffers and hands the views back.
  virtual std::vector<std::pair<std::string, Shape>> param_shapes() const { return {}; }
  virtual void bind_params(std::vector<ParamView*> params) {}
  // Non-trainable state (batchnorm: running_mean, running_var, num_batches_tracked).
  virtual std::vector<std::pair<std::string, Shape>> buffer_shapes() const { return {}; }
  virtual void bind_buffers(std::vector<BufferView*> buffers) {}
  // PyTorch's default initialisation for this layer type, drawn from rng.
  virtual void reset_parameters(Rng& rng) {}

  // y = layer(x). y is resized by the layer (no allocation when the shape repeats).
  virtual void forward(const Tensor& x, Tensor& y, Mode mode) = 0;

  // Given x and y of the last forward and dy = dL/dy:
  //   if dx != nullptr, writes dx = dL/dx (resized by the layer);
  //   if param_grads, writes (overwrites, does not add) dL/dparam into the grad views.
  // Attack passes call this with param_grads = false: no weight-gradient work.
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                        bool param_grads) = 0;

  // FLOPs of one forward pass for one example with input shape in (multiply-add = 2).
  virtual double flops(const Shape& in) const { return 0; }

  // Why this layer cannot run on device d ("" when it can): the dispatch's gap for
  // its kernels. Model::to() asks every layer before anything moves.
  virtual std::string gap(Device d) const { return ops::gap(d, type()); }

  // The arithmetic of this layer's forward and input-gradient passes from now on
  // (kernels/common/precision.h). Layers without a BF16 kernel ignore it and stay FP32;
  // convolutions follow it. Throws where the device cannot run p.
  virtual void set_precision(Precision) {}

  // True for layers that do not change their input in forward (flatten may be a
  // copy, but relu in place is not supported: layers own their outputs).
  virtual bool has_params() const { return !param_shapes().empty(); }
};

// Builds a layer from one element of the model spec (../shared/DESIGN.md).
// index is the layer's position in the spec, used in error messages.
// Throws ConfigError for unknown types, missing or invalid fields.
std::unique_ptr<Layer> make_layer(const nlohmann::json& spec, int index);

}  // namespace rampart
