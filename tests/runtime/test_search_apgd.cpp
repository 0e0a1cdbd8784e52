// APGD and AutoAttack's chain (runtime/attacks/search_attacks.h, runtime/evaluate.h): the DLR
// losses against finite differences, the step-size checkpoints against the paper's, the
// contract of a search's result, per-example determinism whatever the batch holds, and the
// chain's semantics in the Evaluator.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <numeric>
#include <random>

#include "runtime/attacks/attack.h"
#include "runtime/attacks/attack_registry.h"
#include "runtime/attacks/search_attacks.h"
#include "runtime/errors.h"
#include "runtime/evaluate.h"
#include "search_fixtures.h"

namespace rampart {
namespace {

TEST(SearchApgd, DlrLossGradientsMatchFiniteDifferences) {
  std::mt19937 g(5);
  std::normal_distribution<double> nd(0, 1);
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t k = 4 + trial % 7;
    std::vector<float> z(static_cast<size_t>(k)), dz(static_cast<size_t>(k));
    // Distinct logits (gaps >= 0.3): the finite differences must not reorder them, where the
    // loss has a kink.
    std::vector<int> perm(static_cast<size_t>(k));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), g);
    for (int64_t j = 0; j < k; ++j) z[size_t(j)] = 0.5f * float(perm[size_t(j)]) + float(0.2 * std::tanh(nd(g)));
    const int32_t y = int32_t(g() % k);
    int32_t t = int32_t(g() % k);
    if (t == y) t = (t + 1) % int32_t(k);
    for (int32_t target : {int32_t(-1), t}) {
      dlr_loss(z.data(), k, y, target, dz.data());
      for (int64_t j = 0; j < k; ++j) {
        // Central differences in double around a float point: small steps keep the sort order.
        const double h = 1e-3;
        std::vector<float> zp = z, zm = z;
        zp[size_t(j)] += float(h);
        zm[size_t(j)] -= float(h);
        const double fd = (double(dlr_loss(zp.data(), k, y, target, nullptr)) -
                           double(dlr_loss(zm.data(), k, y, target, nullptr))) / (double(zp[size_t(j)]) - zm[size_t(j)]);
        EXPECT_NEAR(dz[size_t(j)], fd, 2e-2 * std::max(1.0, std::fabs(fd))) << "trial " << trial << " target " << target
                                                                            << " logit " << j;
      }
    }
  }
}

TEST(SearchApgd, DlrLossValues) {
  // z sorted: 5 (class 1) > 3 (class 0) > 1 (class 3) > 0 (class 2).
  const float z[4] = {3, 5, 0, 1};
  // Untargeted, label 0: -(3 - 5) / (5 - 1).
  EXPECT_FLOAT_EQ(dlr_loss(z, 4, 0, -1, nullptr), 0.5f);
  // Label 1 (the top class): -(5 - 3) / (5 - 1).
  EXPECT_FLOAT_EQ(dlr_loss(z, 4, 1, -1, nullptr), -0.5f);
  // Targeted, label 1, target 3: -(5 - 1) / (5 - (1 + 0) / 2).
  EXPECT_FLOAT_EQ(dlr_loss(z, 4, 1, 3, nullptr), -4.f / 4.5f);
}

TEST(SearchApgd, CheckpointsAreThePapers) {
  // Croce & Hein 2020, Sec. 3.1: p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06);
  // with 100 iterations the checks come after 22, 41, 57, 70, 80, 87, 93 and 99 iterations.
  const std::vector<ApgdCheckpoint> c = apgd_checkpoints(100);
  const std::vector<int> done = {22, 41, 57, 70, 80, 87, 93, 99};
  const std::vector<int> window = {22, 19, 16, 13, 10, 7, 6, 6};
  ASSERT_EQ(c.size(), done.size());
  for (size_t j = 0; j < c.size(); ++j) {
    EXPECT_EQ(c[j].iteration + 1, done[j]) << j;
    EXPECT_EQ(c[j].window, window[j]) << j;
  }
  // Tiny budgets still check (every iteration, windows of 1).
  EXPECT_EQ(apgd_checkpoints(3).size(), 3u);
}

using Fixture = SearchFixture;
Fixture make(const std::string& arch, int64_t n, uint64_t seed) { return make_search_fixture(arch, n, seed); }

AttackConfig attack(const std::string& name, float eps, Norm norm = Norm::kLinf, int steps = 30) {
  AttackParams p;
  p.eps = eps;
  p.norm = norm;
  AttackConfig c = make_attack(name, p);
  c.steps = steps;  // shorter than AutoAttack's 100, to keep the test quick
  return c;
}

