// Scheduler policies and budgets: plans never exceed the budget (a sweep of hundreds of
// combinations), the budgeted curriculum, re-planning, errors, the adaptive controller,
// and the plan's table and JSON.
#include <gtest/gtest.h>

#include <cmath>

#include "cluster/schedule/budget.h"
#include "cluster/schedule/plan_table.h"
#include "cluster/schedule/schedule_policy.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

// Reference-like costs: `speed` scales every pass (1 = 150 GFLOP/s ranks, batch 128).
StepCosts costs(double slowness = 1.0) {
  const double per = 128 / 150e9 * slowness;
  StepCosts c;
  c.fwd_s = 8.48e6 * per;
  c.bwd_input_s = 8.52e6 * per;
  c.bwd_full_s = 16.52e6 * per;
  c.pgd_update_s = 0.0002 * slowness;
  c.optimizer_s = 0.001;
  c.data_s = 0.001;
  c.overlap_fraction = 0.3;
  c.eval_s_per_image = 21 * 17.0e6 / 150e9 * slowness;  // PGD-20 + clean, roughly
  c.local_batch = 128;
  return c;
}

PlanInput input(Policy policy, int world = 1, double slowness = 1.0) {
  PlanInput in;
  in.policy = policy;
  in.eps_target = 0.1;
  in.epochs = 5;
  in.world = world;
  in.steps_per_epoch = (60000 + 128 * world - 1) / (128 * world);
  in.cost = CostModel(costs(slowness), network_from_bus_bandwidth(25, 10e-6), 421642.0 * 4);
  in.probe.interval_steps = 100;
  return in;
}

template <class F>
std::string config_error(F f) {
  try {
    f();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), kExitConfig);
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

TEST(Budget, InvalidBudgetsAndPricesAreConfigErrors) {
  const auto price = std::optional<Price>(Price::per_gpu_hour(2.5));
  EXPECT_EQ(config_error([&] { validate(Budget{20.0, {}, {}}, std::nullopt); }),
            "--budget-usd needs a price: give --price-per-gpu-hour or --price-per-node-hour with --gpus-per-node");
  EXPECT_EQ(config_error([&] { validate(Budget{-3.0, {}, {}}, price); }),
            "--budget-usd must be a positive number of US dollars, found -3; give e.g. --budget-usd 20");
  EXPECT_NE(config_error([&] { validate(Budget{0.0, {}, {}}, price); }).find("found 0"), std::string::npos);
  EXPECT_NE(config_error([&] { validate(Budget{std::nan(""), {}, {}}, price); }).find("found nan"), std::string::npos);
  EXPECT_NE(config_error([&] { validate(Budget{{}, -1.0, {}}, price); }).find("--budget-gpu-hours"), std::string::npos);
  EXPECT_NE(config_error([&] { validate(Budget{{}, {}, INFINITY}, price); }).find("--budget-hours"), std::string::npos);
  EXPECT_EQ(config_error([&] { make_price(0.0, {}, {}); }),
            "--price-per-gpu-hour must be a positive number of US dollars, found 0; give e.g. --price-per-gpu-hour 2.5");
  EXPECT_NE(config_error([&] { make_price({}, 20.0, {}); }).find("needs --gpus-per-node"), std::string::npos);
  EXPECT_NE(config_error([&] { make_price({}, 20.0, 0); }).find("--gpus-per-node must be"), std::string::npos);
  EXPECT_NE(config_error([&] { make_price(2.0, 20.0, 8); }).find("found both"), std::string::npos);
  EXPECT_NE(config_error([&] { validate(Budget{5.0, {}, {}}, Price::per_gpu_hour(-1)); }).find("--price-per-gpu-hour"),
            std::string::npos);
  EXPECT_NO_THROW(validate(Budget{20.0, 3.0, 1.0}, price));
  EXPECT_FALSE(make_price({}, {}, {}).has_value());
  EXPECT_DOUBLE_EQ(make_price({}, 20.0, 8)->usd_per_gpu_hour(), 2.5);
  EXPECT_NE(config_error([] { parse_policy("greedy"); }).find("fixed, budgeted or adaptive"), std::string::npos);
}

