// A plan for people (a table) and for scripts (`rampart plan --json`: one object with "rows"
// and the totals "total_usd", "total_gpu_hours", "total_hours").
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/schedule/schedule_policy.h"

namespace rampart {

// Consecutive epochs planned alike (same eps, K, alpha and predicted cost per epoch): what a
// plan is shown and stored as, so its size grows with its changes, not with --epochs.
struct PlanRun {
  const PlanRow* first;
  const PlanRow* last;
  int epochs() const { return last->epoch - first->epoch + 1; }
};
std::vector<PlanRun> plan_runs(const std::vector<PlanRow>& rows);

// Columns: epoch, eps, K, alpha, time, GPU-hours, USD, and the cumulative three; then the
// reserve, the totals against the budget, and the plan's note. USD shows "-" without a price.
std::string format_plan_table(const Plan& plan);

// total_usd is null without a price. Also: policy, world, epochs_requested, epochs_that_fit,
// first_epoch, budget, spent_before, reserve, allowance_s, early_stop, note.
nlohmann::json plan_to_json(const Plan& plan);

}  // namespace rampart
