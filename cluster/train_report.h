// The parts of a training run's final summary that are not the loop itself: the
// evaluation on the test set, and the record of the decisions every rank applied.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/compute_backend.h"
#include "cluster/trainer.h"

namespace rampart {

// Clean, FGSM (when cfg.eval_fgsm) and PGD (cfg.eval_steps, eval_alpha, eval_restarts)
// accuracy on the first cfg.eval_limit images of cfg.test_data, each rank on its shard
// (collective), with eval_seconds. DataError when the test images are not `example`-shaped.
nlohmann::json evaluate_test_set(const TrainConfig& cfg, ComputeBackend& backend, const Shape& example);

// The line `rampart train` prints after each epoch from the scheduler's report: spent
// against planned, in USD where a price is known, else in GPU-hours.
std::string budget_line(const nlohmann::json& report);

// traces: every rank's applied decisions as JSON text ([[step, eps, K, alpha], ...]).
// Returns {decisions (rank 0's), decisions_by_rank, decisions_agree}.
nlohmann::json decisions_report(const std::vector<std::string>& traces);

}  // namespace rampart
