// The attack-budget scheduler as the trainer drives it: rank 0 owns one TrainingScheduler,
// asks it for a Decision (eps, K, alpha, stop, LR length) at every epoch start, probe and
// rollback, and broadcasts that decision so every rank applies it from the same step.
// No MPI and no clocks in here: the trainer measures and passes seconds and spend in, so
// the whole state machine (plan, re-plan, guard, adaptive K, budget stop) is unit-testable.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cluster/schedule/budget.h"
#include "cluster/schedule/cost_model.h"
#include "cluster/schedule/overfit_guard.h"
#include "cluster/schedule/schedule_policy.h"

namespace rampart {

// What every rank applies from a given step on. Packed into doubles for one broadcast.
struct Decision {
  double eps = 0, alpha = 0;
  int K = 1;
  bool stop = false;           // stop training now: final checkpoint and evaluation
  int64_t lr_total_steps = 0;  // the LR schedule's length: the steps of the epochs that fit
  // Rollbacks only: restore the snapshot taken at this step (-1: none).
  int64_t rollback_to_step = -1;

  static constexpr int kPacked = 6;
  std::array<double, kPacked> pack() const;
  static Decision unpack(const double* v);
  bool operator==(const Decision& o) const = default;
};

struct SchedulerSetup {
  PlanInput plan;  // threat model, epochs, steps per epoch, world, policy, budget, price, reserve, probe
  GuardConfig guard;
  AdaptiveConfig adaptive;
};

// Why a run stopped before its last epoch.
enum class StopReason { kNone, kBudget, kGuardExhausted };

class TrainingScheduler {
 public:
  // Builds the first plan (make_plan): ConfigError when not one epoch fits the budget.
  explicit TrainingScheduler(SchedulerSetup setup);

  // The decision for the start of `epoch` (absolute): the plan's row, or stop past its end.
  Decision epoch_decision(int epoch) const;

  // After an epoch: the measured mean seconds per training step at K (probes and the
  // checkpoint excluded: the plan counts those apart) and what has been spent in all.
  // Updates the cost model and re-plans the remaining epochs.
  void end_epoch(int completed_epochs, int K, double step_s, const Spend& spent);
  // A measured gradient all-reduce (world > 1): refits the network model.
  void observe_allreduce(const AllReduceSample& s) { cost_.update_allreduce(s); }

  // A guard probe's robust accuracy at `step` while training at current_k. On a collapse the
  // returned decision has rollback_to_step >= 0 and K raised (re-planned with the guard's floor),
  // or stop = true when the guard has no rollbacks left.
  Decision on_probe(int64_t step, double robust_accuracy, int current_k, const Spend& spent);
  const std::string& last_guard_reason() const { return guard_reason_; }

  // Adaptive policy: K for the rest of the epoch from the measured attack signal.
  // steps_left: training steps left in this epoch. Other policies return current.
  Decision adapt(const Decision& current, const AdaptiveSignal& s, int64_t steps_left);
  const std::string& last_adapt_reason() const { return adapt_reason_; }

  // True when the spend plus the reserve and one more step (at K) would pass the budget.
  bool must_stop(const Spend& spent, int K) const;

  // Budget spent against plan, for the console and metrics.jsonl.
  nlohmann::json report(const Spend& spent, int completed_epochs) const;

  const Plan& plan() const { return plan_; }
  const Plan& first_plan() const { return first_plan_; }
  const CostModel& cost() const { return cost_; }
  const OverfitGuard& guard() const { return guard_; }
  Policy policy() const { return plan_.input.policy; }

  // For Checkpoint.scheduler: cost model, guard, the first plan's totals, the spend and
  // the current decision; from_json restores a scheduler that continues the same plan.
  nlohmann::json to_json(const Spend& spent, const Decision& current, int completed_epochs) const;
  static TrainingScheduler from_json(const nlohmann::json& j, SchedulerSetup setup);
  static Spend spent_in(const nlohmann::json& j);
  static std::optional<Decision> decision_in(const nlohmann::json& j);

 private:
  TrainingScheduler() = default;
  Decision row_decision(int epoch) const;

  SchedulerSetup setup_;
  CostModel cost_;
  Plan first_plan_, plan_;
  OverfitGuard guard_;
  AdaptiveController adaptive_;
  std::string guard_reason_, adapt_reason_;
};

// Decision from a plan row (alpha and eps from the row; LR fitted to plan.epochs_that_fit).
Decision decision_from_row(const PlanRow& r, const Plan& plan);

}  // namespace rampart
