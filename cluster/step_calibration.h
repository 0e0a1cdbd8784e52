// Calibration of the cost model: time a few real passes of this model on a real batch
// (forward, backward to the input, full backward, optimizer, data staging, and one gradient
// all-reduce when world > 1) before training starts, or for `rampart plan`.
// The model's weights, gradients' later use and batchnorm statistics are left as they were.
#pragma once
#include <cstdint>

#include "cluster/communicator.h"
#include "cluster/cost_model.h"
#include "runtime/model.h"
#include "runtime/tensor.h"

namespace rampart {

struct CalibrationOptions {
  int repeats = 3;                // timed repetitions of each pass (the median is kept)
  // Passes of the final evaluation per image: attack passes and extra forwards.
  double eval_attack_passes = 21;  // e.g. FGSM (1) + PGD-20 x 1 restart
  double eval_forwards = 3;        // clean + one per attack
};

// x: one local batch [n, C, H, W] in [0,1] with its labels. Collective when comm.size() > 1
// (every rank must call it: the all-reduce is timed); each rank returns its own timings.
StepCosts calibrate_step_costs(Model& model, const Tensor& x, const int32_t* labels, const CalibrationOptions& opt,
                               Communicator& comm);

}  // namespace rampart
