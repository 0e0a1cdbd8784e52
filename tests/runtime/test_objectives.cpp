// Losses (runtime/objectives): values against a direct double-precision formula, gradients
// against central finite differences, cross-entropy bit for bit against the fused kernel it
// wraps, and the registry of names.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/softmax_xent.h"
#include "runtime/errors.h"
#include "runtime/objectives/objective.h"

namespace rampart {
namespace {

struct Batch {
  int64_t n, k;
  std::vector<float> z;
  std::vector<int32_t> y;
};

// Awkward sizes; logits spread wide enough that softmax is far from uniform.
Batch random_batch(int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 3.f);
  Batch b{n, k, std::vector<float>(n * k), std::vector<int32_t>(n)};
  for (auto& v : b.z) v = d(g);
  for (auto& v : b.y) v = int32_t(g() % uint32_t(k));
  return b;
}

// -log softmax(z)[y] in double, written out independently of the kernel.
double ce_direct(const float* z, int64_t k, int32_t y) {
  double mx = z[0];
  for (int64_t j = 1; j < k; ++j) mx = std::max(mx, double(z[j]));
  double s = 0;
  for (int64_t j = 0; j < k; ++j) s += std::exp(double(z[j]) - mx);
  return mx + std::log(s) - double(z[y]);
}

TEST(CrossEntropy, ValuesAndCorrectnessMatchTheFormula) {
  auto ce = make_objective("ce");
  Batch b = random_batch(7, 13, 1);
  b.z[2 * 13 + 4] = b.z[2 * 13 + 9] = 50.f;  // a tie for the argmax: the lower index wins
  b.y[2] = 4;
  b.y[3] = 0;
  std::vector<float> loss(b.n);
  std::vector<uint8_t> ok(b.n);
  LossOutput out;
  out.per_loss = loss.data();
  out.correct = ok.data();
  const ObjectiveTotals t = ce->evaluate({b.z.data(), b.y.data(), b.n, b.k}, out);
  double sum = 0;
  int64_t correct = 0;
  for (int64_t e = 0; e < b.n; ++e) {
    const float* z = b.z.data() + e * b.k;
    const double want = ce_direct(z, b.k, b.y[e]);
    EXPECT_NEAR(loss[e], want, 1e-5 * (1 + want)) << e;
    sum += want;
    int64_t arg = 0;
    for (int64_t j = 1; j < b.k; ++j) if (z[j] > z[arg]) arg = j;
    EXPECT_EQ(ok[e], arg == b.y[e]) << e;
    correct += arg == b.y[e];
  }
  EXPECT_EQ(ok[2], 1);
  EXPECT_NEAR(t.loss_sum, sum, 1e-9 * sum);
  EXPECT_EQ(t.correct, correct);
}

// dL/dz by central differences of the summed loss; the step is taken in float, and the
// difference divided by the step actually taken.
TEST(CrossEntropy, GradientMatchesFiniteDifferencesTimesTheScale) {
  auto ce = make_objective("ce");
  Batch b = random_batch(5, 11, 2);
  const float scale = 0.37f;
  std::vector<float> d(b.n * b.k);
  LossOutput out;
  out.grad_scale = scale;
  out.dlogits = d.data();
  ce->evaluate({b.z.data(), b.y.data(), b.n, b.k}, out);
  auto loss = [&](const std::vector<float>& z) { return ce->evaluate({z.data(), b.y.data(), b.n, b.k}, {}).loss_sum; };
  int bad = 0;
  for (int64_t i = 0; i < b.n * b.k; ++i) {
    std::vector<float> zp = b.z, zm = b.z;
    zp[i] += 1e-2f;
    zm[i] -= 1e-2f;
    const double num = (loss(zp) - loss(zm)) / (double(zp[i]) - double(zm[i]));
    if (std::abs(d[i] - scale * num) > 1e-4 + 1e-3 * std::abs(scale * num)) {
      ++bad;
      ADD_FAILURE() << "logit " << i << ": analytic " << d[i] << ", numerical " << scale * num;
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST(CrossEntropy, BitForBitTheFusedKernel) {
  auto ce = make_objective("ce");
  for (float scale : {1.f, 0.f, 1.f / 128}) {
    Batch b = random_batch(33, 10, 3);
    std::vector<float> d1(b.n * b.k, 7.f), d2(b.n * b.k, 7.f), l1(b.n), l2(b.n);
    std::vector<uint8_t> c1(b.n), c2(b.n);
    const ObjectiveTotals t = ce->evaluate({b.z.data(), b.y.data(), b.n, b.k},
                                           {scale, d1.data(), nullptr, l1.data(), c1.data()});
    const kernels::XentTotals r =
        kernels::softmax_xent_cpu(b.z.data(), b.y.data(), b.n, b.k, scale, d2.data(), l2.data(), c2.data());
    EXPECT_EQ(std::memcmp(&t.loss_sum, &r.loss_sum, sizeof(double)), 0);
    EXPECT_EQ(t.correct, r.correct);
    EXPECT_EQ(0, std::memcmp(d1.data(), d2.data(), d1.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(l1.data(), l2.data(), l1.size() * sizeof(float)));
    EXPECT_EQ(c1, c2);
  }
}

TEST(Objective, RegistryKnowsItsLossesAndNamesTheKnownOnes) {
  EXPECT_EQ(objective_names(), (std::vector<std::string>{"ce", "trades", "trades-kl", "mart"}));
  auto ce = make_objective("ce");
  EXPECT_EQ(ce->name(), "ce");
  EXPECT_FALSE(ce->needs_reference());
  for (const char* n : {"trades", "trades-kl", "mart"}) EXPECT_TRUE(make_objective(n)->needs_reference()) << n;
  try {
    make_objective("cw");
    FAIL() << "no error for an unknown objective";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "objective: expected ce, trades, trades-kl, mart, found \"cw\"");
    EXPECT_EQ(e.code(), kExitConfig);
  }
  EXPECT_THROW(make_objective("trades", {-1.0}), ConfigError);
}

// ---- TRADES and MART, written out here in double from the papers' reference code ----

std::vector<double> softmax_direct(const float* z, int64_t k) {
  double mx = z[0];
  for (int64_t j = 1; j < k; ++j) mx = std::max(mx, double(z[j]));
  std::vector<double> p(k);
  double s = 0;
  for (int64_t j = 0; j < k; ++j) s += (p[j] = std::exp(double(z[j]) - mx));
  for (auto& v : p) v /= s;
  return p;
}

// TRADES: ce_weight * CE(clean, y) + beta * sum_j q_j log(q_j / p_j).
double trades_direct(const float* a, const float* c, int64_t k, int32_t y, double beta, double ce_weight) {
  auto p = softmax_direct(a, k), q = softmax_direct(c, k);
  double kl = 0;
  for (int64_t j = 0; j < k; ++j) kl += q[j] * std::log(q[j] / p[j]);
  return ce_weight * -std::log(q[y]) + beta * kl;
}

// MART (Wang et al.'s mart_loss): CE(adv, y) + NLL(log(1.0001 - p + 1e-12), y') +
// beta * sum_j q_j (log q_j - log(p_j + 1e-12)) * (1.0000001 - q_y), y' the top wrong class.
double mart_direct(const float* a, const float* c, int64_t k, int32_t y, double beta) {
  auto p = softmax_direct(a, k), q = softmax_direct(c, k);
  int64_t wrong = -1;
  for (int64_t j = 0; j < k; ++j)
    if (j != y && (wrong < 0 || p[j] > p[wrong])) wrong = j;
  double kl = 0;
  for (int64_t j = 0; j < k; ++j) kl += q[j] * (std::log(q[j]) - std::log(p[j] + 1e-12));
  return -std::log(p[y]) - std::log(1.0001 - p[wrong] + 1e-12) + beta * kl * (1.0000001 - q[y]);
}

struct PairCase { const char* name; double beta; };

class PairLosses : public ::testing::TestWithParam<PairCase> {};

double pair_direct(const PairCase& c, const float* a, const float* r, int64_t k, int32_t y) {
  const std::string n = c.name;
  if (n == "trades") return trades_direct(a, r, k, y, c.beta, 1.0);
  if (n == "trades-kl") return trades_direct(a, r, k, y, 1.0, 0.0);
  return mart_direct(a, r, k, y, c.beta);
}

TEST_P(PairLosses, ValuesMatchTheReferenceFormula) {
  const PairCase c = GetParam();
  auto loss = make_objective(c.name, {c.beta});
  Batch adv = random_batch(6, 10, 11), clean = random_batch(6, 10, 12);
  std::vector<float> per(adv.n);
  std::vector<uint8_t> ok(adv.n);
  LossOutput out;
  out.per_loss = per.data();
  out.correct = ok.data();
  const ObjectiveTotals t =
      loss->evaluate({adv.z.data(), adv.y.data(), adv.n, adv.k, clean.z.data()}, out);
  double sum = 0;
  for (int64_t e = 0; e < adv.n; ++e) {
    const double want = pair_direct(c, adv.z.data() + e * adv.k, clean.z.data() + e * adv.k, adv.k, adv.y[e]);
    EXPECT_NEAR(per[e], want, 1e-5 * (1 + std::abs(want))) << "example " << e;
    sum += want;
    int64_t arg = 0;  // correctness is the attacked prediction's
    for (int64_t j = 1; j < adv.k; ++j) if (adv.z[e * adv.k + j] > adv.z[e * adv.k + arg]) arg = j;
    EXPECT_EQ(ok[e], arg == adv.y[e]);
  }
  EXPECT_NEAR(t.loss_sum, sum, 1e-6 * (1 + std::abs(sum)));
}

// Both gradients (into the attacked and into the clean logits) against central differences
// of the direct formula.
TEST_P(PairLosses, GradientsMatchFiniteDifferences) {
  const PairCase c = GetParam();
  auto loss = make_objective(c.name, {c.beta});
  Batch adv = random_batch(4, 7, 21), clean = random_batch(4, 7, 22);
  for (auto& v : clean.z) v *= 0.5f;  // q away from one-hot: the clean gradient is not tiny
  const float scale = 0.5f;
  std::vector<float> da(adv.n * adv.k), dc(adv.n * adv.k);
  LossOutput out;
  out.grad_scale = scale;
  out.dlogits = da.data();
  out.dreference = dc.data();
  loss->evaluate({adv.z.data(), adv.y.data(), adv.n, adv.k, clean.z.data()}, out);
  auto total = [&](const std::vector<float>& a, const std::vector<float>& r) {
    double s = 0;
    for (int64_t e = 0; e < adv.n; ++e) s += pair_direct(c, a.data() + e * adv.k, r.data() + e * adv.k, adv.k, adv.y[e]);
    return s;
  };
  int bad = 0;
  for (int which = 0; which < 2; ++which) {
    for (int64_t i = 0; i < adv.n * adv.k; ++i) {
      std::vector<float> ap = adv.z, am = adv.z, rp = clean.z, rm = clean.z;
      std::vector<float>& plus = which == 0 ? ap : rp;
      std::vector<float>& minus = which == 0 ? am : rm;
      plus[i] += 1e-2f;
      minus[i] -= 1e-2f;
      const double num = (total(ap, rp) - total(am, rm)) / (double(plus[i]) - double(minus[i]));
      const float got = (which == 0 ? da : dc)[i];
      if (std::abs(got - scale * num) > 2e-4 + 2e-3 * std::abs(scale * num)) {
        ++bad;
        ADD_FAILURE() << (which == 0 ? "adv" : "clean") << " logit " << i << ": analytic " << got
                      << ", numerical " << scale * num;
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(Losses, PairLosses,
                         ::testing::Values(PairCase{"trades", 6.0}, PairCase{"trades", 1.5}, PairCase{"trades-kl", 6.0},
                                           PairCase{"mart", 6.0}, PairCase{"mart", 2.0}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (auto& ch : n) if (ch == '-') ch = '_';
                           return n + "_beta" + std::to_string(int(info.param.beta * 10));
                         });

// At the clean point TRADES' KL is 0 and so is its gradient: the attack needs its start.
TEST(PairLosses, TradesKlVanishesAtTheCleanPoint) {
  auto kl = make_objective("trades-kl");
  Batch b = random_batch(3, 10, 5);
  std::vector<float> d(b.n * b.k, 1.f);
  LossOutput out;
  out.dlogits = d.data();
  const ObjectiveTotals t = kl->evaluate({b.z.data(), b.y.data(), b.n, b.k, b.z.data()}, out);
  EXPECT_NEAR(t.loss_sum, 0.0, 1e-6);
  for (float v : d) EXPECT_NEAR(v, 0.f, 1e-7f);
  EXPECT_THROW(kl->evaluate({b.z.data(), b.y.data(), b.n, b.k, nullptr}, {}), std::invalid_argument);
}

TEST(Objective, RefusesMissingInputsAndTakesEmptyBatches) {
  auto ce = make_objective("ce");
  std::vector<int32_t> y = {0};
  EXPECT_THROW(ce->evaluate({nullptr, y.data(), 1, 10}, {}), std::invalid_argument);
  EXPECT_THROW(ce->evaluate({nullptr, nullptr, 1, 0}, {}), std::invalid_argument);
  const ObjectiveTotals t = ce->evaluate({nullptr, nullptr, 0, 10}, {});
  EXPECT_EQ(t.loss_sum, 0);
  EXPECT_EQ(t.correct, 0);
}

}  // namespace
}  // namespace rampart
