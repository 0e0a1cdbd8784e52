// From a training configuration to the scheduler's inputs, shared by `rampart train` and
// `rampart plan`: the effective policy, the guard's probe set-up, and the SchedulerSetup.
#pragma once
#include <cstdint>

#include "cluster/schedule/step_calibration.h"
#include "cluster/train/train_config.h"
#include "runtime/attacks/attack.h"
#include "cluster/schedule/training_scheduler.h"

namespace rampart {

// --schedule, or its default: fixed without a budget (the reference protocol stays plain
// PGD-K), budgeted with one.
Policy effective_policy(const TrainConfig& cfg);

// --attack-init, or its default: carry for budgeted and adaptive (a few steps a visit add up
// over the epochs), random for fixed, so that the reference protocol stays plain PGD-K.
bool carries_perturbations(const TrainConfig& cfg);

// The configured training attack (--attack, --eps, --alpha, --steps, --early-stop-tau);
// ConfigError for an unknown attack or invalid values.
AttackConfig training_attack(const TrainConfig& cfg);

// --attack-bn: whether the training attack's passes use batch statistics (train) or the
// running ones (eval); auto: what the objective's reference code does (train for Madry's
// cross-entropy PGD-AT as Rice et al. run it, eval for TRADES and MART). ConfigError for
// another word.
bool attack_bn_batch_stats(const TrainConfig& cfg);
// --attack-precision as a Precision; ConfigError for a name other than fp32 or bf16.
Precision attack_precision(const TrainConfig& cfg);

// The attack a decision asks for. fixed: `base`, unless the guard raised K (then PGD-K
// with the decision's step); budgeted/adaptive: FGSM with random start for K <= 1 (at the
// plan's step: eps from a carried start), else PGD-K at the decision's eps and step.
AttackConfig scheduled_attack(const AttackConfig& base, Policy policy, const Decision& d, int early_stop_tau);

// Steps between guard probes: --probe-every, or by default 100 for budgeted and adaptive and
// 0 (no guard) for fixed, so a fixed run is exactly the plain protocol. 0 without an attack.
int64_t probe_interval(const TrainConfig& cfg);

// Training images held out for the guard's probe: the last probe_images of the (limited)
// training set, never trained on; 0 without a guard. At most an eighth of the set.
int64_t probe_holdout(const TrainConfig& cfg, int64_t n_images);

// Calibration options matching the final evaluation the configuration asks for.
CalibrationOptions calibration_for(const TrainConfig& cfg);

// The larger K whose whole steps the calibration times (with K = 1): the fixed policy's K
// (at least 2); else 4, within --max-steps-k: far enough from 1 for the slope, and cheap,
// since the set-up's time is spent from the budget too.
int calibration_k(const TrainConfig& cfg);
// Timed whole steps at each K (after one warm-up each); their median is kept.
constexpr int kWholeStepRepeats = 3;

// Checkpoint files an epoch writes: its end, --checkpoint-every within it, best.h5 with
// --val-split (counted every epoch); 0 without --out.
double checkpoint_writes_per_epoch(const TrainConfig& cfg, int64_t steps_per_epoch);

// The scheduler's inputs for `world` ranks and `steps_per_epoch` steps, with a calibrated
// cost model; final_eval_images: test images evaluated at the end (the reserve).
SchedulerSetup scheduler_setup(const TrainConfig& cfg, int world, int64_t steps_per_epoch, const CostModel& cost,
                               double final_eval_images);

}  // namespace rampart
