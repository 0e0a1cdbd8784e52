// Early stopping and keep-best (see stop_rules.h).
#include "runtime/attacks/stop_rules.h"

#include <cmath>
#include <cstring>

#include "kernels/dispatch/ops.h"

namespace rampart {

void EarlyStopRule::reset(int tau, int64_t n) {
  tau_ = tau;
  if (on()) stop_in_.assign(n, -1);
}

void EarlyStopRule::apply(Device d, const uint8_t* correct, float* dlogits, int64_t n, int64_t k) {
  if (d != Device::kCpu) {  // the rule on the host, the zeroing where the gradient is
    correct_host_.resize(n);
    moving_.resize(n);
    kernels::copy_bytes(Device::kCpu, correct_host_.data(), d, correct, size_t(n));
    correct = correct_host_.data();
  }
  for (int64_t e = 0; e < n; ++e) {
    if (!correct[e] && stop_in_[e] < 0) stop_in_[e] = tau_;
    const bool stopped = stop_in_[e] == 0;
    if (stop_in_[e] > 0) --stop_in_[e];
    if (d == Device::kCpu) {
      if (stopped) std::memset(dlogits + e * k, 0, k * sizeof(float));
    } else {
      moving_[e] = !stopped;
    }
  }
  if (d == Device::kCpu) return;
  moving_dev_.set_device(d);
  moving_dev_.resize(n);
  kernels::copy_bytes(d, moving_dev_.data(), Device::kCpu, moving_.data(), size_t(n));
  ops::zero_masked_rows(d, dlogits, moving_dev_.data(), n, k);
}

void BestIterate::reset(const Shape& shape, Device d) {
  best_x_.set_device(d);
  best_x_.resize(shape);
  const int64_t n = shape[0];
  Tensor loss({n});
  loss.fill(-INFINITY);
  best_loss_ = loss.to(d);
  best_fooled_.set_device(d);
  best_fooled_.resize(n);
  best_fooled_.zero();
}

// Misclassified beats correctly classified, then the higher loss wins; ties keep the earlier.
void BestIterate::consider(const Tensor& x_cur, const float* loss, const uint8_t* correct) {
  const int64_t n = best_loss_.size(), dim = x_cur.size() / n;
  ops::keep_best(x_cur.device(), x_cur.data(), loss, correct, n, dim, best_x_.data(), best_loss_.data(),
                 best_fooled_.data());
}

int64_t BestIterate::fooled() const {
  std::vector<uint8_t> host(size_t(best_fooled_.size()));
  kernels::copy_bytes(Device::kCpu, host.data(), best_fooled_.device(), best_fooled_.data(), host.size());
  int64_t f = 0;
  for (uint8_t b : host) f += b;
  return f;
}

}  // namespace rampart
