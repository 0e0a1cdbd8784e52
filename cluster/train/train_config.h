// The training configuration, one struct whoever trains (rampart train, rampart plan, tests),
// and its one validation, validate(), which train() calls before anything else.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "cluster/schedule/budget.h"
#include "cluster/schedule/cost_model.h"

namespace rampart {

struct TrainConfig {
  // Data
  std::string data, test_data;
  int64_t limit = 0;        // use the first `limit` training images (0: all)
  int64_t eval_limit = 0;   // evaluate on the first `eval_limit` test images (0: all)
  // Hold out the last `val_split` training images (after `limit`; not trained on) and evaluate
  // PGD-10 on them after every epoch; the best epoch's state is kept as <out>/best.h5 (0: off).
  int64_t val_split = 0;
  // Training-set augmentation (runtime/data/augment.h): none, flip, crop-flip, resized-crop.
  std::string augment = "none";
  int crop_padding = 4;
  float min_crop_scale = 0.08f;
  // Model and optimisation
  std::string model = "small-cnn";
  uint64_t seed = 0;
  int epochs = 5;
  int64_t batch = 128;      // global batch, split across ranks
  double lr = 0.05;
  // Large global batches (many ranks): the peak learning rate is scaled from the batch `lr` was
  // tuned for, lr_base_batch: "none", "linear" (lr * batch / base, Goyal et al. 2017) or "sqrt"
  // (lr * sqrt(batch / base)). effective_lr() is what the schedule peaks at.
  std::string lr_scaling = "none";
  int64_t lr_base_batch = 128;
  std::string lr_schedule = "warmup-cosine";
  double warmup = 0.1;
  double momentum = 0.9, weight_decay = 5e-4;
  // Training objective: "ce" (Madry PGD-AT), "trades" or "mart" (runtime/objectives), with
  // beta, the weight of their KL term.
  std::string loss = "ce";
  double beta = 6.0;
  // Training attack
  std::string attack = "pgd";  // pgd, fgsm-rs, pgd-l2, none
  float eps = 0.1f, alpha = 0.025f;
  int steps = 7;
  int early_stop_tau = -1;
  // Where each attack starts: "random" (Madry), "carry" (where the example's attack of the
  // last epoch ended; runtime/attacks/carry.h), "" (carry for budgeted/adaptive, else random).
  std::string attack_init;
  // Batchnorm statistics in the training attack's passes: "train" (the batch's, updating the
  // running ones: PyTorch's train mode), "eval" (the running ones) or "auto" (the objective's
  // reference: train for cross-entropy PGD-AT, eval for TRADES and MART). Evaluation always
  // uses the running ones.
  std::string attack_bn = "auto";
  // The arithmetic of the training attack's passes: "fp32", or "bf16" (BF16 convolutions on
  // CPUs with native BF16; kernels/common/precision.h). The weight update and every
  // evaluation stay FP32.
  std::string attack_precision = "fp32";
  // Final evaluation
  int eval_steps = 20;
  float eval_alpha = 0.01f;
  int eval_restarts = 1;
  bool eval_fgsm = true;
  // Also AutoAttack (standard: APGD-CE, APGD-T, FAB-T, Square) after PGD; CPU only. Its cost
  // is reserved for the worst case, every image robust to the end (calibration_for).
  bool eval_autoattack = false;
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

// Every check of a configuration that needs neither the data nor a communicator, in one
// place; world: the number of ranks (batch must cover them). Throws ConfigError (78) saying
// what was expected, what was found and how to fix it, or UsageError (64) for --resume
// without --out. `rampart train` and `rampart plan` call it as the flags are read (world 1),
// so that a bad setting fails before MPI starts; train() calls it again with the real world.
// Checks that need the data stay where the data is read (trainer_setup.cpp, train_report.cpp):
// the model's outputs against the data's classes, the resumed checkpoint against the model,
// the test set's shape and labels, and whether the device can run the attacks. Whether this
// machine can run cfg.device at all is check_device()'s (compute_backend.h): a property of the
// machine, not of the configuration (`rampart plan` plans for a device it need not have).
void validate(const TrainConfig& cfg, int world);

// The peak learning rate after --lr-scaling (cfg.lr itself with "none").
double effective_lr(const TrainConfig& cfg);

}  // namespace rampart
