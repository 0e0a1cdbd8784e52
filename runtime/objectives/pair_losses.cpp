// TRADES and MART (see pair_losses.h): the kernels of kernels/dispatch on the input's device.
#include "runtime/objectives/pair_losses.h"

#include "kernels/dispatch/ops.h"

namespace rampart {

ObjectiveTotals PairLoss::compute(const LossInput& in, const LossOutput& out) const {
  const ops::XentTotals t = ops::pair_loss(in.device, p_, in.logits, in.reference, in.labels, in.n, in.k,
                                           out.grad_scale, out.dlogits, out.dreference, out.per_loss, out.correct);
  return {t.loss_sum, t.correct};
}

}  // namespace rampart
