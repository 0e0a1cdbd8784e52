// The data-parallel PGD adversarial trainer: every rank attacks and trains on
// its part of each global batch; gradients are averaged across ranks.
// Works unchanged on one rank (the self communicator).
//
// train() is a short loop over a Trainer: set up (the constructor), then for each global
// step the bookkeeping before it (next), the step itself (step), the bookkeeping after it
// (after_step), and at the end the final evaluation and summary (finish). Tests drive a
// Trainer the same way to look at the state between steps (tests/mpi/mpi_train_lockstep.cpp).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/comm/communicator.h"
#include "cluster/schedule/budget.h"
#include "cluster/schedule/schedule_policy.h"
#include "cluster/schedule/training_scheduler.h"
#include "cluster/train/carried_starts.h"
#include "cluster/train/compute_backend.h"
#include "cluster/train/snapshot.h"
#include "cluster/train/train_config.h"
#include "runtime/attacks/attack.h"
#include "runtime/checkpoint.h"
#include "runtime/data/augment.h"
#include "runtime/data/dataset.h"
#include "runtime/lr_schedule.h"
#include "runtime/model.h"
#include "runtime/optimizer.h"

namespace rampart {

class GuardProbe;  // cluster/schedule/guard_probe.h (which includes this header)

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

// The validation's record so far, kept across --resume in the checkpoint's metadata.
struct ValidationRecord {
  int64_t epochs_validated = 0;  // epochs whose end has been validated
  int best_epoch = 0;            // 1-based; 0: none yet
  double best_robust = -1, best_clean = 0;
  nlohmann::json to_json() const;
  static ValidationRecord from_json(const nlohmann::json& j);  // {} for null
};

// Set from a signal handler: stop at the next step boundary after a checkpoint.
std::atomic<int>& stop_requested();

// What one global step did on this rank (step()), for the bookkeeping after it.
struct StepMetrics {
  int epoch = 0;
  int64_t batch_in_epoch = 0;  // 0-based
  double loss_sum = 0, correct = 0, n_local = 0;  // this rank's part of the batch
  int64_t n_global = 0;                            // the global batch
  int attack_steps = 0;                            // K of the step's attack (0: none)
  double lr = 0, seconds = 0;
};

class Trainer {
 public:
  // Validates cfg (validate(cfg, comm.size())), reads this rank's rows, builds the model and
  // optimizer, resumes from <out>/checkpoint.h5 when cfg.resume, gives every rank rank 0's
  // state, picks the backend and calibrates the scheduler; reports on_start. Collective.
  Trainer(const TrainConfig& cfg, Communicator& comm, TrainObserver& obs);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Before a step: at an epoch start, the scheduler's decision (rank 0's, applied by every
  // rank). False when the training is over: every step has run, or the budget or the guard
  // stopped it. Collective.
  bool next();
  // Exactly one global training step: this rank's part of the batch (the epoch's rows read
  // when needed), the attack, forward and loss, backward with the bucketed all-reduce, the
  // SGD update, rank 0's batchnorm statistics, the carried starts' exchange. Collective.
  // DataError when the loss is not finite. Call it after next() returned true: next() sets the
  // attack and learning-rate schedule the step runs with. std::logic_error past the last step.
  StepMetrics step();
  // After a step: signals and the budget check (Interrupted after a checkpoint), progress,
  // the guard's probe (a collapse rolls back), adaptive K, checkpoints, the epoch's summary.
  void after_step(const StepMetrics& m);
  // The final checkpoint of a stopped run, the evaluation on the test set and the summary
  // (on_eval). Collective.
  nlohmann::json finish();

  int64_t steps_done() const { return step_; }
  int64_t total_steps() const { return total_steps_; }
  // The host copies of the weights, buffers and momentum, brought up to date from the device.
  Model& host_model();
  Sgd& host_optimizer();

 private:
  using Clock = std::chrono::steady_clock;
  // This rank's rows of the current epoch: images in uint8 as stored, labels as int32.
  struct Rows {
    std::vector<uint8_t> images;
    std::vector<int32_t> labels;
    std::vector<int64_t> index;  // each row's index in the training set
    std::vector<int64_t> order;  // the epoch's permutation: every rank's rows (carried starts)
  };

