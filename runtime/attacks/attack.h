// The attack engine: input-space attacks on a model, composed from parts (attack_config.h):
// a start, a norm's step rule and projection (threat_ball.h), an objective
// (runtime/objectives/objective.h) and stopping rules (stop_rules.h). The names (L-inf PGD,
// FGSM, FGSM-RS, L2 PGD) and their recipes are in attack_registry.h, which says how many
// files a new attack or a new loss touches.
// Attacks run with batchnorm in eval mode and compute input gradients only.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/attacks/attack_config.h"
#include "runtime/attacks/attack_registry.h"
#include "runtime/attacks/attack_types.h"
#include "runtime/attacks/stop_rules.h"
#include "runtime/model.h"
#include "runtime/objectives/objective.h"
#include "runtime/tensor.h"

namespace rampart {

struct AttackStats {
  int passes = 0;                 // forward + input-gradient passes run
  std::vector<double> step_loss;  // mean loss at each iterate x_0 .. x_{K-1} (before each step)
  int64_t fooled = 0;             // examples misclassified at the returned x_adv (keep_best only)
};

class Attacker {
 public:
  // x: [N, C, H, W] in [0, 1]; labels: [N]; writes x_adv (same shape). All on the
  // model's device (Model::to); carried's pointers too.
  // The model's parameter gradients are left untouched.
  // carried (optional): where the first restart starts for the examples that have one.
  // Restart r draws its random start under key with sub = key.sub * 1000003 + r.
  AttackStats run(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                  const RandomKey& key, Tensor& x_adv, const CarriedStart* carried = nullptr);

 private:
  void start(const Tensor& x, const AttackConfig& cfg, const RandomKey& key, const CarriedStart* carried);
  void one_restart(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                   AttackStats& st);
  // The objective at the iterate x_cur_ (loss_, correct_, and dlogits_ when with_grad).
  ObjectiveTotals score(const Tensor& logits, const int32_t* labels, bool with_grad);
  const Objective& objective(const std::string& name);

  std::unique_ptr<Objective> objective_;
  Tensor x_cur_, dlogits_, reference_;
  bool has_reference_ = false;
  Tensor loss_;             // [N] per-example loss at the iterate, on the model's device
  Buffer<uint8_t> correct_;  // [N]
  EarlyStopRule early_;
  BestIterate best_;
};

}  // namespace rampart
