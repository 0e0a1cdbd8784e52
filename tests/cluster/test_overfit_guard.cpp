// The catastrophic-overfitting guard: fires on a synthetic collapse (roll back, raise K),
// stays quiet on probe noise and on an untrained model, and survives a checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "cluster/schedule/overfit_guard.h"

namespace rampart {
namespace {

TEST(OverfitGuard, DoesNotFireOnNoise) {
  OverfitGuard g;
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 0.03);  // ~ a 256-image probe's spread
  for (int i = 0; i < 2000; ++i) {
    // From chance up to ~0.45 over the first few hundred probes, then a noisy plateau.
    const double mean = 0.1 + 0.35 * std::min(1.0, i / 300.0);
    const double acc = std::clamp(mean + noise(rng), 0.0, 1.0);
    const GuardDecision d = g.observe(int64_t(i) * 200, acc, 1);
    ASSERT_EQ(d.action, GuardAction::kOk) << "probe " << i << ": " << d.reason;
    ASSERT_EQ(d.new_k, 1);
  }
  EXPECT_TRUE(g.rollbacks().empty());
  EXPECT_EQ(g.k_floor(), 1);
}

TEST(OverfitGuard, UntrainedModelNearChanceIsNotACollapse) {
  OverfitGuard g;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(g.observe(i * 200, 0.08 + 0.01 * (i % 3), 1).action, GuardAction::kOk);
}

TEST(OverfitGuard, FiresOnCollapseRollsBackAndRaisesK) {
  OverfitGuard g;
  for (int i = 1; i <= 10; ++i) EXPECT_EQ(g.observe(i * 200, 0.3 + 0.015 * i, 1).action, GuardAction::kOk);
  // FGSM training: PGD robust accuracy falls off a cliff between two probes.
  GuardDecision d = g.observe(2200, 0.04, 1);
  EXPECT_EQ(d.action, GuardAction::kRollback);
  EXPECT_EQ(d.new_k, 2);
  EXPECT_EQ(d.rollback_to_step, 2000);
  EXPECT_NE(d.reason.find("raise K from 1 to 2"), std::string::npos) << d.reason;
  EXPECT_EQ(g.k_floor(), 2);
  ASSERT_EQ(g.rollbacks().size(), 1u);
  EXPECT_EQ(g.rollbacks()[0].from_k, 1);
  EXPECT_EQ(g.rollbacks()[0].to_k, 2);
  // Training resumes from step 2000 at K=2; a second collapse raises K again.
  EXPECT_EQ(g.observe(2200, 0.45, 2).action, GuardAction::kOk);
  d = g.observe(2400, 0.2, 2);
  EXPECT_EQ(d.action, GuardAction::kRollback);
  EXPECT_EQ(d.new_k, 3);
  EXPECT_EQ(d.rollback_to_step, 2200);
  // The plan may not go below the floor even when the trainer reports a lower K.
  EXPECT_EQ(g.observe(2400, 0.45, 1).new_k, 3);
}

TEST(OverfitGuard, SlowSlideToChanceFires) {
  GuardConfig c;
  c.window = 2;
  OverfitGuard g(c);
  double acc = 0.45;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g.observe(i * 100, acc, 1).action, GuardAction::kOk);
  GuardAction last = GuardAction::kOk;
  int step = 500;
  while (last == GuardAction::kOk && acc > 0) {  // 0.05 per probe: never max_drop within the window
    acc -= 0.05;
    last = g.observe(step += 100, acc, 1).action;
  }
  EXPECT_EQ(last, GuardAction::kRollback);
  EXPECT_LT(acc, c.chance + c.floor_margin);
}

TEST(OverfitGuard, GivesUpAfterMaxRollbacks) {
  GuardConfig c;
  c.max_rollbacks = 2;
  c.max_k = 3;
  OverfitGuard g(c);
  int64_t s = 0;
  int k = 1;
  std::vector<GuardAction> actions;
  for (int round = 0; round < 3; ++round) {
    g.observe(s += 100, 0.5, k);
    const GuardDecision d = g.observe(s += 100, 0.1, k);
    actions.push_back(d.action);
    k = d.new_k;
  }
  EXPECT_EQ(actions[0], GuardAction::kRollback);
  EXPECT_EQ(actions[1], GuardAction::kRollback);
  EXPECT_EQ(actions[2], GuardAction::kExhausted);
  EXPECT_EQ(k, 3);  // never above max_k
}

TEST(OverfitGuard, StateRoundTripsThroughJson) {
  OverfitGuard a;
  for (int i = 1; i <= 5; ++i) a.observe(i * 200, 0.4 + 0.01 * i, 1);
  a.observe(1200, 0.05, 1);  // a rollback to K=2
  a.observe(1200, 0.44, 2);
  OverfitGuard b = OverfitGuard::from_json(nlohmann::json::parse(a.to_json().dump()));
  EXPECT_EQ(b.k_floor(), 2);
  EXPECT_EQ(b.rollbacks().size(), 1u);
  EXPECT_EQ(b.to_json(), a.to_json());
  // Same future decisions.
  for (double acc : {0.45, 0.43, 0.1}) {
    const GuardDecision da = a.observe(1400, acc, 2), db = b.observe(1400, acc, 2);
    EXPECT_EQ(da.action, db.action);
    EXPECT_EQ(da.new_k, db.new_k);
    EXPECT_EQ(da.rollback_to_step, db.rollback_to_step);
  }
}

}  // namespace
}  // namespace rampart
