// Early stopping and keep-best (see stop_rules.h).
#include "runtime/attacks/stop_rules.h"

#include <cmath>
#include <cstring>

namespace rampart {

void EarlyStopRule::reset(int tau, int64_t n) {
  tau_ = tau;
  if (on()) stop_in_.assign(n, -1);
}

void EarlyStopRule::apply(const uint8_t* correct, float* dlogits, int64_t n, int64_t k) {
  for (int64_t e = 0; e < n; ++e) {
    if (!correct[e] && stop_in_[e] < 0) stop_in_[e] = tau_;
    if (stop_in_[e] == 0) std::memset(dlogits + e * k, 0, k * sizeof(float));
    else if (stop_in_[e] > 0) --stop_in_[e];
  }
}

void BestIterate::reset(const Shape& shape) {
  best_x_.resize(shape);
  best_loss_.assign(shape[0], -INFINITY);
  best_fooled_.assign(shape[0], 0);
}

// Misclassified beats correctly classified, then the higher loss wins; ties keep the earlier.
void BestIterate::consider(const Tensor& x_cur, const float* loss, const uint8_t* correct) {
  const int64_t n = int64_t(best_loss_.size()), dim = x_cur.size() / n;
  for (int64_t e = 0; e < n; ++e) {
    const uint8_t fooled = !correct[e];
    const bool better = fooled > best_fooled_[e] || (fooled == best_fooled_[e] && loss[e] > best_loss_[e]);
    if (better) {
      best_fooled_[e] = fooled;
      best_loss_[e] = loss[e];
      std::memcpy(best_x_.data() + e * dim, x_cur.data() + e * dim, dim * sizeof(float));
    }
  }
}

int64_t BestIterate::fooled() const {
  int64_t f = 0;
  for (uint8_t b : best_fooled_) f += b;
  return f;
}

}  // namespace rampart