TEST(Budget, AllowanceIsTheTightestLimit) {
  const auto price = std::optional<Price>(Price::per_gpu_hour(2.0));
  // $8 on 4 ranks at $2/rank-hour = 1 hour; 2 GPU-hours on 4 ranks = 0.5 hours; 3 hours.
  EXPECT_DOUBLE_EQ(wall_seconds_allowed(Budget{8.0, 2.0, 3.0}, Spend{}, 4, price), 1800);
  EXPECT_DOUBLE_EQ(wall_seconds_allowed(Budget{8.0, {}, {}}, Spend{2.0, 1.0, 900}, 4, price), 2700);
  EXPECT_TRUE(std::isinf(wall_seconds_allowed(Budget{}, Spend{}, 4, price)));
}

// The central promise: over budgets x prices x costs x world sizes x policies, a plan (with
// its reserve) never exceeds the budget, and one that cannot fit is a clear error.
TEST(Schedule, PlanNeverExceedsTheBudgetSweep) {
  const std::vector<Budget> budgets = {
      {0.05, {}, {}}, {0.5, {}, {}}, {2.0, {}, {}}, {20.0, {}, {}}, {500.0, {}, {}},
      {{}, 0.02, {}}, {{}, 0.3, {}},  {{}, 5.0, {}},  {{}, {}, 0.01},  {{}, {}, 0.05},
      {{}, {}, 2.0},  {3.0, 1.0, 0.2}};
  const std::vector<std::optional<Price>> prices = {Price::per_gpu_hour(0.5), Price::per_gpu_hour(2.5),
                                                    Price::per_node_hour(40, 8)};
  int plans = 0, errors = 0, cut = 0;
  for (const auto& budget : budgets)
    for (const auto& price : prices)
      for (double slow : {0.3, 1.0, 4.0})
        for (int world : {1, 2, 8, 64})
          for (Policy pol : {Policy::kFixed, Policy::kBudgeted, Policy::kAdaptive})
            for (int fixed_k : {1, 7}) {
              if (pol != Policy::kFixed && fixed_k != 7) continue;
              PlanInput in = input(pol, world, slow);
              in.budget = budget;
              in.price = price;
              in.fixed_k = fixed_k;
              SCOPED_TRACE(::testing::Message() << "budget usd=" << budget.usd.value_or(-1) << " gpu_h="
                                                << budget.gpu_hours.value_or(-1) << " h=" << budget.hours.value_or(-1)
                                                << " price=" << price->usd_per_gpu_hour() << " slow=" << slow
                                                << " world=" << world << " policy=" << to_string(pol) << " K=" << fixed_k);
              Plan p;
              try {
                p = make_plan(in);
              } catch (const ConfigError& e) {
                // Only when one epoch at the cheapest K plus the reserve really does not fit.
                ++errors;
                PlanInput unlimited = in;
                unlimited.budget = Budget{};
                unlimited.policy = Policy::kFixed;
                unlimited.fixed_k = pol == Policy::kFixed ? fixed_k : 1;
                const double one = make_plan(unlimited).rows[0].wall_s / (1 - in.reserve.safety_fraction) +
                                   reserve_wall_s(in.reserve, in.cost, world);
                EXPECT_FALSE(within(spend_of(one, world, price), budget)) << e.what();
                continue;
              }
              ++plans;
              ASSERT_FALSE(p.rows.empty());
              EXPECT_TRUE(within(p.total, budget)) << "total $" << p.total.usd << " " << p.total.gpu_hours << " GPU-h "
                                                   << p.total.wall_s << " s";
              EXPECT_LE(p.rows.back().cum_wall_s, p.allowance_wall_s * (1 + 1e-9));
              EXPECT_NEAR(p.rows.back().cum_wall_s + p.reserve.wall_s, p.total.wall_s, 1e-6);
              EXPECT_EQ(p.epochs_that_fit, int(p.rows.size()));
              EXPECT_LE(p.epochs_that_fit, in.epochs);
              if (p.epochs_that_fit < in.epochs) {
                ++cut;
                EXPECT_FALSE(p.note.empty());
              }
              for (size_t i = 0; i < p.rows.size(); ++i) {
                EXPECT_GE(p.rows[i].K, 1);
                EXPECT_LE(p.rows[i].K, pol == Policy::kFixed ? fixed_k : in.max_k);
                if (i > 0) {
                  EXPECT_GE(p.rows[i].K, p.rows[i - 1].K);
                  EXPECT_GE(p.rows[i].eps, p.rows[i - 1].eps);
                }
              }
              EXPECT_DOUBLE_EQ(p.rows.back().eps, in.eps_target);
            }
  std::printf("sweep: %d plans, %d too-small budgets refused, %d plans cut short\n", plans, errors, cut);
  EXPECT_GT(plans, 300);
  EXPECT_GT(errors, 0);  // the sweep reaches budgets that cannot train
  EXPECT_GT(cut, 0);     // and budgets that cut epochs
}

