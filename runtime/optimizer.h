// SGD with momentum and weight decay, PyTorch's semantics (not Nesterov, no dampening):
//   g = grad + weight_decay * w;  buf = momentum * buf + g;  w -= lr * buf
// on the model's flat buffers in one vectorised pass.
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
  void step(float* params, const float* grads, double lr);
  // The momentum buffer, flat, aligned with the model's flat parameters.
  float* momentum() { return buf_.data(); }
  const float* momentum() const { return buf_.data(); }
  int64_t size() const { return buf_.size(); }
  const SgdConfig& config() const { return cfg_; }

 private:
  SgdConfig cfg_;
  Tensor buf_;
};

}  // namespace rampart
