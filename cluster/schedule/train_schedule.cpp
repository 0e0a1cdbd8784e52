// Training configuration -> scheduler inputs (see train_schedule.h).
#include "cluster/schedule/train_schedule.h"

#include <algorithm>
#include <stdexcept>

#include "cluster/schedule/step_calibration.h"
#include "cluster/train/held_out.h"
#include "runtime/errors.h"

namespace rampart {

Policy effective_policy(const TrainConfig& cfg) {
  if (!cfg.schedule.empty()) return parse_policy(cfg.schedule);
  return cfg.budget.limited() ? Policy::kBudgeted : Policy::kFixed;
}

AttackConfig training_attack(const TrainConfig& c) {
  std::vector<AttackConfig> a =
      parse_attacks(c.attack, {c.eps, c.alpha, c.steps, 1, c.early_stop_tau}, AttackWords::kNamesOrNone);
  if (a.empty()) throw std::invalid_argument("training_attack: --attack none builds no attack; check for it first");
  validate(a[0], "training attack");
  a[0].bn_batch_stats = attack_bn_batch_stats(c);
  a[0].precision = attack_precision(c);
  // TRADES climbs its KL term; MART, like Madry, cross-entropy. Both start near the clean
  // point, as their reference code does.
  if (c.loss == "trades") a[0].objective = "trades-kl";
  if (c.loss == "trades" || c.loss == "mart") a[0].start_radius = 0.001f;
  return a[0];
}

AttackConfig scheduled_attack(const AttackConfig& base, Policy policy, const Decision& d, int early_stop_tau) {
  AttackConfig a = base;
  if (policy == Policy::kFixed) {
    // The configured attack, unless the guard raised K.
    if (d.K != a.steps) {
      if (is_single_step_attack(a.name)) a = make_attack("pgd", {a.eps, float(d.alpha), d.K});
      else { a.steps = d.K; a.alpha = float(d.alpha); }
    }
  } else if (d.K <= 1) {
    a = make_attack("fgsm-rs", {float(d.eps)});
    if (d.alpha > 0) a.alpha = float(d.alpha);  // the plan's step (eps from a carried start)
  } else {
    a = make_attack("pgd", {float(d.eps), float(d.alpha), d.K});
  }
  a.early_stop_tau = early_stop_tau;
  a.bn_batch_stats = base.bn_batch_stats;
  a.precision = base.precision;
  a.objective = base.objective;
  a.start_radius = base.start_radius;
  validate(a, "scheduled training attack");
  return a;
}

bool attack_bn_batch_stats(const TrainConfig& cfg) {
  if (cfg.attack_bn == "train") return true;
  if (cfg.attack_bn == "eval") return false;
  if (cfg.attack_bn != "auto")
    throw ConfigError("attack-bn: expected auto, eval or train, found \"" + cfg.attack_bn + "\"");
  // What the reference code of the objective does: Madry PGD-AT as Rice et al. and Wong et al.
  // run it attacks the model in train mode; TRADES' and MART's code switch to eval mode.
  return cfg.loss == "ce";
}

Precision attack_precision(const TrainConfig& cfg) {
  if (cfg.attack_precision == "fp32") return Precision::kFp32;
  if (cfg.attack_precision == "bf16") return Precision::kBf16;
  throw ConfigError("attack-precision: expected fp32 or bf16, found \"" + cfg.attack_precision + "\"");
}

bool carries_perturbations(const TrainConfig& cfg) {
  if (cfg.attack_init == "carry") return true;
  if (cfg.attack_init == "random") return false;
  if (!cfg.attack_init.empty())
    throw ConfigError("attack-init: expected random or carry, found \"" + cfg.attack_init + "\"");
  return effective_policy(cfg) != Policy::kFixed;
}

int64_t probe_interval(const TrainConfig& cfg) {
  if (cfg.attack == "none") return 0;
  if (cfg.probe_every >= 0) return cfg.probe_every;
  return effective_policy(cfg) == Policy::kFixed ? 0 : 100;
}

int64_t probe_holdout(const TrainConfig& cfg, int64_t n_images) {
  if (probe_interval(cfg) <= 0) return 0;
  return std::min<int64_t>(cfg.probe_images, n_images / 8);
}

CalibrationOptions calibration_for(const TrainConfig& cfg) {
  CalibrationOptions o;
  o.eval_attack_passes = (cfg.eval_fgsm ? 1 : 0) + double(cfg.eval_steps) * cfg.eval_restarts;
  o.eval_forwards = 1 + (cfg.eval_fgsm ? 1 : 0) + 1;
  if (cfg.eval_autoattack) {
    // The worst case, every image robust to the end (the reserve must hold whatever the model
    // turns out to be): APGD-CE 100 gradient passes, APGD-T 9 x 100, FAB-T 9 x 100 with a
    // forward more each, Square 5,000 forwards, and each attack's check of its result.
    o.eval_attack_passes += 100 + 900 + 900;
    o.eval_forwards += 900 + 5000 + 4;
  }
  // The step's passes besides the attack's: compute_backend.h's forward_loss and backward.
  if (cfg.loss == "trades") { o.train_forwards = 4; o.train_backwards = 2; }
  if (cfg.loss == "mart") { o.train_forwards = 3; o.train_backwards = 2; }
  return o;
}

double checkpoint_writes_per_epoch(const TrainConfig& cfg, int64_t steps_per_epoch) {
  if (cfg.out.empty()) return 0;
  // The epoch's end (Trainer::end_epoch); --checkpoint-every within it, not at its last step;
  // best.h5 beside it when the validation improves: counted every epoch (the first always does).
  double n = 1;
  if (cfg.checkpoint_every > 0) n += double((steps_per_epoch - 1) / cfg.checkpoint_every);
  if (cfg.val_split > 0) n += 1;
  return n;
}

int calibration_k(const TrainConfig& cfg) {
  if (effective_policy(cfg) == Policy::kFixed) return std::max(2, is_single_step_attack(cfg.attack) ? 1 : cfg.steps);
  return std::clamp(4, 2, std::max(2, cfg.max_k));
}

SchedulerSetup scheduler_setup(const TrainConfig& cfg, int world, int64_t steps_per_epoch, const CostModel& cost,
                               double final_eval_images) {
  SchedulerSetup s;
  PlanInput& in = s.plan;
  in.policy = effective_policy(cfg);
  in.eps_target = std::max(cfg.eps, 1e-6f);  // > 0 even without an attack (nothing to plan then)
  in.epochs = cfg.epochs;
  in.steps_per_epoch = steps_per_epoch;
  in.world = world;
  in.fixed_k = is_single_step_attack(cfg.attack) ? 1 : std::max(1, cfg.steps);
  in.max_k = cfg.max_k;
  in.carry = cfg.attack != "none" && carries_perturbations(cfg);
  // The fixed policy keeps the configured step; the others use 2.5 eps / K (FGSM-RS: 1.25 eps).
  if (in.policy == Policy::kFixed && !is_single_step_attack(cfg.attack)) in.alpha_at_target = cfg.alpha;
  in.cost = cost;
  in.budget = cfg.budget;
  in.price = cfg.price;
  in.reserve.final_eval_images = final_eval_images;
  // The per-epoch validation (--val-split; cluster/train/held_out.h): PGD-10 and two forwards
  // (clean, attacked) on val_split images, in units of a final evaluation's image (its attack
  // passes and forwards; a forward counted as a pass, slightly high).
  if (cfg.val_split > 0) {
    const CalibrationOptions o = calibration_for(cfg);
    in.eval_images_per_epoch =
        double(cfg.val_split) * (kValidationSteps + 2.0) / (o.eval_attack_passes + o.eval_forwards);
  }
  // The final checkpoint, and every epoch's: the cost model's timed write (a real checkpoint
  // of this run's size, carried perturbations included, written where the run writes it).
  // Without one (costs measured before writes were timed): 1 s, small so that short budgets
  // stay usable; the 5% safety and the per-step budget check cover the rest.
  in.reserve.checkpoint_s = 1.0;
  in.checkpoint_writes_per_epoch = checkpoint_writes_per_epoch(cfg, steps_per_epoch);
  in.probe.interval_steps = probe_interval(cfg);
  in.probe.steps = cfg.probe_steps;
  in.probe.images = cfg.probe_images;
  if (cfg.early_stop_tau >= 0) in.early_stop = {true, cfg.early_stop_tau};
  s.guard.probe_interval_steps = in.probe.interval_steps;
  s.guard.probe_steps = cfg.probe_steps;
  s.guard.probe_images = cfg.probe_images;
  s.guard.max_k = std::max(cfg.max_k, in.fixed_k);
  s.adaptive.max_k = cfg.max_k;
  return s;
}

}  // namespace rampart
