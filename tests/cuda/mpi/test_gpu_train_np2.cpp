// rampart::train with --device cuda on 2 ranks (mpirun -np 2 test_cuda_train_np2 DATA.h5 OUT_DIR),
// against the same run on 1 rank: data parallelism sums the ranks' gradients of a
// global batch, so both end with the same weights up to the order of the sums.
// HostReduction: the MPI communicator (gradients downloaded, summed on the host,
// uploaded); the ranks may share one GPU. Nccl: the NCCL communicator, buckets
// reduced in GPU memory while backward runs; needs one GPU per rank.
// 257 images in batches of 64: the last global batch holds one image, so rank 1 takes
// part in that step with no examples (zero gradients). Skips without the GPUs.
// Each test owns MPI for its lifetime (MPI starts once per process): CTest runs them
// one per process, with --gtest_filter.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cluster/comm/communicator_factory.h"
#include "cluster/comm/nccl_communicator.h"
#include "cluster/train/trainer.h"
#include "cluster/comm/world.h"
#include "kernels/cuda/device.h"
#include "runtime/checkpoint.h"
#include "runtime/model_state.h"

namespace rampart {
namespace {

std::string g_data, g_out;

struct Quiet : TrainObserver {};

TrainConfig run_config(const std::string& out) {
  TrainConfig c;
  c.data = g_data;
  c.out = out;
  c.device = "cuda";
  c.model = "small-cnn";
  c.seed = 5;
  c.limit = 257;
  c.batch = 64;
  c.epochs = 1;
  c.lr = 0.05;
  c.attack = "none";  // the ranks' sum against one rank's, without attack rounding on top
  c.log_every = 1;
  c.config_text = "test";
  return c;
}

std::vector<double> flat(const std::vector<std::pair<std::string, NamedArray>>& arrays) {
  std::vector<double> v;
  for (const auto& [name, a] : arrays) v.insert(v.end(), a.data.begin(), a.data.end());
  return v;
}

// Trains on `comm` (2 ranks), then rank 0 trains the same on one rank and compares.
void expect_matches_one_rank(Communicator& comm, const std::string& name) {
  World world = detect_world();
  TrainConfig c = run_config(g_out + "/" + name + "-np2");
  c.local_rank = world.local_rank;
  if (comm.rank() == 0) std::filesystem::create_directories(c.out);
  comm.barrier();
  Quiet q;
  nlohmann::json s = train(c, comm, q);
  EXPECT_EQ(s["steps"].get<int64_t>(), 5);
  if (comm.rank() == 0) {
    TrainConfig one = run_config(g_out + "/" + name + "-np1");
    std::filesystem::create_directories(one.out);
    auto self = make_self_communicator();
    train(one, *self, q);
    Checkpoint a = read_checkpoint(c.out + "/checkpoint.h5"), b = read_checkpoint(one.out + "/checkpoint.h5");
    EXPECT_EQ(a.world_size, 2);
    Model init(expand_model(c.model, {1, 28, 28}), {1, 28, 28});
    init.init(c.seed);
    Checkpoint start;
    store_model(init, nullptr, start);
    const auto wa = flat(a.model), wb = flat(b.model), w0 = flat(start.model);
    const auto ma = flat(a.optimizer), mb = flat(b.optimizer);
    ASSERT_EQ(wa.size(), wb.size());
    ASSERT_EQ(wa.size(), w0.size());
    ASSERT_EQ(ma.size(), mb.size());
    double dw = 0, moved = 0, dm = 0, nm = 0;
    for (size_t i = 0; i < wa.size(); ++i) {
      dw += (wa[i] - wb[i]) * (wa[i] - wb[i]);
      moved += (wb[i] - w0[i]) * (wb[i] - w0[i]);
    }
    for (size_t i = 0; i < ma.size(); ++i) {
      dm += (ma[i] - mb[i]) * (ma[i] - mb[i]);
      nm += mb[i] * mb[i];
    }
    // Relative to how far training moved the weights, and to the momentum's norm:
    // a missing or doubled all-reduce is off by a fraction near 1.
    EXPECT_LT(std::sqrt(dw / moved), 1e-3) << "weights: 2 ranks against 1";
    EXPECT_LT(std::sqrt(dm / nm), 1e-3) << "momentum: 2 ranks against 1";
  }
  comm.barrier();
}

TEST(GpuTrainNp2, HostReduction) {
  if (cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason();
  World world = detect_world();
  auto comm = make_communicator(world, "mpi", 120);
  ASSERT_EQ(comm->size(), 2) << "run under mpirun -np 2";
  expect_matches_one_rank(*comm, "mpi");
}

TEST(GpuTrainNp2, Nccl) {
  World world = detect_world();
  const int gpus = cuda::cuda_device_count();
  if (gpus == 0) GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason();
  if (world.local_size > gpus)
    GTEST_SKIP() << "no CUDA device for every rank: " << world.local_size << " ranks on this node, " << gpus
                 << " GPU(s) (NCCL needs one GPU per rank)";
  auto comm = make_communicator(world, "nccl", 120);
  ASSERT_EQ(comm->size(), 2) << "run under mpirun -np 2";
  expect_matches_one_rank(*comm, "nccl");
}

}  // namespace
}  // namespace rampart

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: mpirun -np 2 %s DATA.h5 OUT_DIR [--gtest_filter=...]\n", argv[0]);
    return 64;
  }
  rampart::g_data = argv[1];
  rampart::g_out = argv[2];
  return RUN_ALL_TESTS();
}
