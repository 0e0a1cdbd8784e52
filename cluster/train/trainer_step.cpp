// One global training step of the Trainer (see trainer.h): this rank's part of the batch,
// attacked, then trained on, with the gradients averaged over every rank's part.
#include <cmath>
#include <stdexcept>

#include "cluster/train/checkpoint_health.h"
#include "cluster/train/trainer.h"
#include "cluster/train/training_step.h"
#include "runtime/data/augment.h"
#include "runtime/data/sampler.h"
#include "runtime/errors.h"

namespace rampart {

// This rank's rows of the epoch, in the epoch's shuffled order, and where each batch's part
// begins among them. The epoch's statistics start over.
void Trainer::load_epoch(int epoch) {
  rows_.order = epoch_permutation(n_train_, cfg_.seed, epoch);
  rows_.index = rank_epoch_indices(rows_.order, cfg_.batch, rank_, world_);
  rows_.images.resize(rows_.index.size() * img_);
  rows_.labels.resize(rows_.index.size());
  train_set_->read_rows(rows_.index, rows_.images.data(), rows_.labels.data());
  // Drawn per (seed, epoch, example): the same images whichever rank reads them.
  augment_images(augment_, rows_.images.data(), rows_.index.data(), int64_t(rows_.index.size()), C_, H_, W_,
                 cfg_.seed, epoch);
  offsets_.assign(batches_ + 1, 0);
  for (int64_t i = 0; i < batches_; ++i) {
    auto [gb, ge] = batch_slice(i, n_train_, cfg_.batch);
    auto [lb, le] = rank_slice(gb, ge, rank_, world_);
    offsets_[i + 1] = offsets_[i] + (le - lb);
  }
  loaded_epoch_ = epoch;
  t_epoch_ = Clock::now();
  ep_loss_ = ep_correct_ = ep_n_ = ep_aside_s_ = 0;
  ep_steps_at_k_.clear();
}

StepMetrics Trainer::step() {
  if (step_ >= total_steps_)
    throw std::logic_error("Trainer::step: all " + std::to_string(total_steps_) + " steps have run");
  StepMetrics m;
  m.epoch = int(step_ / batches_);
  const int64_t b = m.batch_in_epoch = step_ % batches_;
  if (m.epoch != loaded_epoch_) load_epoch(m.epoch);
  auto [gb, ge] = batch_slice(b, n_train_, cfg_.batch);
  auto [lb, le] = rank_slice(gb, ge, rank_, world_);
  const int64_t n_local = le - lb, n_global = ge - gb;
  const int64_t first_example = lb - gb;  // position of this rank's part in the global batch
  const int64_t local_pos = offsets_[b];
  const auto t_step = Clock::now();

  // The step's work (training_step.h, shared with the calibration that times it).
  StepBatch batch{rows_.images.data() + local_pos * img_, rows_.labels.data() + local_pos,
                  rows_.index.data() + local_pos, rows_.order.data() + gb, n_local, n_global, C_, H_, W_};
  m.lr = lr_.at(step_);
  const RandomKey key{cfg_.seed, Stream::kRandomStart, uint64_t(step_), first_example};
  const StepWork w = run_training_step(
      *backend_, comm_, *model_, *carried_, batch, adversarial_ ? &attack_ : nullptr, key, m.lr, x_, labels_,
      [&](const LossTotals& tot) {
        if (!std::isfinite(tot.loss_sum))
          throw DataError("training diverged: the loss is " + std::to_string(tot.loss_sum) + " at step " +
                          std::to_string(step_) + " (rank " + std::to_string(rank_) + "); " +
                          kept_checkpoint_note(ck_path_, last_good_step_) + "; lower --lr or check the data");
      });
  const AttackStats& ast = w.attack;
  const LossTotals& tot = w.loss;
  attack_seconds_ += w.attack_s;
  comm_exposed_ += w.reduce.exposed_wait_s;
  comm_total_ += w.reduce.allreduce_s_total;

  // The step's facts, summed over ranks every log interval only (cheap).
  m.loss_sum = tot.loss_sum;
  m.correct = double(tot.correct);
  m.n_local = double(n_local);
  m.n_global = n_global;
  ep_loss_ += m.loss_sum; ep_correct_ += m.correct; ep_n_ += m.n_local;
  // The loss gained by the first and the last attack step (the last one ends at x_adv).
  const int K = m.attack_steps = adversarial_ ? attack_.steps : 0;
  if (int(ast.step_loss.size()) == K && K >= 2 && n_local > 0) {
    gain_first_ += ast.step_loss[1] - ast.step_loss[0];
    gain_last_ += m.loss_sum / double(n_local) - ast.step_loss[K - 1];
  }
  ++ep_steps_at_k_[K];
  ++step_;
  m.seconds = seconds_since(t_step);
  train_seconds_ += m.seconds;
  images_done_ += n_global;
  return m;
}

Model& Trainer::host_model() {
  backend_->download_state();
  return *model_;
}

Sgd& Trainer::host_optimizer() {
  backend_->download_state();
  return *sgd_;
}

}  // namespace rampart
