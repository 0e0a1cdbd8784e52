// The attack-budget scheduler's policies as pure functions: a PlanInput (threat model,
// epochs, world, cost model, budget, policy) -> a Plan of eps, K and alpha per epoch with
// predicted cost, that never exceeds the budget minus its reserve. Re-planning after each
// epoch is the same function on what is left. Also the adaptive controller (K from a
// measured signal) and the early-stop parameters the attack reads.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/schedule/budget.h"
#include "cluster/schedule/cost_model.h"

namespace rampart {

enum class Policy { kFixed, kBudgeted, kAdaptive };
Policy parse_policy(const std::string& name);  // "fixed" | "budgeted" | "adaptive"; else ConfigError
std::string to_string(Policy p);

// Per-example early stop (adaptive policy): stop attacking an example once it is
// misclassified, after tau more steps. The attack reads this; costs are then re-measured.
struct EarlyStop {
  bool enabled = false;
  int tau = 1;
};

// The guard's periodic probe, counted in the plan's cost.
struct ProbeCost {
  int64_t interval_steps = 0;  // 0: no probe
  int steps = 10;              // PGD steps of the probe
  double images = 256;         // probe batch
};

struct PlanInput {
  // Threat model (L-inf).
  double eps_target = 0.1;
  // Step size: alpha = alpha_factor * eps / K for K >= 2, fgsm_alpha_factor * eps for K = 1
  // (FGSM with random start, Wong et al. 2020). alpha_at_target, if set, overrides the rule:
  // the step at eps_target, scaled with eps along the curriculum (the protocol's 0.025).
  double alpha_factor = 2.5;
  double fgsm_alpha_factor = 1.25;
  std::optional<double> alpha_at_target;
  // Carried starts (--attack-init carry, runtime/attacks/carry.h): each attack begins where
  // the example's last one ended, near the worst point already, so the steps are shorter
  // (alpha = carry_alpha_factor * eps / K) and there is no eps ramp (the carried
  // perturbations grow over the epochs by themselves). PGD-2 with carried starts measured
  // as robust as PGD-7 from random starts on the reference workload.
  bool carry = false;
  double carry_alpha_factor = 1.0;

  int epochs = 5;
  int64_t steps_per_epoch = 0;
  int world = 1;
  Policy policy = Policy::kBudgeted;
  int fixed_k = 7;  // the fixed policy's K
  int max_k = 10;   // budgeted/adaptive: the strongest attack planned
  int k_floor = 1;  // no epoch below this (raised by the overfitting guard)

  // Curriculum (budgeted/adaptive): eps starts at eps_start_fraction * eps_target and reaches
  // eps_target after eps_ramp_fraction of the epochs.
  double eps_start_fraction = 0.5;
  double eps_ramp_fraction = 0.35;

  CostModel cost;
  Budget budget;
  std::optional<Price> price;
  Reserve reserve;
  ProbeCost probe;
  double eval_images_per_epoch = 0;  // a per-epoch evaluation, if the trainer runs one
  // Checkpoints written in an epoch (its end, best.h5, --checkpoint-every), each costing
  // CostModel::checkpoint_write_s (0 when none was timed).
  double checkpoint_writes_per_epoch = 0;
  // Spent before the first plan's first epoch (the run's set-up and calibration; a first
  // plan only: re-plans are given what was spent).
  Spend spent_before;
  EarlyStop early_stop;              // copied into the plan for the attack to read
};

struct PlanRow {
  int epoch = 0;  // 0-based, absolute (re-plans keep the numbering)
  double eps = 0;
  int K = 1;
  double alpha = 0;
  double wall_s = 0, gpu_hours = 0, usd = 0;              // this epoch, predicted
  double cum_wall_s = 0, cum_gpu_hours = 0, cum_usd = 0;  // including what was spent before
};

struct Plan {
  PlanInput input;             // kept so that replan() can rebuild from it
  std::vector<PlanRow> rows;   // the epochs still to run
  int first_epoch = 0;         // = completed epochs at (re)planning
  int epochs_requested = 0;
  int epochs_that_fit = 0;     // total, counting completed epochs
  Spend spent_before;          // spent before rows[0]
  Spend reserve;               // final evaluation + checkpoint, predicted
  Spend total;                 // spent_before + rows + reserve
  double allowance_wall_s = 0; // wall seconds the rows could use (after reserve and safety)
  bool priced = false;
  EarlyStop early_stop;
  std::string note;            // why epochs or K were cut, empty when nothing was

  // The row for an absolute epoch; nullptr past the plan's end (stop and evaluate).
  const PlanRow* row(int epoch) const;
};

// Eps of the curriculum at `epoch` of a run of `epochs` (ends at eps_target).
double curriculum_eps(const PlanInput& in, int epoch, int epochs);
double step_size(const PlanInput& in, double eps, int K);

Plan make_plan(const PlanInput& in);
// A plan for the epochs after `completed_epochs`, fitted to what the budget has left after
// `spent`, with the updated cost model; k_floor raises the lowest K (the guard's rollbacks).
Plan replan(const Plan& previous, int completed_epochs, const Spend& spent, const CostModel& updated,
            int k_floor = 1);

// --- adaptive policy -----------------------------------------------------------

// One interval's measurement of how far the attack is from converging.
struct AdaptiveSignal {
  // Loss gained by the last attack step over the loss gained by the first: near 0 the attack
  // has converged (steps can go), large means later steps still find loss (add steps).
  std::optional<double> last_over_first_gain;
  // First-order stationarity (Wang et al. 2019), mean over the batch: 0 at a maximum.
  std::optional<double> fosc;
};

struct AdaptiveConfig {
  double add_above = 0.25;    // last/first gain above: +1 step
  double remove_below = 0.05; // below: -1 step
  double fosc_add_above = 0.1;
  double fosc_remove_below = 0.01;
  int min_k = 1, max_k = 10;
};

struct AdaptiveDecision {
  int K;
  std::string reason;
};

// Pure: the next K from the signal, within [min_k, max_k] and within the budget. An extra
// step is granted only when headroom_s (allowance minus the plan's predicted cost) covers
// extra_step_cost_s (the wall seconds of one more attack step for the rest of the epoch).
// Wall seconds the plan leaves unused within its allowance (the adaptive controller's room).
double headroom_s(const Plan& p);
// Wall seconds that one more attack step costs over `steps` training steps.
double extra_step_cost_s(const CostModel& cost, int world, int64_t steps);

class AdaptiveController {
 public:
  explicit AdaptiveController(AdaptiveConfig cfg = {}) : cfg_(cfg) {}
  AdaptiveDecision decide(int current_k, const AdaptiveSignal& s, double headroom_s,
                          double extra_step_cost_s) const;

 private:
  AdaptiveConfig cfg_;
};

}  // namespace rampart
