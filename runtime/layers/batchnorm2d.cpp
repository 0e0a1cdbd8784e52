// batchnorm2d on kernels/cpu/batchnorm.* and eltwise.*.
// Rows = N*H*W values per channel; channels are contiguous (nhwc).
#include "runtime/layers/batchnorm2d.h"

#include <cmath>

#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/eltwise.h"
#include "runtime/layers/layer_util.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {

namespace cpu = kernels::cpu;

BatchNorm2d::BatchNorm2d(int index, int num_features, double eps, std::optional<double> momentum)
    : index_(index), c_(num_features), eps_(eps), momentum_(momentum),
      mean_(c_), var_(c_), invstd_(c_), scale_(c_), shift_(c_), sum_dy_(c_), sum_dy_xhat_(c_) {}

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

void BatchNorm2d::forward(const Tensor& x, Tensor& y, Mode mode) {
  check_input(x);
  const int64_t rows = x.dim(0) * x.dim(2) * x.dim(3);
  ensure_shape_like(y, x);
  last_mode_ = mode;
  const float* gamma = weight_->value;
  const float* beta = bias_->value;
  if (mode == Mode::kTrain) {
    if (rows < 2)
      throw DataError("layer " + std::to_string(index_) +
                      " (batchnorm2d): training needs more than one value per channel, found input " +
                      shape_str(x.shape()));
    cpu::bn_mean_var(x.data(), rows, c_, mean_.data(), var_.data());
    // PyTorch: running stats move by momentum (or 1/count for momentum None),
    // and the running variance is the unbiased one.
    float count = num_batches_->value[0] + 1.0f;
    num_batches_->value[0] = count;
    double m = momentum_ ? *momentum_ : 1.0 / double(count);
    double unbias = double(rows) / double(rows - 1);
    for (int ch = 0; ch < c_; ++ch) {
      running_mean_->value[ch] = float((1 - m) * running_mean_->value[ch] + m * mean_[ch]);
      running_var_->value[ch] = float((1 - m) * running_var_->value[ch] + m * var_[ch] * unbias);
    }
  } else {
    for (int ch = 0; ch < c_; ++ch) {
      mean_[ch] = running_mean_->value[ch];
      var_[ch] = running_var_->value[ch];
    }
  }
  for (int ch = 0; ch < c_; ++ch) {
    invstd_[ch] = float(1.0 / std::sqrt(double(var_[ch]) + eps_));
    scale_[ch] = gamma[ch] * invstd_[ch];
    shift_[ch] = beta[ch] - mean_[ch] * scale_[ch];
  }
  cpu::channel_scale_shift(x.data(), scale_.data(), shift_.data(), y.data(), rows, c_);
}

void BatchNorm2d::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, bool param_grads) {
  const int64_t rows = x.dim(0) * x.dim(2) * x.dim(3);
  // mean_ and invstd_ hold the statistics of the last forward (batch or running).
  bool need_sums = param_grads || (dx && last_mode_ == Mode::kTrain);
  if (need_sums)
    cpu::bn_backward_sums(x.data(), dy.data(), mean_.data(), invstd_.data(), rows, c_, sum_dy_.data(),
                          sum_dy_xhat_.data());
  if (param_grads) {
    for (int ch = 0; ch < c_; ++ch) {
      weight_->grad[ch] = sum_dy_xhat_[ch];
      bias_->grad[ch] = sum_dy_[ch];
    }
  }
  if (!dx) return;
  ensure_shape_like(*dx, x);
  if (last_mode_ == Mode::kTrain) {
    cpu::bn_backward_train_dx(x.data(), dy.data(), mean_.data(), invstd_.data(), weight_->value, sum_dy_.data(),
                              sum_dy_xhat_.data(), rows, c_, dx->data());
  } else {
    // Running statistics are constants: dx = dy * gamma * invstd.
    cpu::channel_scale_shift(dy.data(), scale_.data(), nullptr, dx->data(), rows, c_);
  }
}

}  // namespace rampart
