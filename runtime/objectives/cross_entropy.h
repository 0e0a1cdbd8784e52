// Softmax cross-entropy, L = sum_e -log softmax(logits_e)[label_e]: the loss of standard
// (Madry) adversarial training, its PGD attack, and the evaluation's clean loss.
#pragma once
#include "runtime/objectives/objective.h"

namespace rampart {

class CrossEntropy final : public Objective {
 public:
  std::string name() const override { return "ce"; }

 private:
  // The fused CPU kernel (kernels/cpu/softmax_xent.h): one pass, double accumulation.
  ObjectiveTotals compute(const LossInput& in, const LossOutput& out) const override;
};

}  // namespace rampart
