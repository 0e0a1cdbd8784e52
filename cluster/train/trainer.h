// The data-parallel PGD adversarial trainer: every rank attacks and trains on
// its part of each global batch; gradients are averaged across ranks.
// Works unchanged on one rank (the self communicator).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cluster/schedule/budget.h"
#include "cluster/comm/communicator.h"
#include "cluster/train/distributed_eval.h"
#include "cluster/schedule/cost_model.h"
#include "runtime/attacks/attack.h"
#include "runtime/data/dataset.h"
#include "runtime/evaluate.h"

namespace rampart {

struct TrainConfig {
  // Data
  std::string data, test_data;
  int64_t limit = 0;        // use the first `limit` training images (0: all)
  int64_t eval_limit = 0;   // evaluate on the first `eval_limit` test images (0: all)
  // Model and optimisation
  std::string model = "small-cnn";
  uint64_t seed = 0;
  int epochs = 5;
  int64_t batch = 128;      // global batch, split across ranks
  double lr = 0.05;
  std::string lr_schedule = "warmup-cosine";
  double warmup = 0.1;
  double momentum = 0.9, weight_decay = 5e-4;
  // Training attack
  std::string attack = "pgd";  // pgd, fgsm-rs, pgd-l2, none
  float eps = 0.1f, alpha = 0.025f;
  int steps = 7;
  int early_stop_tau = -1;
  // Where each attack starts: "random" (Madry), "carry" (where the example's attack of the
  // last epoch ended; runtime/attacks/carry.h), "" (carry for budgeted/adaptive, else random).
  std::string attack_init;
  // Final evaluation
  int eval_steps = 20;
  float eval_alpha = 0.01f;
  int eval_restarts = 1;
  bool eval_fgsm = true;
  // Output and resumption
  std::string out;             // folder for checkpoint.h5 and metrics.jsonl
  bool resume = false;
  int64_t checkpoint_every = 0;  // also write a checkpoint every N steps (0: per epoch only)
  std::string config_text;     // the resolved configuration, stored in checkpoints
  // Distributed
  double timeout_s = 300;
  double bucket_mb = 4;
  // Device (compute_backend.h): "cpu" or "cuda"; local_rank picks the GPU (world.h).
  // A checkpoint loads on either device: it is always written from the host Model.
  std::string device = "cpu";
  int local_rank = 0;
  // Logging
  int log_every = 20;
  // Attack-budget scheduler (cluster/schedule/training_scheduler.h, train_schedule.h).
  // schedule "": fixed without a budget (plain PGD-K, the reference protocol), budgeted with one.
  std::string schedule;
  Budget budget;
  std::optional<Price> price;
  int max_k = 10;            // the strongest attack budgeted/adaptive may plan
  int64_t probe_every = -1;  // guard probe interval in steps; -1: 100 (budgeted, adaptive), 0 (fixed)
  int probe_steps = 10;      // PGD steps of the probe
  int probe_images = 256;    // held out from the end of the training set
  std::optional<NetworkModel> network;  // all-reduce model until one is measured (world > 1)
  // Tests only (no flag): maps each probe's measured robust accuracy, e.g. to a synthetic collapse.
  std::function<double(int64_t step, double accuracy)> probe_filter;
};

// Per-step facts for progress bars and metrics (rank 0).
struct StepInfo {
  int epoch = 0;
  int64_t step = 0, steps_total = 0, batch_in_epoch = 0, batches_per_epoch = 0;
  double loss = 0, adv_accuracy = 0, lr = 0, seconds = 0, images_per_s = 0;
  float eps = 0;
  int attack_steps = 0;
};

// What the trainer reports as it goes. launch/ implements it (progress bar, metrics.jsonl).
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_start(const nlohmann::json& info) {}
  virtual void on_step(const StepInfo& s) {}
  virtual void on_epoch(const nlohmann::json& epoch_summary) {}
  virtual void on_eval(const nlohmann::json& report) {}
  virtual void on_message(const std::string& line) {}
};

// Set from a signal handler: stop at the next step boundary after a checkpoint.
std::atomic<int>& stop_requested();

// Trains; returns the final summary (clean, FGSM, PGD accuracies, throughput, cost).
// Throws Interrupted (exit 75) after writing a checkpoint when stop_requested().
nlohmann::json train(const TrainConfig& cfg, Communicator& comm, TrainObserver& obs);

}  // namespace rampart
