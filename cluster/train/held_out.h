// The training rows held out at the end of the training set, and their evaluation: one
// region serves both the overfitting guard's probe (cluster/schedule/guard_probe.h) and the
// held-out validation set of --val-split, which picks best.h5 (robust overfitting, Rice et al.
// 2020). Both are the last rows of the (limited) set, so a run with both holds out only the
// larger of the two, and the probe's rows are the last of the validation rows.
#pragma once
#include <cstdint>

#include "cluster/comm/communicator.h"
#include "cluster/train/compute_backend.h"
#include "cluster/train/train_config.h"
#include "runtime/attacks/attack.h"
#include "runtime/data/dataset.h"
#include "runtime/evaluate.h"

namespace rampart {

// PGD steps of the per-epoch validation (its step is 2.5 eps / steps, 1 restart).
constexpr int kValidationSteps = 10;

// How the n_images rows of the training set (after --limit) are split:
// [0, n_train) trained on; [n_images - n_val, n_images) the validation rows;
// [n_images - n_probe, n_images) the guard's probe rows; n_train = n_images - max(n_val, n_probe).
struct HeldOut {
  int64_t n_images = 0, n_train = 0, n_val = 0, n_probe = 0;
  int64_t val_first() const { return n_images - n_val; }
  int64_t probe_first() const { return n_images - n_probe; }
};

// ConfigError when cfg.val_split leaves no image to train on (val_split >= n_images), saying
// what was expected, what was found and how to fix it.
HeldOut hold_out(const TrainConfig& cfg, int64_t n_images);

// L-inf PGD at eps with `steps` steps of 2.5 eps / steps, 1 restart: the probe's and the
// validation's attack.
AttackConfig held_out_attack(float eps, int steps);

// Clean and `attack` accuracy counts of rows [first, last) of `set` with the backend's current
// weights, each rank its contiguous part in batches of at most max_batch rows, summed over
// ranks (collective; every rank gets the totals). Random starts are keyed by (seed, the row's
// place among [first, last)): the answer does not depend on the number of ranks. stoppable:
// see evaluate_rows_with (distributed_eval.h).
EvalCounts evaluate_held_out(ComputeBackend& backend, Communicator& comm, const Dataset& set, int64_t first,
                             int64_t last, const AttackConfig& attack, uint64_t seed, int64_t max_batch,
                             bool stoppable);

}  // namespace rampart
