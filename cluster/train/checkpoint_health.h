// Whether the training state may be checkpointed: a checkpoint is written only from finite
// weights and momentum whose loss on the batch just trained on is finite and below
// kDivergedLoss. The training loss of a step is computed before its update, so weights an update
// blew up are only seen here (or at the next step's forward, after the checkpoint would already
// have been replaced). Weights can stay finite for a step or two after they blow up, hence the
// loss bound: chance is ln(classes), a few nats.
#pragma once
#include <cstdint>
#include <string>

#include "cluster/comm/communicator.h"
#include "cluster/train/compute_backend.h"
#include "runtime/model.h"
#include "runtime/optimizer.h"

namespace rampart {

constexpr double kDivergedLoss = 1000;  // mean cross-entropy (nats) that means divergence

// Collective: every rank checks the host state (backend->download_state() first) and its own
// batch x [n, C, H, W] with labels (n may be 0), and all agree. Throws DataError naming the step
// and what happens to the checkpoint on disk (kept_checkpoint_note) when any rank finds it bad.
void check_checkpoint_health(ComputeBackend& backend, const Model& model, const Sgd& sgd, const Tensor& x,
                             const int32_t* labels, uint64_t seed, Communicator& comm, int64_t step,
                             const std::string& ck_path, int64_t last_good_step);

// "<ck_path> (step N) is kept as it was", or what stands in for it without a checkpoint.
std::string kept_checkpoint_note(const std::string& ck_path, int64_t last_good_step);

}  // namespace rampart
