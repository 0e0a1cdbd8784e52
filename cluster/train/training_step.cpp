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
  // Carried starts (carried_starts.h): this rank's rows' starts from the ranks that keep them,
  // and afterwards where the attacks ended back to them. Collective, with rows or without.
  const auto t0 = Clock::now();
  carried.fetch(comm, b.batch_index, b.n_global);
  if (attack && b.n_local > 0) {
    w.attack = backend.attack(*attack, key, carried.start());
    carried.record(backend.adversarial_host().data(), x.data(), attack->eps);
  }
  carried.give_back(comm);
  if (attack) w.attack_s = std::chrono::duration<double>(Clock::now() - t0).count();
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
