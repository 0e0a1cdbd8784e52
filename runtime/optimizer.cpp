// SGD with momentum (see optimizer.h).
#include "runtime/optimizer.h"

namespace rampart {

Sgd::Sgd(SgdConfig cfg, int64_t num_params) : cfg_(cfg), buf_({num_params}) { buf_.zero(); }

void Sgd::step(float* __restrict w, const float* __restrict g, double lr) {
  // PyTorch starts the buffer as a copy of the first gradient; starting from
  // zero gives the same value (momentum * 0 + g).
  const float mu = float(cfg_.momentum), wd = float(cfg_.weight_decay), a = float(lr);
  float* __restrict b = buf_.data();
  const int64_t n = buf_.size();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i] + wd * w[i];
    b[i] = mu * b[i] + gi;
    w[i] -= a * b[i];
  }
}

}  // namespace rampart
