// L-inf PGD and evaluation on GPU: the twins of runtime/attacks/attack.h's
// Attacker and runtime/evaluate.h's Evaluator for a GpuModel, with the fused
// kernels of rampart_cuda (random start fused into the first step, PGD step,
// softmax cross-entropy with per-example correctness). The K steps run without a
// host synchronisation; the per-step losses come back in one copy at the end.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cuda/softmax_xent.cuh"
#include "runtime/attacks/attack.h"
#include "runtime/evaluate.h"
#include "runtime/gpu/gpu_model.h"

namespace rampart::gpu {

class GpuAttacker {
 public:
  // x, x_adv: device [n, C, H, W] in [0, 1]; labels: device [n].
  // Draws the same random starts as Attacker::run for the same key (Philox,
  // same counters), so CPU and GPU attacks differ only by the models' rounding.
  // fooled (optional, device [n]): set to 1 for every example that some iterate
  // (x_0 .. x_K of every restart) misclassifies; never cleared here. This is what
  // cfg.keep_best decides on the CPU; keep_best itself (returning the best
  // iterate) is not implemented here, so a config with it set throws ConfigError,
  // as do L2 and early stopping (not on GPU yet). x_adv is the last iterate.
  // The model's parameter gradients are left untouched. Waits for the attack to
  // finish (to return step_loss).
  // carried_delta [n, C, H, W] and carried_has [n] (device, both or neither): the first
  // restart starts from the carried perturbation for examples with has != 0 (as
  // Attacker::run with a CarriedStart).
  AttackStats run(GpuModel& model, const float* x, const int32_t* labels, int64_t n, const AttackConfig& cfg,
                  const RandomKey& key, float* x_adv, uint8_t* fooled = nullptr,
                  const float* carried_delta = nullptr, const uint8_t* carried_has = nullptr);

 private:
  DeviceArray<float> dlogits_, loss_;
  DeviceArray<uint8_t> correct_;
  DeviceArray<cuda::XentTotals> totals_;
};

// Clean and robust counts over batches, as Evaluator::add, on GPU. The attacks'
// random starts use the same keys as the CPU Evaluator's, so both count the same
// examples up to rounding.
class GpuEvaluator {
 public:
  GpuEvaluator(std::vector<AttackConfig> attacks, uint64_t seed);
  // x: host [n, C, H, W] channels-last in [0, 1]; labels: host [n]; first_example:
  // index of x[0] in the whole evaluation set. Uploads the batch, waits for the result.
  void add(GpuModel& model, const Tensor& x, const int32_t* labels, int64_t first_example);
  const std::vector<AttackConfig>& attacks() const { return attacks_; }
  EvalCounts& counts() { return counts_; }

 private:
  std::vector<AttackConfig> attacks_;
  uint64_t seed_;
  EvalCounts counts_;
  GpuAttacker attacker_;
  DeviceArray<float> x_, x_adv_, loss_;
  DeviceArray<int32_t> labels_;
  DeviceArray<uint8_t> clean_ok_, fooled_;
  DeviceArray<cuda::XentTotals> totals_;
  std::vector<uint8_t> clean_ok_host_, fooled_host_;
};

}  // namespace rampart::gpu
