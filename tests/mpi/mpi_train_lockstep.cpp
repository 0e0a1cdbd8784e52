// Every rank holds bit-identical weights after every training step.
//   mpirun -np N mpi_train_lockstep DATA.h5 OUT_DIR [model ...]
// For each model (default: small-cnn and small-cnn-bn), this program runs the
// data-parallel PGD training step of cluster/train/trainer.cpp, written out here from
// the same public pieces (sampler, Model, Attacker, softmax cross-entropy,
// GradReducer, Sgd, LrSchedule, rank 0's batchnorm statistics), and after every
// step compares a hash of each rank's parameters, momentum and buffers across
// ranks (allgather). Then it runs the real trainer, rampart::train, with the same
// settings into OUT_DIR and checks that its checkpoint holds exactly the weights
// and momentum this loop ended with: so the loop checked step by step is the
// trainer's loop, not a look-alike. (The trainer keeps its model to itself, so
// it cannot be hashed between steps directly.)
// Settings: 250 images (the last global batch is partial and splits unevenly),
// global batch 64, 2 epochs = 8 steps, PGD-7. Prints one line per step on rank 0.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cluster/comm/communicator_factory.h"
#include "cluster/comm/grad_reducer.h"
#include "cluster/train/trainer.h"
#include "cluster/comm/world.h"
#include "kernels/cpu/softmax_xent.h"
#include "mpi_check.h"
#include "runtime/attacks/attack.h"
#include "runtime/checkpoint.h"
#include "runtime/data/dataset.h"
#include "runtime/data/sampler.h"
#include "runtime/lr_schedule.h"
#include "runtime/model.h"
#include "runtime/model_state.h"
#include "runtime/optimizer.h"

using namespace rampart;

namespace {

uint64_t fnv1a(const void* p, size_t bytes, uint64_t h = 1469598103934665603ull) {
  const unsigned char* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) { h ^= c[i]; h *= 1099511628211ull; }
  return h;
}

std::string hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

// Hash of everything a step changes: parameters, momentum, batchnorm buffers.
std::string state_hash(Model& m, Sgd& sgd) {
  uint64_t h = fnv1a(m.flat_params(), m.num_params() * sizeof(float));
  h = fnv1a(sgd.momentum(), sgd.size() * sizeof(float), h);
  if (m.num_buffer_values()) h = fnv1a(m.flat_buffers(), m.num_buffer_values() * sizeof(float), h);
  return hex(h);
}

// Every rank's hash must equal rank 0's; on a mismatch every rank's value is printed.
void check_same_on_all_ranks(Communicator& comm, const std::string& what, const std::string& h) {
  std::vector<std::string> all = comm.allgather(h);
  std::string listing;
  bool same = true;
  for (size_t r = 0; r < all.size(); ++r) {
    listing += " rank " + std::to_string(r) + " " + all[r];
    same = same && all[r] == all[0];
  }
  MPI_CHECK(same, what << ": ranks hold different weights:" << listing);
  if (comm.rank() == 0) std::printf("%s: hash %s on all %d ranks\n", what.c_str(), h.c_str(), comm.size());
}

class Quiet : public TrainObserver {};

