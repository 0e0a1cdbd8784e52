// The overfitting guard's probe (cluster/schedule/overfit_guard.h decides on its result): PGD on
// the training rows held out for it, each rank its part, with fixed random starts, so
// that successive probes differ only by the model.
#pragma once
#include <cstdint>
#include <vector>

#include "cluster/comm/communicator.h"
#include "cluster/train/compute_backend.h"
#include "cluster/train/trainer.h"
#include "runtime/data/dataset.h"

namespace rampart {

class GuardProbe {
 public:
  // Reads this rank's part of rows [first, end) of `set` (the held-out rows); nothing
  // when first == end.
  GuardProbe(const Dataset& set, int64_t first, int64_t end, int rank, int world);

  // PGD (cfg.probe_steps steps of 2.5 eps / steps at cfg.eps) on the held-out rows with
  // the current weights: the robust accuracy over all ranks (collective).
  double run(ComputeBackend& backend, Communicator& comm, const TrainConfig& cfg) const;

 private:
  Tensor x_;
  std::vector<int32_t> y_;
  int64_t first_ = 0;  // index of this rank's first row among the held-out rows
};

}  // namespace rampart
