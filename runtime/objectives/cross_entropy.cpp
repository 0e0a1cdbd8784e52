// Softmax cross-entropy (see cross_entropy.h).
#include "runtime/objectives/cross_entropy.h"

#include "kernels/dispatch/ops.h"

namespace rampart {

ObjectiveTotals CrossEntropy::compute(const LossInput& in, const LossOutput& out) const {
  const ops::XentTotals t = ops::softmax_xent(in.device, in.logits, in.labels, in.n, in.k, out.grad_scale,
                                              out.dlogits, out.per_loss, out.correct);
  return {t.loss_sum, t.correct};
}

}  // namespace rampart
