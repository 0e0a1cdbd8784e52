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

TEST(Objective, RegistryKnowsCrossEntropyAndNamesTheKnownOnes) {
  EXPECT_EQ(objective_names(), std::vector<std::string>{"ce"});
  auto ce = make_objective("ce");
  EXPECT_EQ(ce->name(), "ce");
  EXPECT_FALSE(ce->needs_reference());
  try {
    make_objective("trades");
    FAIL() << "no error for an unknown objective";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "objective: expected ce, found \"trades\"");
    EXPECT_EQ(e.code(), kExitConfig);
  }
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
