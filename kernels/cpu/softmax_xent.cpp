// Fused softmax cross-entropy (see softmax_xent.h).
#include "kernels/cpu/softmax_xent.h"

#include <cmath>

namespace rampart::kernels {

XentTotals softmax_xent_cpu(const float* logits, const int32_t* labels, int64_t n, int64_t k,
                            float grad_scale, float* dlogits, float* per_loss, uint8_t* correct) {
  double loss_sum = 0;
  int64_t n_correct = 0;
  // n * k is tiny (128 x 10): one thread is faster than waking a team.
  for (int64_t e = 0; e < n; ++e) {
    const float* z = logits + e * k;
    int64_t arg = 0;
    float mx = z[0];
    for (int64_t j = 1; j < k; ++j)
      if (z[j] > mx) { mx = z[j]; arg = j; }
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(double(z[j]) - mx);
    double lse = mx + std::log(sum);
    int32_t y = labels[e];
    double l = lse - z[y];
    loss_sum += l;
    bool ok = arg == y;
    n_correct += ok;
    if (per_loss) per_loss[e] = float(l);
    if (correct) correct[e] = ok;
    if (dlogits) {
      float* d = dlogits + e * k;
      for (int64_t j = 0; j < k; ++j) {
        double p = std::exp(double(z[j]) - lse);
        d[j] = float((p - (j == y ? 1.0 : 0.0)) * grad_scale);
      }
    }
  }
  return {loss_sum, n_correct};
}

}  // namespace rampart::kernels
