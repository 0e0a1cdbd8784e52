// The held-out training rows and their evaluation (see held_out.h).
#include "cluster/train/held_out.h"

#include <algorithm>
#include <string>

#include "cluster/schedule/train_schedule.h"
#include "cluster/train/distributed_eval.h"
#include "runtime/errors.h"

namespace rampart {

HeldOut hold_out(const TrainConfig& cfg, int64_t n_images) {
  if (cfg.val_split > 0 && cfg.val_split >= n_images)
    throw ConfigError("--val-split must be below the number of training images (" + std::to_string(n_images) +
                      (cfg.limit > 0 ? " after --limit" : "") + "): the held-out images are not trained on; found " +
                      std::to_string(cfg.val_split) + "; give e.g. --val-split " +
                      std::to_string(std::max<int64_t>(1, n_images / 10)));
  HeldOut h;
  h.n_images = n_images;
  h.n_val = std::max<int64_t>(0, cfg.val_split);
  h.n_probe = cfg.attack != "none" ? probe_holdout(cfg, n_images) : 0;
  h.n_train = n_images - std::max(h.n_val, h.n_probe);
  return h;
}

AttackConfig held_out_attack(float eps, int steps) {
  return make_attack("pgd", {eps, 2.5f * eps / float(steps), steps});
}

EvalCounts evaluate_held_out(ComputeBackend& backend, Communicator& comm, const Dataset& set, int64_t first,
                             int64_t last, const AttackConfig& attack, uint64_t seed, int64_t max_batch,
                             bool stoppable) {
  // Each batch's counts (backend.evaluate_batch) summed on this rank, then over the ranks.
  std::vector<double> mine = backend.evaluate_batch(Tensor(), nullptr, 0, {attack}, seed).pack();
  EvalCounts local;
  local.unpack(mine);
  auto add = [&](const Tensor& x, const int32_t* labels, int64_t first_example) {
    const std::vector<double> c = backend.evaluate_batch(x, labels, first_example, {attack}, seed).pack();
    for (size_t i = 0; i < mine.size(); ++i) mine[i] += c[i];
    local.unpack(mine);
  };
  return evaluate_rows_with(add, local, set, first, last, max_batch, comm, stoppable, max_batch);
}

}  // namespace rampart
