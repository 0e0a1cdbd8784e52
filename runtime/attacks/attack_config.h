// An attack's recipe, as plain values (what the scheduler changes, metrics record and the
// registry in attack_registry.h builds from a name). The engine (attack.h) composes it from
// parts:
//   start       random_start: a random point of the ball of `norm`, else the clean input;
//               carried offsets (CarriedStart) on the first restart where the caller has them
//   step rule   and projection: those of `norm` (threat_ball.h)
//   objective   the loss climbed, by name (runtime/objectives/objective.h)
//   stopping    `steps` per restart, `restarts`, early_stop_tau, keep_best (stop_rules.h)
#pragma once
#include <string>

#include "kernels/common/precision.h"
#include "runtime/attacks/attack_types.h"

namespace rampart {

// How the attack searches: the PGD engine (attack.h), or one of AutoAttack's per-example
// searches (search_attacks.h).
enum class Method { kPgd, kApgd, kFab, kSquare };

struct AttackConfig {
  std::string name = "pgd";  // the registry's name, for reports: "pgd", "fgsm", "apgd-ce", ...
  Method method = Method::kPgd;
  Norm norm = Norm::kLinf;
  float eps = 0.1f;
  float alpha = 0.025f;      // step size
  int steps = 7;
  int restarts = 1;
  bool random_start = true;
  // The random start's radius: -1 is eps (Madry); TRADES' and MART's code start close to
  // the clean point (x + 0.001 N(0, 1)): rampart draws uniformly in a 0.001 box there.
  float start_radius = -1;
  // Keep, per example, the strongest iterate seen (misclassified first, then the
  // highest loss) instead of the last one. Evaluation turns this on; Madry's
  // training uses the last iterate.
  bool keep_best = false;
  // Early-stopped PGD: stop moving an example tau steps after it is first
  // misclassified; -1 attacks every example for all steps.
  int early_stop_tau = -1;
  std::string objective = "ce";  // the loss climbed (objective_names())
  // Batchnorm during the attack's passes: false uses the running statistics (PyTorch's
  // model.eval(), as TRADES' and MART's code attack); true uses each batch's own statistics
  // and updates the running ones at every pass, exactly as a PyTorch model left in train mode
  // does (Madry PGD-AT as Rice et al. and Wong et al. run it). Evaluation always uses false.
  bool bn_batch_stats = false;
  // The arithmetic of the attack's forward and backward passes (--attack-precision): BF16
  // convolutions (kernels/common/precision.h) or FP32. Training attacks only; evaluation
  // always attacks in FP32.
  Precision precision = Precision::kFp32;
  // AutoAttack's searches (method != kPgd):
  //   targets  0: untargeted; t > 0: one run per target class, the classes ranked 2nd..(t+1)th
  //            by the clean logits (APGD-T, FAB-T: 9)
  //   queries  Square's model queries per example (5000)
  //   chained  run only on the examples every earlier attack of the list left robust, and
  //            count an example robust only if it survives them all (AutoAttack's chain)
  //   slot     the attack's position in its chain: keys its random numbers
  int targets = 0;
  int queries = 5000;
  bool chained = false;
  int slot = 0;
};

// Checks the ranges (eps >= 0, steps >= 1, alpha > 0, restarts >= 1, eps <= 1 for L-inf)
// and the objective's name; ConfigError "<where>: ..." otherwise.
void validate(const AttackConfig& c, const std::string& where);

}  // namespace rampart
