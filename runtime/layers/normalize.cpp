// normalize on kernels/cpu/eltwise.* (channels are contiguous in memory).
#include "runtime/layers/normalize.h"

#include "kernels/dispatch/ops.h"
#include "runtime/layers/layer_util.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {

Normalize::Normalize(int index, std::vector<float> mean, std::vector<float> std)
    : index_(index), mean_(std::move(mean)), std_(std::move(std)) {}

std::unique_ptr<Layer> Normalize::from_spec(const nlohmann::json& spec, int index) {
  SpecFields f(spec, index, "normalize", {"mean", "std"});
  auto mean = f.numbers("mean");
  auto std = f.numbers("std");
  for (float s : std)
    if (!(s > 0)) f.fail("\"std\" must hold positive numbers, found " + json_brief(spec["std"]));
  if (mean.size() != std.size() && mean.size() != 1 && std.size() != 1)
    f.fail("\"mean\" has " + std::to_string(mean.size()) + " entries but \"std\" has " +
           std::to_string(std.size()) + "; expected one per channel (or a single value)");
  return std::make_unique<Normalize>(index, std::move(mean), std::move(std));
}

nlohmann::json Normalize::spec() const { return {{"type", "normalize"}, {"mean", mean_}, {"std", std_}}; }

Shape Normalize::output_shape(const Shape& in) const {
  if (in.size() != 4 && in.size() != 2)
    layer_error(index_, "normalize", "expected an input [N, C, H, W] or [N, C], found " + shape_str(in));
  for (const auto* v : {&mean_, &std_})
    if (v->size() != 1 && int64_t(v->size()) != in[1])
      layer_error(index_, "normalize",
                  std::string(v == &mean_ ? "\"mean\"" : "\"std\"") + " has " + std::to_string(v->size()) +
                      " entries but the input has " + std::to_string(in[1]) + " channels (input " +
                      shape_str(in) + ")");
  return in;
}

void Normalize::expand(int c, Device d) {
  if (mean_c_.size() == c && mean_c_.device() == d) return;
  Tensor mean({c}), std({c}), inv({c});
  for (int ch = 0; ch < c; ++ch) {
    mean[ch] = mean_.size() == 1 ? mean_[0] : mean_[ch];
    std[ch] = std_.size() == 1 ? std_[0] : std_[ch];
    inv[ch] = 1.0f / std[ch];
  }
  mean_c_ = mean.to(d);
  std_c_ = std.to(d);
  inv_std_c_ = inv.to(d);
}

void Normalize::forward(const Tensor& x, Tensor& y, Mode) {
  if ((x.ndim() != 4 && x.ndim() != 2) || (mean_.size() != 1 && int64_t(mean_.size()) != x.dim(1)) ||
      (std_.size() != 1 && int64_t(std_.size()) != x.dim(1)))
    output_shape(x.shape());  // throws with the reason
  int c = int(x.dim(1));
  expand(c, x.device());
  ensure_shape_like(y, x);
  ops::channel_normalize(x.device(), x.data(), mean_c_.data(), std_c_.data(), y.data(), x.size() / (c ? c : 1), c);
}

void Normalize::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, bool) {
  if (!dx) return;
  int c = int(x.dim(1));
  expand(c, dy.device());
  ensure_shape_like(*dx, x);
  ops::channel_scale(dy.device(), dy.data(), inv_std_c_.data(), dx->data(), x.size() / (c ? c : 1), c);
}

}  // namespace rampart
