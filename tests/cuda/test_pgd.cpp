// The PGD kernels on GPU against host loops over the shared math: L-inf step,
// random start (bit-exact Philox), the fused first step, and the L2 step.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cuda_test_util.h"
#include "kernels/common/pgd_math.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/pgd.cuh"
#include "runtime/rng.h"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

// Sizes that are not multiples of 4, and one large enough for a multi-block grid.
const int64_t kSizes[] = {1, 3, 4, 5, 129, 1000, 100003};

std::vector<float> host_linf(std::vector<float> xa, const std::vector<float>& g,
                             const std::vector<float>& xc, float alpha, float eps) {
  for (size_t i = 0; i < xa.size(); ++i) xa[i] = kernels::pgd_linf_update(xa[i], g[i], xc[i], alpha, eps);
  return xa;
}

// The contract shared with random_start_cpu: element i is global element first+i,
// word (first+i) % 4 of block (first+i) / 4.
std::vector<float> host_start(const std::vector<float>& xc, float eps, const RandomStartKey& k) {
  const auto key = kernels::philox_key(k.seed, k.rng_stream);
  std::vector<float> out(xc.size());
  for (size_t i = 0; i < xc.size(); ++i) {
    const uint64_t gi = uint64_t(k.first) + i;
    const auto block = kernels::philox4x32(gi / 4, k.sub, key);
    out[i] = kernels::random_start_update(xc[i], kernels::philox_uniform(block.v[gi % 4]), eps);
  }
  return out;
}

void expect_bits_equal(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(0, std::memcmp(&a[i], &b[i], sizeof(float)))
        << what << "[" << i << "]: GPU " << a[i] << ", host " << b[i];
}

TEST(CudaPgd, LinfStepMatchesHostBitForBitAtAnyAlignment) {
  RAMPART_REQUIRE_GPU();
  const float alpha = 2.f / 255, eps = 8.f / 255;
  for (int64_t n : kSizes) {
    for (size_t off : {0, 1, 2, 3}) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", offset = " + std::to_string(off));
      auto xc = test::uniform(size_t(n), 0.f, 1.f, 1);
      auto xa = test::uniform(size_t(n), 0.f, 1.f, 2);
      auto g = test::gradient(size_t(n), 3);
      DeviceBuffer<float> dxa(size_t(n), 4), dg(size_t(n), 4), dxc(size_t(n), 4);
      dxa.upload(xa, off);
      dg.upload(g, off);
      dxc.upload(xc, off);
      pgd_linf_step(dxa.get(off), dg.get(off), dxc.get(off), n, alpha, eps, nullptr);
      test::sync();
      expect_bits_equal(dxa.download(size_t(n), off), host_linf(xa, g, xc, alpha, eps), "x_adv");
    }
  }
}

TEST(CudaPgd, LinfStepWithMixedAlignmentTakesTheScalarPath) {
  RAMPART_REQUIRE_GPU();
  const int64_t n = 1027;
  auto xc = test::uniform(n, 0.f, 1.f, 4), xa = test::uniform(n, 0.f, 1.f, 5);
  auto g = test::gradient(n, 6);
  DeviceBuffer<float> dxa(n, 4), dg(n, 4), dxc(n, 4);
  dxa.upload(xa, 0);  // aligned
  dg.upload(g, 1);    // not aligned
  dxc.upload(xc, 0);
  pgd_linf_step(dxa.get(0), dg.get(1), dxc.get(0), n, 0.01f, 0.03f, nullptr);
  test::sync();
  expect_bits_equal(dxa.download(n, 0), host_linf(xa, g, xc, 0.01f, 0.03f), "x_adv");
}

