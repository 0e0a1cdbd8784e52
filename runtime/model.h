// A model: a sequence of layers built from the JSON spec of ../shared/DESIGN.md,
// with every parameter in one flat buffer (and every gradient in another).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/layers/layer.h"
#include "runtime/tensor.h"

namespace rampart {

struct ModelOptions {
  // Group layer runs into fused executors (conv2d relu maxpool2d -> one pass of
  // pool-then-relu over the conv output; see runtime/layers/fused_conv_relu_pool.h).
  // Outputs and gradients are those of the layers one by one; the environment
  // variable RAMPART_NO_FUSION=1 turns it off for any model.
  bool fuse = true;
};

class Model {
 public:
  // spec: a JSON array of layers. input: the logical shape of one example [C, H, W].
  // Throws ConfigError for a spec that is not a list of valid layers, or whose
  // layers do not fit together.
  Model(const nlohmann::json& spec, const Shape& input, const ModelOptions& options = {});

  // PyTorch's default initialisation, seeded.
  void init(uint64_t seed);

  // Forward pass; returns the logits [N, classes]. x: [N, C, H, W] channels-last.
  const Tensor& forward(const Tensor& x, Mode mode);

  // Called with a layer index as soon as that layer's parameter gradients are
  // written during backward (layers are visited from last to first).
  using GradReadyFn = std::function<void(int layer)>;

  // Backward from dlogits = dL/dlogits of the last forward.
  //   input_grad: also compute dL/dx (returned; else an empty tensor is returned).
  //   param_grads: compute parameter gradients into grads(); attacks pass false.
  const Tensor& backward(const Tensor& dlogits, bool input_grad, bool param_grads,
                         const GradReadyFn& on_grad_ready = nullptr);

  const nlohmann::json& spec() const { return spec_; }
  const Shape& input_shape() const { return input_; }
  int num_classes() const { return int(out_features_); }
  int num_layers() const { return int(layers_.size()); }
  Layer& layer(int i) { return *layers_[i]; }

  std::vector<ParamView>& params() { return params_; }
  const std::vector<ParamView>& params() const { return params_; }
  std::vector<BufferView>& buffers() { return buffers_; }
  // The flat buffers: params_[i].value == flat_params() + params_[i].offset.
  float* flat_params() { return flat_params_.data(); }
  const float* flat_params() const { return flat_params_.data(); }
  float* flat_grads() { return flat_grads_.data(); }
  int64_t num_params() const { return flat_params_.size(); }
  // Range [begin, end) of the flat buffers that holds layer i's parameters.
  std::pair<int64_t, int64_t> layer_param_range(int i) const { return layer_ranges_[i]; }
  // Batchnorm running statistics, flattened in order (for broadcast and checkpoints).
  float* flat_buffers() { return flat_buffers_.data(); }
  int64_t num_buffer_values() const { return flat_buffers_.size(); }

  // FLOPs of one forward pass for one example (multiply-add = 2).
  double forward_flops() const { return forward_flops_; }

  // What the fusion pass made of the layers, e.g. "[0-2] fused(conv2d,relu,maxpool2d), [3] ...".
  std::string execution_plan() const;
  bool fused() const { return fused_; }

  // Per-executor timing, for benchmarks: when on, every forward and backward adds
  // its seconds per executor; profile() lists "name: forward s, backward s".
  void set_profiling(bool on) { profiling_ = on; prof_fwd_.assign(steps_.size(), 0); prof_bwd_.assign(steps_.size(), 0); }
  nlohmann::json profile() const;

 private:
  nlohmann::json spec_;
  Shape input_;
  int64_t out_features_ = 0;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<ParamView> params_;
  std::vector<BufferView> buffers_;
  std::vector<std::pair<int64_t, int64_t>> layer_ranges_;
  Tensor flat_params_, flat_grads_, flat_buffers_;
  // The executors the passes run: each covers the layers [first, last] of the
  // spec and is either one of layers_ or a fused executor that owns no parameters
  // (they stay bound to the original layers, so names, offsets and checkpoints
  // do not change).
  struct Step {
    int first, last;
    Layer* exec;
    bool has_params;
  };
  void plan_steps(bool fuse);
  std::vector<Step> steps_;
  std::vector<std::unique_ptr<Layer>> fused_layers_;
  bool fused_ = false;
  bool profiling_ = false;
  std::vector<double> prof_fwd_, prof_bwd_;
  std::vector<Tensor> acts_;   // acts_[i] = output of layer i (of step ending at i)
  std::vector<Tensor> grads_;  // ping-pong buffers for dL/d(activation)
  const Tensor* input_ptr_ = nullptr;
  double forward_flops_ = 0;
};

// Expands a named model ("small-cnn", ...) to its spec; returns the argument
// unchanged when it is already a JSON list. Throws ConfigError for unknown names.
nlohmann::json expand_model(const std::string& name_or_json, const Shape& input);

// The names known to expand_model, for --help and error messages.
std::vector<std::string> model_names();

}  // namespace rampart
