// The parts of a training run's final summary that are not the loop itself: the
// evaluation on the test set, and the record of the decisions every rank applied.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/train/compute_backend.h"
#include "cluster/train/trainer.h"

namespace rampart {

// The final evaluation's attacks (FGSM when cfg.eval_fgsm, then PGD with cfg.eval_steps,
// eval_alpha, eval_restarts), validated and accepted by the backend, after checking that the
// test images are `example`-shaped and that every test label is below `classes` (the model's
// outputs): ConfigError or DataError. Called before training, so that a setting or a test set
// the evaluation cannot use fails at once, not after the whole training has run.
std::vector<AttackConfig> test_eval_attacks(const TrainConfig& cfg, const ComputeBackend& backend,
                                            const Shape& example, int64_t classes);

// Clean and robust accuracy with those attacks on the first cfg.eval_limit images of
// cfg.test_data, each rank on its shard (collective), with eval_seconds.
nlohmann::json evaluate_test_set(const TrainConfig& cfg, ComputeBackend& backend, const Shape& example,
                                 int64_t classes);

// The line `rampart train` prints after each epoch from the scheduler's report: spent
// against planned, in USD where a price is known, else in GPU-hours.
std::string budget_line(const nlohmann::json& report);

// traces: every rank's applied decisions as JSON text ([[step, eps, K, alpha], ...]).
// Returns {decisions (rank 0's), decisions_by_rank, decisions_agree}.
nlohmann::json decisions_report(const std::vector<std::string>& traces);

}  // namespace rampart
