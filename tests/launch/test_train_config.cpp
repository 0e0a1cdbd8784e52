// The training configuration's one validation (cluster/train/train_config.h), whoever calls
// train(); and the Trainer driven step by step (trainer.h) ending where train() ends.
#include <gtest/gtest.h>

#include <cmath>

#include <cstring>
#include <stdexcept>
#include <string>

#include "cluster/comm/communicator.h"
#include "cluster/schedule/train_schedule.h"
#include "cluster/train/train_config.h"
#include "cluster/train/trainer.h"
#include "kernels/cpu/conv_dnnl.h"
#include "runtime/checkpoint.h"
#include "runtime/errors.h"
#include "runtime/model_state.h"
#include "train_fixture.h"

namespace rampart {
namespace {

struct Quiet : TrainObserver {};

// validate(cfg, world) must throw E with a message containing `text`.
template <class E>
void expect_refused(const TrainConfig& cfg, int world, const std::string& text) {
  try {
    validate(cfg, world);
    ADD_FAILURE() << "accepted; expected: " << text;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(TrainConfig, DefaultsAreValid) {
  EXPECT_NO_THROW(validate(TrainConfig{}, 1));
  EXPECT_NO_THROW(validate(TrainConfig{}, 128));
}

TEST(TrainConfig, EveryCheckInOnePlace) {
  TrainConfig c;
  c.epochs = 0;
  expect_refused<ConfigError>(c, 1, "epochs must be >= 1, found 0");
  c = {};
  expect_refused<ConfigError>(c, 129, "batch (the global batch) must be at least the number of ranks: batch 128, ranks 129");
  c.lr = 0;
  expect_refused<ConfigError>(c, 1, "lr must be > 0");
  c = {};
  c.lr_scaling = "cubic";
  expect_refused<ConfigError>(c, 1, "--lr-scaling: expected none, linear or sqrt, found \"cubic\"");
  c = {};
  c.lr_scaling = "linear";
  c.lr_base_batch = 0;
  expect_refused<ConfigError>(c, 1, "--lr-base-batch must be at least 1 (the global batch --lr was tuned for), found 0");
  c = {};
  c.resume = true;
  expect_refused<UsageError>(c, 1, "--resume continues from <out>/checkpoint.h5 and needs --out");
  c = {};
  c.max_k = 0;
  expect_refused<ConfigError>(c, 1, "--max-steps-k must be at least 1, found 0");
  c = {};
  c.probe_every = -5;
  expect_refused<ConfigError>(c, 1, "--probe-every must be >= 0 steps (0: no guard), found -5");
  c = {};
  c.schedule = "budgeted";
  c.attack = "fgsm";
  expect_refused<ConfigError>(c, 1, "--schedule budgeted plans L-inf PGD and FGSM-RS steps; found --attack fgsm");
  c = {};
  c.attack_init = "somewhere";
  expect_refused<ConfigError>(c, 1, "attack-init: expected random or carry, found \"somewhere\"");
  c = {};
  c.attack = "pgd-l2";
  c.attack_init = "carry";
  expect_refused<ConfigError>(c, 1, "attack-init carry works with L-inf attacks (pgd, fgsm-rs), found attack pgd-l2");
  c = {};
  c.attack = "none";
  c.steps = -5;
  expect_refused<ConfigError>(c, 1, "--eps, --alpha, --steps (unused by --attack none): steps must be >= 1, found -5");
  c = {};
  c.eval_steps = 0;
  expect_refused<ConfigError>(c, 1, "evaluation attack (--eval-steps, --eval-alpha, --eval-restarts): steps must be >= 1");
  c = {};
  c.attack = "bim";
  expect_refused<ConfigError>(c, 1, "attack: expected pgd, fgsm, fgsm-rs, pgd-l2 or none, found \"bim\"");
  c = {};
  c.attack = "apgd-ce";
  expect_refused<ConfigError>(c, 1, "attack: apgd-ce is an evaluation attack (rampart eval --attack apgd-ce)");
  c = {};
  c.eval_autoattack = true;
  c.device = "cuda";
  expect_refused<ConfigError>(c, 1, "--eval-autoattack: expected --device cpu, found --device cuda");
  c = {};
  c.attack_precision = "fp16";
  expect_refused<ConfigError>(c, 1, "attack-precision: expected fp32 or bf16, found \"fp16\"");
  c = {};
  c.attack_precision = "bf16";
  c.device = "cuda";
  expect_refused<ConfigError>(c, 1, "--attack-precision bf16: attack passes in bf16 are not implemented on CUDA yet");
}

// BF16 attack passes: accepted on a CPU with native BF16, refused with the reason elsewhere.
TEST(TrainConfig, LearningRateScalesWithTheGlobalBatch) {
  TrainConfig c;
  c.lr = 0.05;
  c.batch = 1024;
  EXPECT_DOUBLE_EQ(effective_lr(c), 0.05);  // none: as given
  c.lr_scaling = "linear";
  EXPECT_DOUBLE_EQ(effective_lr(c), 0.4);   // 0.05 x 1024 / 128
  c.lr_scaling = "sqrt";
  EXPECT_NEAR(effective_lr(c), 0.05 * std::sqrt(8.0), 1e-15);
  c.lr_base_batch = 1024;                   // tuned at this batch: no change
  EXPECT_DOUBLE_EQ(effective_lr(c), 0.05);
  c.lr_scaling = "linear";
  c.batch = 64;                             // smaller than the base: scaled down
  EXPECT_DOUBLE_EQ(effective_lr(c), 0.05 / 16);
}

TEST(TrainConfig, Bf16AttackNeedsNativeBf16) {
  TrainConfig c;
  c.attack_precision = "bf16";
  std::string why;
  if (kernels::cpu::ConvDnnl::bf16_supported(&why)) {
    EXPECT_NO_THROW(validate(c, 1));
    EXPECT_EQ(training_attack(c).precision, Precision::kBf16);
  } else {
    expect_refused<ConfigError>(c, 1, "--attack-precision bf16: this CPU has no native BF16 arithmetic");
  }
  c.attack_precision = "fp32";
  EXPECT_EQ(training_attack(c).precision, Precision::kFp32);
}

// --eval-autoattack: the reserve holds AutoAttack's worst case, every image robust to the end.
TEST(TrainConfig, AutoAttackEvaluationIsPricedForTheWorstCase) {
  TrainConfig c;
  const CalibrationOptions pgd = calibration_for(c);
  c.eval_autoattack = true;
  const CalibrationOptions aa = calibration_for(c);
  EXPECT_EQ(aa.eval_attack_passes - pgd.eval_attack_passes, 1900);  // APGD-CE, APGD-T, FAB-T
  EXPECT_EQ(aa.eval_forwards - pgd.eval_forwards, 5904);            // FAB-T, Square, the checks
}

// train() validates whoever calls it, before it opens any file.
TEST(TrainConfig, TrainValidatesBeforeReadingData) {
  TrainConfig c;
  c.data = "/nonexistent/train.h5";
  c.max_k = 0;
  auto comm = make_self_communicator();
  Quiet q;
  EXPECT_THROW(train(c, *comm, q), ConfigError);
}

TrainConfig tiny_run(const std::string& out) {
  TrainConfig c;
  c.data = testing::fmnist().train;
  c.out = out;
  c.limit = 200;  // 4 batches of 64, the last one of 8
  c.batch = 64;
  c.epochs = 2;
  c.steps = 2;
  c.seed = 5;
  c.config_text = "test_train_config";
  return c;
}

// Driven by hand, the Trainer runs batches * epochs steps of the expected sizes, refuses a
// step past the end, and ends with the weights and momentum train() writes.
TEST(Trainer, StepByStepIsTrain) {
  auto comm = make_self_communicator();
  Quiet q;
  TrainConfig c = tiny_run(testing::fresh_dir("stepped"));
  Trainer t(c, *comm, q);
  EXPECT_EQ(t.total_steps(), 8);
  while (t.next()) {
    const int64_t before = t.steps_done();
    const StepMetrics m = t.step();
    EXPECT_EQ(t.steps_done(), before + 1);
    EXPECT_EQ(m.epoch, before / 4);
    EXPECT_EQ(m.batch_in_epoch, before % 4);
    EXPECT_EQ(m.n_global, m.batch_in_epoch == 3 ? 8 : 64);
    EXPECT_EQ(m.n_local, double(m.n_global));  // one rank
    EXPECT_EQ(m.attack_steps, 2);
    EXPECT_TRUE(m.loss_sum > 0 && m.lr > 0) << "step " << before;
    t.after_step(m);
  }
  EXPECT_EQ(t.steps_done(), 8);
  EXPECT_THROW(t.step(), std::logic_error);
  const nlohmann::json stepped = t.finish();
  EXPECT_EQ(stepped["steps"].get<int64_t>(), 8);

  c.out = testing::fresh_dir("trained");
  train(c, *comm, q);
  Checkpoint ck = read_checkpoint(c.out + "/checkpoint.h5");
  Model& m = t.host_model();
  Sgd& sgd = t.host_optimizer();
  Model trained(ck.arch, m.input_shape());
  Sgd trained_sgd({c.momentum, c.weight_decay}, trained.num_params());
  load_model(ck, trained, &trained_sgd);
  ASSERT_EQ(trained.num_params(), m.num_params());
  EXPECT_EQ(std::memcmp(trained.flat_params(), m.flat_params(), m.num_params() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(trained_sgd.momentum(), sgd.momentum(), sgd.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace rampart
