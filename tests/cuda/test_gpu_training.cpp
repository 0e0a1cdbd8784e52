// --device cuda against --device cpu through the real trainer (cluster/train/trainer.cpp)
// on Fashion-MNIST: a few steps from the same seed end with nearly the same weights,
// momentum and losses; a checkpoint written on either device evaluates on the other
// to the same clean accuracy; a GPU checkpoint resumes on the CPU; what the GPU
// cannot run is a ConfigError before training starts; the SGD kernel steps as Sgd does.
// Skips where no GPU is present (or Fashion-MNIST is not installed).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "cluster/train/compute_backend.h"
#include "cluster/train/distributed_eval.h"
#include "cluster/train/trainer.h"
#include "cuda_test_util.h"
#include "kernels/cuda/eltwise.cuh"
#include "runtime/checkpoint.h"
#include "runtime/errors.h"
#include "runtime/model_state.h"
#include "runtime/optimizer.h"
#include "train_fixture.h"

namespace rampart {
namespace {

using testing::fresh_dir;
using testing::StopAt;

#define REQUIRE_GPU_AND_DATA()                                                                     \
  do {                                                                                             \
    RAMPART_REQUIRE_GPU();                                                                         \
    if (!std::filesystem::exists(std::string(RAMPART_FMNIST) + "/train-images-idx3-ubyte.gz"))     \
      GTEST_SKIP() << "Fashion-MNIST not found in " << RAMPART_FMNIST << " (apt install dataset-fashion-mnist)"; \
  } while (0)

const Shape kImage{1, 28, 28};

// Records every step's loss.
struct Record : TrainObserver {
  void on_step(const StepInfo& s) override { loss.push_back(s.loss); }
  std::vector<double> loss;
};

TrainConfig small_run(const std::string& name, const std::string& device, const std::string& attack) {
  TrainConfig c;
  c.data = testing::fmnist().train;
  c.out = fresh_dir(name + "-" + device);
  c.device = device;
  c.model = "small-cnn";
  c.seed = 3;
  c.batch = 64;
  c.limit = 320;  // 5 steps an epoch
  c.epochs = 1;
  c.lr = 0.05;
  c.attack = attack;
  c.eps = 0.1f;
  c.alpha = 0.025f;
  c.steps = 3;
  c.log_every = 1;
  c.config_text = "test";
  return c;
}

// All arrays of a checkpoint group, concatenated in stored order.
std::vector<double> flat(const std::vector<std::pair<std::string, NamedArray>>& arrays) {
  std::vector<double> v;
  for (const auto& [name, a] : arrays) v.insert(v.end(), a.data.begin(), a.data.end());
  return v;
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double s = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

// ||gpu - cpu|| relative to how far training moved the weights from `start` (so the
// test measures disagreement against the size of what was learnt, not of the weights),
// and ||gpu - cpu|| of the momentum relative to ||cpu momentum||.
struct Disagreement {
  double weights, momentum;
};
Disagreement compare(const Checkpoint& gpu, const Checkpoint& cpu, const std::vector<double>& start) {
  const auto gw = flat(gpu.model), cw = flat(cpu.model), gm = flat(gpu.optimizer), cm = flat(cpu.optimizer);
  const std::vector<double> zero(cm.size(), 0.0);
  return {distance(gw, cw) / distance(cw, start), distance(gm, cm) / distance(cm, zero)};
}

std::vector<double> initial_weights(const TrainConfig& c) {
  Model m(expand_model(c.model, kImage), kImage);
  m.init(c.seed);
  Checkpoint ck;
  store_model(m, nullptr, ck);
  return flat(ck.model);
}

void expect_steps_agree(const std::string& attack, double weight_tol, double loss_tol,
                        const std::string& model = "small-cnn", int early_stop_tau = -1) {
  auto comm = make_self_communicator();
  TrainConfig g = small_run("agree-" + attack + model, "cuda", attack),
              c = small_run("agree-" + attack + model, "cpu", attack);
  g.model = c.model = model;
  g.early_stop_tau = c.early_stop_tau = early_stop_tau;
  Record rg, rc;
  nlohmann::json sg = train(g, *comm, rg);
  train(c, *comm, rc);
  EXPECT_NE(sg["device"].get<std::string>().find("cuda:"), std::string::npos) << sg.dump();
  Checkpoint kg = read_checkpoint(g.out + "/checkpoint.h5"), kc = read_checkpoint(c.out + "/checkpoint.h5");
  ASSERT_EQ(kg.step, 5);
  ASSERT_EQ(kc.step, 5);
  EXPECT_EQ(kg.extra.value("device", ""), "cuda");
  EXPECT_EQ(kc.extra.value("device", ""), "cpu");
  Disagreement d = compare(kg, kc, initial_weights(c));
  EXPECT_LT(d.weights, weight_tol) << "GPU and CPU weights differ by this fraction of the training update";
  EXPECT_LT(d.momentum, weight_tol) << "GPU and CPU momentum differ by this fraction of its norm";
  ASSERT_EQ(rg.loss.size(), rc.loss.size());
  for (size_t i = 0; i < rc.loss.size(); ++i)
    EXPECT_NEAR(rg.loss[i], rc.loss[i], loss_tol * rc.loss[i]) << "step " << i + 1;
}

// The SGD kernel the CUDA backend steps with, against the CPU backend's Sgd::step
// (PyTorch's update) on an awkward size, over a few steps with changing rates.
TEST(GpuSgd, MatchesTheCpuOptimizer) {
  RAMPART_REQUIRE_GPU();
  const int64_t n = 100003;
  const size_t un = size_t(n);
  const SgdConfig cfg{0.9, 5e-4};
  Sgd cpu(cfg, n);
  std::vector<float> p = cuda::test::uniform(un, -1.f, 1.f, 21);
  cuda::test::DeviceBuffer<float> p_(un), g_(un), m_(un);
  p_.upload(p);
  m_.upload(std::vector<float>(un, 0.f));
  for (int step = 0; step < 4; ++step) {
    const double lr = 0.05 * (step + 1);
    std::vector<float> g = cuda::test::gradient(un, uint32_t(30 + step));
    g_.upload(g);
    cpu.step(p.data(), g.data(), lr);
    cuda::sgd_momentum(p_.get(), g_.get(), m_.get(), n, float(lr), float(cfg.momentum), float(cfg.weight_decay),
                       /*nesterov=*/false, nullptr);
  }
  cuda::test::sync();
  cuda::test::expect_near(p_.download(un), p, 1e-6f, 1e-5f, "params");
  cuda::test::expect_near(m_.download(un), std::vector<float>(cpu.momentum(), cpu.momentum() + n), 1e-6f, 1e-5f,
                          "momentum");
}

// Without an attack the two devices differ only by the rounding of cuDNN/cuBLAS
// against oneDNN (FP32 on both: TF32 is off).
TEST(GpuTraining, StepsWithoutAttackMatchCpu) {
  REQUIRE_GPU_AND_DATA();
  expect_steps_agree("none", 1e-3, 1e-4);
}

// With PGD, a pixel whose gradient is near zero may step the other way on one device
// (same Philox random starts on both): looser, but far below a real disagreement
// (a missing all-reduce or optimizer step moves the weights by a fraction near 1).
TEST(GpuTraining, PgdStepsMatchCpu) {
  REQUIRE_GPU_AND_DATA();
  expect_steps_agree("pgd", 0.1, 2e-2);
}

// The checkpoint of one device evaluated on the other: same clean accuracy (one
// example on a decision boundary may flip), attacks within a few examples.
TEST(GpuTraining, CheckpointsEvaluateTheSameOnTheOtherDevice) {
  REQUIRE_GPU_AND_DATA();
  auto comm = make_self_communicator();
  const int64_t n = 500;
  Dataset test(testing::fmnist().test, n);
  for (const std::string device : {"cuda", "cpu"}) {
    SCOPED_TRACE("trained on " + device);
    TrainConfig c = small_run("eval", device, "pgd");
    c.limit = 1280;  // 20 steps: well above chance
    c.test_data = testing::fmnist().test;
    c.eval_limit = n;
    c.eval_steps = 5;
    c.eval_alpha = 0.025f;
    Record r;
    nlohmann::json s = train(c, *comm, r);
    ASSERT_EQ(s["n"].get<int64_t>(), n);
    ASSERT_GT(s["clean_accuracy"].get<double>(), 0.3) << s.dump();

    const std::string other = device == "cuda" ? "cpu" : "cuda";
    Checkpoint ck = read_checkpoint(c.out + "/checkpoint.h5");
    EXPECT_EQ(ck.extra.value("device", ""), device);
    Model m = model_from_checkpoint(ck, kImage);
    auto backend = make_compute_backend(other, m, nullptr, *comm, 0, 0);
    const std::vector<AttackConfig> attacks{fgsm_config(c.eps), pgd_config(c.eps, c.eval_alpha, c.eval_steps)};
    nlohmann::json e = eval_report(backend->evaluate_shard(test, n, attacks, c.seed, 256), attacks);
    EXPECT_NEAR(e["clean_accuracy"].get<double>(), s["clean_accuracy"].get<double>(), 1.0 / n + 1e-9)
        << "on " << other << ": " << e.dump() << "\non " << device << ": " << s.dump();
    EXPECT_NEAR(e["fgsm_accuracy"].get<double>(), s["fgsm_accuracy"].get<double>(), 5.0 / n) << e.dump();
    EXPECT_NEAR(e["pgd_accuracy"].get<double>(), s["pgd_accuracy"].get<double>(), 5.0 / n) << e.dump();
  }
}

// Interrupted on the GPU, resumed on the CPU: the run ends where an uninterrupted CPU
// run ends, up to the GPU's rounding of the first steps.
TEST(GpuTraining, GpuCheckpointResumesOnCpu) {
  REQUIRE_GPU_AND_DATA();
  auto comm = make_self_communicator();
  TrainConfig straight = small_run("straight", "cpu", "pgd");
  straight.limit = 640;  // 10 steps
  Record q;
  train(straight, *comm, q);

  TrainConfig r = small_run("resumed", "cuda", "pgd");
  r.limit = 640;
  StopAt stop(4);
  try {
    train(r, *comm, stop);
    FAIL() << "the run did not stop";
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.code(), kExitTempFail);
  }
  stop_requested().store(0);
  Checkpoint mid = read_checkpoint(r.out + "/checkpoint.h5");
  EXPECT_EQ(mid.extra.value("device", ""), "cuda");
  EXPECT_GT(mid.step, 3);
  EXPECT_LT(mid.step, 10);
  r.device = "cpu";
  r.resume = true;
  train(r, *comm, q);
  Checkpoint end = read_checkpoint(r.out + "/checkpoint.h5"), ref = read_checkpoint(straight.out + "/checkpoint.h5");
  EXPECT_EQ(end.step, 10);
  EXPECT_EQ(end.extra.value("device", ""), "cpu");
  Disagreement d = compare(end, ref, initial_weights(straight));
  EXPECT_LT(d.weights, 0.1);
  EXPECT_LT(d.momentum, 0.1);
}

// Batchnorm (batch statistics in training, running ones in the attack) and early-stopped
// PGD run on the GPU through the same Model and attack engine as on the CPU.
TEST(GpuTraining, BatchnormModelWithEarlyStoppedPgdMatchesCpu) {
  REQUIRE_GPU_AND_DATA();
  expect_steps_agree("pgd", 0.1, 2e-2, "small-cnn-bn", 1);
}

TEST(GpuTraining, L2AttackIsAConfigErrorBeforeTheFirstStep) {
  REQUIRE_GPU_AND_DATA();
  auto comm = make_self_communicator();
  TrainConfig c = small_run("l2", "cuda", "pgd-l2");
  c.eps = 1.0f;
  c.alpha = 0.25f;
  Record r;
  try {
    train(c, *comm, r);
    FAIL() << "trained with L2 PGD on --device cuda";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("random_start_l2"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(r.loss.empty()) << "the error came after " << r.loss.size() << " steps";
}

}  // namespace
}  // namespace rampart
