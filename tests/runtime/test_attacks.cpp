// Attack invariants on random models and inputs: inside the eps-ball, inside
// [0,1], loss not lower than at the clean point; FGSM/PGD configuration errors; the registry
// of attack names and the parts (threat balls, stopping rules). The engine's bits against the
// algorithm it replaced: test_attack_engine.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "kernels/cpu/softmax_xent.h"
#include "runtime/attacks/attack.h"
#include "runtime/attacks/threat_ball.h"
#include "runtime/errors.h"
#include "runtime/evaluate.h"

namespace rampart {
namespace {

double mean_loss(Model& m, const Tensor& x, const std::vector<int32_t>& y) {
  const Tensor& z = m.forward(x, Mode::kEval);
  return kernels::softmax_xent_cpu(z.data(), y.data(), x.dim(0), z.dim(1), 0, nullptr, nullptr, nullptr).loss_sum /
         double(x.dim(0));
}

struct Case { std::string model; uint64_t seed; Norm norm; };

class AttackInvariants : public ::testing::TestWithParam<Case> {};

TEST_P(AttackInvariants, BallBoxAndLoss) {
  const Case c = GetParam();
  Shape in = {1, 12, 12};
  Model m(expand_model(c.model, in), in);
  m.init(c.seed);
  std::mt19937 g(uint32_t(c.seed));
  std::uniform_real_distribution<float> u(0, 1);
  const int64_t n = 9;
  Tensor x({n, 1, 12, 12});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = u(g);
  std::vector<int32_t> y(n);
  for (auto& v : y) v = int32_t(g() % 10);
  AttackConfig a = pgd_config(0.1f, 0.025f, 7);
  if (c.norm == Norm::kL2) { a.norm = Norm::kL2; a.eps = 1.0f; a.alpha = 0.25f; }
  Attacker att;
  Tensor xa;
  att.run(m, x, y.data(), a, RandomKey{c.seed, Stream::kEvalStart, 0, 0}, xa);
  const int64_t dim = x.size() / n;
  for (int64_t e = 0; e < n; ++e) {
    double l2 = 0, linf = 0;
    for (int64_t i = 0; i < dim; ++i) {
      float v = xa[e * dim + i], d = v - x[e * dim + i];
      ASSERT_GE(v, 0.f);
      ASSERT_LE(v, 1.f);
      l2 += double(d) * d;
      linf = std::max(linf, double(std::abs(d)));
    }
    if (c.norm == Norm::kLinf) EXPECT_LE(linf, a.eps + 1e-6);
    else EXPECT_LE(std::sqrt(l2), a.eps + 1e-4);
  }
  EXPECT_GE(mean_loss(m, xa, y), mean_loss(m, x, y));
}

INSTANTIATE_TEST_SUITE_P(RandomModels, AttackInvariants,
                         ::testing::Values(Case{"mlp", 1, Norm::kLinf}, Case{"mlp", 2, Norm::kL2},
                                           Case{"small-cnn", 3, Norm::kLinf}, Case{"small-cnn-bn", 4, Norm::kLinf},
                                           Case{"small-cnn", 5, Norm::kL2}));

TEST(Attack, KeepBestIsAtLeastAsStrongAsLastIterate) {
  Shape in = {1, 12, 12};
  Model m(expand_model("small-cnn", in), in);
  m.init(7);
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(0, 1);
  Tensor x({32, 1, 12, 12});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = u(g);
  std::vector<int32_t> y(32);
  for (auto& v : y) v = int32_t(g() % 10);
  AttackConfig a = pgd_config(0.05f, 0.02f, 5, 2);
  Attacker att;
  Tensor last, best;
  att.run(m, x, y.data(), a, RandomKey{1, Stream::kEvalStart, 0, 0}, last);
  a.keep_best = true;
  att.run(m, x, y.data(), a, RandomKey{1, Stream::kEvalStart, 0, 0}, best);
  EXPECT_GE(mean_loss(m, best, y) + 1e-6, mean_loss(m, last, y));
}

TEST(Attack, InvalidSettingsAreConfigErrors) {
  auto expect_error = [](AttackConfig a, const std::string& text) {
    try {
      validate(a, "attack");
      FAIL() << "no error for " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
      EXPECT_EQ(e.code(), kExitConfig);
    }
  };
  AttackConfig a = pgd_config(-0.1f, 0.01f, 7);
  expect_error(a, "eps must be a number >= 0, found -0.1");
  a = pgd_config(0.1f, 0.01f, 0);
  expect_error(a, "steps must be >= 1, found 0");
  a = pgd_config(0.1f, 0.0f, 3);
  expect_error(a, "step size must be > 0");
  a = pgd_config(0.1f, 0.01f, 3, 0);
  expect_error(a, "restarts must be >= 1");
}

void expect_config_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "no error, expected: " << text;
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), text);
    EXPECT_EQ(e.code(), kExitConfig);
  }
}

