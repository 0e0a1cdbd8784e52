// The scheduler as the trainer drives it: decisions survive the broadcast encoding, the guard
// fires on a synthetic collapse (a fake probe sequence) and rolls back with K raised, the budget
// stop triggers before the reserve is touched, the state survives a checkpoint; and a real
// (tiny) training run whose probe is replaced by a collapse restores its snapshot and goes on
// at a higher K.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "cluster/comm/communicator.h"
#include "cluster/train/trainer.h"
#include "cluster/schedule/training_scheduler.h"
#include "runtime/data/import.h"

namespace rampart {
namespace {

StepCosts costs() {
  StepCosts c;
  c.fwd_s = 0.006;
  c.bwd_input_s = 0.006;
  c.bwd_full_s = 0.012;
  c.optimizer_s = 0.001;
  c.eval_s_per_image = 0.001;
  c.local_batch = 128;
  return c;
}

SchedulerSetup setup(Policy p, std::optional<double> hours = std::nullopt) {
  SchedulerSetup s;
  s.plan.policy = p;
  s.plan.eps_target = 0.1;
  s.plan.epochs = 5;
  s.plan.steps_per_epoch = 400;
  s.plan.world = 1;
  s.plan.fixed_k = 1;  // FGSM-RS: the policy that overfits catastrophically
  s.plan.max_k = 10;
  s.plan.cost = CostModel(costs(), NetworkModel{}, 0);
  s.plan.budget.hours = hours;
  s.plan.reserve.final_eval_images = 1000;
  s.plan.reserve.checkpoint_s = 1;
  s.plan.probe.interval_steps = 100;
  s.guard.probe_interval_steps = 100;
  return s;
}

TEST(TrainingScheduler, DecisionSurvivesTheBroadcastEncoding) {
  Decision d;
  d.eps = 0.075;
  d.alpha = 0.0234375;
  d.K = 7;
  d.stop = true;
  d.lr_total_steps = 2345;
  d.rollback_to_step = 600;
  const auto p = d.pack();
  EXPECT_EQ(Decision::unpack(p.data()), d);
}

TEST(TrainingScheduler, GuardRollsBackOnASyntheticCollapseAndRaisesK) {
  TrainingScheduler s(setup(Policy::kFixed));
  Decision d = s.epoch_decision(0);
  ASSERT_FALSE(d.stop);
  EXPECT_EQ(d.K, 1);
  EXPECT_EQ(d.lr_total_steps, 5 * 400);
  // Healthy probes rise; then robust accuracy collapses (FGSM catastrophic overfitting).
  const double probes[] = {0.30, 0.42, 0.45, 0.47};
  int64_t step = 0;
  for (double acc : probes) {
    step += 100;
    const Decision g = s.on_probe(step, acc, d.K, Spend{});
    EXPECT_EQ(g.rollback_to_step, -1) << "healthy probe at step " << step;
    EXPECT_FALSE(g.stop);
  }
  const Decision g = s.on_probe(500, 0.02, d.K, Spend{});
  EXPECT_EQ(g.rollback_to_step, 400) << "back to the last healthy probe";
  EXPECT_FALSE(g.stop);
  EXPECT_EQ(g.K, 2) << "FGSM -> PGD-2";
  EXPECT_EQ(s.guard().k_floor(), 2);
  EXPECT_EQ(s.guard().rollbacks().size(), 1u);
  EXPECT_NE(s.last_guard_reason().find("roll back to step 400"), std::string::npos) << s.last_guard_reason();
  // The re-plan keeps the floor for every later epoch.
  for (const auto& r : s.plan().rows) EXPECT_GE(r.K, 2) << "epoch " << r.epoch;
  EXPECT_EQ(s.epoch_decision(3).K, 2);
}

TEST(TrainingScheduler, GuardStopsWhenItsRollbacksAreExhausted) {
  SchedulerSetup su = setup(Policy::kFixed);
  su.guard.max_rollbacks = 1;
  TrainingScheduler s(su);
  EXPECT_EQ(s.on_probe(100, 0.5, 1, Spend{}).rollback_to_step, -1);
  const Decision first = s.on_probe(200, 0.05, 1, Spend{});
  EXPECT_EQ(first.rollback_to_step, 100);
  EXPECT_FALSE(first.stop);
  const Decision second = s.on_probe(200, 0.05, first.K, Spend{});
  EXPECT_TRUE(second.stop);
  EXPECT_EQ(second.rollback_to_step, 100) << "restore the last good state before evaluating";
}

TEST(TrainingScheduler, BudgetStopKeepsTheReserve) {
  // 5 epochs of 400 steps at ~0.03 s/step = ~60 s of training; give 40 s in all.
  TrainingScheduler s(setup(Policy::kBudgeted, 40.0 / 3600));
  EXPECT_LT(s.plan().epochs_that_fit, 5);
  EXPECT_LE(s.plan().total.wall_s, 40.0 * (1 + 1e-9));
  EXPECT_FALSE(s.must_stop(Spend{0, 0, 5.0}, 1));
  // The reserve (1000 images at 1 ms + 1 s checkpoint = 2 s, with 10%) plus two steps must remain.
  EXPECT_TRUE(s.must_stop(Spend{0, 0, 38.0}, 1));
  EXPECT_FALSE(TrainingScheduler(setup(Policy::kBudgeted)).must_stop(Spend{0, 0, 1e9}, 10)) << "no budget";
  // The LR schedule is fitted to the epochs that fit.
  EXPECT_EQ(s.epoch_decision(0).lr_total_steps, int64_t(s.plan().epochs_that_fit) * 400);
  EXPECT_TRUE(s.epoch_decision(s.plan().epochs_that_fit).stop);
}

TEST(TrainingScheduler, ReplansFromMeasuredSlowerSteps) {
  TrainingScheduler s(setup(Policy::kBudgeted, 120.0 / 3600));
  const int before = s.plan().epochs_that_fit;
  const Decision d = s.epoch_decision(0);
  // The first epoch ran 3x slower than calibrated: fewer epochs fit afterwards.
  const double slow = 3 * s.cost().predict_step(d.K, 1);
  s.end_epoch(1, d.K, slow, Spend{0, 0, 400 * slow});
  EXPECT_LT(s.plan().epochs_that_fit, before);
  EXPECT_LE(s.plan().total.wall_s, 120.0 * (1 + 1e-9));
  const auto r = s.report(Spend{0, 0, 400 * slow}, 1);
  EXPECT_GT(r["spent_hours"].get<double>(), r["planned_hours"].get<double>());
}

TEST(TrainingScheduler, StateSurvivesACheckpoint) {
  SchedulerSetup su = setup(Policy::kBudgeted, 200.0 / 3600);
  TrainingScheduler s(su);
  Decision d = s.epoch_decision(0);
  s.on_probe(100, 0.4, d.K, Spend{});
  s.end_epoch(1, d.K, 1.2 * s.cost().predict_step(d.K, 1), Spend{0, 0, 30});
  const Decision next = s.epoch_decision(1);
  const nlohmann::json j = s.to_json(Spend{0, 0, 30}, next, 1);
  TrainingScheduler r = TrainingScheduler::from_json(j, su);
  EXPECT_EQ(r.epoch_decision(1), next);
  EXPECT_EQ(r.plan().epochs_that_fit, s.plan().epochs_that_fit);
  EXPECT_EQ(r.guard().to_json(), s.guard().to_json());
  EXPECT_EQ(TrainingScheduler::decision_in(j).value(), next);
  EXPECT_DOUBLE_EQ(TrainingScheduler::spent_in(j).wall_s, 30);
}

TEST(TrainingScheduler, AdaptiveAddsAStepWhenTheLastStepStillGains) {
  TrainingScheduler s(setup(Policy::kAdaptive));  // no budget: room for more steps
  Decision d = s.epoch_decision(0);
  AdaptiveSignal sig;
  sig.last_over_first_gain = 0.6;
  EXPECT_EQ(s.adapt(d, sig, 200).K, d.K + 1) << s.last_adapt_reason();
  sig.last_over_first_gain = 0.0;
  d.K = 4;
  EXPECT_EQ(s.adapt(d, sig, 200).K, 3) << s.last_adapt_reason();
  TrainingScheduler fixed(setup(Policy::kFixed));
  EXPECT_EQ(fixed.adapt(d, sig, 200).K, d.K) << "only the adaptive policy adapts";
}

// A real run on 600 Fashion-MNIST images whose third probe is replaced by a collapse.
TEST(BudgetTraining, SyntheticProbeCollapseRestoresTheSnapshotAndRaisesK) {
  const std::string fm = RAMPART_FMNIST;
  if (!std::filesystem::exists(fm + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "no Fashion-MNIST at " << fm;
  const auto dir = std::filesystem::temp_directory_path() / ("rampart_budget_train_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string data = (dir / "train.h5").string();
  import_idx(fm + "/train-images-idx3-ubyte.gz", fm + "/train-labels-idx1-ubyte.gz", data, "fashion-mnist");

  TrainConfig cfg;
  cfg.data = data;
  cfg.limit = 640;  // 80 held out for the probe (an eighth), 560 trained: 5 steps of 128 per epoch
  cfg.epochs = 2;
  cfg.attack = "fgsm-rs";
  cfg.schedule = "fixed";
  cfg.probe_every = 2;
  cfg.probe_steps = 3;
  cfg.out = (dir / "run").string();
  std::filesystem::create_directories(cfg.out);
  std::vector<int64_t> probed;
  cfg.probe_filter = [&](int64_t step, double acc) {
    probed.push_back(step);
    return probed.size() <= 2 ? 0.5 : (probed.size() == 3 ? 0.0 : 0.5);
  };
  class Quiet : public TrainObserver {} obs;
  auto comm = make_self_communicator();
  const nlohmann::json sum = train(cfg, *comm, obs);
  const auto& s = sum.at("schedule");
  ASSERT_GE(probed.size(), 4u);
  EXPECT_EQ(probed[0], 2);
  EXPECT_EQ(probed[1], 4);
  EXPECT_EQ(probed[2], 6);
  EXPECT_EQ(probed[3], 6) << "after the rollback to step 4, step 6 is trained and probed again";
  EXPECT_EQ(s.at("rollbacks").get<int>(), 1);
  EXPECT_EQ(s.at("k_floor").get<int>(), 2);
  // Applied decisions [step, eps, K, alpha]: FGSM-RS from step 0 and again for epoch 2 (step 5);
  // the collapse at step 6 restores step 4 and trains on with PGD-2, also in epoch 2.
  const auto& dec = s.at("decisions");
  ASSERT_EQ(dec.size(), 4u) << dec.dump();
  const int64_t want_step[] = {0, 5, 4, 5};
  const int want_k[] = {1, 1, 2, 2};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(dec[i][0].get<int64_t>(), want_step[i]) << dec.dump();
    EXPECT_EQ(dec[i][2].get<int>(), want_k[i]) << dec.dump();
  }
  EXPECT_EQ(sum.at("steps").get<int64_t>(), 10) << "the run still ends after its 2 epochs";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rampart
