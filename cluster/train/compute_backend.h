// What the training loop computes, behind one small interface: attack a batch,
// forward and loss, backward with the bucketed gradient all-reduce, the SGD update,
// evaluation. One implementation (compute_backend.cpp) for every device: the
// Model, attack engine, evaluator and optimizer run where their tensors live, and
// each layer calls the CPU or the CUDA kernel for them (kernels/dispatch/).
//
// The host copies of the Model's parameters and the Sgd momentum are what
// checkpoints, the initial broadcast and the guard's snapshots read and write, so
// files are the same bytes on every device. On a GPU the working copy is copied
// across only when asked (download_state / upload_state); on the CPU they are one.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/comm/communicator.h"
#include "cluster/schedule/cost_model.h"
#include "cluster/comm/grad_reducer.h"
#include "cluster/schedule/step_calibration.h"
#include "runtime/attacks/attack.h"
#include "runtime/data/dataset.h"
#include "runtime/evaluate.h"
#include "runtime/objectives/objective.h"
#include "runtime/model.h"
#include "runtime/optimizer.h"

namespace rampart {

// Sums of one forward's softmax cross-entropy over this rank's examples.
struct LossTotals {
  double loss_sum = 0;
  int64_t correct = 0;
};

class ComputeBackend {
 public:
  virtual ~ComputeBackend() = default;
  virtual std::string device() const = 0;    // "cpu" or "cuda" (as --device spells it)
  virtual std::string describe() const = 0;  // for messages, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)"

  // ConfigError for an attack this device cannot run, so that a run fails before it starts.
  virtual void check_attack(const AttackConfig& a) const {}

  // Timed passes for the cost model on one local batch (step_calibration.h).
  // Collective when the world has more than one rank.
  virtual StepCosts calibrate(const Tensor& x, const int32_t* labels, const CalibrationOptions& opt) = 0;

  // The training loss (runtime/objectives: "ce", "trades", "mart"); "ce" until set.
  virtual void set_training_loss(const std::string& name, const ObjectiveParams& params) = 0;

  // --- One training step, in this order ---------------------------------------
  // x: [n, C, H, W] in [0,1], labels: [n], this rank's part of the batch (n may be 0).
  // Both must stay valid and unchanged until forward_loss() returns.
  virtual void set_batch(const Tensor& x, const int32_t* labels) = 0;
  // Attacks the batch (n > 0); the step then trains on the attack's output.
  // carried (host pointers, optional): carried starts (runtime/attacks/carry.h).
  virtual AttackStats attack(const AttackConfig& cfg, const RandomKey& key,
                             const CarriedStart* carried = nullptr) = 0;
  // The last attack's output on the host, [n, C, H, W] (to carry it to the next epoch).
  virtual const Tensor& adversarial_host() = 0;
  // Training-mode forward and the training loss; the gradient of the logits is kept for
  // backward, scaled by grad_scale (1 / global batch: the all-reduce sums). A loss of two
  // predictions (TRADES, MART) forwards the clean batch, then the attacked one, in train
  // mode (batchnorm's running statistics move twice, as in the reference code).
  virtual LossTotals forward_loss(float grad_scale) = 0;
  // Backward of that loss; gradients are all-reduced bucket by bucket while backward
  // runs on earlier layers. On return they hold the sum over ranks. A loss of two
  // predictions backpropagates the attacked branch, then forwards the clean batch again
  // (its running statistics restored afterwards) and backpropagates the clean branch.
  virtual GradReducer::Stats backward_allreduce() = 0;
  // SGD with momentum on the summed gradients.
  virtual void sgd_step(double lr) = 0;

  // --- State --------------------------------------------------------------------
  // Device -> host Model parameters and Sgd momentum (before a checkpoint or snapshot).
  virtual void download_state() = 0;
  // Host -> device (after the host state was changed: a snapshot restored).
  virtual void upload_state() = 0;

  // --- Evaluation with the current weights --------------------------------------
  // One batch (x: [n, C, H, W], n may be 0), counts of this rank only.
  virtual EvalCounts evaluate_batch(const Tensor& x, const int32_t* labels, int64_t first_example,
                                    const std::vector<AttackConfig>& attacks, uint64_t seed) = 0;
  // The first n images of `set`, split across ranks (distributed_eval.h); totals, and
  // every example's results on every rank when `examples` is given.
  virtual EvalCounts evaluate_shard(const Dataset& set, int64_t n, const std::vector<AttackConfig>& attacks,
                                    uint64_t seed, int64_t batch, ExampleResults* examples = nullptr) = 0;
};

// Throws ConfigError unless `device` can run here: "cpu" always; "cuda" in a build
// with the CUDA backend on a machine with a visible GPU. The message says what was
// expected, what was found and how to fix it.
void check_device(const std::string& device);
// "cpu" or "cuda" as a Device; ConfigError for any other word.
Device parse_device(const std::string& device);

// The backend for `device` ("cpu" or "cuda"; check_device() first). model (and sgd)
// are the host copies; they must outlive the backend. A device backend starts from
// their current values (uploads them). sgd == nullptr: evaluation only (the training
// calls then throw std::logic_error). comm: the job's communicator (with NCCL, the
// gradients are reduced in GPU memory). local_rank picks the GPU (world.h).
// bucket_bytes: the gradient all-reduce's bucket size.
// Moves model (and sgd) to the device: ConfigError, naming them, for layers or attacks
// it cannot run (Model::to, check_attack), before anything is trained.
std::unique_ptr<ComputeBackend> make_compute_backend(const std::string& device, Model& model, Sgd* sgd,
                                                     Communicator& comm, int local_rank, int64_t bucket_bytes);

}  // namespace rampart
