// The Trainer's calibration of the cost model (see trainer.h): what a step, an epoch's data
// and a checkpoint cost here, measured before training with the code that training runs.
#include <algorithm>

#include "cluster/schedule/step_calibration.h"
#include "cluster/schedule/train_schedule.h"
#include "cluster/train/checkpoint_health.h"
#include "cluster/train/trainer.h"
#include "cluster/train/training_step.h"
#include "runtime/data/sampler.h"
#include "runtime/errors.h"

namespace rampart {

StepCosts Trainer::calibrate_costs() {
  // The epoch's data: this rank's rows of epoch 0, read and augmented as load_epoch() does
  // at every epoch start (read again there: the first epoch is timed as every other).
  const auto t_load = Clock::now();
  load_epoch(0);
  const double load_s = seconds_since(t_load);
  auto [gb, ge] = batch_slice(0, n_train_, cfg_.batch);
  auto [lb, le] = rank_slice(gb, ge, rank_, world_);
  const StepBatch batch{rows_.images.data(), rows_.labels.data(), rows_.index.data(), rows_.order.data() + gb,
                        le - lb, ge - gb, C_, H_, W_};
  const int64_t first_example = lb - gb;  // a plain copy: lambdas may not capture bindings (clang)

  // The passes one by one, on this rank's part of the first batch (kept for the report,
  // the split of a step into attack and the rest, and the evaluation's cost per image).
  Tensor xc;
  images_to_tensor(batch.images, batch.n_local, C_, H_, W_, xc);
  StepCosts sc = backend_->calibrate(xc, batch.labels, calibration_for(cfg_));
  sc.epoch_load_s = load_s;

  // Whole steps, run by the step's own code on that batch at K = 1 and a larger K
  // (calibration_k), from the state as it is, which is put back afterwards:
  // weights, momentum, batchnorm statistics and the carried perturbations.
  backend_->download_state();
  Snapshot saved;
  saved.take(start_step_, *model_, *sgd_);
  const CarriedStarts saved_carried = *carried_;
  const double lr = lr_.at(start_step_);
  auto step_at = [&](int K) {
    AttackConfig a;
    if (adversarial_) {
      Decision d;
      d.K = K;
      d.eps = attack_.eps;
      d.alpha = 2.5 * attack_.eps / std::max(1, K);
      a = scheduled_attack(base_attack_, policy_, d, cfg_.early_stop_tau);
    }
    const RandomKey key{cfg_.seed, Stream::kRandomStart, uint64_t(start_step_), first_example};
    run_training_step(*backend_, comm_, *model_, *carried_, batch, adversarial_ ? &a : nullptr, key, lr, x_, labels_);
  };
  const int k_hi = calibration_k(cfg_);
  const WholeStepFit fit = adversarial_ ? time_whole_steps(step_at, 1, k_hi, kWholeStepRepeats)
                                        : time_whole_steps(step_at, 0, 0, kWholeStepRepeats);
  apply_whole_steps(sc, fit);
  saved.restore(*model_, *sgd_);
  backend_->upload_state();
  *carried_ = saved_carried;
  loaded_epoch_ = -1;

  // One checkpoint as the epochs write it: the health check, then rank 0 writes a file of
  // this run's size into --out while the others wait (with the other ranks' carried
  // perturbations as zeros: their trip to rank 0, a collective, is not timed). A folder that cannot be written now
  // fails at the first checkpoint, with its own message; here it leaves the write untimed.
  if (!ck_path_.empty()) {
    const auto t_write = Clock::now();
    check_checkpoint_health(*backend_, *model_, *sgd_, x_, labels_.data(), cfg_.seed, comm_, start_step_, ck_path_,
                            last_good_step_);
    double bytes = 0;
    if (lead_) {
      try {
        bytes = time_checkpoint_write(checkpoint_of(start_step_, /*gather_carried=*/false), cfg_.out).bytes;
      } catch (const IoError&) {
        bytes = -1;
      }
    }
    comm_.barrier();
    if (bytes >= 0) {
      sc.checkpoint_write_s = seconds_since(t_write);
      sc.checkpoint_bytes = bytes;
    }
  }
  return sc;
}

}  // namespace rampart
