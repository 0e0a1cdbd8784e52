// Input-space attacks on a model: L-inf PGD (random start, K steps, restarts),
// FGSM (with or without random start, i.e. Fast-AT) and L2 PGD.
// Attacks run with batchnorm in eval mode and compute input gradients only.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace rampart {

enum class Norm { kLinf, kL2 };

struct AttackConfig {
  std::string name = "pgd";  // for reports: "pgd", "fgsm", "fgsm-rs", "pgd-l2"
  Norm norm = Norm::kLinf;
  float eps = 0.1f;
  float alpha = 0.025f;      // step size
  int steps = 7;
  int restarts = 1;
  bool random_start = true;
  // Keep, per example, the strongest iterate seen (misclassified first, then the
  // highest loss) instead of the last one. Evaluation turns this on; Madry's
  // training uses the last iterate.
  bool keep_best = false;
  // Early-stopped PGD: stop moving an example tau steps after it is first
  // misclassified; -1 attacks every example for all steps.
  int early_stop_tau = -1;
};

// Checks the ranges (eps >= 0, steps >= 1, alpha > 0, restarts >= 1); ConfigError otherwise.
void validate(const AttackConfig& c, const std::string& where);

// FGSM without random start: one step of size eps.
AttackConfig fgsm_config(float eps);
// FGSM with random start (Wong et al. 2020): one step of 1.25 * eps.
AttackConfig fgsm_rs_config(float eps);
// L-inf PGD with random start.
AttackConfig pgd_config(float eps, float alpha, int steps, int restarts = 1);

// Where the random start's numbers come from: Philox (seed, stream), counter
// `sub` (e.g. the global step), and the index of the batch's first example in
// the global batch, so a batch split across ranks draws what one rank would.
struct RandomKey {
  uint64_t seed = 0;
  Stream stream = Stream::kRandomStart;
  uint64_t sub = 0;
  int64_t first_example = 0;
};

// Carried starts (runtime/attacks/carry.h): for examples with has[e] != 0 the first
// restart begins at clamp(x + clip(delta, -eps, eps), 0, 1) instead of a random point.
// delta: [N, C, H, W]; both pointers stay owned by the caller.
struct CarriedStart {
  const float* delta = nullptr;
  const uint8_t* has = nullptr;
};

struct AttackStats {
  int passes = 0;                 // forward + input-gradient passes run
  std::vector<double> step_loss;  // mean loss at each iterate x_0 .. x_{K-1} (before each step)
  int64_t fooled = 0;             // examples misclassified at the returned x_adv (keep_best only)
};

class Attacker {
 public:
  // x: [N, C, H, W] in [0, 1]; labels: [N]; writes x_adv (same shape).
  // The model's parameter gradients are left untouched.
  // carried (optional): where the first restart starts for the examples that have one.
  AttackStats run(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                  const RandomKey& key, Tensor& x_adv, const CarriedStart* carried = nullptr);

 private:
  void one_restart(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                   const RandomKey& key, Tensor& x_cur, AttackStats& st, const CarriedStart* carried);
  void consider(const Tensor& x_cur, const Tensor& logits, const int32_t* labels, int64_t n);

  Tensor x_cur_, dlogits_, best_x_;
  std::vector<float> loss_, best_loss_;
  std::vector<uint8_t> correct_, best_fooled_;
  std::vector<int> stop_in_;
};

}  // namespace rampart
