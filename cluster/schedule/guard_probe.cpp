// The guard's probe (see guard_probe.h).
#include "cluster/schedule/guard_probe.h"

#include <algorithm>

#include "cluster/train/held_out.h"

namespace rampart {

double GuardProbe::run(ComputeBackend& backend, Communicator& comm, const TrainConfig& cfg) const {
  const AttackConfig p = held_out_attack(cfg.eps, cfg.probe_steps);
  const EvalCounts c = evaluate_held_out(backend, comm, set_, first_, end_, p, cfg.seed ^ 0x9e3779b97f4a7c15ull,
                                         std::max<int64_t>(1, end_ - first_), /*stoppable=*/false);
  return c.n > 0 ? double(c.robust_correct[0]) / double(c.n) : 0.0;
}

}  // namespace rampart
