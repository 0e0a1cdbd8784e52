// One training step's work on this rank, shared by Trainer::step() and the whole-step
// calibration (the trainer's and `rampart plan`'s), so that what the cost model times is
// what training runs: the batch staged, attacked from its carried starts, the new
// perturbations recorded and exchanged, forward and loss, backward with the bucketed
// all-reduce, the SGD update, rank 0's batchnorm statistics. Collective when world > 1.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "cluster/comm/communicator.h"
#include "cluster/comm/grad_reducer.h"
#include "cluster/train/carried_starts.h"
#include "cluster/train/compute_backend.h"
#include "runtime/attacks/attack.h"
#include "runtime/model.h"
#include "runtime/tensor.h"

namespace rampart {

struct StepBatch {
  const uint8_t* images = nullptr;  // this rank's rows of the batch, [n_local, C, H, W] as stored
  const int32_t* labels = nullptr;  // [n_local]
  const int64_t* index = nullptr;   // [n_local]: each row's index in the training set
  const int64_t* batch_index = nullptr;  // [n_global]: every rank's rows (index is this rank's part)
  int64_t n_local = 0, n_global = 0;
  int64_t C = 0, H = 0, W = 0;
};

struct StepWork {
  AttackStats attack;
  double attack_s = 0;  // seconds in the attack (and the carried starts' exchange)
  LossTotals loss;
  GradReducer::Stats reduce;
};

// attack: nullptr for clean training (or n_local == 0: the attack is skipped, the
// collectives are not). x and labels receive the staged batch (the trainer keeps them for
// its checkpoint health check). check_loss runs between the forward and the backward
// (the trainer throws there on a diverged loss, before the weights move).
StepWork run_training_step(ComputeBackend& backend, Communicator& comm, Model& model, CarriedStarts& carried,
                           const StepBatch& batch, const AttackConfig* attack, const RandomKey& key, double lr,
                           Tensor& x, std::vector<int32_t>& labels,
                           const std::function<void(const LossTotals&)>& check_loss = {});

}  // namespace rampart
