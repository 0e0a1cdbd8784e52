// validate(): every data-free check of a TrainConfig (see train_config.h). The order is the
// order in which `rampart train` used to report them, so a run with two mistakes names the same
// one first.
#include "cluster/train/train_config.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "cluster/schedule/schedule_policy.h"
#include "cluster/schedule/train_schedule.h"
#include "kernels/dispatch/ops.h"
#include "runtime/attacks/attack.h"
#include "runtime/attacks/attack_registry.h"
#include "runtime/data/augment.h"
#include "runtime/errors.h"
#include "runtime/objectives/objective.h"

namespace rampart {

namespace {

// Sizes of the run: epochs, the global batch against the ranks, the learning rate, and a
// resume that has a folder to resume from.
void validate_run(const TrainConfig& cfg, int world) {
  if (cfg.epochs < 1) throw ConfigError("epochs must be >= 1, found " + std::to_string(cfg.epochs));
  if (cfg.batch < world)
    throw ConfigError("batch (the global batch) must be at least the number of ranks: batch " +
                      std::to_string(cfg.batch) + ", ranks " + std::to_string(world));
  if (!(cfg.lr > 0)) throw ConfigError("lr must be > 0, found " + std::to_string(cfg.lr));
  if (cfg.lr_scaling != "none" && cfg.lr_scaling != "linear" && cfg.lr_scaling != "sqrt")
    throw ConfigError("--lr-scaling: expected none, linear or sqrt, found \"" + cfg.lr_scaling + "\"");
  if (cfg.lr_base_batch < 1)
    throw ConfigError("--lr-base-batch must be at least 1 (the global batch --lr was tuned for), found " +
                      std::to_string(cfg.lr_base_batch));
  // The held-out rows must leave some to train on; against the data's size it is checked when
  // the data is read (held_out.h), here against --limit.
  if (cfg.val_split < 0)
    throw ConfigError("--val-split must be 0 (off) or the number of training images to hold out for the per-epoch "
                      "validation, found " + std::to_string(cfg.val_split) + "; give e.g. --val-split 1000");
  if (cfg.limit > 0 && cfg.val_split >= cfg.limit)
    throw ConfigError("--val-split must be below the number of training images (" + std::to_string(cfg.limit) +
                      " after --limit): the held-out images are not trained on; found " +
                      std::to_string(cfg.val_split) + "; give e.g. --val-split " +
                      std::to_string(std::max<int64_t>(1, cfg.limit / 10)));
  // Without --out there is no checkpoint to resume from: the run would silently start afresh.
  if (cfg.resume && cfg.out.empty())
    throw UsageError("--resume continues from <out>/checkpoint.h5 and needs --out (the folder of the run to "
                     "continue); give --out, or drop --resume");
}

// The attack-budget scheduler's options: they must fit together and with the attack.
void validate_schedule(const TrainConfig& cfg) {
  const Policy p = effective_policy(cfg);  // ConfigError for an unknown --schedule
  validate(cfg.budget, cfg.price);
  if (p != Policy::kFixed && cfg.attack != "pgd" && cfg.attack != "fgsm-rs")
    throw ConfigError("--schedule " + to_string(p) + " plans L-inf PGD and FGSM-RS steps; found --attack " +
                      cfg.attack + "; use --attack pgd or --schedule fixed");
  if (cfg.max_k < 1)
    throw ConfigError("--max-steps-k must be at least 1, found " + std::to_string(cfg.max_k) +
                      "; give e.g. --max-steps-k 10");
  if (cfg.probe_every < -1)
    throw ConfigError("--probe-every must be >= 0 steps (0: no guard), found " + std::to_string(cfg.probe_every) +
                      "; give e.g. --probe-every 100");
  if (cfg.probe_steps < 1 || cfg.probe_images < 1)
    throw ConfigError("the guard's probe needs at least 1 step and 1 image");
  carries_perturbations(cfg);  // ConfigError for an unknown --attack-init
  if (cfg.loss != "ce" && cfg.loss != "trades" && cfg.loss != "mart")
    throw ConfigError("loss: expected ce, trades or mart, found \"" + cfg.loss + "\"");
  make_objective(cfg.loss, {cfg.beta});  // and beta's range
  if (cfg.loss != "ce" && cfg.attack == "none")
    throw ConfigError("--loss " + cfg.loss + " compares the clean and the attacked prediction: it needs an attack, "
                      "found --attack none; use --attack pgd");
  attack_bn_batch_stats(cfg);  // and for an unknown --attack-bn
  parse_augment(cfg.augment);  // and for an unknown --augment
  if (cfg.budget.limited() && cfg.attack == "none")
    throw ConfigError("a budget needs an attack to plan: found --attack none; use --attack pgd");
}

// The training attack as the run will build it, the PGD settings an attack leaves unused
// (refused rather than silently ignored), and the final evaluation's attack: stored with the
// run's configuration, so checked with or without --test-data.
void validate_attacks(const TrainConfig& cfg) {
  if (cfg.attack != "none") {
    const AttackConfig a = training_attack(cfg);
    if (carries_perturbations(cfg) && a.norm != Norm::kLinf)
      throw ConfigError("attack-init carry works with L-inf attacks (pgd, fgsm-rs), found attack " + cfg.attack +
                        "; use --attack-init random");
  }
  // fgsm, fgsm-rs and none take no --alpha or --steps: still checked.
  if (cfg.attack == "none" || is_single_step_attack(cfg.attack))
    validate(make_attack("pgd", {cfg.eps, cfg.alpha, cfg.steps}),
             "--eps, --alpha, --steps (unused by --attack " + cfg.attack + ")");
  validate(make_attack("pgd", {cfg.eps, cfg.eval_alpha, cfg.eval_steps, cfg.eval_restarts}),
           "evaluation attack (--eval-steps, --eval-alpha, --eval-restarts)");
  // BF16 attack passes need a device that has them: refused before anything runs.
  const Precision p = attack_precision(cfg);  // ConfigError for an unknown name
  if (const std::string why = ops::precision_gap(cfg.device == "cuda" ? Device::kCuda : Device::kCpu, p);
      p != Precision::kFp32 && !why.empty())
    throw ConfigError("--attack-precision " + cfg.attack_precision + ": " + why);
  // Refused now, not after the training: AutoAttack's searches run on the CPU only.
  if (cfg.eval_autoattack && cfg.device != "cpu")
    throw ConfigError("--eval-autoattack: expected --device cpu, found --device " + cfg.device +
                      " (AutoAttack's searches have no GPU kernels yet); evaluate the checkpoint afterwards with "
                      "rampart eval --attack autoattack --device cpu");
}

}  // namespace

void validate(const TrainConfig& cfg, int world) {
  validate_run(cfg, world);
  validate_schedule(cfg);
  validate_attacks(cfg);
}

double effective_lr(const TrainConfig& cfg) {
  const double ratio = double(cfg.batch) / double(std::max<int64_t>(1, cfg.lr_base_batch));
  if (cfg.lr_scaling == "linear") return cfg.lr * ratio;
  if (cfg.lr_scaling == "sqrt") return cfg.lr * std::sqrt(ratio);
  return cfg.lr;
}

}  // namespace rampart
