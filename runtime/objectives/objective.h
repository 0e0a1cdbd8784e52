// The loss that training, attacks and evaluation share: a function of a batch's logits,
// its labels and, for losses that compare two predictions, the logits of the clean input.
//
// Adding a loss (cross_entropy.h; pair_losses.h: TRADES and MART) touches 3 files:
//   runtime/objectives/<name>.h, runtime/objectives/<name>.cpp   the class (compute())
//   runtime/objectives/objective_registry.cpp                    one line: name -> class
// and a test (tests/runtime/test_objectives.cpp: values and gradients against finite
// differences). Attacks and the Evaluator take it by name (AttackConfig::objective); a loss
// with needs_reference() gets the clean input's logits from the attack engine, which
// computes them once per attack (runtime/attacks/attack.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/common/device.h"

namespace rampart {

struct ObjectiveTotals {
  double loss_sum = 0;  // the summed loss L over the n examples
  int64_t correct = 0;  // examples whose argmax equals the label
};

// logits: [n, k] row-major; labels: [n] in [0, k).
// reference: [n, k] logits of the clean input, read only by losses with needs_reference()
// (TRADES' KL(p_clean || p_adv) has p_clean = softmax(reference)); nullptr otherwise.
struct LossInput {
  const float* logits = nullptr;
  const int32_t* labels = nullptr;
  int64_t n = 0, k = 0;
  const float* reference = nullptr;
  Device device = Device::kCpu;  // where every pointer here and in LossOutput lives
};

// Every output is optional (nullptr: not wanted).
struct LossOutput {
  float grad_scale = 1;          // the gradients below are grad_scale * dL/d(...)
  float* dlogits = nullptr;      // [n, k]
  float* dreference = nullptr;   // [n, k]; written only by losses with needs_reference()
  float* per_loss = nullptr;     // [n]: each example's term of L
  uint8_t* correct = nullptr;    // [n]: 1 where argmax(logits) == label; ties to the lowest index
};

class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string name() const = 0;
  // True for losses of two predictions (TRADES, MART's KL term): LossInput::reference is required.
  virtual bool needs_reference() const { return false; }
  // Checks the input (std::invalid_argument for a missing pointer or reference), then computes.
  ObjectiveTotals evaluate(const LossInput& in, const LossOutput& out) const;

 private:
  virtual ObjectiveTotals compute(const LossInput& in, const LossOutput& out) const = 0;
};

// A loss's parameters: TRADES' and MART's beta (the weight of the KL term; 6 in both
// papers' CIFAR-10 settings). Losses without parameters ignore them.
struct ObjectiveParams {
  double beta = 6.0;
};

// The loss called `name` ("ce", "trades", "trades-kl", "mart"); ConfigError listing the
// known names otherwise, or for a beta outside [0, 1e6].
std::unique_ptr<Objective> make_objective(const std::string& name, const ObjectiveParams& params = {});
// The known names, in the registry's order.
std::vector<std::string> objective_names();

}  // namespace rampart