TEST(AttackRegistry, EveryNameBuildsItsRecipe) {
  EXPECT_EQ(attack_names(), (std::vector<std::string>{"pgd", "fgsm", "fgsm-rs", "pgd-l2", "apgd-ce", "apgd-dlr",
                                                      "apgd-t", "fab-t", "square"}));
  const AttackParams p{0.2f, 0.03f, 5, 3, 2};
  for (const std::string name : {"pgd", "fgsm", "fgsm-rs", "pgd-l2"}) {
    AttackConfig a = make_attack(name, p);
    EXPECT_EQ(a.name, name);
    EXPECT_EQ(a.eps, 0.2f) << name;
    EXPECT_EQ(a.early_stop_tau, 2) << name;
    EXPECT_EQ(a.objective, "ce") << name;
    EXPECT_NO_THROW(validate(a, name));
  }
  const AttackConfig pgd = make_attack("pgd", p), fgsm = make_attack("fgsm", p), rs = make_attack("fgsm-rs", p),
                     l2 = make_attack("pgd-l2", p);
  EXPECT_TRUE(pgd.norm == Norm::kLinf && pgd.random_start && pgd.alpha == 0.03f && pgd.steps == 5 && pgd.restarts == 3);
  EXPECT_TRUE(fgsm.norm == Norm::kLinf && !fgsm.random_start && fgsm.alpha == 0.2f && fgsm.steps == 1 &&
              fgsm.restarts == 1);
  EXPECT_TRUE(rs.norm == Norm::kLinf && rs.random_start && rs.alpha == 1.25f * 0.2f && rs.steps == 1);
  EXPECT_TRUE(l2.norm == Norm::kL2 && l2.random_start && l2.alpha == 0.03f && l2.steps == 5 && l2.restarts == 3);
  // With eps 0 the tied step stays > 0, so that the clean point passes validate().
  EXPECT_GT(make_attack("fgsm", {0.f}).alpha, 0.f);
  EXPECT_TRUE(is_single_step_attack("fgsm") && is_single_step_attack("fgsm-rs"));
  EXPECT_FALSE(is_single_step_attack("pgd") || is_single_step_attack("pgd-l2") || is_single_step_attack("none") ||
               is_single_step_attack("cw"));
  // The shorthands are the registry's recipes.
  EXPECT_EQ(pgd_config(0.2f, 0.03f, 5, 3).alpha, pgd.alpha);
  EXPECT_EQ(fgsm_rs_config(0.2f).alpha, rs.alpha);
  EXPECT_EQ(fgsm_config(0.2f).random_start, false);
  // AutoAttack's searches: the standard version's settings, the caller's eps and norm.
  AttackParams q = p;
  q.norm = Norm::kL2;
  for (const std::string name : {"apgd-ce", "apgd-dlr", "apgd-t", "fab-t", "square"}) {
    const AttackConfig a = make_attack(name, q);
    EXPECT_EQ(a.eps, 0.2f) << name;
    EXPECT_TRUE(a.norm == Norm::kL2) << name;
    EXPECT_TRUE(a.method != Method::kPgd) << name;
    EXPECT_EQ(a.steps, 100) << name;
    EXPECT_NO_THROW(validate(a, name));
  }
  EXPECT_EQ(make_attack("apgd-ce", p).restarts, 3);  // alone, APGD takes --restarts
  EXPECT_EQ(make_attack("apgd-t", p).restarts, 1);
  EXPECT_EQ(make_attack("apgd-t", p).targets, 9);
  EXPECT_EQ(make_attack("apgd-dlr", p).objective, "dlr");
  EXPECT_EQ(make_attack("fab-t", p).targets, 9);
  EXPECT_EQ(make_attack("square", p).queries, 5000);
}

