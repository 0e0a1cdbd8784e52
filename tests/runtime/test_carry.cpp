// Carried perturbations: the int8 store (quantization error, exchange between
// ranks, checkpoint form) and the attack's carried start.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "runtime/attacks/attack.h"
#include "runtime/attacks/carry.h"
#include "runtime/checkpoint.h"
#include "runtime/errors.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

// n examples of dim pixels in [0,1] and an adversarial point within eps of each,
// most pixels at exactly +-eps as L-inf PGD leaves them, clamped to [0,1].
void sample(int64_t n, int64_t dim, float eps, uint32_t seed, std::vector<float>& x, std::vector<float>& xa) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(0, 1);
  x.resize(n * dim);
  xa.resize(n * dim);
  for (int64_t i = 0; i < n * dim; ++i) {
    x[i] = i % 7 == 0 ? 0.f : u(g);
    float d = i % 3 == 0 ? eps * (2 * u(g) - 1) : (g() % 2 ? eps : -eps);
    xa[i] = std::min(1.f, std::max(0.f, x[i] + d));
  }
}

TEST(PerturbationStore, QuantizesWithinHalfAStepAndKeepsTheBallsEdgeExact) {
  const int64_t n = 5, dim = 33, N = 20;
  const float eps = 0.1f;
  std::vector<float> x, xa;
  sample(n, dim, eps, 1, x, xa);
  PerturbationStore s(N, dim);
  EXPECT_EQ(s.stored(), 0);
  const std::vector<int64_t> idx = {7, 0, 19, 3, 12};
  s.store(idx.data(), n, xa.data(), x.data(), eps);
  EXPECT_EQ(s.stored(), n);
  std::vector<float> delta(n * dim);
  std::vector<uint8_t> has(n);
  EXPECT_EQ(s.load(idx.data(), n, delta.data(), has.data()), n);
  for (int64_t i = 0; i < n * dim; ++i) {
    const float want = xa[i] - x[i];
    EXPECT_LE(std::abs(delta[i] - want), 0.5f * eps / 127 + 1e-7f) << i;
    if (std::abs(std::abs(want) - eps) < 1e-7f) {
      EXPECT_FLOAT_EQ(std::abs(delta[i]), eps) << i;
    }
  }
  // Examples never stored come back empty.
  const std::vector<int64_t> other = {1, 7};
  std::vector<float> d2(2 * dim, 9.f);
  std::vector<uint8_t> h2(2, 9);
  EXPECT_EQ(s.load(other.data(), 2, d2.data(), h2.data()), 1);
  EXPECT_EQ(h2[0], 0);
  EXPECT_EQ(h2[1], 1);
  for (int64_t i = 0; i < dim; ++i) EXPECT_EQ(d2[i], 0.f);
  EXPECT_THROW(s.load(std::vector<int64_t>{N}.data(), 1, d2.data(), h2.data()), std::out_of_range);
}

TEST(PerturbationStore, PackedRowsMakeAnotherStoreEqual) {
  const int64_t dim = 10, N = 50;
  PerturbationStore a(N, dim), b(N, dim);
  std::vector<float> x, xa;
  sample(4, dim, 0.2f, 2, x, xa);
  const std::vector<int64_t> idx = {49, 2, 30, 31};
  a.store(idx.data(), 4, xa.data(), x.data(), 0.2f);
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  b.unpack(a.pack(idx.data(), 4));
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_EQ(a.codes(), b.codes());
  b.unpack(a.pack(idx.data(), 0));  // an empty exchange (a rank with no rows this step)
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  std::string bad = a.pack(idx.data(), 2);
  bad.pop_back();
  EXPECT_THROW(b.unpack(bad), std::invalid_argument);
  EXPECT_THROW(b.restore(std::vector<int8_t>(3), std::vector<float>(N)), std::invalid_argument);
  EXPECT_THROW(b.unpack(std::string()), std::invalid_argument);
}

TEST(PerturbationStore, AShardHoldsItsRowsOnlyAndTheShardsFingerprintsAddUpToTheWholeStores) {
  const int64_t dim = 6, N = 11;
  PerturbationStore whole(N, dim), lo(N, dim, 0, 4), hi(N, dim, 4, 7);
  EXPECT_EQ(hi.first(), 4);
  EXPECT_EQ(hi.rows(), 7);
  EXPECT_EQ(hi.bytes(), 7 * (dim + 4));
  std::vector<float> x, xa;
  sample(3, dim, 0.1f, 7, x, xa);
  const std::vector<int64_t> idx = {2, 9, 4};
  whole.store(idx.data(), 3, xa.data(), x.data(), 0.1f);
  lo.store(idx.data(), 1, xa.data(), x.data(), 0.1f);
  hi.store(idx.data() + 1, 2, xa.data() + dim, x.data() + dim, 0.1f);
  EXPECT_EQ(lo.stored() + hi.stored(), whole.stored());
  EXPECT_EQ(lo.fingerprint() + hi.fingerprint(), whole.fingerprint());
  // Rows travel between stores of different ranges.
  PerturbationStore hi2(N, dim, 4, 7);
  hi2.unpack(whole.pack(idx.data() + 1, 2));
  EXPECT_EQ(hi2.codes(), hi.codes());
  std::vector<float> d(dim);
  uint8_t has = 0;
  EXPECT_THROW(lo.load(&idx[1], 1, d.data(), &has), std::out_of_range);
  EXPECT_THROW(lo.store(&idx[2], 1, xa.data(), x.data(), 0.1f), std::out_of_range);
  EXPECT_THROW(lo.unpack(whole.pack(idx.data() + 1, 1)), std::out_of_range);
  EXPECT_THROW(PerturbationStore(N, dim, 8, 4), std::invalid_argument);
}

