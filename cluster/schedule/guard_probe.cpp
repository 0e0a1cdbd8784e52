// The guard's probe (see guard_probe.h).
#include "cluster/schedule/guard_probe.h"

#include "runtime/data/sampler.h"

namespace rampart {

GuardProbe::GuardProbe(const Dataset& set, int64_t first, int64_t end, int rank, int world) {
  if (end <= first) return;
  auto [pb, pe] = rank_slice(first, end, rank, world);
  const int64_t C = set.channels(), H = set.height(), W = set.width();
  std::vector<uint8_t> im((pe - pb) * C * H * W);
  y_.resize(size_t(pe - pb));
  if (pe > pb) set.read_range(pb, pe, im.data(), y_.data());
  images_to_tensor(im.data(), pe - pb, C, H, W, x_);
  first_ = pb - first;
}

double GuardProbe::run(ComputeBackend& backend, Communicator& comm, const TrainConfig& cfg) const {
  const AttackConfig p = make_attack("pgd", {cfg.eps, 2.5f * cfg.eps / float(cfg.probe_steps), cfg.probe_steps});
  EvalCounts mine = backend.evaluate_batch(x_, y_.data(), first_, {p}, cfg.seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<double> packed = mine.pack();
  comm.allreduce_sum(packed.data(), int64_t(packed.size()));
  EvalCounts c;
  c.unpack(packed);
  return c.n > 0 ? double(c.robust_correct[0]) / double(c.n) : 0.0;
}

}  // namespace rampart
