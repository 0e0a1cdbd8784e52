// FAB-T (runtime/attacks/fab.cpp; its projection: test_fab_projection.cpp): the distance it finds on a linear model against the exact minimal one, the
// contract of a search's result, per-example determinism whatever the batch holds, eps = 0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>

#include "runtime/attacks/search_attacks.h"
#include "runtime/errors.h"
#include "fab_projection_check.h"
#include "search_fixtures.h"

namespace rampart {

namespace {

using Fixture = SearchFixture;
Fixture make(const std::string& arch, int64_t n, uint64_t seed) { return make_search_fixture(arch, n, seed); }

AttackConfig fab_config(Norm norm, float eps, int steps = 100, int targets = 9, int restarts = 1) {
  AttackConfig c;
  c.name = "fab-t";
  c.method = Method::kFab;
  c.norm = norm;
  c.eps = eps;
  c.steps = steps;
  c.targets = targets;
  c.restarts = restarts;
  c.slot = 2;
  return c;
}

int64_t count(const std::vector<uint8_t>& v) { return std::accumulate(v.begin(), v.end(), int64_t(0)); }

// FAB's rule (alpha_max 0.1, eta 1.05, beta 0.9, 100 iterations) along one line: x0 at 0, the
// boundary at 1, both projections onto the same point. The nearest misclassified point it
// records, as a multiple of the true distance: 1.0052 (1.05 first, then 1.05 - 0.05 * 0.945 * ...).
double fab_rule_on_a_line() {
  double s = 0, best = 1e10;
  for (int it = 0; it < 100; ++it) {
    const double a1 = std::max(std::fabs(1 - s), 1e-8), a2 = 1;
    const double alpha = std::min(a1 / (a1 + a2), 0.1);
    const double x1 = (s + 1.05 * (1 - s)) * (1 - alpha) + 1.05 * alpha;
    if (x1 > 1) {
      best = std::min(best, x1);
      s = 0.9 * x1;
    } else {
      s = x1;
    }
  }
  return best;
}

// The 2-class linear model: only one boundary, a hyperplane, so the smallest adversarial
// distance is that of the projection of x onto {z_other = z_y} ∩ box. FAB-T steps along the
// exact boundary and backtracks by beta, and finds what its rule gives on a line (the box
// bends the path a little: measured 1.00519 to 1.00652 times the exact distance).
TEST(Fab, FindsTheMinimalDistanceOnALinearModel) {
  const std::string lin = R"([{"type": "flatten"}, {"type": "linear", "in_features": 144, "out_features": 2}])";
  const int64_t n = 12, dim = 144;
  Fixture f = make(lin, n, 31);
  // The model's weights, read through the model: z(e_i) - z(0).
  Tensor basis({dim + 1, 1, 12, 12});
  basis.zero();
  for (int64_t i = 0; i < dim; ++i) basis[(i + 1) * dim + i] = 1.f;
  const Tensor zb = f.model.forward(basis, Mode::kEval);
  const double line = fab_rule_on_a_line();
  EXPECT_NEAR(line, 1.0052, 1e-4);
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    SCOPED_TRACE(norm == Norm::kL2 ? "l2" : "linf");
    const SearchResult r = [&] {
      SearchResult s;
      fab_attack(f.model, f.batch(), fab_config(norm, norm == Norm::kLinf ? 1.f : 100.f), 5, s);
      return s;
    }();
    for (int64_t e = 0; e < n; ++e) {
      const float* x = f.x.data() + e * dim;
      const int32_t y = f.y[size_t(e)], o = 1 - y;
      // The boundary: w.u = b with w = W_o - W_y, b = c_y - c_o.
      Problem p;
      p.t.assign(x, x + dim);
      for (int64_t i = 0; i < dim; ++i)
        p.w.push_back((zb[(i + 1) * 2 + o] - zb[o]) - (zb[(i + 1) * 2 + y] - zb[y]));
      p.b = double(zb[y]) - zb[o];
      double exact = 0;
      if (norm == Norm::kLinf) {  // bisection on the reach of the ball ∩ box
        double a = 0, c = 1;
        for (int it = 0; it < 60; ++it) {
          const double m = 0.5 * (a + c);
          const auto [lo, hi] = reach_linf(p, m);
          (p.b >= lo && p.b <= hi ? c : a) = m;
        }
        exact = c;
      } else {  // the L2 projection, checked against brute force above
        std::vector<float> d(static_cast<size_t>(dim));
        fab_projection(Norm::kL2, p.t.data(), p.w.data(), p.b, dim, d.data());
        exact = std::sqrt(std::inner_product(d.begin(), d.end(), d.begin(), 0.0));
      }
      ASSERT_TRUE(r.fooled[size_t(e)]) << e;
      const double found = distance(norm, r.x_adv.data() + e * dim, x, dim);
      EXPECT_GE(found, exact * (1 - 1e-5)) << e;  // nothing misclassified is nearer
      EXPECT_GE(found / exact, line - 5e-4) << e;
      EXPECT_LE(found / exact, line + 2e-3) << e;
    }
  }
}

// The run for target r aims at the class ranked r-th by the clean logits: on a linear model
// with 10 classes the point FAB-T finds with one target (far from the eps limit) lies mostly
// in the 2nd class's region; it may cross a third class's boundary on the way.
TEST(Fab, AimsAtTheClassRankedSecond) {
  const std::string lin = R"([{"type": "flatten"}, {"type": "linear", "in_features": 144, "out_features": 10}])";
  const int64_t n = 24;
  Fixture f = make(lin, n, 8);
  const Tensor z0 = f.model.forward(f.x, Mode::kEval);
  SearchResult r;
  fab_attack(f.model, f.batch(), fab_config(Norm::kLinf, 1.f, 100, 1), 3, r);
  const Tensor& z = f.model.forward(r.x_adv, Mode::kEval);
  int hits = 0;
  for (int64_t e = 0; e < n; ++e) {
    ASSERT_TRUE(r.fooled[size_t(e)]) << e;
    std::vector<int32_t> order(10);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return z0[e * 10 + a] > z0[e * 10 + b]; });
    int32_t a = 0;
    for (int32_t j = 1; j < 10; ++j)
      if (z[e * 10 + j] > z[e * 10 + a]) a = j;
    hits += a == order[1];
  }
  EXPECT_GE(hits, n * 3 / 4);
}