void run_model(Communicator& comm, const std::string& data, const std::string& out, const std::string& model_name) {
  const int rank = comm.rank(), world = comm.size();
  TrainConfig cfg;
  cfg.data = data;
  cfg.limit = 250;
  cfg.batch = 64;
  cfg.epochs = 2;
  cfg.model = model_name;
  cfg.seed = 7;
  cfg.out = out + "/" + model_name;
  cfg.config_text = "mpi_train_lockstep " + model_name;

  // --- The trainer's step, from the same pieces (cluster/train/trainer.cpp) ---------
  Dataset set(cfg.data, cfg.limit);
  const int64_t n = set.size(), C = set.channels(), H = set.height(), W = set.width(), img = C * H * W;
  const Shape example = {C, H, W};
  Model model(expand_model(cfg.model, example), example);
  model.init(cfg.seed);
  Sgd sgd({cfg.momentum, cfg.weight_decay}, model.num_params());
  const int64_t batches = num_batches(n, cfg.batch);
  LrSchedule lr;
  lr.kind = parse_lr_kind(cfg.lr_schedule);
  lr.peak = cfg.lr;
  lr.total_steps = batches * cfg.epochs;
  lr.warmup_fraction = cfg.warmup;
  comm.broadcast(model.flat_params(), model.num_params() * sizeof(float), 0);
  check_same_on_all_ranks(comm, model_name + " initial", state_hash(model, sgd));

  AttackConfig attack = pgd_config(cfg.eps, cfg.alpha, cfg.steps);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int i = 0; i < model.num_layers(); ++i) ranges.push_back(model.layer_param_range(i));
  GradReducer reducer(comm, model.flat_grads(), ranges, int64_t(cfg.bucket_mb * 1024 * 1024));
  Attacker attacker;
  Tensor x, x_adv, dlogits;
  std::vector<int32_t> labels;
  std::vector<float> per_loss;
  std::vector<uint8_t> images, labs;
  int64_t step = 0;
  for (int epoch = 0; epoch < cfg.epochs; ++epoch) {
    std::vector<int64_t> mine = rank_epoch_indices(epoch_permutation(n, cfg.seed, epoch), cfg.batch, rank, world);
    images.resize(mine.size() * img);
    labs.resize(mine.size());
    set.read_rows(mine, images.data(), labs.data());
    int64_t pos = 0;
    for (int64_t b = 0; b < batches; ++b, ++step) {
      auto [gb, ge] = batch_slice(b, n, cfg.batch);
      auto [lb, le] = rank_slice(gb, ge, rank, world);
      const int64_t n_local = le - lb, n_global = ge - gb;
      images_to_tensor(images.data() + pos * img, n_local, C, H, W, x);
      labels.assign(labs.begin() + pos, labs.begin() + pos + n_local);
      pos += n_local;
      RandomKey key{cfg.seed, Stream::kRandomStart, uint64_t(step), lb - gb};
      attacker.run(model, x, labels.data(), attack, key, x_adv);
      const Tensor& logits = model.forward(x_adv, Mode::kTrain);
      dlogits.resize(logits.shape());
      per_loss.resize(n_local);
      kernels::softmax_xent_cpu(logits.data(), labels.data(), n_local, logits.dim(1), 1.0f / float(n_global),
                                dlogits.data(), per_loss.data(), nullptr);
      reducer.begin_step();
      model.backward(dlogits, false, true, [&](int layer) { reducer.on_grad_ready(layer); });
      reducer.finish(1.0f);
      sgd.step(model.flat_params(), model.flat_grads(), lr.at(step));
      if (world > 1 && model.num_buffer_values())
        comm.broadcast(model.flat_buffers(), model.num_buffer_values() * sizeof(float), 0);
      check_same_on_all_ranks(comm,
                              model_name + " step " + std::to_string(step + 1) + " (local batch " +
                                  std::to_string(n_local) + " of " + std::to_string(n_global) + ")",
                              state_hash(model, sgd));
    }
  }

  // --- The real trainer with the same settings ends where this loop ended -----
  if (rank == 0) std::filesystem::create_directories(cfg.out);
  comm.barrier();
  Quiet quiet;
  nlohmann::json summary = train(cfg, comm, quiet);
  MPI_CHECK(summary["steps"].get<int64_t>() == step, "trainer ran " << summary["steps"] << " steps, expected " << step);
  Checkpoint ck = read_checkpoint(cfg.out + "/checkpoint.h5");  // written by rank 0, read by every rank
  Model trained(ck.arch, example);
  Sgd trained_sgd({cfg.momentum, cfg.weight_decay}, trained.num_params());
  load_model(ck, trained, &trained_sgd);
  MPI_CHECK(trained.num_params() == model.num_params(), "parameter count differs");
  MPI_CHECK(std::memcmp(trained.flat_params(), model.flat_params(), model.num_params() * sizeof(float)) == 0,
            model_name << ": rampart::train's final weights differ from the step-by-step loop's");
  MPI_CHECK(std::memcmp(trained_sgd.momentum(), sgd.momentum(), sgd.size() * sizeof(float)) == 0,
            model_name << ": rampart::train's final momentum differs from the step-by-step loop's");
  if (rank == 0)
    std::printf("%s: rampart::train ended with the same weights and momentum (%lld steps, %d ranks)\n",
                model_name.c_str(), (long long)step, world);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: mpi_train_lockstep DATA.h5 OUT_DIR [model ...]\n");
    return 2;
  }
  auto comm = make_communicator(detect_world(), "auto", 60);
  mpitest::g_comm = comm.get();
  std::vector<std::string> models;
  for (int i = 3; i < argc; ++i) models.push_back(argv[i]);
  if (models.empty()) models = {"small-cnn", "small-cnn-bn"};
  try {
    for (const auto& m : models) run_model(*comm, argv[1], argv[2], m);
  } catch (const std::exception& e) {
    mpitest::fail(__FILE__, __LINE__, "exception", e.what());
  }
  comm->barrier();
  if (comm->rank() == 0) std::printf("mpi_train_lockstep: passed, %d checks on rank 0\n", mpitest::g_checks);
  return 0;
}
