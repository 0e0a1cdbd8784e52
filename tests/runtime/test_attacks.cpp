// Attack invariants on random models and inputs: inside the eps-ball, inside
// [0,1], loss not lower than at the clean point; FGSM/PGD configuration errors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/softmax_xent.h"
#include "runtime/attacks/attack.h"
#include "runtime/errors.h"

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

}  // namespace
}  // namespace rampart
