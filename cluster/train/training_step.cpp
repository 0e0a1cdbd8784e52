// One training step's work on this rank (see training_step.h).
#include "cluster/train/training_step.h"

#include <chrono>

#include "runtime/data/dataset.h"

namespace rampart {

StepWork run_training_step(ComputeBackend& backend, Communicator& comm, Model& model, CarriedStarts& carried,
                           const StepBatch& b, const AttackConfig* attack, const RandomKey& key, double lr,
                           Tensor& x, std::vector<int32_t>& labels,
                           const std::function<void(const LossTotals&)>& check_loss) {
  using Clock = std::chrono::steady_clock;
  StepWork w;
  images_to_tensor(b.images, b.n_local, b.C, b.H, b.W, x);
  labels.assign(b.labels, b.labels + b.n_local);

  // Attack (no communication), then train on the adversarial batch.
  backend.set_batch(x, labels.data());
  if (attack && b.n_local > 0) {
    const auto t0 = Clock::now();
    w.attack = backend.attack(*attack, key, carried.start(b.index, b.n_local));
    if (carried.enabled()) carried.record(b.index, b.n_local, backend.adversarial_host().data(), x.data(), attack->eps);
    w.attack_s = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  // Every rank's new perturbations to every rank: the stores stay identical, since
  // an example is attacked by another rank in the next epoch.
  carried.exchange(comm, b.index, b.n_local);
  // Mean over the global batch: each rank scales by 1/n_global, the all-reduce sums.
  w.loss = backend.forward_loss(1.0f / float(b.n_global));
  if (check_loss) check_loss(w.loss);
  w.reduce = backend.backward_allreduce();
  backend.sgd_step(lr);
  // Batchnorm statistics are computed on each rank's part; keep rank 0's, as DDP does.
  if (comm.size() > 1 && model.num_buffer_values())
    comm.broadcast(model.flat_buffers(), model.num_buffer_values() * sizeof(float), 0);
  return w;
}

}  // namespace rampart
