// The Square attack (runtime/attacks/square.cpp): its p schedule and window side against the
// reference's values, the result contract (fooled rows misclassified and in the ball, other
// rows the clean input), per-example determinism (the same rows whatever else is in the
// batch), the L-inf start's vertical stripes, and that eps = 0 fools nothing while a large eps
// fools nearly everything.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "runtime/attacks/search_attacks.h"
#include "runtime/errors.h"

namespace rampart {

// square.cpp's schedule, not in search_attacks.h (pure functions exported for this test).
double square_p_selection(double p_init, int64_t it, int64_t n_queries, bool rescale);
int64_t square_side(Norm norm, double p, int64_t c, int64_t h, int64_t w);

namespace {

int32_t argmax(const float* z, int64_t k) {
  int32_t a = 0;
  for (int32_t j = 1; j < int32_t(k); ++j)
    if (z[j] > z[a]) a = j;
  return a;
}

// n random images of in = {C, H, W} in [0, 1], a randomly initialised model, labels the
// model's own prediction except every fourth example, whose label is another class (so it
// starts misclassified and must be left alone). index[e] = 100 + e.
struct Fixture {
  Shape in;
  Model model;
  Tensor x;
  std::vector<int32_t> y;
  std::vector<int64_t> index;
  Fixture(const std::string& arch, Shape in_, int64_t n, uint64_t seed)
      : in(in_), model(expand_model(arch, in_), in_), x(Shape{n, in_[0], in_[1], in_[2]}) {
    model.init(seed);
    std::mt19937 g{uint32_t(seed)};
    std::uniform_real_distribution<float> u(0, 1);
    for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = u(g);
    const Tensor& z = model.forward(x, Mode::kEval);
    for (int64_t e = 0; e < n; ++e) {
      const int32_t p = argmax(z.data() + e * z.dim(1), z.dim(1));
      y.push_back(e % 4 == 3 ? (p + 1) % int32_t(z.dim(1)) : p);
      index.push_back(100 + e);
    }
  }
  int64_t dim() const { return x.size() / x.dim(0); }
  // Rows `rows` as a batch of their own (same labels and indices).
  SearchResult run(const std::vector<int64_t>& rows, const AttackConfig& cfg, uint64_t seed) {
    const int64_t m = int64_t(rows.size()), d = dim();
    Tensor xs(Shape{m, in[0], in[1], in[2]});
    std::vector<int32_t> ys;
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < m; ++i) {
      std::memcpy(xs.data() + i * d, x.data() + rows[size_t(i)] * d, sizeof(float) * size_t(d));
      ys.push_back(y[size_t(rows[size_t(i)])]);
      idx.push_back(index[size_t(rows[size_t(i)])]);
    }
    SearchBatch b{&xs, ys.data(), idx.data()};
    SearchResult r;
    square_attack(model, b, cfg, seed, r);
    return r;
  }
  SearchResult run_all(const AttackConfig& cfg, uint64_t seed) {
    std::vector<int64_t> rows(size_t(x.dim(0)));
    std::iota(rows.begin(), rows.end(), 0);
    return run(rows, cfg, seed);
  }
};

AttackConfig square_cfg(Norm norm, float eps, int queries, int restarts = 1) {
  AttackConfig c;
  c.name = "square";
  c.method = Method::kSquare;
  c.norm = norm;
  c.eps = eps;
  c.queries = queries;
  c.restarts = restarts;
  c.slot = 3;
  return c;
}

// Checks the contract on every row; returns how many rows are fooled.
int check_contract(Fixture& f, const SearchResult& r, const AttackConfig& cfg) {
  const int64_t n = f.x.dim(0), d = f.dim();
  EXPECT_EQ(r.x_adv.shape(), f.x.shape());
  EXPECT_EQ(int64_t(r.fooled.size()), n);
  Tensor clean = f.x;
  const Tensor& zc = f.model.forward(clean, Mode::kEval);
  const int64_t k = zc.dim(1);
  std::vector<int32_t> clean_pred(static_cast<size_t>(n));
  for (int64_t e = 0; e < n; ++e) clean_pred[size_t(e)] = argmax(zc.data() + e * k, k);
  Tensor adv = r.x_adv;
  const Tensor& z = f.model.forward(adv, Mode::kEval);
  int fooled = 0;
  for (int64_t e = 0; e < n; ++e) {
    const float* xa = r.x_adv.data() + e * d;
    const float* x = f.x.data() + e * d;
    if (r.fooled[size_t(e)]) {
      ++fooled;
      EXPECT_EQ(clean_pred[size_t(e)], f.y[size_t(e)]) << "row " << e << " was misclassified clean: not attacked";
      EXPECT_NE(argmax(z.data() + e * k, k), f.y[size_t(e)]) << "row " << e;
      const float tol = cfg.norm == Norm::kLinf ? 1e-6f : 1e-5f;
      EXPECT_LE(distance(cfg.norm, xa, x, d), cfg.eps + tol) << "row " << e;
      int outside = 0;
      for (int64_t i = 0; i < d; ++i) outside += !(xa[i] >= 0.f && xa[i] <= 1.f);
      EXPECT_EQ(outside, 0) << "row " << e << " leaves [0, 1]";
    } else {
      EXPECT_EQ(0, std::memcmp(xa, x, sizeof(float) * size_t(d))) << "unfooled row " << e << " is not x";
    }
  }
  return fooled;
}

TEST(SquareSchedule, PHalvesAfterEachBreakpoint) {
  // The reference's p_selection (p_init 0.8), iteration -> p, around every breakpoint.
  const std::vector<std::pair<int64_t, double>> want = {
      {0, 0.8},        {10, 0.8},        {11, 0.4},        {50, 0.4},         {51, 0.2},
      {200, 0.2},      {201, 0.1},       {500, 0.1},       {501, 0.05},       {1000, 0.05},
      {1001, 0.025},   {2000, 0.025},    {2001, 0.0125},   {4000, 0.0125},    {4001, 0.00625},
      {6000, 0.00625}, {6001, 0.003125}, {8000, 0.003125}, {8001, 0.0015625}, {20000, 0.0015625}};
  for (auto [it, p] : want) EXPECT_DOUBLE_EQ(square_p_selection(0.8, it, 5000, false), p) << "it " << it;
  // rescale_schedule: it -> int(it / n_queries * 10000); with 5000 queries every breakpoint halves.
  EXPECT_DOUBLE_EQ(square_p_selection(0.8, 5, 5000, true), 0.8);
  EXPECT_DOUBLE_EQ(square_p_selection(0.8, 6, 5000, true), 0.4);
  EXPECT_DOUBLE_EQ(square_p_selection(0.8, 25, 5000, true), 0.4);
  EXPECT_DOUBLE_EQ(square_p_selection(0.8, 26, 5000, true), 0.2);
  EXPECT_DOUBLE_EQ(square_p_selection(0.8, 4000, 5000, true), 0.8 / 256);  // 8000
  EXPECT_DOUBLE_EQ(square_p_selection(0.8, 4001, 5000, true), 0.8 / 512);  // 8002
  // With 10000 queries rescaling changes nothing; with 100 every iteration counts as 100.
  for (int64_t it : {0, 10, 11, 4000, 4001, 8001}) EXPECT_EQ(square_p_selection(0.8, it, 10000, true), square_p_selection(0.8, it, 10000, false));
  EXPECT_DOUBLE_EQ(square_p_selection(0.8, 1, 100, true), 0.8 / 4);  // int(1 / 100 * 10000) = 100
}

TEST(SquareSchedule, WindowSide) {
  // L-inf: round(sqrt(p h w)), at least 1, at most min(h, w).
  EXPECT_EQ(square_side(Norm::kLinf, 0.8, 3, 32, 32), 29);        // sqrt(819.2) = 28.6
  EXPECT_EQ(square_side(Norm::kLinf, 0.8 / 512, 3, 32, 32), 1);   // sqrt(1.6) = 1.26
  EXPECT_EQ(square_side(Norm::kLinf, 0.8 / 4096, 3, 32, 32), 1);  // rounds to 0: at least 1
  EXPECT_EQ(square_side(Norm::kLinf, 1.0, 1, 12, 12), 12);
  EXPECT_EQ(square_side(Norm::kLinf, 1.0, 1, 6, 12), 6);          // sqrt(72) = 8.5: clipped to min(h, w)
  EXPECT_EQ(square_side(Norm::kLinf, 0.0625, 1, 10, 10), 2);      // sqrt(6.25) = 2.5: Python rounds half to even
  EXPECT_EQ(square_side(Norm::kLinf, 0.1225, 1, 10, 10), 4);      // sqrt(12.25) = 3.5 -> 4
  // L2: at least 3, odd.
  EXPECT_EQ(square_side(Norm::kL2, 0.05, 3, 32, 32), 7);          // sqrt(51.2) = 7.2
  EXPECT_EQ(square_side(Norm::kL2, 0.1, 3, 32, 32), 11);          // 10.1 -> 10 -> 11
  EXPECT_EQ(square_side(Norm::kL2, 0.8 / 512, 3, 32, 32), 3);
  EXPECT_EQ(square_side(Norm::kL2, 0.8, 1, 12, 12), 11);          // sqrt(115.2) = 10.7
  EXPECT_EQ(square_side(Norm::kL2, 1.0, 1, 12, 12), 12);          // 12 -> 13 -> clipped to 12
}

TEST(SquareAttack, LinfContractMlp) {
  Fixture f("mlp", {1, 12, 12}, 16, 7);
  const AttackConfig cfg = square_cfg(Norm::kLinf, 0.05f, 300);
  const SearchResult r = f.run_all(cfg, 11);
  const int fooled = check_contract(f, r, cfg);
  EXPECT_GT(fooled, 0) << "nothing fooled: the contract check above saw only clean rows";
  EXPECT_LT(fooled, 12) << "everything fooled at a small eps: the check saw no unfooled attacked rows";
}

TEST(SquareAttack, LinfContractConvThreeChannels) {
  Fixture f("small-cnn", {3, 8, 8}, 12, 5);
  const AttackConfig cfg = square_cfg(Norm::kLinf, 0.03f, 150, 2);
  const SearchResult r = f.run_all(cfg, 2);
  EXPECT_GT(check_contract(f, r, cfg), 0);
}

TEST(SquareAttack, L2Contract) {
  Fixture f("small-cnn", {3, 8, 8}, 12, 5);
  const AttackConfig cfg = square_cfg(Norm::kL2, 0.5f, 150);
  const SearchResult r = f.run_all(cfg, 2);
  EXPECT_GT(check_contract(f, r, cfg), 0);
  Fixture g("mlp", {1, 12, 12}, 12, 9);  // 12 = 5 * 2 + 2: the start's squares run past the image
  const AttackConfig cfg2 = square_cfg(Norm::kL2, 0.3f, 100);
  EXPECT_GT(check_contract(g, g.run_all(cfg2, 4), cfg2), 0);
}

// The start (queries = 0) at a large eps: every fooled row is clamp(x + eps * sign) with one
// sign per (channel, column), the same on every row of the image.
TEST(SquareAttack, LinfStartIsVerticalStripes) {
  Fixture f("mlp", {3, 8, 8}, 16, 8);
  const AttackConfig cfg = square_cfg(Norm::kLinf, 0.5f, 0);
  const SearchResult r = f.run_all(cfg, 1);
  const int64_t C = 3, H = 8, W = 8, d = f.dim();
  int checked = 0;
  for (int64_t e = 0; e < 16; ++e) {
    if (!r.fooled[size_t(e)]) continue;
    ++checked;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t w = 0; w < W; ++w) {
        int up = 0, down = 0;
        for (int64_t h = 0; h < H; ++h) {
          const int64_t i = e * d + (h * W + w) * C + c;
          const float x = f.x.data()[i], a = r.x_adv.data()[i];
          up += a == std::min(x + 0.5f, 1.f);
          down += a == std::max(x - 0.5f, 0.f);
        }
        EXPECT_TRUE(up == H || down == H) << "example " << e << " channel " << c << " column " << w;
      }
  }
  EXPECT_GT(checked, 2);
}

