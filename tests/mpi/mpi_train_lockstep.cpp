// Every rank holds bit-identical weights after every training step.
//   mpirun -np N mpi_train_lockstep DATA.h5 OUT_DIR [model ...]
// For each model (default: small-cnn and small-cnn-bn), this program drives the trainer
// step by step, as train() does (rampart::Trainer: next, step, after_step, finish), and
// after every step compares a hash of each rank's parameters, momentum and buffers across
// ranks (allgather). Then it runs rampart::train with the same settings into another folder
// and checks that its checkpoint holds exactly the weights and momentum the stepped trainer
// ended with: so the steps checked one by one are train()'s, with nothing else in between.
// Settings: 250 images (the last global batch is partial and splits unevenly),
// global batch 64, 2 epochs = 8 steps, PGD-7. Prints one line per step on rank 0.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cluster/comm/communicator_factory.h"
#include "cluster/comm/world.h"
#include "cluster/train/trainer.h"
#include "mpi_check.h"
#include "runtime/checkpoint.h"
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

void make_folder(Communicator& comm, const std::string& dir) {
  if (comm.rank() == 0) std::filesystem::create_directories(dir);
  comm.barrier();
}

void run_model(Communicator& comm, const std::string& data, const std::string& out, const std::string& model_name) {
  const int rank = comm.rank(), world = comm.size();
  TrainConfig cfg;
  cfg.data = data;
  cfg.limit = 250;
  cfg.batch = 64;
  cfg.epochs = 2;
  cfg.model = model_name;
  cfg.seed = 7;
  cfg.config_text = "mpi_train_lockstep " + model_name;
  const int64_t expected_steps = 2 * 4;  // ceil(250 / 64) = 4 batches an epoch

  // --- The trainer, one step at a time -----------------------------------------
  cfg.out = out + "/" + model_name + "/stepped";
  make_folder(comm, cfg.out);
  Quiet quiet;
  Trainer stepped(cfg, comm, quiet);
  check_same_on_all_ranks(comm, model_name + " initial", state_hash(stepped.host_model(), stepped.host_optimizer()));
  while (stepped.next()) {
    const StepMetrics m = stepped.step();
    check_same_on_all_ranks(comm,
                            model_name + " step " + std::to_string(stepped.steps_done()) + " (local batch " +
                                std::to_string(int64_t(m.n_local)) + " of " + std::to_string(m.n_global) + ")",
                            state_hash(stepped.host_model(), stepped.host_optimizer()));
    stepped.after_step(m);
  }
  const int64_t steps = stepped.steps_done();
  MPI_CHECK(steps == expected_steps, "the stepped trainer ran " << steps << " steps, expected " << expected_steps);
  stepped.finish();
  Model& model = stepped.host_model();
  Sgd& sgd = stepped.host_optimizer();

  // --- rampart::train with the same settings ends where the steps ended ----------
  cfg.out = out + "/" + model_name + "/train";
  make_folder(comm, cfg.out);
  nlohmann::json summary = train(cfg, comm, quiet);
  MPI_CHECK(summary["steps"].get<int64_t>() == steps, "trainer ran " << summary["steps"] << " steps, expected " << steps);
  Checkpoint ck = read_checkpoint(cfg.out + "/checkpoint.h5");  // written by rank 0, read by every rank
  const Shape example = model.input_shape();
  Model trained(ck.arch, example);
  Sgd trained_sgd({cfg.momentum, cfg.weight_decay}, trained.num_params());
  load_model(ck, trained, &trained_sgd);
  MPI_CHECK(trained.num_params() == model.num_params(), "parameter count differs");
  MPI_CHECK(std::memcmp(trained.flat_params(), model.flat_params(), model.num_params() * sizeof(float)) == 0,
            model_name << ": rampart::train's final weights differ from the stepped trainer's");
  MPI_CHECK(std::memcmp(trained_sgd.momentum(), sgd.momentum(), sgd.size() * sizeof(float)) == 0,
            model_name << ": rampart::train's final momentum differs from the stepped trainer's");
  if (model.num_buffer_values())
    MPI_CHECK(std::memcmp(trained.flat_buffers(), model.flat_buffers(), model.num_buffer_values() * sizeof(float)) == 0,
              model_name << ": rampart::train's final batchnorm statistics differ from the stepped trainer's");
  if (rank == 0)
    std::printf("%s: rampart::train ended with the same weights and momentum (%lld steps, %d ranks)\n",
                model_name.c_str(), (long long)steps, world);
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
