// The losses of two predictions, the attacked input's (logits) and the clean input's
// (reference), as TRADES' and MART's reference code computes them (the formulas:
// kernels/cpu/pair_loss.h):
//   "trades"     CE(clean, y) + beta * KL(p_clean || p_adv)   TRADES' training loss
//   "trades-kl"  KL(p_clean || p_adv)                         TRADES' attack
//   "mart"       MART's boosted CE on adv + beta * KL * (1 - p_clean[y])   MART's training loss
// (MART's attack climbs plain cross-entropy: "ce".)
#pragma once
#include "kernels/common/pair_loss_params.h"
#include "runtime/objectives/objective.h"

namespace rampart {

class PairLoss final : public Objective {
 public:
  PairLoss(std::string name, kernels::PairLossParams p) : name_(std::move(name)), p_(p) {}
  std::string name() const override { return name_; }
  bool needs_reference() const override { return true; }

 private:
  ObjectiveTotals compute(const LossInput& in, const LossOutput& out) const override;
  std::string name_;
  kernels::PairLossParams p_;
};

}  // namespace rampart