TEST(Schedule, BudgetedRampsEpsAndAttackStrength) {
  PlanInput in = input(Policy::kBudgeted);
  in.epochs = 10;
  const Plan p = make_plan(in);  // no budget: the full ramp up to max_k
  ASSERT_EQ(p.rows.size(), 10u);
  EXPECT_DOUBLE_EQ(p.rows.front().eps, 0.05);
  EXPECT_DOUBLE_EQ(p.rows.back().eps, 0.1);
  EXPECT_EQ(p.rows.front().K, 1);  // FGSM with random start, alpha = 1.25 eps
  EXPECT_DOUBLE_EQ(p.rows.front().alpha, 1.25 * 0.05);
  EXPECT_EQ(p.rows.back().K, 10);
  EXPECT_DOUBLE_EQ(p.rows.back().alpha, 2.5 * 0.1 / 10);
  for (size_t i = 1; i < p.rows.size(); ++i) {
    EXPECT_GE(p.rows[i].K, p.rows[i - 1].K);
    EXPECT_GE(p.rows[i].eps, p.rows[i - 1].eps);
  }
  // With a budget between FGSM-everywhere and the full ramp, it spends most of it.
  PlanInput b = input(Policy::kBudgeted);
  b.epochs = 10;
  b.price = Price::per_gpu_hour(2.5);
  const double fgsm = make_plan(b).rows.size() * b.cost.predict_epoch_wall(1, 1, b.steps_per_epoch);
  b.budget.hours = (fgsm * 1.8 + reserve_wall_s(b.reserve, b.cost, 1)) / 3600;
  const Plan q = make_plan(b);
  ASSERT_EQ(q.rows.size(), 10u);
  EXPECT_GT(q.rows.back().K, 1);
  EXPECT_LT(q.rows.back().K, 10);
  EXPECT_GT(q.rows.back().cum_wall_s, 0.9 * q.allowance_wall_s);
  EXPECT_TRUE(within(q.total, b.budget));
  // A configured step (the protocol's 0.025 at eps 0.1) scales with eps along the curriculum.
  b.alpha_at_target = 0.025;
  const Plan r = make_plan(b);
  EXPECT_DOUBLE_EQ(r.rows.back().alpha, 0.025);
  EXPECT_DOUBLE_EQ(r.rows.front().alpha, 0.0125);
}

