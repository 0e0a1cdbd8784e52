// The overfitting guard's probe (cluster/schedule/overfit_guard.h decides on its result): PGD on
// the training rows held out for it (cluster/train/held_out.h: the last rows of the training
// set, shared with the --val-split validation rows), each rank its part, with fixed random
// starts, so that successive probes differ only by the model.
#pragma once
#include <cstdint>

#include "cluster/comm/communicator.h"
#include "cluster/train/compute_backend.h"
#include "cluster/train/trainer.h"
#include "runtime/data/dataset.h"

namespace rampart {

class GuardProbe {
 public:
  // The held-out rows [first, end) of `set` (which must outlive the probe); none when
  // first == end.
  GuardProbe(const Dataset& set, int64_t first, int64_t end) : set_(set), first_(first), end_(end) {}

  // PGD (cfg.probe_steps steps of 2.5 eps / steps at cfg.eps) on the held-out rows with
  // the current weights: the robust accuracy over all ranks (collective). Each rank's part
  // is one batch; a stop signal is left to the step boundary that follows.
  double run(ComputeBackend& backend, Communicator& comm, const TrainConfig& cfg) const;

 private:
  const Dataset& set_;
  int64_t first_ = 0, end_ = 0;
};

}  // namespace rampart
