// batchnorm2d on ops::batchnorm_* (kernels/cpu/batchnorm.* on the CPU).
// Rows = N*H*W values per channel; channels are contiguous (nhwc).
#include "runtime/layers/batchnorm2d.h"

#include <cmath>

#include "runtime/layers/layer_util.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {


BatchNorm2d::BatchNorm2d(int index, int num_features, double eps, std::optional<double> momentum)
    : index_(index), c_(num_features), eps_(eps), momentum_(momentum),
      stats_({ops::kBatchNormStats, num_features}) {}

std::unique_ptr<Layer> BatchNorm2d::from_spec(const nlohmann::json& spec, int index) {
  SpecFields f(spec, index, "batchnorm2d", {"num_features", "eps", "momentum"});
  int c = f.positive_int("num_features");
  double eps = f.positive_number_or("eps", 1e-5);
  std::optional<double> momentum;
  if (!f.is_null("momentum")) momentum = f.number_in_or("momentum", 0.1, 0.0, 1.0);
  return std::make_unique<BatchNorm2d>(index, c, eps, momentum);
}

nlohmann::json BatchNorm2d::spec() const {
  nlohmann::json j = {{"type", "batchnorm2d"}, {"num_features", c_}, {"eps", eps_}};
  j["momentum"] = momentum_ ? nlohmann::json(*momentum_) : nlohmann::json(nullptr);
  return j;
}

Shape BatchNorm2d::output_shape(const Shape& in) const {
  if (in.size() != 4)
    layer_error(index_, "batchnorm2d", "expected an input [N, C, H, W], found " + shape_str(in));
  if (in[1] != c_)
    layer_error(index_, "batchnorm2d", "num_features is " + std::to_string(c_) + " but the input has " +
                                           std::to_string(in[1]) + " channels (input " + shape_str(in) + ")");
  return in;
}

std::vector<std::pair<std::string, Shape>> BatchNorm2d::param_shapes() const {
  return {{"weight", {c_}}, {"bias", {c_}}};
}

void BatchNorm2d::bind_params(std::vector<ParamView*> params) {
  weight_ = params.at(0);
  bias_ = params.at(1);
}

std::vector<std::pair<std::string, Shape>> BatchNorm2d::buffer_shapes() const {
  // num_batches_tracked is a 0-dimensional tensor in PyTorch's state_dict.
  return {{"running_mean", {c_}}, {"running_var", {c_}}, {"num_batches_tracked", {}}};
}

void BatchNorm2d::bind_buffers(std::vector<BufferView*> buffers) {
  running_mean_ = buffers.at(0);
  running_var_ = buffers.at(1);
  num_batches_ = buffers.at(2);
}

void BatchNorm2d::reset_parameters(Rng&) {
  for (int ch = 0; ch < c_; ++ch) {
    weight_->value[ch] = 1.0f;
    bias_->value[ch] = 0.0f;
    running_mean_->value[ch] = 0.0f;
    running_var_->value[ch] = 1.0f;
  }
  num_batches_->value[0] = 0.0f;
}

void BatchNorm2d::check_input(const Tensor& x) const {
  if (x.ndim() != 4 || x.dim(1) != c_) output_shape(x.shape());  // throws with the reason
}

ops::BatchNormArgs BatchNorm2d::args(int64_t rows) {
  ops::BatchNormArgs a;
  a.rows = rows;
  a.c = c_;
  a.eps = eps_;
  a.momentum = momentum_ ? *momentum_ : -1.0;
  a.gamma = weight_->value;
  a.beta = bias_->value;
  a.running_mean = running_mean_->value;
  a.running_var = running_var_->value;
  a.num_batches = num_batches_->value;
  a.stats = stats_.data();
  return a;
}

void BatchNorm2d::forward(const Tensor& x, Tensor& y, Mode mode) {
  check_input(x);
  const int64_t rows = x.dim(0) * x.dim(2) * x.dim(3);
  ensure_shape_like(y, x);
  last_mode_ = mode;
  if (mode == Mode::kTrain && rows < 2)
    throw DataError("layer " + std::to_string(index_) +
                    " (batchnorm2d): training needs more than one value per channel, found input " +
                    shape_str(x.shape()));
  stats_.set_device(x.device());
  if (stats_.size() != ops::kBatchNormStats * c_) stats_.resize({ops::kBatchNormStats, c_});
  ops::batchnorm_forward(x.device(), args(rows), mode == Mode::kTrain, x.data(), y.data());
}

void BatchNorm2d::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, bool param_grads) {
  const int64_t rows = x.dim(0) * x.dim(2) * x.dim(3);
  if (dx) ensure_shape_like(*dx, x);
  ops::batchnorm_backward(x.device(), args(rows), last_mode_ == Mode::kTrain, x.data(), dy.data(),
                          dx ? dx->data() : nullptr, param_grads ? weight_->grad : nullptr,
                          param_grads ? bias_->grad : nullptr);
}

}  // namespace rampart
