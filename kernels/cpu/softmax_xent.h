// Fused softmax cross-entropy on CPU: loss, gradient of the logits and
// per-example correctness in one pass over [n, k] logits.
#pragma once
#include <cstdint>

namespace rampart::kernels {

struct XentTotals {
  double loss_sum = 0;   // sum over the n examples of -log softmax(logits)[label]
  int64_t correct = 0;   // examples whose argmax equals the label
};

// logits: [n, k] row-major; labels: [n] in [0, k).
// dlogits (optional): (softmax - onehot) * grad_scale, [n, k].
// per_loss (optional): [n] per-example loss; correct (optional): [n] 1 where argmax == label.
// Ties in argmax go to the lowest index, as torch.argmax does.
XentTotals softmax_xent_cpu(const float* logits, const int32_t* labels, int64_t n, int64_t k,
                            float grad_scale, float* dlogits, float* per_loss, uint8_t* correct);

}  // namespace rampart::kernels
