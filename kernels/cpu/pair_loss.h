// Losses of two predictions of each example, the adversarial one (adv) and the clean one
// (clean), on CPU: TRADES (Zhang et al. 2019) and MART (Wang et al. 2020), as their reference
// code computes them. p = softmax(adv), q = softmax(clean), y the label.
//   TRADES:  L_e = ce_weight * CE(clean, y) + beta * KL(q || p)
//            KL(q || p) = sum_j q_j (log q_j - log p_j): the reference's
//            KLDivLoss(log_softmax(adv), softmax(clean)); its attack climbs KL alone
//            (ce_weight 0, beta 1), its training loss is ce_weight 1, beta 6 by default.
//   MART:    L_e = CE(adv, y) - log(1.0001 - p_y' + 1e-12)
//                  + beta * sum_j q_j (log q_j - log(p_j + 1e-12)) * (1.0000001 - q_y)
//            y' = argmax_{j != y} p_j (the strongest wrong class; ties to the lowest index),
//            held fixed in the gradient as the reference's argsort is.
// Gradients flow into both predictions (the training loss) or into adv alone (dclean null).
// Sums and exponentials in double; per-example correctness is argmax(adv) == y.
#pragma once
#include <cstdint>

#include "kernels/common/pair_loss_params.h"
#include "kernels/cpu/softmax_xent.h"

namespace rampart::kernels {

// adv, clean: [n, k] row-major; labels [n] in [0, k). Optional outputs (nullptr: not wanted):
// dadv, dclean [n, k] = grad_scale * dL/d(adv), dL/d(clean); per_loss [n]; correct [n].
XentTotals pair_loss_cpu(const PairLossParams& p, const float* adv, const float* clean, const int32_t* labels,
                         int64_t n, int64_t k, float grad_scale, float* dadv, float* dclean, float* per_loss,
                         uint8_t* correct);

}  // namespace rampart::kernels