TEST(AttackRegistry, NoneAndAllWhereTheCallerTakesThem) {
  const AttackParams p;
  EXPECT_TRUE(parse_attacks("none", p, AttackWords::kNamesOrNone).empty());
  EXPECT_TRUE(parse_attacks("none", p, AttackWords::kNamesNoneOrAll).empty());
  const auto all = parse_attacks("all", p, AttackWords::kNamesNoneOrAll);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "fgsm");  // the last is the strongest: eval_report's robust_accuracy
  EXPECT_EQ(all[1].name, "pgd");
  expect_config_error([&] { make_attack("none", p); },
                      "attack: expected pgd, fgsm, fgsm-rs, pgd-l2, apgd-ce, apgd-dlr, apgd-t, fab-t or square, found "
                      "\"none\"");
  expect_config_error([&] { parse_attacks("all", p, AttackWords::kNamesOrNone); },
                      "attack: expected pgd, fgsm, fgsm-rs, pgd-l2 or none, found \"all\"");
  expect_config_error([&] { parse_attacks("cw", p, AttackWords::kNamesNoneOrAll); },
                      "attack: expected pgd, fgsm, fgsm-rs, pgd-l2, apgd-ce, apgd-dlr, apgd-t, fab-t, square, "
                      "autoattack, none or all, found \"cw\"");
}

TEST(Attack, UnknownObjectiveIsAConfigError) {
  AttackConfig a = pgd_config(0.1f, 0.01f, 3);
  a.objective = "hinge";
  expect_config_error([&] { validate(a, "eval --attack pgd"); },
                      "eval --attack pgd: objective: expected ce, trades, trades-kl, mart, found \"hinge\"");
}

TEST(ThreatBall, StepsStayInTheBallAndTheBox) {
  const int64_t n = 3, dim = 50;
  std::mt19937 g(4);
  std::uniform_real_distribution<float> u(0, 1), s(-1, 1);
  std::vector<float> x(n * dim), grad(n * dim);
  for (auto& v : x) v = u(g);
  for (auto& v : grad) v = s(g);
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    const ThreatBall& ball = threat_ball(norm);
    EXPECT_EQ(ball.norm(), norm);
    const float eps = norm == Norm::kLinf ? 0.1f : 0.8f;
    std::vector<float> xa(n * dim);
    ball.random_start(Device::kCpu, xa.data(), x.data(), n, dim, eps, RandomKey{1, Stream::kEvalStart, 0, 0});
    for (int t = 0; t < 4; ++t) ball.step(Device::kCpu, xa.data(), grad.data(), x.data(), n, dim, eps / 2, eps);
    for (int64_t e = 0; e < n; ++e) {
      double l2 = 0, linf = 0;
      for (int64_t i = 0; i < dim; ++i) {
        const float v = xa[e * dim + i], d = v - x[e * dim + i];
        ASSERT_TRUE(v >= 0.f && v <= 1.f);
        l2 += double(d) * d;
        linf = std::max(linf, double(std::abs(d)));
      }
      if (norm == Norm::kLinf) EXPECT_LE(linf, eps + 1e-6);
      else EXPECT_LE(std::sqrt(l2), eps + 1e-4);
    }
  }
  std::vector<uint8_t> has(n, 1);
  std::vector<float> out(n * dim);
  expect_config_error([&] { threat_ball(Norm::kL2).place_offsets(Device::kCpu, out.data(), x.data(), grad.data(), has.data(), n, dim, 1.f); },
                      "carried starts need the L-inf norm");
}

