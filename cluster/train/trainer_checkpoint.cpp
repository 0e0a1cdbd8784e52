// The Trainer's checkpoints and the guard's snapshots (see trainer.h): what is written, when
// it may be written (checkpoint_health.h), and the state a rollback returns to.
#include "cluster/train/checkpoint_health.h"
#include "cluster/train/trainer.h"
#include "runtime/checkpoint.h"
#include "runtime/model_state.h"

namespace rampart {

nlohmann::json Trainer::scheduler_state(int64_t step) const {
  return sched_ ? sched_->to_json(spent_now(), dec_, int(step / batches_)) : nlohmann::json();
}

// Checked first (checkpoint_health.h): a bad state never replaces a good checkpoint, nor a
// good best.h5. Rank 0 writes, the other ranks sending it their carried perturbations; nobody
// runs ahead of a checkpoint that may be needed. When the state is the best validated so far
// (write_best_), the same checkpoint is also written as best.h5, before checkpoint.h5 (both
// atomically). A crash between the two leaves the older
// checkpoint.h5, whose record names the older best: a --resume replays the epoch bit for bit and
// writes the same best.h5 again.
void Trainer::write_checkpoint(int64_t step) {
  if (ck_path_.empty()) return;
  check_checkpoint_health(*backend_, *model_, *sgd_, x_, labels_.data(), cfg_.seed, comm_, step, ck_path_,
                          last_good_step_);
  const bool with_best = write_best_ && !best_path_.empty();
  if (lead_) {
    const Checkpoint ck = checkpoint_of(step);
    if (with_best) rampart::write_checkpoint(best_path_, ck);
    rampart::write_checkpoint(ck_path_, ck);
  } else {
    // The carried perturbations' shards go to rank 0 for each file it writes.
    for (int file = 0; file < 1 + int(with_best); ++file) carried_->stream(comm_, {});
  }
  write_best_ = false;
  last_checkpoint_step_ = last_good_step_ = step;
  comm_.barrier();
}

Checkpoint Trainer::checkpoint_of(int64_t step, bool gather_carried) {
  Checkpoint ck;
  store_model(*model_, &*sgd_, ck);
  ck.extra = {{"device", backend_->device()}};
  if (n_val_ > 0) ck.extra["validation"] = val_.to_json();
  ck.config = cfg_.config_text;
  ck.epoch = step / batches_;
  ck.step = step;
  ck.world_size = world_;
  ck.rng = {{"seed", cfg_.seed}, {"note", "counter-based: every draw is keyed by (seed, step, example)"}};
  ck.scheduler = scheduler_state(step);
  carried_->save(ck, gather_carried ? &comm_ : nullptr);
  return ck;
}

void Trainer::take_snapshot() {
  backend_->download_state();
  snapshot_.take(step_, *model_, *sgd_);
}

}  // namespace rampart
