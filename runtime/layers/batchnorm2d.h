// batchnorm2d: PyTorch's nn.BatchNorm2d (affine, tracking running statistics)
// on channels-last activations. x, y: [N, C, H, W] (memory nhwc).
// Params weight, bias: [C]; buffers running_mean, running_var: [C],
// num_batches_tracked: [] (a count stored as float).
// Train mode normalises with the batch statistics and updates the running ones;
// eval mode (evaluation, attacks) uses the running statistics. backward follows
// the mode of the last forward.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "runtime/layers/layer.h"

namespace rampart {

class BatchNorm2d : public Layer {
 public:
  // momentum: none means a cumulative average (PyTorch's momentum=None).
  BatchNorm2d(int index, int num_features, double eps, std::optional<double> momentum);
  static std::unique_ptr<Layer> from_spec(const nlohmann::json& spec, int index);

  std::string type() const override { return "batchnorm2d"; }
  nlohmann::json spec() const override;
  Shape output_shape(const Shape& in) const override;
  std::vector<std::pair<std::string, Shape>> param_shapes() const override;
  void bind_params(std::vector<ParamView*> params) override;
  std::vector<std::pair<std::string, Shape>> buffer_shapes() const override;
  void bind_buffers(std::vector<BufferView*> buffers) override;
  void reset_parameters(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool param_grads) override;

 private:
  void check_input(const Tensor& x) const;
  int index_, c_;
  double eps_;
  std::optional<double> momentum_;
  ParamView *weight_ = nullptr, *bias_ = nullptr;
  BufferView *running_mean_ = nullptr, *running_var_ = nullptr, *num_batches_ = nullptr;
  Mode last_mode_ = Mode::kEval;
  // Per-channel scratch, [C] each: the statistics used by the last forward
  // (batch or running), and the folded scale/shift.
  // The statistics of the last forward (batch or running), on its device, for backward.
  Tensor stats_;  // ops::kBatchNormStats x c
  ops::BatchNormArgs args(int64_t rows);
};

}  // namespace rampart