void expect_contract(Model& model, const Fixture& f, const AttackConfig& c, const SearchResult& r) {
  const int64_t n = f.x.dim(0), dim = f.x.size() / n;
  const Tensor& z = model.forward(r.x_adv, Mode::kEval);
  for (int64_t e = 0; e < n; ++e) {
    const float* xa = r.x_adv.data() + e * dim;
    const float* x = f.x.data() + e * dim;
    if (r.fooled[size_t(e)]) {
      int32_t a = 0;
      for (int32_t j = 1; j < int32_t(z.dim(1)); ++j)
        if (z[e * z.dim(1) + j] > z[e * z.dim(1) + a]) a = j;
      EXPECT_NE(a, f.y[size_t(e)]) << e;
      EXPECT_LE(distance(c.norm, xa, x, dim), c.eps * 1.0001f) << e;
      for (int64_t i = 0; i < dim; ++i) ASSERT_TRUE(xa[i] >= 0 && xa[i] <= 1) << e;
    } else {
      for (int64_t i = 0; i < dim; ++i) ASSERT_EQ(xa[i], x[i]) << e;
    }
  }
}

int64_t count(const std::vector<uint8_t>& v) { return std::accumulate(v.begin(), v.end(), int64_t(0)); }

TEST(SearchApgd, ResultsKeepTheContractInBothNorms) {
  Fixture f = make("mlp", 24, 3);
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    for (const char* name : {"apgd-ce", "apgd-dlr", "apgd-t"}) {
      const float eps = norm == Norm::kLinf ? 0.03f : 0.4f;
      const AttackConfig c = attack(name, eps, norm);
      const SearchResult r = run_search_attack(f.model, {&f.x, f.y.data(), f.index.data()}, c, 11);
      SCOPED_TRACE(std::string(name) + (norm == Norm::kL2 ? " l2" : " linf"));
      expect_contract(f.model, f, c, r);
      EXPECT_GT(count(r.fooled), 0);
      EXPECT_LT(count(r.fooled), 24);
    }
  }
}

TEST(SearchApgd, EpsZeroFoolsNothing) {
  Fixture f = make("mlp", 8, 4);
  const SearchResult r = run_search_attack(f.model, {&f.x, f.y.data(), f.index.data()}, attack("apgd-ce", 0.f), 1);
  EXPECT_EQ(count(r.fooled), 0);
}

// Each example's result depends on its index only: a permuted sub-batch gives the same rows.
TEST(SearchApgd, EachExampleIsKeyedByItsIndexNotItsBatch) {
  Fixture f = make("mlp", 16, 6);
  const int64_t dim = f.x.size() / 16;
  for (const char* name : {"apgd-ce", "apgd-t"}) {
    const AttackConfig c = attack(name, 0.03f);
    const SearchResult all = run_search_attack(f.model, {&f.x, f.y.data(), f.index.data()}, c, 9);
    const std::vector<int64_t> pick = {13, 2, 7, 8, 0};
    Tensor xs({int64_t(pick.size()), 1, 12, 12});
    std::vector<int32_t> ys;
    std::vector<int64_t> is;
    for (size_t i = 0; i < pick.size(); ++i) {
      std::copy_n(f.x.data() + pick[i] * dim, dim, xs.data() + int64_t(i) * dim);
      ys.push_back(f.y[size_t(pick[i])]);
      is.push_back(f.index[size_t(pick[i])]);
    }
    const SearchResult some = run_search_attack(f.model, {&xs, ys.data(), is.data()}, c, 9);
    for (size_t i = 0; i < pick.size(); ++i) {
      EXPECT_EQ(some.fooled[i], all.fooled[size_t(pick[i])]) << name << " " << pick[i];
      for (int64_t j = 0; j < dim; ++j)
        ASSERT_EQ(some.x_adv[int64_t(i) * dim + j], all.x_adv[pick[i] * dim + j]) << name << " " << pick[i];
    }
    // Another seed draws other starts.
    const SearchResult other = run_search_attack(f.model, {&f.x, f.y.data(), f.index.data()}, c, 10);
    bool differs = false;
    for (int64_t j = 0; j < f.x.size() && !differs; ++j) differs = other.x_adv[j] != all.x_adv[j];
    EXPECT_TRUE(differs) << name;
  }
}