  // Set-up (trainer_setup.cpp).
  void open_data();
  void build_model();
  void resume();
  void make_backend();
  void make_scheduler();
  void report_start();
  // The cost model's measurements (trainer_calibration.cpp): timed passes, whole steps at two
  // K run by the step's own code on the first batch (the state put back after), the epoch's
  // data load and one real checkpoint write. Collective.
  StepCosts calibrate_costs();
  // The step (trainer_step.cpp).
  void load_epoch(int epoch);
  // Bookkeeping (trainer_epoch.cpp).
  Decision share(Decision d);
  void apply(const Decision& d, int64_t from_step);
  bool stop_or_log(const StepMetrics& m);
  bool guard_probe();
  void adapt(int64_t b);
  void end_epoch(int epoch);
  // Validation (trainer_validation.cpp): PGD-10 on the held-out rows after epoch `epoch`
  // (1-based); a better robust accuracy than the best so far marks the next checkpoint as best.
  // The epoch line gets val_clean_accuracy and val_robust_accuracy. Collective.
  void validate_epoch(int epoch, nlohmann::json& line);
  // After resuming at an epoch's end whose validation had not run (stopped there): run it now.
  void validate_pending();
  void best_summary(nlohmann::json& out) const;
  Spend spent_now() const;
  double images_per_s() const;
  static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }
  // Checkpoints and snapshots (trainer_checkpoint.cpp).
  void write_checkpoint(int64_t step);
  // What write_checkpoint writes (rank 0). gather_carried: the carried perturbations come from
  // every rank (CarriedStarts::save), which then take part in the write; false: a scratch file
  // of the same size, written by rank 0 alone (the calibration's timed write).
  Checkpoint checkpoint_of(int64_t step, bool gather_carried = true);
  nlohmann::json scheduler_state(int64_t step) const;
  void take_snapshot();
  // The summary (trainer_summary.cpp).
  nlohmann::json summary();
  nlohmann::json schedule_summary(const std::vector<std::string>& traces);

  const TrainConfig cfg_;
  Communicator& comm_;
  TrainObserver& obs_;
  const int rank_, world_;
  const bool lead_;
  const Clock::time_point t_start_;

  // The attack and its scheduler's policy.
  bool adversarial_ = false;
  AttackConfig attack_, base_attack_;
  Policy policy_ = Policy::kFixed;
  bool scheduled_ = false;  // the scheduler speaks only when it has something to decide

  // Data: the training set without the held-out rows at its end (held_out.h: the guard's probe
  // rows and the validation rows).
  std::optional<Dataset> train_set_;
  int64_t n_images_ = 0, n_probe_ = 0, n_val_ = 0, n_train_ = 0, n_test_ = 0, probe_every_ = 0;
  int64_t C_ = 0, H_ = 0, W_ = 0, img_ = 0;
  Shape example_;
  bool carry_ = false;
  AugmentConfig augment_;  // of the training rows, in load_epoch()
  std::optional<CarriedStarts> carried_;

  // Model, optimizer, learning rate, and where they run.
  std::optional<Model> model_;
  std::optional<Sgd> sgd_;
  int64_t batches_ = 0;
  LrSchedule lr_;
  std::unique_ptr<ComputeBackend> backend_;

  // Checkpoints and resumption; best.h5, the state of the best validated epoch.
  std::string ck_path_, best_path_;
  ValidationRecord val_;      // stored in every checkpoint (extra_json "validation")
  bool write_best_ = false;   // the next checkpoint is the best so far: also written as best.h5
  int64_t start_step_ = 0;
  nlohmann::json resumed_scheduler_;
  int64_t last_checkpoint_step_ = -1;
  int64_t last_good_step_ = -1;  // the step of the checkpoint on disk

  // The scheduler (rank 0's), its decisions and the guard.
  Spend spent_before_;
  std::optional<TrainingScheduler> sched_;
  Decision dec_;
  nlohmann::json trace_ = nlohmann::json::array();  // [step, eps, K, alpha] as applied here
  std::unique_ptr<GuardProbe> probe_;
  Snapshot snapshot_;  // the last state whose guard probe was healthy
  int64_t adapt_every_ = 50;
  double gain_first_ = 0, gain_last_ = 0;  // adaptive signal: loss gained by the first and last attack step
  bool need_decision_ = true;
  std::string stop_reason_;

  // Where the loop is, and the epoch's rows.
  int64_t step_ = 0, total_steps_ = 0;
  int loaded_epoch_ = -1;
  Rows rows_;
  std::vector<int64_t> offsets_;  // where each batch's part begins in rows_
  Tensor x_;                      // the batch this rank trained on last (the health check's)
  std::vector<int32_t> labels_;

  // Throughput over the run.
  double flops_per_image_ = 0, train_seconds_ = 0, attack_seconds_ = 0, comm_exposed_ = 0, comm_total_ = 0;
  int64_t images_done_ = 0;
  // This epoch, for its summary and the cost model: wall time, time not in steps, steps per K.
  Clock::time_point t_epoch_;
  // Where the current epoch's whole cost began (the end of the set-up or of the previous
  // epoch's bookkeeping): its line's epoch_wall_s counts data, steps, probes, validation
  // and checkpoints, as the plan's rows do.
  Clock::time_point t_epoch_mark_;
  double ep_loss_ = 0, ep_correct_ = 0, ep_n_ = 0, ep_aside_s_ = 0;
  std::map<int, int64_t> ep_steps_at_k_;
};

// Trains; returns the final summary (clean, FGSM, PGD accuracies, throughput, cost).
// Throws Interrupted (exit 75) after writing a checkpoint when stop_requested().
nlohmann::json train(const TrainConfig& cfg, Communicator& comm, TrainObserver& obs);

}  // namespace rampart
