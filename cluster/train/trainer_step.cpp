// One global training step of the Trainer (see trainer.h): this rank's part of the batch,
// attacked, then trained on, with the gradients averaged over every rank's part.
#include <cmath>
#include <stdexcept>

#include "cluster/train/checkpoint_health.h"
#include "cluster/train/trainer.h"
#include "runtime/data/augment.h"
#include "runtime/data/sampler.h"
#include "runtime/errors.h"

namespace rampart {

// This rank's rows of the epoch, in the epoch's shuffled order, and where each batch's part
// begins among them. The epoch's statistics start over.
void Trainer::load_epoch(int epoch) {
  std::vector<int64_t> perm = epoch_permutation(n_train_, cfg_.seed, epoch);
  rows_.index = rank_epoch_indices(perm, cfg_.batch, rank_, world_);
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

  images_to_tensor(rows_.images.data() + local_pos * img_, n_local, C_, H_, W_, x_);
  labels_.resize(n_local);
  for (int64_t e = 0; e < n_local; ++e) labels_[e] = rows_.labels[local_pos + e];

  // Attack (no communication), then train on the adversarial batch.
  backend_->set_batch(x_, labels_.data());
  AttackStats ast;
  if (adversarial_ && n_local > 0) {
    const auto t_att = Clock::now();
    RandomKey key{cfg_.seed, Stream::kRandomStart, uint64_t(step_), first_example};
    const int64_t* idx = rows_.index.data() + local_pos;
    ast = backend_->attack(attack_, key, carried_->start(idx, n_local));
    if (carry_) carried_->record(idx, n_local, backend_->adversarial_host().data(), x_.data(), attack_.eps);
    attack_seconds_ += seconds_since(t_att);
  }
  // Every rank's new perturbations to every rank: the stores stay identical, since
  // an example is attacked by another rank in the next epoch.
  carried_->exchange(comm_, rows_.index.data() + local_pos, n_local);
  // Mean over the global batch: each rank scales by 1/n_global, the all-reduce sums.
  const LossTotals tot = backend_->forward_loss(1.0f / float(n_global));
  if (!std::isfinite(tot.loss_sum))
    throw DataError("training diverged: the loss is " + std::to_string(tot.loss_sum) + " at step " +
                    std::to_string(step_) + " (rank " + std::to_string(rank_) + "); " +
                    kept_checkpoint_note(ck_path_, last_good_step_) + "; lower --lr or check the data");
  const GradReducer::Stats rs = backend_->backward_allreduce();
  comm_exposed_ += rs.exposed_wait_s;
  comm_total_ += rs.allreduce_s_total;
  m.lr = lr_.at(step_);
  backend_->sgd_step(m.lr);
  // Batchnorm statistics are computed on each rank's part; keep rank 0's, as DDP does.
  if (world_ > 1 && model_->num_buffer_values())
    comm_.broadcast(model_->flat_buffers(), model_->num_buffer_values() * sizeof(float), 0);

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
