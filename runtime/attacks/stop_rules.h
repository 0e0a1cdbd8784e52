// The rules that decide which iterate an attack returns, per example:
//   EarlyStopRule  stop moving an example tau steps after it is first misclassified
//                  (early-stopped PGD, Zhang et al. 2020); its gradient rows are zeroed
//   BestIterate    keep the strongest iterate seen (misclassified first, then the highest
//                  loss) instead of the last one; evaluation uses it, Madry's training does not
// The fixed number of steps and restarts is the engine's loop (attack.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/tensor.h"

namespace rampart {

class EarlyStopRule {
 public:
  // tau < 0: off (every example moves for every step). Called at each restart's start.
  void reset(int tau, int64_t n);
  bool on() const { return tau_ >= 0; }
  // After the loss at an iterate (correct: [n]): examples misclassified for the first time
  // get tau more steps; the gradient rows (dlogits: [n, k]) of those whose steps ran out are zeroed.
  // correct and dlogits live on d; the bookkeeping is the host's (n small integers).
  void apply(Device d, const uint8_t* correct, float* dlogits, int64_t n, int64_t k);

 private:
  int tau_ = -1;
  std::vector<int> stop_in_;  // -1: not yet misclassified; else steps left to move
  std::vector<uint8_t> correct_host_, moving_;  // off the CPU: the copies the rule reads and writes
  Buffer<uint8_t> moving_dev_;
};

class BestIterate {
 public:
  // Forgets everything: x: [N, ...] is the shape of the iterates, on device d. Called once
  // per attack (the best is kept across restarts).
  void reset(const Shape& shape, Device d);
  // Records x_cur's rows that beat the best so far, given their loss and correctness ([N]
  // each, on x_cur's device).
  void consider(const Tensor& x_cur, const float* loss, const uint8_t* correct);
  const Tensor& best() const { return best_x_; }
  int64_t fooled() const;  // examples whose best iterate is misclassified

 private:
  Tensor best_x_;
  Tensor best_loss_;
  Buffer<uint8_t> best_fooled_;
};

}  // namespace rampart
