// SGD with momentum and weight decay, PyTorch's semantics (not Nesterov, no dampening):
//   g = grad + weight_decay * w;  buf = momentum * buf + g;  w -= lr * buf
// on the model's flat buffers in one pass (ops::sgd_momentum), on the device the
// optimizer was moved to. The host copy of the momentum is what checkpoints read.
#pragma once
#include <cstdint>

#include "runtime/tensor.h"

namespace rampart {

struct SgdConfig {
  double momentum = 0.9;
  double weight_decay = 5e-4;
};

class Sgd {
 public:
  Sgd(SgdConfig cfg, int64_t num_params);
  // params and grads on the optimizer's device (Model::work_params(), work_grads()).
  void step(float* params, const float* grads, double lr);
  // Moves the momentum to device d (the host keeps a copy; see pull_state/push_state).
  void to(Device d);
  Device device() const { return buf_.device(); }
  // The momentum buffer on the host, flat, aligned with the model's flat parameters
  // (current after pull_state() when the optimizer is on a GPU).
  float* momentum();
  const float* momentum() const;
  // Device -> host copy of the momentum, and host -> device (no-ops on the CPU).
  void pull_state();
  void push_state();
  float* device_momentum() { return buf_.data(); }
  int64_t size() const { return buf_.size(); }
  const SgdConfig& config() const { return cfg_; }

 private:
  SgdConfig cfg_;
  Tensor buf_;   // on the optimizer's device
  Tensor host_;  // empty on the CPU (buf_ is the host copy)
};

}  // namespace rampart