// Writes the store's rows into a checkpoint in ranges of `piece` rows.
void write_store(const std::string& path, const PerturbationStore& s, int64_t piece) {
  Checkpoint ck;
  ck.arch = nlohmann::json::array();
  ck.carried_examples = s.examples();
  ck.carried_dim = s.dim();
  ck.carried_rows = [&](const CarriedRowsSink& sink) {
    for (int64_t b = 0; b < s.examples(); b += piece) {
      const int64_t n = std::min(piece, s.examples() - b);
      sink({b, n, s.codes().data() + b * s.dim(), s.scales().data() + b});
    }
  };
  write_checkpoint(path, ck);
}

TEST(PerturbationStore, RoundTripsThroughACheckpointInRanges) {
  testing::TempDir dir;
  const int64_t dim = 12, N = 9;
  PerturbationStore s(N, dim);
  std::vector<float> x, xa;
  sample(3, dim, 0.1f, 3, x, xa);
  const std::vector<int64_t> idx = {8, 1, 4};
  s.store(idx.data(), 3, xa.data(), x.data(), 0.1f);
  for (int64_t piece : {1, 2, 9}) {
    write_store(dir / "ck.h5", s, piece);
    Checkpoint back = read_checkpoint(dir / "ck.h5");
    ASSERT_EQ(back.carried_dim, dim);
    ASSERT_EQ(back.carried_examples, N);
    // Read back whole, and as two shards of another split.
    PerturbationStore r(N, dim), a(N, dim, 0, 5), b(N, dim, 5, 4);
    CarriedRowsRead all = read_carried_rows(dir / "ck.h5", 0, N);
    r.restore(all.codes, all.scale);
    EXPECT_EQ(r.fingerprint(), s.fingerprint()) << "written in pieces of " << piece;
    CarriedRowsRead ra = read_carried_rows(dir / "ck.h5", 0, 5), rb = read_carried_rows(dir / "ck.h5", 5, 9);
    a.restore(ra.codes, ra.scale);
    b.restore(rb.codes, rb.scale);
    EXPECT_EQ(a.fingerprint() + b.fingerprint(), s.fingerprint());
  }
  EXPECT_THROW(read_carried_rows(dir / "ck.h5", 5, 10), DataError);
  // A writer whose ranges skip rows, or stop short, fails and leaves no file behind.
  Checkpoint bad;
  bad.arch = nlohmann::json::array();
  bad.carried_examples = N;
  bad.carried_dim = dim;
  bad.carried_rows = [&](const CarriedRowsSink& sink) { sink({1, 2, s.codes().data(), s.scales().data()}); };
  EXPECT_THROW(write_checkpoint(dir / "bad.h5", bad), IoError);
  bad.carried_rows = [&](const CarriedRowsSink& sink) { sink({0, 2, s.codes().data(), s.scales().data()}); };
  EXPECT_THROW(write_checkpoint(dir / "bad.h5", bad), IoError);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.h5"));
  // A checkpoint without carried perturbations reads back without them.
  Checkpoint plain;
  plain.arch = nlohmann::json::array();
  write_checkpoint(dir / "plain.h5", plain);
  EXPECT_EQ(read_checkpoint(dir / "plain.h5").carried_examples, 0);
  EXPECT_THROW(read_carried_rows(dir / "plain.h5", 0, 1), DataError);
}

TEST(CarriedStart, StartsFromTheStoredPointProjectedOntoTheCurrentBall) {
  Shape in = {1, 8, 8};
  Model m(expand_model("mlp", in), in);
  m.init(5);
  const int64_t n = 4, dim = 64;
  std::vector<float> xv, xav;
  sample(n, dim, 0.1f, 4, xv, xav);
  Tensor x({n, 1, 8, 8});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = xv[i];
  std::vector<int32_t> y = {1, 2, 3, 4};
  std::vector<float> delta(n * dim);
  for (int64_t i = 0; i < n * dim; ++i) delta[i] = xav[i] - xv[i];
  std::vector<uint8_t> has = {1, 0, 1, 0};
  // One step of size ~0: x_adv is the start itself (alpha must be > 0).
  AttackConfig a = pgd_config(0.05f, 1e-30f, 1);  // a smaller ball than the stored one
  const RandomKey key{9, Stream::kRandomStart, 3, 0};
  Attacker att;
  Tensor carried, cold;
  CarriedStart cs{delta.data(), has.data()};
  att.run(m, x, y.data(), a, key, carried, &cs);
  att.run(m, x, y.data(), a, key, cold);
  for (int64_t e = 0; e < n; ++e)
    for (int64_t i = 0; i < dim; ++i) {
      const int64_t k = e * dim + i;
      if (has[e]) {
        const float want = std::min(1.f, std::max(0.f, x[k] + std::min(0.05f, std::max(-0.05f, delta[k]))));
        EXPECT_NEAR(carried[k], want, 1e-6f) << e << "," << i;
      } else {
        EXPECT_EQ(carried[k], cold[k]) << "example " << e << " has no carried start: its random start";
      }
    }
  AttackConfig l2 = a;
  l2.norm = Norm::kL2;
  EXPECT_THROW(att.run(m, x, y.data(), l2, key, carried, &cs), ConfigError);
}

}  // namespace
}  // namespace rampart
