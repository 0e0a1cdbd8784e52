// Calibration of the cost model: time a few real passes of this model on a real batch
// (forward, backward to the input, full backward, optimizer, data staging, and one gradient
// all-reduce when world > 1) before training starts, or for `rampart plan`; then whole
// training steps at two K, which the prediction uses (the passes' sum misses what lies
// between them), and one real checkpoint write.
// The model's weights, gradients' later use and batchnorm statistics are left as they were.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "cluster/comm/communicator.h"
#include "cluster/schedule/cost_model.h"
#include "runtime/checkpoint.h"
#include "runtime/model.h"
#include "runtime/tensor.h"

namespace rampart {

struct CalibrationOptions {
  int repeats = 3;                // timed repetitions of each pass (the median is kept)
  // Passes of the final evaluation per image: attack passes and extra forwards.
  double eval_attack_passes = 21;  // e.g. FGSM (1) + PGD-20 x 1 restart
  double eval_forwards = 3;        // clean + one per attack
  // The training loss's passes besides the attack's (StepCosts::train_forwards, _backwards).
  double train_forwards = 1, train_backwards = 1;
};

// The passes to time, each a callable that runs one whole pass and returns when it
// is done (a GPU backend waits for its stream), so that any device can be timed the
// same way. forward, attack_pass and train_pass are skipped for an empty batch;
// allreduce (one all-reduce of a gradient-sized buffer, as a step does it) only runs
// when comm.size() > 1, and then on every rank: it is collective.
struct CalibrationPasses {
  int64_t batch = 0;                   // examples in the local batch
  std::function<void()> forward;       // a forward pass
  std::function<void()> attack_pass;   // forward, loss gradient, backward to the input
  std::function<void()> train_pass;    // forward, loss gradient, backward to the parameters
  std::function<void()> optimizer;     // one optimizer step (on scratch copies)
  std::function<void()> allreduce;     // one gradient all-reduce
};

// Times the passes (median of opt.repeats after one warm-up each).
StepCosts time_step_costs(const CalibrationPasses& passes, const CalibrationOptions& opt, Communicator& comm);

// x: one local batch [n, C, H, W] in [0,1] with its labels. Collective when comm.size() > 1
// (every rank must call it: the all-reduce is timed); each rank returns its own timings.
StepCosts calibrate_step_costs(Model& model, const Tensor& x, const int32_t* labels, const CalibrationOptions& opt,
                               Communicator& comm);

// A whole step at K attack steps (K = 0: clean training), as training runs it, returning
// when it is done on the device. Collective when the world has more than one rank.
using WholeStep = std::function<void(int K)>;

struct WholeStepFit {
  double attack_s = 0;  // seconds per attack step (0 when k_lo == k_hi; < 0 from noise)
  double fixed_s = 0;   // seconds of a step besides its attack (< 0 from noise)
  int k_lo = 0, k_hi = 0;
  double lo_s = 0, hi_s = 0;  // medians at k_lo and k_hi
};

// One untimed warm-up at each K, then `repeats` rounds of step(k_lo), step(k_hi), alternated
// so that a change of the machine's load falls on both; medians; the line through them.
// k_lo == k_hi: the fixed part only (clean training). Every rank must call it alike.
WholeStepFit time_whole_steps(const WholeStep& step, int k_lo, int k_hi, int repeats);
// Writes the fit into c (whole_step_attack_s, whole_step_fixed_s). One K timed, or a line
// with a part <= 0 (noise): the mean timing, split between the parts as the passes split it.
void apply_whole_steps(StepCosts& c, const WholeStepFit& fit);

// Writes ck once as a scratch file in `dir` (write_checkpoint: flushed, fsync'ed, renamed)
// and removes it: the seconds it took and the file's bytes. IoError as write_checkpoint.
struct WriteTiming {
  double seconds = 0, bytes = 0;
};
WriteTiming time_checkpoint_write(const Checkpoint& ck, const std::string& dir);

}  // namespace rampart
