// The health check before a checkpoint (see checkpoint_health.h).
#include "cluster/train/checkpoint_health.h"

#include <algorithm>
#include <cmath>

#include "runtime/errors.h"
#include "runtime/evaluate.h"

namespace rampart {

std::string kept_checkpoint_note(const std::string& ck_path, int64_t last_good_step) {
  if (ck_path.empty()) return "no checkpoint is written (no --out)";
  if (last_good_step < 0) return "no checkpoint was written";
  return ck_path + " (step " + std::to_string(last_good_step) + ") is kept as it was";
}

void check_checkpoint_health(ComputeBackend& backend, const Model& model, const Sgd& sgd, const Tensor& x,
                             const int32_t* labels, uint64_t seed, Communicator& comm, int64_t step,
                             const std::string& ck_path, int64_t last_good_step) {
  backend.download_state();
  double bad = 0;  // 1: not finite, 2: the loss diverged
  const float* w = model.flat_params();
  const float* mom = sgd.momentum();
  for (int64_t i = 0; i < model.num_params(); ++i)
    if (!std::isfinite(w[i]) || !std::isfinite(mom[i])) { bad = 1; break; }
  if (bad == 0 && x.ndim() > 0 && x.dim(0) > 0) {
    const EvalCounts e = backend.evaluate_batch(x, labels, 0, {}, seed);
    const double loss = e.clean_loss_sum / double(std::max<int64_t>(1, e.n));
    if (!(loss <= kDivergedLoss)) bad = 2;
  }
  if (comm.size() > 1) comm.allreduce_max(&bad, 1);
  if (bad == 0) return;
  throw DataError("training diverged at step " + std::to_string(step) + ": " +
                  (bad == 1 ? std::string("the weights or momentum are no longer finite")
                            : "the loss at the updated weights is not finite or above " +
                                  std::to_string(int(kDivergedLoss))) +
                  "; " + kept_checkpoint_note(ck_path, last_good_step) +
                  "; lower --lr (or check the data) and run again" +
                  (last_good_step >= 0 && !ck_path.empty() ? " with --resume" : ""));
}

}  // namespace rampart
