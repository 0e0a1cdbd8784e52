// Fused softmax cross-entropy on GPU: per-example loss, the gradient of the logits
// and per-example correctness in one pass over [n, k] logits, one warp per row.
// CPU twin: kernels/cpu/softmax_xent.h (same conventions: exp and sums in double,
// argmax ties go to the lowest index as torch.argmax does).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rampart::cuda {

// Batch totals, written to device memory so that nothing waits for the host;
// copy them back when (and if) they are needed.
struct XentTotals {
  double loss_sum;    // sum of the per-example losses
  float mean_loss;    // loss_sum / n (0 for n == 0)
  int32_t pad_;
  long long correct;  // examples whose argmax equals the label
};

// logits: [n, k] row-major; labels: [n] in [0, k) (device memory).
// per_loss: [n] = logsumexp(z) - z[label]; correct: [n] 1 where argmax == label.
// dlogits (optional, may be null): [n, k] = (softmax(z) - onehot(label)) * grad_scale;
//   grad_scale is 1/n for the mean loss.
// totals (optional): the sums of per_loss and correct, by a second, single-block
//   kernel that adds in a fixed order, so the result is the same on every run.
// A label outside [0, k) cannot be reported from the kernel: its loss is NaN and it
// counts as wrong, which the caller's loss check then shows.
void softmax_xent(const float* logits, const int32_t* labels, int64_t n, int k, float grad_scale,
                  float* dlogits, float* per_loss, uint8_t* correct, XentTotals* totals,
                  cudaStream_t stream);

}  // namespace rampart::cuda