void expect_contract(Model& model, const Fixture& f, const AttackConfig& c, const SearchResult& r) {
  const int64_t n = f.x.dim(0), dim = f.x.size() / n;
  ASSERT_EQ(r.x_adv.shape(), f.x.shape());
  ASSERT_EQ(int64_t(r.fooled.size()), n);
  const Tensor& z = model.forward(r.x_adv, Mode::kEval);
  for (int64_t e = 0; e < n; ++e) {
    const float* xa = r.x_adv.data() + e * dim;
    const float* x = f.x.data() + e * dim;
    if (r.fooled[size_t(e)]) {
      int32_t a = 0;
      for (int32_t j = 1; j < int32_t(z.dim(1)); ++j)
        if (z[e * z.dim(1) + j] > z[e * z.dim(1) + a]) a = j;
      EXPECT_NE(a, f.y[size_t(e)]) << e;
      EXPECT_LE(distance(c.norm, xa, x, dim), c.eps) << e;
      for (int64_t i = 0; i < dim; ++i) ASSERT_TRUE(xa[i] >= 0 && xa[i] <= 1) << e;
    } else {
      for (int64_t i = 0; i < dim; ++i) ASSERT_EQ(xa[i], x[i]) << e;
    }
  }
}

TEST(Fab, ResultsKeepTheContractInBothNorms) {
  Fixture f = make("mlp", 24, 3);
  // Two examples with a wrong label: never attacked, never fooled.
  f.y[5] = (f.y[5] + 1) % 10;
  f.y[17] = (f.y[17] + 3) % 10;
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    for (int restarts : {1, 2}) {
      SCOPED_TRACE(std::string(norm == Norm::kL2 ? "l2" : "linf") + " restarts " + std::to_string(restarts));
      const AttackConfig c = fab_config(norm, norm == Norm::kLinf ? 0.03f : 0.4f, 20, 3, restarts);
      SearchResult r;
      fab_attack(f.model, f.batch(), c, 11, r);
      expect_contract(f.model, f, c, r);
      EXPECT_FALSE(r.fooled[5]);
      EXPECT_FALSE(r.fooled[17]);
      EXPECT_GT(count(r.fooled), 0);
      EXPECT_LT(count(r.fooled), 22);
    }
  }
}

TEST(Fab, EpsZeroFoolsNothing) {
  Fixture f = make("mlp", 8, 4);
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    SearchResult r;
    fab_attack(f.model, f.batch(), fab_config(norm, 0.f, 20, 3), 1, r);
    EXPECT_EQ(count(r.fooled), 0);
    expect_contract(f.model, f, fab_config(norm, 0.f), r);
  }
}

TEST(Fab, UntargetedIsRefused) {
  Fixture f = make("mlp", 2, 4);
  SearchResult r;
  EXPECT_THROW(fab_attack(f.model, f.batch(), fab_config(Norm::kLinf, 0.03f, 5, 0), 1, r), ConfigError);
}

// The largest |a - b| over the rows `pick` of a against the rows of b.
double max_row_diff(const Tensor& a, const std::vector<int64_t>& pick, const Tensor& b, int64_t dim) {
  double worst = 0;
  for (size_t i = 0; i < pick.size(); ++i)
    for (int64_t j = 0; j < dim; ++j)
      worst = std::max(worst, std::fabs(double(b[int64_t(i) * dim + j]) - a[pick[i] * dim + j]));
  return worst;
}