TEST(SquareAttack, SameRowsWhateverElseIsInTheBatch) {
  Fixture f("mlp", {1, 12, 12}, 12, 3);
  const AttackConfig cfg = square_cfg(Norm::kLinf, 0.05f, 200, 2);
  const SearchResult all = f.run_all(cfg, 17);
  const int64_t d = f.dim();
  for (const std::vector<int64_t>& rows : {std::vector<int64_t>{9, 2, 5}, std::vector<int64_t>{11, 10, 0, 1, 3, 4, 6, 7, 8, 5, 2, 9}}) {
    const SearchResult part = f.run(rows, cfg, 17);
    for (size_t i = 0; i < rows.size(); ++i) {
      const int64_t e = rows[i];
      EXPECT_EQ(part.fooled[i], all.fooled[size_t(e)]) << "example " << e;
      EXPECT_EQ(0, std::memcmp(part.x_adv.data() + int64_t(i) * d, all.x_adv.data() + e * d, sizeof(float) * size_t(d)))
          << "example " << e;
    }
  }
  // The same for L2.
  const AttackConfig l2 = square_cfg(Norm::kL2, 0.4f, 100);
  const SearchResult all2 = f.run_all(l2, 17);
  const std::vector<int64_t> rows = {7, 0, 4};
  const SearchResult part2 = f.run(rows, l2, 17);
  for (size_t i = 0; i < rows.size(); ++i)
    EXPECT_EQ(0, std::memcmp(part2.x_adv.data() + int64_t(i) * d, all2.x_adv.data() + rows[i] * d, sizeof(float) * size_t(d)))
        << "example " << rows[i];
  // And the seed matters.
  const SearchResult other = f.run_all(cfg, 18);
  EXPECT_NE(0, std::memcmp(other.x_adv.data(), all.x_adv.data(), sizeof(float) * size_t(all.x_adv.size())));
}