TEST(StopRules, EarlyStopZeroesRowsTauStepsAfterTheFirstMiss) {
  EarlyStopRule r;
  r.reset(1, 2);
  ASSERT_TRUE(r.on());
  std::vector<float> d(4);
  auto step = [&](uint8_t ok0, uint8_t ok1) {
    std::fill(d.begin(), d.end(), 1.f);
    const uint8_t ok[2] = {ok0, ok1};
    r.apply(Device::kCpu, ok, d.data(), 2, 2);
    return std::vector<float>{d[0], d[2]};
  };
  EXPECT_EQ(step(1, 0), (std::vector<float>{1, 1}));  // example 1 missed: one more step
  EXPECT_EQ(step(1, 1), (std::vector<float>{1, 0}));  // then it stops, correct or not
  EXPECT_EQ(step(0, 1), (std::vector<float>{1, 0}));
  EXPECT_EQ(step(0, 0), (std::vector<float>{0, 0}));
  r.reset(-1, 2);
  EXPECT_FALSE(r.on());
}

TEST(StopRules, BestIteratePrefersMissesThenHigherLoss) {
  BestIterate b;
  b.reset({2, 1}, Device::kCpu);
  Tensor x({2, 1});
  const float loss1[2] = {1.f, 5.f}, loss2[2] = {2.f, 9.f}, loss3[2] = {0.5f, 0.1f};
  const uint8_t ok1[2] = {1, 0}, ok2[2] = {1, 1}, ok3[2] = {0, 1};
  x[0] = 10; x[1] = 20;
  b.consider(x, loss1, ok1);
  x[0] = 11; x[1] = 21;
  b.consider(x, loss2, ok2);  // example 0: higher loss wins; example 1: its miss stays
  EXPECT_EQ(b.best()[0], 11.f);
  EXPECT_EQ(b.best()[1], 20.f);
  x[0] = 12; x[1] = 22;
  b.consider(x, loss3, ok3);  // example 0: a miss beats any loss
  EXPECT_EQ(b.best()[0], 12.f);
  EXPECT_EQ(b.best()[1], 20.f);
  EXPECT_EQ(b.fooled(), 2);
}

// --attack-bn: with the running statistics (eval) the attack leaves the model's buffers
// alone; with batch statistics (train) every attack pass moves them as a PyTorch model in
// train mode does (num_batches_tracked counts the passes). Evaluation always uses eval.
TEST(AttackBatchnorm, TrainModeMovesRunningStatisticsEvalModeDoesNot) {
  const Shape in = {1, 12, 12};
  Model m(expand_model("small-cnn-bn", in), in);
  m.init(3);
  std::mt19937 g(5);
  std::uniform_real_distribution<float> u(0, 1);
  const int64_t n = 6;
  Tensor x({n, 1, 12, 12}), adv;
  for (int64_t i = 0; i < x.size(); ++i) x[i] = u(g);
  std::vector<int32_t> y{0, 1, 2, 3, 4, 5};
  auto buffers = [&] { return std::vector<float>(m.flat_buffers(), m.flat_buffers() + m.num_buffer_values()); };
  const std::vector<float> before = buffers();
  AttackConfig cfg = pgd_config(0.1f, 0.025f, 3);
  Attacker attacker;
  attacker.run(m, x, y.data(), cfg, {1, Stream::kRandomStart, 0, 0}, adv);
  EXPECT_EQ(buffers(), before) << "eval-mode attack changed the running statistics";

  cfg.bn_batch_stats = true;
  attacker.run(m, x, y.data(), cfg, {1, Stream::kRandomStart, 0, 0}, adv);
  const std::vector<float> after = buffers();
  EXPECT_NE(after, before);
  int tracked = 0;
  for (const auto& b : m.buffers())
    if (b.name.size() >= 19 && b.name.compare(b.name.size() - 19, 19, "num_batches_tracked") == 0) {
      EXPECT_EQ(b.value[0], 3.0f) << b.name;  // one per attack pass
      ++tracked;
    }
  EXPECT_EQ(tracked, 2);

  Evaluator ev({cfg}, 1);  // asks for batch statistics; evaluation refuses them
  ev.add(m, x, y.data(), 0);
  EXPECT_EQ(buffers(), after) << "evaluation changed the running statistics";
}

}  // namespace
}  // namespace rampart