// The rows `pick` of f as a batch of their own, with their own labels and indices.
struct Subset {
  Tensor x;
  std::vector<int32_t> y;
  std::vector<int64_t> index;
  SearchBatch batch() const { return {&x, y.data(), index.data()}; }
};

Subset subset(const Fixture& f, const std::vector<int64_t>& pick) {
  const int64_t dim = f.x.size() / f.x.dim(0);
  Subset s{Tensor({int64_t(pick.size()), 1, 12, 12}), {}, {}};
  for (size_t i = 0; i < pick.size(); ++i) {
    std::copy_n(f.x.data() + pick[i] * dim, dim, s.x.data() + int64_t(i) * dim);
    s.y.push_back(f.y[size_t(pick[i])]);
    s.index.push_back(f.index[size_t(pick[i])]);
  }
  return s;
}

// Each example's result depends on its index only: a permuted sub-batch gives the same rows.
// Not bit for bit: the model's matrix products (oneDNN's sgemm) round a row differently with
// the batch's size (about 1 ulp in the logits), and FAB's steps are continuous in them; so the
// rows agree to float noise (measured: 2.4e-7) and the verdicts agree.
TEST(Fab, EachExampleIsKeyedByItsIndexNotItsBatch) {
  Fixture f = make("mlp", 16, 6);
  const int64_t dim = f.x.size() / 16;
  const std::vector<int64_t> pick = {13, 2, 7, 8, 0, 11};
  const Subset s = subset(f, pick);
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    SCOPED_TRACE(norm == Norm::kL2 ? "l2" : "linf");
    const AttackConfig c = fab_config(norm, norm == Norm::kLinf ? 0.03f : 0.4f, 15, 3, 2);
    SearchResult all, again, some;
    fab_attack(f.model, f.batch(), c, 9, all);
    fab_attack(f.model, f.batch(), c, 9, again);
    fab_attack(f.model, s.batch(), c, 9, some);
    EXPECT_EQ(0, std::memcmp(all.x_adv.data(), again.x_adv.data(), sizeof(float) * size_t(all.x_adv.size())));
    for (size_t i = 0; i < pick.size(); ++i) EXPECT_EQ(some.fooled[i], all.fooled[size_t(pick[i])]) << pick[i];
    EXPECT_LT(max_row_diff(all.x_adv, pick, some.x_adv, dim), 1e-5);
    EXPECT_GT(count(all.fooled), 0);
  }
}

// Where the gradient vanishes at x (a ReLU on an all-zero input), the first run cannot move
// (w = 0: no projection step, x1 = 0.9 x1 + 0.1 x0 = x0); only the random start of a second
// restart can, and it is drawn per example from (seed, slot, run, index).
TEST(Fab, SecondRestartStartsAtRandomPointsKeyedByIndex) {
  const std::string arch =
      R"([{"type": "flatten"}, {"type": "relu"}, {"type": "linear", "in_features": 144, "out_features": 10}])";
  Fixture f = make(arch, 8, 2);
  f.x.zero();
  const Tensor& z = f.model.forward(f.x, Mode::kEval);
  int32_t a = 0;
  for (int32_t j = 1; j < 10; ++j)
    if (z[j] > z[a]) a = j;
  std::fill(f.y.begin(), f.y.end(), a);
  const int64_t dim = 144;
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    SCOPED_TRACE(norm == Norm::kL2 ? "l2" : "linf");
    const float eps = norm == Norm::kLinf ? 0.5f : 6.f;
    SearchResult one;
    fab_attack(f.model, f.batch(), fab_config(norm, eps, 20, 3, 1), 9, one);
    EXPECT_EQ(count(one.fooled), 0);
    const AttackConfig c = fab_config(norm, eps, 20, 3, 2);
    SearchResult two, other;
    fab_attack(f.model, f.batch(), c, 9, two);
    fab_attack(f.model, f.batch(), c, 10, other);
    expect_contract(f.model, f, c, two);
    EXPECT_EQ(count(two.fooled), 8);
    // Same input and label everywhere: only the keys tell the rows apart.
    for (int64_t e = 1; e < 8; ++e)
      EXPECT_NE(0, std::memcmp(two.x_adv.data(), two.x_adv.data() + e * dim, sizeof(float) * dim)) << e;
    EXPECT_NE(0, std::memcmp(two.x_adv.data(), other.x_adv.data(), sizeof(float) * size_t(dim * 8)));
    const std::vector<int64_t> pick = {5, 1, 6};
    const Subset s = subset(f, pick);
    SearchResult some;
    fab_attack(f.model, s.batch(), c, 9, some);
    for (size_t i = 0; i < pick.size(); ++i) EXPECT_TRUE(some.fooled[i]);
    EXPECT_LT(max_row_diff(two.x_adv, pick, some.x_adv, dim), 1e-5);
  }
}

}  // namespace
}  // namespace rampart
