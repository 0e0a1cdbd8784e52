// The CPU PGD kernels against the scalar math of kernels/common/pgd_math.h.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/common/pgd_math.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/pgd.h"

namespace rampart::kernels {
namespace {

std::vector<float> uniform(int64_t n, uint32_t seed, float lo = 0, float hi = 1) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

TEST(PgdKernel, LinfStepMatchesScalarReferenceOnAwkwardSizes) {
  for (int64_t n : {1, 3, 17, 1000, 70001}) {
    auto xc = uniform(n, 1), g = uniform(n, 2, -1, 1);
    for (int64_t i = 0; i < n; i += 7) g[i] = 0;  // sign(0) = 0: no move
    auto xa = uniform(n, 3);
    for (int64_t i = 0; i < n; ++i) xa[i] = clampf(xc[i] + 0.2f * (xa[i] - 0.5f), 0, 1);
    auto ref = xa;
    for (int64_t i = 0; i < n; ++i) ref[i] = pgd_linf_update(ref[i], g[i], xc[i], 0.03f, 0.1f);
    pgd_linf_step_cpu(xa.data(), g.data(), xc.data(), n, 0.03f, 0.1f);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(xa[i], ref[i]) << "n=" << n << " i=" << i;
  }
}

TEST(PgdKernel, LinfStepStaysInBallAndBox) {
  const int64_t n = 4099;
  auto xc = uniform(n, 5), xa = xc;
  for (int t = 0; t < 20; ++t) {
    auto g = uniform(n, 100 + t, -1, 1);
    pgd_linf_step_cpu(xa.data(), g.data(), xc.data(), n, 0.05f, 0.1f);
  }
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_LE(std::abs(xa[i] - xc[i]), 0.1f + 1e-6f);
    ASSERT_GE(xa[i], 0.f);
    ASSERT_LE(xa[i], 1.f);
  }
}

TEST(PgdKernel, RandomStartIsUniformInBallAndSplitInvariant) {
  const int64_t n = 1003;
  auto xc = uniform(n, 7, 0.2f, 0.8f);
  std::vector<float> whole(n), parts(n);
  random_start_cpu(whole.data(), xc.data(), n, 0.1f, 42, 3, 9);
  // The same elements drawn in two pieces (as two ranks would) give the same numbers.
  random_start_cpu(parts.data(), xc.data(), 501, 0.1f, 42, 3, 9, 0);
  random_start_cpu(parts.data() + 501, xc.data() + 501, n - 501, 0.1f, 42, 3, 9, 501);
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(whole[i], parts[i]) << i;
    // Matches the scalar formula with the documented Philox mapping.
    PhiloxBlock b = philox4x32(uint64_t(i / 4), 9, philox_key(42, 3));
    ASSERT_EQ(whole[i], random_start_update(xc[i], philox_uniform(b.v[i % 4]), 0.1f));
    ASSERT_LE(std::abs(whole[i] - xc[i]), 0.1f + 1e-6f);
    mean += (whole[i] - xc[i]) / 0.1;
  }
  EXPECT_LT(std::abs(mean / n), 0.1);  // roughly centred
  std::vector<float> other(n);
  random_start_cpu(other.data(), xc.data(), n, 0.1f, 42, 3, 10);
  int same = 0;
  for (int64_t i = 0; i < n; ++i) same += other[i] == whole[i];
  EXPECT_LT(same, n / 10);  // another counter draws other numbers
}

TEST(PgdKernel, L2StepProjectsOntoBall) {
  const int64_t batch = 5, dim = 97;
  auto xc = uniform(batch * dim, 11, 0.3f, 0.7f), xa = xc;
  random_start_l2_cpu(xa.data(), xc.data(), batch, dim, 0.5f, 1, 3, 0);
  for (int t = 0; t < 10; ++t) {
    auto g = uniform(batch * dim, 200 + t, -1, 1);
    pgd_l2_step_cpu(xa.data(), g.data(), xc.data(), batch, dim, 0.3f, 0.5f);
  }
  for (int64_t e = 0; e < batch; ++e) {
    double n2 = 0;
    for (int64_t i = 0; i < dim; ++i) {
      double d = xa[e * dim + i] - xc[e * dim + i];
      n2 += d * d;
      ASSERT_GE(xa[e * dim + i], 0.f);
      ASSERT_LE(xa[e * dim + i], 1.f);
    }
    EXPECT_LE(std::sqrt(n2), 0.5 + 1e-4);
    EXPECT_GT(std::sqrt(n2), 0.25);  // it did move out towards the boundary
  }
}

}  // namespace
}  // namespace rampart::kernels
