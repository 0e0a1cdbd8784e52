// A plan for people (a table) and for scripts (`rampart plan --json`: one object with "rows"
// and the totals "total_usd", "total_gpu_hours", "total_hours").
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "cluster/schedule_policy.h"

namespace rampart {

// Columns: epoch, eps, K, alpha, time, GPU-hours, USD, and the cumulative three; then the
// reserve, the totals against the budget, and the plan's note. USD shows "-" without a price.
std::string format_plan_table(const Plan& plan);

// total_usd is null without a price. Also: policy, world, epochs_requested, epochs_that_fit,
// first_epoch, budget, spent_before, reserve, allowance_s, early_stop, note.
nlohmann::json plan_to_json(const Plan& plan);

}  // namespace rampart