TEST(CudaPgd, RandomStartMatchesHostPhiloxBitForBit) {
  RAMPART_REQUIRE_GPU();
  for (int64_t n : kSizes) {
    for (int64_t first : {0, 1, 4, 6}) {      // first % 4 != 0 forces the scalar path
      for (size_t off : {0, 3}) {
        SCOPED_TRACE("n = " + std::to_string(n) + ", first = " + std::to_string(first) +
                     ", offset = " + std::to_string(off));
        RandomStartKey key{1234, uint32_t(Stream::kRandomStart), 77, first};
        auto xc = test::uniform(size_t(n), 0.f, 1.f, 7);
        DeviceBuffer<float> dxa(size_t(n), 4), dxc(size_t(n), 4);
        dxc.upload(xc, off);
        random_start(dxa.get(off), dxc.get(off), n, 0.3f, key, nullptr);
        test::sync();
        expect_bits_equal(dxa.download(size_t(n), off), host_start(xc, 0.3f, key), "x_adv");
      }
    }
  }
}

TEST(CudaPgd, RandomStartOfASplitBatchEqualsTheWholeBatch) {
  RAMPART_REQUIRE_GPU();
  const int64_t n = 1001, cut = 333;
  RandomStartKey key{9, uint32_t(Stream::kEvalStart), 3, 0};
  auto xc = test::uniform(n, 0.f, 1.f, 8);
  DeviceBuffer<float> whole(n), part(n), dxc(n);
  dxc.upload(xc);
  random_start(whole.get(), dxc.get(), n, 0.1f, key, nullptr);
  random_start(part.get(), dxc.get(), cut, 0.1f, key, nullptr);
  RandomStartKey rest = key;
  rest.first = cut;
  random_start(part.get(cut), dxc.get(cut), n - cut, 0.1f, rest, nullptr);
  test::sync();
  expect_bits_equal(part.download(n), whole.download(n), "split");
}

TEST(CudaPgd, FusedFirstStepEqualsStartThenStep) {
  RAMPART_REQUIRE_GPU();
  const float alpha = 0.01f, eps = 0.03f;
  for (int64_t n : kSizes) {
    for (int64_t first : {0, 2}) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", first = " + std::to_string(first));
      RandomStartKey key{42, uint32_t(Stream::kRandomStart), 5, first};
      auto xc = test::uniform(size_t(n), 0.f, 1.f, 9);
      auto g = test::gradient(size_t(n), 10);
      DeviceBuffer<float> fused{size_t(n)}, two{size_t(n)}, dg{size_t(n)}, dxc{size_t(n)};
      dxc.upload(xc);
      dg.upload(g);
      pgd_linf_first_step(fused.get(), dg.get(), dxc.get(), n, alpha, eps, key, nullptr);
      random_start(two.get(), dxc.get(), n, eps, key, nullptr);
      pgd_linf_step(two.get(), dg.get(), dxc.get(), n, alpha, eps, nullptr);
      test::sync();
      auto expect = host_linf(host_start(xc, eps, key), g, xc, alpha, eps);
      expect_bits_equal(fused.download(size_t(n)), expect, "fused");
      expect_bits_equal(two.download(size_t(n)), expect, "start then step");
    }
  }
}

// The L2 step as kernels/cpu/pgd.cpp computes it (norms accumulated in double).
std::vector<float> host_l2(std::vector<float> xa, const std::vector<float>& g,
                           const std::vector<float>& xc, int64_t batch, int64_t dim, float alpha,
                           float eps) {
  for (int64_t e = 0; e < batch; ++e) {
    const int64_t b = e * dim;
    double gn = 0;
    for (int64_t i = 0; i < dim; ++i) gn += double(g[b + i]) * g[b + i];
    const float inv = gn > 0 ? float(1.0 / std::sqrt(gn)) : 0.f;
    double dn = 0;
    for (int64_t i = 0; i < dim; ++i) {
      xa[b + i] = kernels::pgd_l2_step(xa[b + i], g[b + i], alpha, inv);
      const double d = xa[b + i] - xc[b + i];
      dn += d * d;
    }
    const float norm = float(std::sqrt(dn));
    const float scale = norm > eps ? eps / norm : 1.f;
    for (int64_t i = 0; i < dim; ++i) xa[b + i] = kernels::pgd_l2_project(xa[b + i], xc[b + i], scale);
  }
  return xa;
}

