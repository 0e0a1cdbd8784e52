// The checks every loss shares (see objective.h).
#include "runtime/objectives/objective.h"

#include <stdexcept>

namespace rampart {

ObjectiveTotals Objective::evaluate(const LossInput& in, const LossOutput& out) const {
  if (in.n < 0 || in.k < 1)
    throw std::invalid_argument("objective " + name() + ": expected n >= 0 examples of k >= 1 logits, found n " +
                                std::to_string(in.n) + ", k " + std::to_string(in.k));
  if (in.n > 0 && (!in.logits || !in.labels))
    throw std::invalid_argument("objective " + name() + ": logits and labels are required");
  if (needs_reference() && in.n > 0 && !in.reference)
    throw std::invalid_argument("objective " + name() + ": needs the clean input's logits (LossInput::reference)");
  return compute(in, out);
}

}  // namespace rampart
