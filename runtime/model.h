// A model: a graph of named modules built from the JSON spec of docs/model-spec.md
// (sequential containers, residual blocks, leaf layers), run as its leaf layers
// in forward (topological) order, with every parameter in one flat buffer (and
// every gradient in another): one contiguous range per leaf, in forward order.
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
  // spec: a JSON list of modules (docs/model-spec.md). input: the logical shape of one
  // example [C, H, W]. Throws ConfigError for a spec that is not a list of valid
  // modules, or whose layers do not fit together (a residual block's two branches
  // must give the same shape).
  Model(const nlohmann::json& spec, const Shape& input, const ModelOptions& options = {});

  // PyTorch's default initialisation, seeded.
  void init(uint64_t seed);

  // Forward pass; returns the logits [N, classes]. x: [N, C, H, W] channels-last.
  const Tensor& forward(const Tensor& x, Mode mode);

  // Called with a leaf layer's index as soon as that layer's parameter gradients are
  // written during backward (leaves are visited from last to first: reverse
  // topological order, so the indices only decrease).
  using GradReadyFn = std::function<void(int layer)>;

  // Backward from dlogits = dL/dlogits of the last forward.
  //   input_grad: also compute dL/dx (returned; else an empty tensor is returned).
  //   param_grads: compute parameter gradients into work_grads(); attacks pass false.
  //   accumulate: add them to what work_grads() holds (a step with more than one
  //     forward, e.g. a clean and an adversarial loss) instead of overwriting it;
  //     on_grad_ready fires once a leaf's sum is final.
  const Tensor& backward(const Tensor& dlogits, bool input_grad, bool param_grads,
                         const GradReadyFn& on_grad_ready = nullptr, bool accumulate = false);

  // The arithmetic of the passes from now on (kernels/common/precision.h): BF16 for an
  // attack's passes, FP32 for everything else. Throws ConfigError where the device cannot
  // run p (ops::precision_gap). Use PassPrecision to set it for a scope.
  void set_pass_precision(Precision p);
  Precision pass_precision() const { return precision_; }

  // ---- Device ---------------------------------------------------------------------
  // Moves the working copy of the parameters, gradients, buffers and activations to
  // d; forward() then takes batches on d. The host keeps params()/buffers() (and
  // flat_params()...) as the copy checkpoints read: pull_state() and push_state()
  // copy the state across. Throws ConfigError naming every leaf that cannot run on d
  // (Layer::gap) before anything moves. Fusion (a CPU executor) is off elsewhere.
  void to(Device d);
  Device device() const { return device_; }
  // The buffers the passes and the optimizer use, on device(): flat_*() on the CPU.
  float* work_params() { return device_ == Device::kCpu ? flat_params_.data() : dev_params_.data(); }
  float* work_grads() { return device_ == Device::kCpu ? flat_grads_.data() : dev_grads_.data(); }
  float* work_buffers() { return device_ == Device::kCpu ? flat_buffers_.data() : dev_buffers_.data(); }
  // Device -> host copy of the parameters and buffers (before a checkpoint), and
  // host -> device (after the host copy changed); no-ops on the CPU.
  void pull_state();
  void push_state();

  const nlohmann::json& spec() const { return spec_; }
  const Shape& input_shape() const { return input_; }
  int num_classes() const { return int(out_features_); }
  // The leaf layers, in forward order (for a flat list spec: the list's layers).
  int num_layers() const { return int(layers_.size()); }
  Layer& layer(int i) { return *layers_[i]; }
  // Leaf i's module path, PyTorch's: "3", "layer1.0.conv1"; its parameters are
  // "<path>.weight", ...
  const std::string& layer_name(int i) const { return layer_names_[i]; }
  // True when the spec is a flat list of unnamed leaf layers (the form before
  // module graphs): leaf i is spec()[i] and feeds leaf i + 1.
  bool is_plain_list() const { return plain_; }

  std::vector<ParamView>& params() { return params_; }
  const std::vector<ParamView>& params() const { return params_; }
  std::vector<BufferView>& buffers() { return buffers_; }
  // The flat buffers: params_[i].value == flat_params() + params_[i].offset.
  float* flat_params() { return flat_params_.data(); }
  const float* flat_params() const { return flat_params_.data(); }
  float* flat_grads() { return flat_grads_.data(); }
  int64_t num_params() const { return flat_params_.size(); }
  // Range [begin, end) of the flat buffers that holds leaf layer i's parameters.
  std::pair<int64_t, int64_t> layer_param_range(int i) const { return layer_ranges_[i]; }
  // Batchnorm running statistics, flattened in order (for broadcast and checkpoints).
  float* flat_buffers() { return flat_buffers_.data(); }
  int64_t num_buffer_values() const { return flat_buffers_.size(); }

  // FLOPs of one forward pass for one example (multiply-add = 2).
  double forward_flops() const { return forward_flops_; }

  // What the fusion pass made of the leaves, e.g. "[0-2] fused(conv2d,relu,maxpool2d), [3] ...";
  // a residual block's join reads "add(layer1.0)".
  std::string execution_plan() const;
  bool fused() const { return fused_; }

  // Per-executor timing, for benchmarks: when on, every forward and backward adds
  // its seconds per executor; profile() lists "name: forward s, backward s".
  void set_profiling(bool on) {
    profiling_ = on;
    prof_fwd_.assign(steps_.size(), 0);
    prof_bwd_.assign(steps_.size(), 0);
  }
  nlohmann::json profile() const;

 private:
  nlohmann::json spec_;
  Shape input_;
  int64_t out_features_ = 0;
  std::vector<std::unique_ptr<Layer>> layers_;  // the leaves, forward order
  std::vector<std::string> layer_names_;
  std::vector<std::pair<size_t, size_t>> layer_views_;  // per leaf: its [begin, end) of params_
  std::vector<std::pair<size_t, size_t>> layer_buffer_views_;  // per leaf: its [begin, end) of buffers_
  bool plain_ = true;
  std::vector<ParamView> params_;
  std::vector<BufferView> buffers_;
  std::vector<std::pair<int64_t, int64_t>> layer_ranges_;
  Tensor flat_params_, flat_grads_, flat_buffers_;
  // Off the CPU: the working copies, and views into them that the layers are bound to.
  Device device_ = Device::kCpu;
  Tensor dev_params_, dev_grads_, dev_buffers_;
  std::vector<ParamView> dev_param_views_;
  std::vector<BufferView> dev_buffer_views_;
  Tensor accum_;  // backward(accumulate): the gradients before this backward
  bool fuse_ = true;
  Precision precision_ = Precision::kFp32;
  void bind_layers(std::vector<ParamView>& params, std::vector<BufferView>& buffers);
  // The program the passes run, over numbered values (0: the input). A leaf
  // step covers the leaves [first, last] and runs one of layers_ or a fused
  // executor that owns no parameters (they stay bound to the original layers,
  // so names, offsets and checkpoints do not change); an add step (exec null)
  // joins a residual block's branches: out = in + in2.
  struct Step {
    int first = 0, last = -1;
    Layer* exec = nullptr;
    bool has_params = false;
    int in = 0, in2 = -1, out = 0;
    std::string block;  // an add: the residual block's path
  };
  void plan_steps(bool fuse, const std::vector<Step>& program);  // program: one step per leaf or add
  std::vector<Step> steps_;
  std::vector<Step> program_;  // one step per leaf or add, before fusion
  std::vector<std::unique_ptr<Layer>> fused_layers_;
  bool fused_ = false;
  bool profiling_ = false;
  std::vector<double> prof_fwd_, prof_bwd_;
  // Per value: the forward output (vals_[0] unused: the input is input_ptr_),
  // the gradient buffer, and in backward the gradient itself, which may be
  // another value's (an add passes its gradient on to both branches unchanged).
  int output_ = 0;
  std::vector<Tensor> vals_, vgrads_;
  std::vector<const Tensor*> gptr_;
  std::vector<char> param_upstream_;  // per value: a layer with parameters lies between the input and it
  Tensor scratch_;                    // a leaf's input gradient when its input already has one
  const Tensor* input_ptr_ = nullptr;
  const Tensor& value(int v) const { return v == 0 ? *input_ptr_ : vals_[v]; }
  void add_grad(int v, const Tensor& g);
  double forward_flops_ = 0;
};

// Expands a named model ("small-cnn", "preact-resnet18", "wrn-28-10", ...) for images of
// shape `input` ([C, H, W]) and `classes` outputs (the dataset's `classes`); returns the
// argument unchanged when it is already a JSON list (of modules: docs/model-spec.md), whose
// last layer fixes its outputs. Throws ConfigError for unknown names.
nlohmann::json expand_model(const std::string& name_or_json, const Shape& input, int classes = 10);

// The names known to expand_model, for --help and error messages.
std::vector<std::string> model_names();

// Sets a model's pass precision for a scope (an attack's passes) and restores it after.
class PassPrecision {
 public:
  PassPrecision(Model& m, Precision p) : m_(m), before_(m.pass_precision()) { m_.set_pass_precision(p); }
  ~PassPrecision() {
    try {
      m_.set_pass_precision(before_);
    } catch (...) {  // restoring a precision that ran before cannot fail
    }
  }
  PassPrecision(const PassPrecision&) = delete;
  PassPrecision& operator=(const PassPrecision&) = delete;

 private:
  Model& m_;
  Precision before_;
};

}  // namespace rampart