TEST(SearchApgd, AtLeastAsStrongAsPgdOnTheseExamples) {
  // The point of APGD: no step size to tune. PGD-20 with the textbook step against APGD-CE
  // with 20 iterations, on 64 examples of a small CNN (deterministic: seeded).
  Fixture f = make("small-cnn", 64, 8);
  const float eps = 0.12f;  // here PGD-20 leaves 31 of 64 robust, APGD-CE 25
  const SearchResult r = run_search_attack(f.model, {&f.x, f.y.data(), f.index.data()}, attack("apgd-ce", eps, Norm::kLinf, 20), 2);
  Evaluator pgd({pgd_config(eps, 2.5f * eps / 20, 20)}, 2);
  pgd.add(f.model, f.x, f.y.data(), 0);
  const int64_t pgd_robust = pgd.counts().robust_correct[0];
  EXPECT_LE(64 - count(r.fooled), pgd_robust);
  EXPECT_GT(pgd_robust, 8);  // a margin the stronger attack can show
}

TEST(SearchApgd, AutoAttackChainsOnTheExamplesStillRobust) {
  Fixture f = make("mlp", 32, 12);
  AttackParams p;
  p.eps = 0.02f;
  std::vector<AttackConfig> chain = parse_attacks("autoattack", p, AttackWords::kNamesNoneOrAll);
  ASSERT_EQ(chain.size(), 4u);
  EXPECT_EQ(chain[0].name, "apgd-ce");
  EXPECT_EQ(chain[1].name, "apgd-t");
  EXPECT_EQ(chain[2].name, "fab-t");
  EXPECT_EQ(chain[3].name, "square");
  EXPECT_FALSE(chain[0].chained);
  for (int a = 1; a < 4; ++a) EXPECT_TRUE(chain[size_t(a)].chained);
  EXPECT_EQ(chain[1].targets, 9);
  EXPECT_EQ(chain[3].queries, 5000);
  // Keep it quick: fewer iterations and queries than the standard version.
  for (auto& c : chain) {
    c.steps = 10;
    c.queries = 50;
    c.targets = std::min(c.targets, 3);
  }
  Evaluator chained(chain, 4);
  chained.keep_examples();
  chained.add(f.model, f.x, f.y.data(), 100);
  // Alone, APGD-CE and APGD-T each on every clean-correct example.
  std::vector<AttackConfig> alone = {chain[0], chain[1]};
  alone[1].chained = false;
  Evaluator separate(alone, 4);
  separate.keep_examples();
  separate.add(f.model, f.x, f.y.data(), 100);
  const ExampleResults& c = chained.examples();
  const ExampleResults& s = separate.examples();
  EXPECT_EQ(c.robust_correct[0], s.robust_correct[0]);  // the first attack is the same run
  for (int64_t e = 0; e < 32; ++e) {
    for (int a = 1; a < 4; ++a) EXPECT_LE(c.robust_correct[size_t(a)][size_t(e)], c.robust_correct[size_t(a - 1)][size_t(e)]);
    // Robust to the chain's first two: robust to each alone (the slot keys differ, so no more).
    if (c.robust_correct[1][size_t(e)]) EXPECT_TRUE(s.robust_correct[0][size_t(e)]);
  }
  const auto& k = chained.counts().robust_correct;
  EXPECT_GE(k[0], k[1]);
  EXPECT_GE(k[1], k[2]);
  EXPECT_GE(k[2], k[3]);
  EXPECT_LT(k[0], 32);
  const nlohmann::json j = eval_report(chained.counts(), chain);
  EXPECT_DOUBLE_EQ(j["autoattack_accuracy"].get<double>(), double(k[3]) / 32);
}

TEST(SearchApgd, DlrNeedsEnoughClasses) {
  // Targeted DLR divides by z_p1 - (z_p3 + z_p4) / 2: 4 classes at least.
  Shape in = {1, 12, 12};
  Model m(expand_model("mlp", in, 3), in);
  m.init(1);
  Tensor x({2, 1, 12, 12});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = 0.5f;
  const Tensor& z = m.forward(x, Mode::kEval);
  const std::vector<int32_t> y = {predicted_class(z.data(), 3), predicted_class(z.data() + 3, 3)};
  const std::vector<int64_t> index = {0, 1};
  try {
    run_search_attack(m, {&x, y.data(), index.data()}, attack("apgd-t", 0.1f), 1);
    FAIL() << "apgd-t accepted a model of 3 classes";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "apgd-t: the DLR loss needs at least 4 classes, found 3; use apgd-ce");
    EXPECT_EQ(e.code(), kExitConfig);
  }
}

TEST(SearchApgd, SearchAttacksAreForEvaluationOnly) {
  AttackParams p;
  try {
    parse_attacks("apgd-ce", p, AttackWords::kNamesOrNone);
    FAIL() << "apgd-ce accepted for training";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("evaluation attack"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_attacks("autoattack", p, AttackWords::kNamesOrNone), ConfigError);
  EXPECT_THROW(check_attack_on(Device::kCuda, make_attack("square", p)), ConfigError);
}

}  // namespace
}  // namespace rampart