TEST(Schedule, FixedStopsEarlyAndBudgetedCutsEpochsOnlyBelowFgsm) {
  PlanInput in = input(Policy::kFixed);
  in.fixed_k = 7;
  const double epoch7 = in.cost.predict_epoch_wall(7, 1, in.steps_per_epoch);
  const double probes = make_plan(in).rows[0].wall_s - epoch7;  // the guard's probes
  in.budget.hours = ((3.5 * (epoch7 + probes)) / (1 - in.reserve.safety_fraction) +
                     reserve_wall_s(in.reserve, in.cost, 1)) / 3600;
  const Plan p = make_plan(in);
  EXPECT_EQ(p.epochs_that_fit, 3);
  for (const auto& r : p.rows) EXPECT_EQ(r.K, 7);
  EXPECT_NE(p.note.find("stops early"), std::string::npos);
  // The same money, budgeted: all 5 epochs (FGSM for all of them costs far less).
  PlanInput b = in;
  b.policy = Policy::kBudgeted;
  const Plan q = make_plan(b);
  EXPECT_EQ(q.epochs_that_fit, 5);
  EXPECT_TRUE(within(q.total, b.budget));
  // Budgeted with less than 5 FGSM epochs: epochs are cut, all FGSM, last at the target eps.
  PlanInput c = input(Policy::kBudgeted);
  PlanInput c1 = c;
  c1.policy = Policy::kFixed;
  c1.fixed_k = 1;
  const double fgsm_epoch = make_plan(c1).rows[0].wall_s;
  c.budget.hours = (2.5 * fgsm_epoch / (1 - c.reserve.safety_fraction) + reserve_wall_s(c.reserve, c.cost, 1)) / 3600;
  const Plan s = make_plan(c);
  EXPECT_EQ(s.epochs_that_fit, 2);
  EXPECT_EQ(s.rows[0].K, 1);  // the half epoch left over may buy the last epoch a step
  EXPECT_TRUE(within(s.total, c.budget));
  EXPECT_DOUBLE_EQ(s.rows.back().eps, 0.1);
  // Too little for one epoch: refused with what it would take.
  c.budget.hours = 1e-4;
  EXPECT_NE(config_error([&] { make_plan(c); }).find("does not cover one epoch"), std::string::npos);
}

TEST(Schedule, ReplanRespondsToSlowerMeasuredCost) {
  PlanInput in = input(Policy::kBudgeted, 8);
  in.epochs = 8;
  in.price = Price::per_gpu_hour(2.5);
  const Plan full = make_plan(in);
  // Room for about 60% of the full ramp's training, plus the reserve.
  in.budget.usd = full.reserve.usd + 0.6 * (full.total.usd - full.reserve.usd);
  const Plan p = make_plan(in);
  ASSERT_EQ(p.rows.size(), 8u);
  // Epoch 0 ran as predicted; then the machine turns out to be twice as slow.
  const Spend spent = spend_of(p.rows[0].wall_s, in.world, in.price);
  CostModel slower = in.cost;
  slower.update_epoch(p.rows[1].K, in.world, in.steps_per_epoch,
                      2.0 * in.cost.predict_epoch_wall(p.rows[1].K, in.world, in.steps_per_epoch));
  const Plan same = replan(p, 1, spent, in.cost);
  const Plan slow = replan(p, 1, spent, slower);
  auto steps = [](const Plan& q) {
    int s = 0;
    for (const auto& r : q.rows) s += r.K;
    return s;
  };
  EXPECT_EQ(slow.first_epoch, 1);
  EXPECT_EQ(slow.rows.front().epoch, 1);
  EXPECT_GE(steps(same), steps(slow) + 1) << "a slower machine buys fewer attack steps";
  EXPECT_TRUE(within(slow.total, in.budget));
  EXPECT_NEAR(slow.spent_before.usd, spent.usd, 1e-12);
  // Much slower: fewer epochs too, and still within budget.
  CostModel crawl = in.cost;
  crawl.update_epoch(1, in.world, in.steps_per_epoch, 6.0 * in.cost.predict_epoch_wall(1, in.world, in.steps_per_epoch));
  const Plan c = replan(p, 1, spent, crawl);
  EXPECT_LT(c.epochs_that_fit, 8);
  EXPECT_TRUE(within(c.total, in.budget));
  // The guard's floor is respected.
  const Plan f = replan(p, 1, spent, in.cost, 3);
  for (const auto& r : f.rows) EXPECT_GE(r.K, 3);
  // Budget used up: an empty plan (stop and evaluate), not an exception.
  const Plan done = replan(p, 2, Spend{*in.budget.usd, 0, 0}, in.cost);
  EXPECT_TRUE(done.rows.empty());
  EXPECT_EQ(done.row(2), nullptr);
}

