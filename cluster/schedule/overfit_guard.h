// The catastrophic-overfitting guard as a pure state machine. Every N steps the trainer runs a
// multi-step PGD probe on a fixed held-out batch and feeds the robust accuracy here; on a
// collapse the guard asks to roll back to the last good checkpoint and raise K.
// (FGSM training can lose its robustness within a few hundred steps while clean accuracy
// keeps rising: Wong et al. 2020, Andriushchenko & Flammarion 2020.)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rampart {

struct GuardConfig {
  int64_t probe_interval_steps = 200;  // the trainer probes every this many steps
  int probe_steps = 10;                // PGD steps of the probe (read by the trainer)
  int probe_images = 256;              // the held-out batch (read by the trainer)
  // Collapse: accuracy more than max_drop below the best of the last `window` probes...
  double max_drop = 0.2;
  int window = 3;
  // ...or down to chance + floor_margin after having been above chance + armed_above
  // (so an untrained model's noisy probes near chance never count as a collapse).
  double chance = 0.1;
  double floor_margin = 0.03;
  double armed_above = 0.15;
  int k_increment = 1;  // FGSM -> PGD-2 -> PGD-3 ...
  int max_k = 10;
  int max_rollbacks = 4;  // beyond: kExhausted, the trainer stops and evaluates
};

enum class GuardAction { kOk, kRollback, kExhausted };

struct GuardDecision {
  GuardAction action = GuardAction::kOk;
  int new_k = 0;                  // K from now on (raised on kRollback)
  int64_t rollback_to_step = -1;  // latest good probe's step: restore the last checkpoint at or before it
  std::string reason;
};

struct GuardRollback {
  int64_t at_step;        // the probe that showed the collapse
  int64_t to_step;        // the good probe rolled back to
  double accuracy;        // the collapsed robust accuracy
  double reference;       // what it was measured against
  int from_k, to_k;
};

class OverfitGuard {
 public:
  explicit OverfitGuard(GuardConfig cfg = {}) : cfg_(cfg) {}

  // One probe result (robust accuracy in [0,1]) taken at `step` while training with current_k.
  GuardDecision observe(int64_t step, double robust_accuracy, int current_k);

  // The lowest K the plan may use from now on (1 before any rollback).
  int k_floor() const { return k_floor_; }
  const std::vector<GuardRollback>& rollbacks() const { return rollbacks_; }
  const GuardConfig& config() const { return cfg_; }

  nlohmann::json to_json() const;
  static OverfitGuard from_json(const nlohmann::json& j);

 private:
  struct Probe {
    int64_t step;
    double accuracy;
  };
  GuardConfig cfg_;
  std::vector<Probe> good_;  // probes judged healthy, oldest first (trimmed to the window)
  double best_ever_ = 0;     // highest healthy accuracy seen (arms the chance floor)
  int k_floor_ = 1;
  std::vector<GuardRollback> rollbacks_;
};

}  // namespace rampart