// A second restart attacks only what the first left robust: what the first fooled stays as it was.
TEST(SquareAttack, RestartsOnlyAdd) {
  Fixture f("mlp", {1, 12, 12}, 16, 7);
  const SearchResult one = f.run_all(square_cfg(Norm::kLinf, 0.04f, 60, 1), 5);
  const SearchResult three = f.run_all(square_cfg(Norm::kLinf, 0.04f, 60, 3), 5);
  const int64_t d = f.dim();
  int gained = 0;
  for (int64_t e = 0; e < 16; ++e) {
    if (one.fooled[size_t(e)]) {
      EXPECT_TRUE(three.fooled[size_t(e)]) << "example " << e;
      EXPECT_EQ(0, std::memcmp(one.x_adv.data() + e * d, three.x_adv.data() + e * d, sizeof(float) * size_t(d)));
    }
    gained += three.fooled[size_t(e)] && !one.fooled[size_t(e)];
  }
  RecordProperty("gained", gained);
}

TEST(SquareAttack, ZeroEpsFoolsNothing) {
  Fixture f("small-cnn", {3, 8, 8}, 10, 4);
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    const SearchResult r = f.run_all(square_cfg(norm, 0.f, 50), 1);
    for (int64_t e = 0; e < 10; ++e) EXPECT_EQ(r.fooled[size_t(e)], 0) << "example " << e;
    EXPECT_EQ(0, std::memcmp(r.x_adv.data(), f.x.data(), sizeof(float) * size_t(f.x.size())));
  }
}

TEST(SquareAttack, LargeEpsFoolsNearlyAll) {
  Fixture f("mlp", {1, 12, 12}, 16, 21);
  int attacked = 0;
  for (int64_t e = 0; e < 16; ++e) attacked += e % 4 != 3;
  const AttackConfig linf = square_cfg(Norm::kLinf, 0.5f, 200);
  EXPECT_GE(check_contract(f, f.run_all(linf, 3), linf), attacked - 1);
  const AttackConfig l2 = square_cfg(Norm::kL2, 6.f, 200);
  EXPECT_GE(check_contract(f, f.run_all(l2, 3), l2), attacked - 1);
}

TEST(SquareAttack, RefusesWhatItCannotRun) {
  Fixture f("mlp", {1, 4, 4}, 2, 1);
  EXPECT_THROW(f.run_all(square_cfg(Norm::kL2, 0.5f, 10), 1), ConfigError);  // H < 5: no L2 start
}

}  // namespace
}  // namespace rampart