TEST(Schedule, AdaptiveControllerAddsAndRemovesStepsWithinBudget) {
  AdaptiveController ctl;
  EXPECT_EQ(ctl.decide(3, {0.6, {}}, 100, 10).K, 4);
  EXPECT_EQ(ctl.decide(3, {0.6, {}}, 5, 10).K, 3);  // no money for it
  EXPECT_EQ(ctl.decide(10, {0.6, {}}, 100, 10).K, 10);
  EXPECT_EQ(ctl.decide(3, {0.01, {}}, 0, 10).K, 2);
  EXPECT_EQ(ctl.decide(1, {0.01, {}}, 0, 10).K, 1);
  EXPECT_EQ(ctl.decide(3, {0.1, {}}, 100, 10).K, 3);
  EXPECT_EQ(ctl.decide(3, {{}, 0.5}, 100, 10).K, 4);   // FOSC far from stationary
  EXPECT_EQ(ctl.decide(3, {{}, 0.001}, 100, 10).K, 2); // converged
  EXPECT_EQ(ctl.decide(3, {}, 100, 10).K, 3);
  PlanInput in = input(Policy::kAdaptive);
  in.early_stop = {true, 2};
  const Plan p = make_plan(in);
  EXPECT_TRUE(p.early_stop.enabled);
  EXPECT_EQ(p.early_stop.tau, 2);
  // Unlimited budget: infinite headroom; a budget: what the plan leaves, never negative.
  EXPECT_TRUE(std::isinf(headroom_s(p)));
  in.price = Price::per_gpu_hour(2.5);
  in.budget.usd = 0.15;
  const Plan q = make_plan(in);
  EXPECT_GE(headroom_s(q), 0);
  EXPECT_LT(headroom_s(q), q.allowance_wall_s);
  EXPECT_NEAR(extra_step_cost_s(in.cost, 1, 10), 10 * (in.cost.predict_step(5, 1) - in.cost.predict_step(4, 1)), 1e-12);
}

TEST(PlanTable, JsonHasTheContractKeysAndTheTableReads) {
  PlanInput in = input(Policy::kBudgeted, 64);
  in.price = Price::per_gpu_hour(2.5);
  in.budget.usd = 20;
  const Plan p = make_plan(in);
  const nlohmann::json j = nlohmann::json::parse(plan_to_json(p).dump());
  for (const char* k : {"rows", "total_usd", "total_gpu_hours", "total_hours", "epochs_that_fit", "policy"})
    EXPECT_TRUE(j.contains(k)) << k;
  // Rows are runs of epochs planned alike; together they cover every planned epoch in order.
  ASSERT_FALSE(j["rows"].empty());
  int covered = 0;
  for (const auto& r : j["rows"]) {
    EXPECT_EQ(r["epoch"].get<int>(), p.rows[size_t(covered)].epoch);
    EXPECT_EQ(r["K"].get<int>(), p.rows[size_t(covered)].K);
    covered += r["epochs"].get<int>();
    EXPECT_DOUBLE_EQ(r["cum_wall_s"].get<double>(), p.rows[size_t(covered - 1)].cum_wall_s);
  }
  EXPECT_EQ(covered, int(p.rows.size()));
  for (const char* k : {"epoch", "epochs", "eps", "K", "alpha", "wall_s", "gpu_hours", "usd", "cum_wall_s",
                        "cum_gpu_hours", "cum_usd"})
    EXPECT_TRUE(j["rows"][0].contains(k)) << k;
  EXPECT_LE(j["total_usd"].get<double>(), 20.0);
  EXPECT_NEAR(j["total_hours"].get<double>(), p.total.wall_s / 3600, 1e-12);
  const std::string t = format_plan_table(p);
  std::printf("%s", t.c_str());
  EXPECT_NE(t.find("cum USD"), std::string::npos);
  EXPECT_NE(t.find("total:"), std::string::npos);
  // Without a price, money is null in JSON and "-" in the table.
  in.price.reset();
  in.budget = Budget{{}, 2.0, {}};
  const Plan u = make_plan(in);
  const nlohmann::json ju = plan_to_json(u);
  EXPECT_TRUE(ju["total_usd"].is_null());
  EXPECT_TRUE(ju.contains("total_gpu_hours"));
  EXPECT_LE(ju["total_gpu_hours"].get<double>(), 2.0);
}

