// SGD with momentum (see optimizer.h): the update is ops::sgd_momentum on the
// device of the momentum buffer.
#include "runtime/optimizer.h"

#include "kernels/dispatch/ops.h"

namespace rampart {

Sgd::Sgd(SgdConfig cfg, int64_t num_params) : cfg_(cfg), buf_({num_params}) { buf_.zero(); }

void Sgd::step(float* w, const float* g, double lr) {
  ops::sgd_momentum(buf_.device(), w, g, buf_.data(), buf_.size(), float(lr), float(cfg_.momentum),
                    float(cfg_.weight_decay));
}

void Sgd::to(Device d) {
  if (d == buf_.device()) return;
  pull_state();
  Tensor host = host_.empty() ? std::move(buf_) : std::move(host_);  // current values, on the host
  buf_ = host.to(d);
  host_ = d == Device::kCpu ? Tensor() : std::move(host);  // the copy checkpoints read
}

float* Sgd::momentum() { return host_.empty() ? buf_.data() : host_.data(); }
const float* Sgd::momentum() const { return host_.empty() ? buf_.data() : host_.data(); }

void Sgd::pull_state() {
  if (!host_.empty()) host_.copy_from(buf_);
}

void Sgd::push_state() {
  if (!host_.empty()) buf_.copy_from(host_);
}

}  // namespace rampart