TEST(CudaPgd, L2StepMatchesHost) {
  RAMPART_REQUIRE_GPU();
  for (int64_t batch : {1, 3, 129}) {
    for (int64_t dim : {1, 5, 784, 3073}) {
      SCOPED_TRACE("batch = " + std::to_string(batch) + ", dim = " + std::to_string(dim));
      const size_t n = size_t(batch * dim);
      auto xc = test::uniform(n, 0.f, 1.f, 11);
      auto xa = xc;
      auto noise = test::uniform(n, -0.05f, 0.05f, 12);
      for (size_t i = 0; i < n; ++i) xa[i] = kernels::clampf(xa[i] + noise[i], 0.f, 1.f);
      auto g = test::gradient(n, 13);
      if (batch > 1) std::fill(g.begin(), g.begin() + dim, 0.f);  // an example with no gradient
      DeviceBuffer<float> dxa(n), dg(n), dxc(n);
      dxa.upload(xa);
      dg.upload(g);
      dxc.upload(xc);
      // eps small enough that most examples are projected, alpha large enough to move.
      pgd_l2_step(dxa.get(), dg.get(), dxc.get(), batch, dim, 0.2f, 0.5f, nullptr);
      test::sync();
      test::expect_near(dxa.download(n), host_l2(xa, g, xc, batch, dim, 0.2f, 0.5f), 1e-6f, 1e-5f,
                        "x_adv");
    }
  }
}

TEST(CudaPgd, CarriedStartMatchesHostAndLeavesOtherExamplesAlone) {
  RAMPART_REQUIRE_GPU();
  for (int64_t dim : {1, 7, 784}) {
    const int64_t batch = 37, n = batch * dim;
    SCOPED_TRACE("dim = " + std::to_string(dim));
    auto xc = test::uniform(size_t(n), 0.f, 1.f, 11);
    auto xa = test::uniform(size_t(n), 0.f, 1.f, 12);  // stands for the random start
    auto delta = test::uniform(size_t(n), -0.2f, 0.2f, 13);
    std::vector<uint8_t> has(static_cast<size_t>(batch));
    for (int64_t e = 0; e < batch; ++e) has[size_t(e)] = uint8_t(e % 3 != 0);
    const size_t sz = static_cast<size_t>(n);
    DeviceBuffer<float> dxa(sz), dxc(sz), dd(sz);
    DeviceBuffer<uint8_t> dh(static_cast<size_t>(batch));
    dxa.upload(xa);
    dxc.upload(xc);
    dd.upload(delta);
    dh.upload(has);
    carried_start(dxa.get(), dxc.get(), dd.get(), dh.get(), batch, dim, 0.1f, nullptr);
    test::sync();
    std::vector<float> want = xa;  // the loop of carried_start_cpu
    for (int64_t i = 0; i < n; ++i)
      if (has[size_t(i / dim)]) want[size_t(i)] = kernels::carried_start_update(xc[size_t(i)], delta[size_t(i)], 0.1f);
    expect_bits_equal(dxa.download(size_t(n)), want, "x_adv");
  }
}

TEST(CudaPgd, LaunchersRejectBadArgumentsBeforeTouchingTheGpu) {
  float* p = reinterpret_cast<float*>(16);
  EXPECT_THROW(pgd_linf_step(p, p, p, -1, 0.1f, 0.1f, nullptr), std::invalid_argument);
  EXPECT_THROW(pgd_linf_step(nullptr, p, p, 8, 0.1f, 0.1f, nullptr), std::invalid_argument);
  EXPECT_THROW(pgd_linf_step(p, p, p, 8, 0.1f, -0.1f, nullptr), std::invalid_argument);
  EXPECT_THROW(pgd_l2_step(p, p, p, -1, 4, 0.1f, 0.1f, nullptr), std::invalid_argument);
  EXPECT_NO_THROW(pgd_linf_step(nullptr, nullptr, nullptr, 0, 0.1f, 0.1f, nullptr));
  EXPECT_THROW(carried_start(p, p, p, nullptr, 4, 8, 0.1f, nullptr), std::invalid_argument);
  EXPECT_THROW(carried_start(p, p, p, reinterpret_cast<uint8_t*>(16), 4, 0, 0.1f, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace rampart::cuda