// Checkpoints cost what the calibration timed: each epoch's writes in its row, the final
// one in the reserve (the fixed checkpoint_s only when no write was timed); the set-up's
// spend comes before the first epoch.
TEST(Schedule, EpochsPayForTheirCheckpointWritesAndTheSetUp) {
  PlanInput in = input(Policy::kFixed);
  in.probe.interval_steps = 0;
  in.fixed_k = 7;
  const Plan before = make_plan(in);
  StepCosts c = costs();
  c.checkpoint_bytes = 48e6;
  c.checkpoint_write_s = 0.6;
  c.epoch_load_s = 0.3;
  in.cost = CostModel(c, network_from_bus_bandwidth(25, 10e-6), 421642.0 * 4);
  in.checkpoint_writes_per_epoch = 2;  // the epoch's end and best.h5
  in.spent_before = Spend{0, 0, 12.5};
  const Plan p = make_plan(in);
  ASSERT_EQ(p.rows.size(), before.rows.size());
  for (size_t i = 0; i < p.rows.size(); ++i) EXPECT_NEAR(p.rows[i].wall_s, before.rows[i].wall_s + 2 * 0.6 + 0.3, 1e-9);
  EXPECT_NEAR(p.reserve.wall_s, before.reserve.wall_s - in.reserve.checkpoint_s + 0.6, 1e-9);
  EXPECT_NEAR(p.rows[0].cum_wall_s, 12.5 + p.rows[0].wall_s, 1e-9);
  EXPECT_NEAR(p.total.wall_s, before.total.wall_s + 12.5 + p.rows.size() * 1.5 - in.reserve.checkpoint_s + 0.6, 1e-9);
  // A budget is fitted with all of it: the epochs that fit stop where rows, set-up and reserve meet it.
  in.budget.hours = (12.5 + 2.5 * p.rows[0].wall_s / (1 - in.reserve.safety_fraction) + p.reserve.wall_s) / 3600;
  const Plan cut = make_plan(in);
  EXPECT_EQ(cut.epochs_that_fit, 2);
  EXPECT_TRUE(within(cut.total, in.budget));
  // A set-up (slowed by a busy machine) that leaves no room for an epoch: an empty plan, the
  // run stops for its final evaluation. A budget that never had room stays a ConfigError.
  in.spent_before.wall_s = in.budget.hours.value() * 3600 - p.reserve.wall_s - 0.5 * p.rows[0].wall_s;
  const Plan none = make_plan(in);
  EXPECT_TRUE(none.rows.empty());
  EXPECT_EQ(none.epochs_that_fit, 0);
  EXPECT_NE(none.note.find("the set-up spent"), std::string::npos) << none.note;
  in.spent_before = Spend{};
  in.budget.hours = (0.5 * p.rows[0].wall_s + p.reserve.wall_s) / 3600;
  EXPECT_NE(config_error([&] { make_plan(in); }).find("does not cover one epoch"), std::string::npos);
}

}  // namespace
}  // namespace rampart
